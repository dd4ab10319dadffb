//! Verification of inference results as the pallets that need it see it (the verification
//! pallet provides it): jobs, claims, verdicts and the receipts, the proof documents.

use crate::{models::Verification, Fuel};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, Weight};
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
	/// `blake2_256(SCALE(inputs))`, as the request recorded it.
	pub input_hash: H256,
	/// Most fuel one execution may use.
	pub fuel_limit: Fuel,
	/// Most fuel preparing the model for `input_specs` may take, where the chain measured it
	/// at other specs (a decoder's step: [`decoder_step_preparation_limit`]); a model that
	/// takes more is refused (`FuelExhausted`). `None`: the specs it was registered and
	/// measured with, bounded by the engine's cap alone (one fuel below it: the host function
	/// is given no limit as `u64::MAX`).
	///
	/// [`decoder_step_preparation_limit`]: crate::models::decoder_step_preparation_limit
	pub preparation_limit: Option<Fuel>,
	/// Most bytes (SCALE) of outputs a result of it may carry: a run whose outputs are larger
	/// fails with `OutputTooLarge`, on every node alike, so the node reports that failure
	/// instead of outputs it could not submit.
	pub max_output_bytes: u32,
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

/// The receipts kept in one block, as a chain of hashes: each receipt's
/// `blake2_256(SCALE(receipt))` is folded into `head` in the order the receipts were kept
/// ([`ReceiptLog::append`]). The log of a block is in that block's leaf of the chain's Merkle
/// Mountain Range ([`BlockLeaf`]), whose root every later header carries, so a receipt stays
/// provable after its retention in state: with the hashes of the receipts kept after it in
/// its block and the head before it, a client recomputes the head the leaf commits to.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen,
)]
pub struct ReceiptLog {
	/// How many receipts were kept.
	pub count: u32,
	/// The chain's head after the last of them; zero when there are none.
	pub head: H256,
}

impl ReceiptLog {
	/// The head after `receipt` (a receipt's hash) is kept with `head` before it:
	/// `blake2_256(head ++ receipt)`.
	pub fn step(head: &H256, receipt: &H256) -> H256 {
		let mut both = [0u8; 64];
		both[..32].copy_from_slice(head.as_bytes());
		both[32..].copy_from_slice(receipt.as_bytes());
		H256(sp_crypto_hashing::blake2_256(&both))
	}

	/// Keeps the receipt hashing to `receipt`; returns the head before it.
	pub fn append(&mut self, receipt: &H256) -> H256 {
		let before = self.head;
		self.head = Self::step(&before, receipt);
		self.count = self.count.saturating_add(1);
		before
	}

	/// The head that `receipt`, kept with `before` before it and followed by `after` (in
	/// their order), leads to: what a client compares with a leaf's `head`.
	pub fn head_from(before: &H256, receipt: &H256, after: &[H256]) -> H256 {
		after.iter().fold(Self::step(before, receipt), |head, next| Self::step(&head, next))
	}
}

/// The hash a receipt is logged by: `blake2_256(SCALE(receipt))`.
pub fn receipt_hash<Id: Encode, AccountId: Encode, BlockNumber: Encode>(
	receipt: &Receipt<Id, AccountId, BlockNumber>,
) -> H256 {
	H256(sp_crypto_hashing::blake2_256(&receipt.encode()))
}

/// The engine id of the digest item in which each header carries the root of the chain's
/// Merkle Mountain Range (a `Consensus` item whose data is the root's 32 bytes).
pub const MMR_ROOT_ENGINE_ID: [u8; 4] = *b"vmmr";

/// One block's leaf in the chain's Merkle Mountain Range, appended at the start of the next
/// block: the block, its hash and the receipts kept in it.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct BlockLeaf<BlockNumber, Hash> {
	/// The block's number.
	pub block: BlockNumber,
	/// The block's hash.
	pub hash: Hash,
	/// The receipts kept in it.
	pub receipts: ReceiptLog,
}

/// A receipt that may have left state, proven against the Merkle Mountain Range root of a
/// header (what `InferenceApi::archived_receipt` answers): the block's leaf and its proof,
/// and the receipt with what surrounds it in its block's [`ReceiptLog`].
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct ArchivedReceipt<Id, AccountId, BlockNumber, Hash> {
	/// The leaf of the block the receipt was kept in.
	pub leaf: BlockLeaf<BlockNumber, Hash>,
	/// The leaf's index in the range.
	pub leaf_index: u64,
	/// The number of leaves of the range the proof is of (the root's).
	pub leaf_count: u64,
	/// The proof's nodes (`sp_mmr_primitives::LeafProof::items`).
	pub items: Vec<Hash>,
	/// The receipt.
	pub receipt: Receipt<Id, AccountId, BlockNumber>,
	/// The log's head before it.
	pub before: H256,
	/// The hashes of the receipts kept after it in its block, in order.
	pub after: Vec<H256>,
}

