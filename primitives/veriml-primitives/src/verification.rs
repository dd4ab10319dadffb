//! Verification of inference results as the pallets that need it see it (the verification
//! pallet provides it): jobs, claims, verdicts and the receipts, the proof documents.

use crate::Fuel;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use veriml_inference_primitives::{
	input_hash, output_hash, result_hash, EngineError, EngineVersion, Execution, ModelHash, Tensor, TensorSpec, H256,
};

/// One inference to execute or verify.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Job<Id, AccountId> {
	/// The request it answers.
	pub id: Id,
	/// The model to run.
	pub model: ModelHash,
	/// The model's registered input specs.
	pub input_specs: Vec<TensorSpec>,
	/// The inputs.
	pub inputs: Vec<Tensor>,
	/// Most fuel one execution may use.
	pub fuel_limit: Fuel,
	/// The inference node whose result is verified.
	pub executor: AccountId,
}

/// What an inference node claims a job's result is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Claim {
	/// These canonical outputs, with this result hash.
	Outputs { outputs: Vec<Tensor>, result_hash: H256 },
	/// The engine refuses this input with this error (for example, it needs more fuel than
	/// the request allows).
	Failure(EngineError),
}

/// The outcome of an inference, as its receipt records it.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum Outcome {
	/// The model produced outputs: `output_hash = blake2_256(SCALE(outputs))`, and the
	/// consensus `result_hash`.
	Outputs { output_hash: H256, result_hash: H256 },
	/// The engine refused the input with this error, on every node alike.
	Failed(EngineError),
}

/// The verdict of re-execution on a claim.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verdict {
	/// The claim matches the re-execution; its receipt is stored.
	Confirmed { outcome: Outcome, fuel_used: Fuel },
	/// The claim does not match: `expected` is what re-execution gave.
	Refuted { expected: Outcome, fuel_used: Fuel },
}

/// How a result came to be verified.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum VerifiedBy {
	/// Re-executed by every node applying the block: at submission, or to decide a challenge
	/// of an optimistic result.
	ReExecution,
	/// An optimistic result no bonded node challenged during its window.
	Unchallenged,
}

/// A proof document: what was computed, by whom, and when it was verified.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Receipt<Id, AccountId, BlockNumber> {
	/// The request answered.
	pub request: Id,
	/// Content hash of the model's ONNX bytes.
	pub model_hash: ModelHash,
	/// `blake2_256(SCALE(inputs))`.
	pub input_hash: H256,
	/// Outputs and result hash, or the engine's error.
	pub outcome: Outcome,
	/// The engine version that computed and re-executed it.
	pub engine_version: EngineVersion,
	/// The inference node that submitted it.
	pub executor: AccountId,
	/// The block in which it was verified.
	pub verified_at: BlockNumber,
	/// Re-executed, or settled optimistically without challenge.
	pub verified_by: VerifiedBy,
}

/// Verification as the requests pallet needs it.
pub trait ResultVerifier<Id, AccountId> {
	/// Executes `job` (what an inference node's off-chain worker does).
	fn execute(job: &Job<Id, AccountId>) -> Result<Execution, EngineError>;

	/// Re-executes `job` and judges `claim`; a confirmed claim's receipt and outputs are kept.
	fn verify(job: &Job<Id, AccountId>, claim: &Claim) -> Verdict;

	/// Keeps the receipt of `job`'s optimistic `claim`, unchallenged through its window,
	/// without re-executing it; returns its outcome.
	fn accept_unchallenged(job: &Job<Id, AccountId>, claim: Claim) -> Outcome;
}

impl Claim {
	/// The outcome the claim states, as a receipt would record it.
	pub fn outcome(&self) -> Outcome {
		match self {
			Claim::Outputs { outputs, result_hash } => {
				Outcome::Outputs { output_hash: output_hash(outputs), result_hash: *result_hash }
			},
			Claim::Failure(error) => Outcome::Failed(*error),
		}
	}
}

/// The outcome of an execution by engine version `engine_version`, in receipt form.
pub fn outcome_of(
	engine_version: EngineVersion,
	model: &ModelHash,
	inputs: &[Tensor],
	execution: &Result<Execution, EngineError>,
) -> Outcome {
	match execution {
		Ok(execution) => Outcome::Outputs {
			output_hash: output_hash(&execution.outputs),
			result_hash: result_hash(engine_version, model, &input_hash(inputs), &execution.outputs),
		},
		Err(error) => Outcome::Failed(*error),
	}
}