/// Why an archived receipt cannot be proven.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo)]
pub enum ArchiveError {
	/// The block has no leaf in the range the root is of (before the range began, or not
	/// yet appended: a block's leaf is appended at the start of the next one).
	NotInRange,
	/// The node has not kept the range's nodes or the block's receipts (it runs without
	/// off-chain indexing, or synced from a snapshot past that block).
	NotArchived,
	/// No receipt of this request was kept in that block.
	NoSuchReceipt,
}

/// An optimistic result waiting through its challenge window, or challenged and waiting to
/// be decided by re-execution.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Proposal<AccountId, BlockNumber> {
	/// The inference node that proposed it.
	pub node: AccountId,
	/// The model it ran.
	pub model: ModelHash,
	/// `blake2_256(SCALE(inputs))` of the inputs it ran the model on.
	pub input_hash: H256,
	/// The outcome it claims (its outputs are kept beside it).
	pub outcome: Outcome,
	/// Its challenge window ends at the start of this block: it settles then unless
	/// challenged before, or later while settlement is held (it stays challengeable until it
	/// settles).
	pub challenge_until: BlockNumber,
	/// The node that challenged it, whose bond answers for a wrong challenge.
	pub challenger: Option<AccountId>,
}

/// What a verification mode answered when a claim was submitted to it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Submission {
	/// Decided in the block that carries the claim (re-executed there).
	Decided(Verdict),
	/// Taken to be decided later (an optimistic proposal): the mode tells the job's owner its
	/// decision through [`VerifiedJobs`].
	Deferred,
}

/// Verification of inference results, by mode, as the pallet whose jobs are verified (the
/// requests pallet) sees it. The verification pallet provides it.
pub trait ResultVerifier<Id, AccountId, BlockNumber> {
	/// Executes `job` (what an inference node's off-chain worker does): a run whose outputs
	/// exceed the job's `max_output_bytes` fails with `OutputTooLarge`.
	fn execute(job: &Job<Id, AccountId>) -> Result<Execution, EngineError>;

	/// Submits `claim` of `job` to verification by `mode` (the model's): decided now, or
	/// taken to decide later. An error refuses the claim outright and changes nothing (for
	/// example a result hash that does not commit to the outputs).
	fn submit(mode: Verification, job: &Job<Id, AccountId>, claim: Claim) -> Result<Submission, DispatchError>;

	/// The optimistic proposal waiting for `id`'s decision, if there is one.
	fn proposal(id: Id) -> Option<Proposal<AccountId, BlockNumber>>;

	/// Whether the receipt of `id` is kept (until the end of its retention).
	fn has_receipt(id: Id) -> bool;

	/// The most weight the decisions left for later take at the start of one block: a
	/// block must have room for one verification at the most fuel a verification may use,
	/// so that every decision can be taken.
	fn decision_weight() -> Weight;

	/// Keeps the receipt of `executor`'s result for `id` (`model` on inputs hashing to
	/// `input_hash`) with its `outputs`, a result its owner verified by a game of its own (a
	/// generation's answer unchallenged through its window: `VerifiedBy::Unchallenged`), until
	/// the end of its retention, as every receipt is kept.
	fn keep_receipt(
		id: Id,
		model: ModelHash,
		input_hash: H256,
		executor: AccountId,
		outcome: Outcome,
		outputs: Vec<Tensor>,
	);
}

/// The pallet whose jobs are verified (the requests pallet), as a verification mode that
/// decides later sees it: it reads the job back when it decides, and tells the decision.
pub trait VerifiedJobs<Id, AccountId, Balance> {
	/// The job `id` asks for, as computed by `executor`, while it is open.
	fn job(id: Id, executor: &AccountId) -> Option<Job<Id, AccountId>>;

	/// The weight of re-executing `job` in this block beyond what the verifier does itself:
	/// reading its inputs, preparing its model (in full on the model's first re-execution in
	/// the block, which this records) and `fuel_used` units of engine work.
	fn re_execution_weight(job: &Job<Id, AccountId>, fuel_used: Fuel) -> Weight;

	/// At most what deciding `id` by re-execution weighs now, before its job is read:
	/// reading its inputs, preparing its model, running it at its fuel limit and settling or
	/// refuting its result, with the largest outputs.
	fn max_decision_weight(id: Id) -> Weight;

	/// At most what [`confirmed`](Self::confirmed) weighs, with the largest outputs.
	fn max_confirmation_weight() -> Weight;

	/// `executor`'s result for `id` is verified with `outcome`: the job is settled. Returns
	/// the weight of settling it with `output_bytes` of outputs.
	fn confirmed(id: Id, executor: AccountId, outcome: Outcome, output_bytes: u32) -> Weight;

	/// `executor`'s result for `id` (with `output_bytes` of outputs) is wrong: it is struck
	/// (part of a slash to `wronged`) and the job given to another node. Returns what was
	/// slashed and the weight of judging and handling it.
	fn refuted(id: Id, executor: &AccountId, wronged: &AccountId, output_bytes: u32) -> (Balance, Weight);

	/// The receipt of `id` (and its outputs) left state at the end of its retention: what was
	/// held for keeping it is released. Returns the weight of releasing it.
	fn receipt_pruned(id: Id) -> Weight;
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
