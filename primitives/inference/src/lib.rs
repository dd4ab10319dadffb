//! Inference types shared by the runtime, the pallets, the node's engine and its wasm guest.
//!
//! Everything that enters a consensus value is defined here once: the tensor encoding, the
//! canonical form of an output (little-endian bytes, `-0.0` normalised to `+0.0`, NaN refused)
//! and the result hash
//! `blake2_256(SCALE(engine_version, model_hash, input_hash, outputs))`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod bin_chain;
pub mod depthwise;
pub mod generation;
pub mod guest;
pub mod host_kernel;
pub mod im2col;
#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "lrn")]
pub mod lrn;
pub mod max_pool;
pub mod merkle;
pub mod metering;
pub mod onnx_builder;
mod tensor;
pub mod window;

pub use tensor::*;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
pub use primitive_types::H256;
use scale_info::TypeInfo;

/// Content hash of a model's ONNX bytes: `blake2_256(bytes)`.
pub type ModelHash = H256;

/// Version of the deterministic engine. Part of every result hash: a change of the engine that
/// could change any output bit gets a new version, so old and new results never collide.
pub type EngineVersion = u32;

pub use guest::ENGINE_VERSION;

/// An engine guest as the chain names it: the blake2-256 of its (uncompressed) wasm and the
/// engine version it declares. Its bytes are in state under [`engine_guest_code_key`].
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen,
)]
pub struct EngineGuest {
	/// blake2-256 of the guest's wasm.
	pub hash: H256,
	/// The engine version the guest declares: the first field of every result hash it makes.
	pub version: EngineVersion,
}

/// The raw storage key of guest `hash`'s bytes.
pub fn engine_guest_code_key(hash: &H256) -> Vec<u8> {
	[guest::GUEST_CODE_PREFIX, hash.as_bytes()].concat()
}

/// The content hash of model bytes.
pub fn model_hash(bytes: &[u8]) -> ModelHash {
	H256(sp_crypto_hashing::blake2_256(bytes))
}

/// The hash of an inference's inputs: `blake2_256(SCALE(inputs))`.
pub fn input_hash(inputs: &[Tensor]) -> H256 {
	H256(sp_crypto_hashing::blake2_256(&inputs.encode()))
}

/// The hash of an inference's outputs: `blake2_256(SCALE(outputs))`.
pub fn output_hash(outputs: &[Tensor]) -> H256 {
	H256(sp_crypto_hashing::blake2_256(&outputs.encode()))
}

/// The consensus value of one inference:
/// `blake2_256(SCALE(engine_version, model_hash, input_hash, outputs))`, outputs in canonical form.
pub fn result_hash(
	engine_version: EngineVersion,
	model_hash: &ModelHash,
	input_hash: &H256,
	outputs: &[Tensor],
) -> H256 {
	H256(sp_crypto_hashing::blake2_256(&(engine_version, model_hash, input_hash, outputs).encode()))
}

/// What the engine learned about a model when it checked it.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct ModelInfo {
	/// The input tensors the model takes, as declared at registration.
	pub inputs: Vec<TensorSpec>,
	/// The output tensors the model produces for those inputs.
	pub outputs: Vec<TensorSpec>,
	/// Engine fuel one inference used on all-zero inputs: the deterministic cost figure the
	/// chain turns into weight.
	pub fuel_per_run: u64,
	/// Engine fuel checking, typing and optimising the model used.
	pub fuel_to_prepare: u64,
	/// Number of ONNX nodes in the graph.
	pub node_count: u32,
}

/// The outcome of one inference.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct Execution {
	/// Outputs in canonical form.
	pub outputs: Vec<Tensor>,
	/// Engine fuel the run used. Deterministic: every run starts from the same prepared state.
	pub fuel_used: u64,
}

/// Why the engine refused a model or an inference: a verdict.
///
/// Deterministic by construction: every honest node reaches the same variant for the same
/// model, input and state, so these errors can be part of the state transition. A failure of
/// one node's own (no engine, an allocation the OS refused, a panic in the host's code) is a
/// [`LocalFailure`] instead, and never reaches state.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum EngineError {
	/// The model is larger than the engine accepts.
	ModelTooLarge,
	/// The bytes are not a valid ONNX model.
	MalformedModel,
	/// The model uses an operator whose output is random (RandomNormal, RandomUniform,
	/// Multinomial, Bernoulli, …), so no two nodes would agree on it.
	NonDeterministicOperator,
	/// The model uses an operator or domain the engine does not implement.
	UnsupportedOperator,
	/// The model refers to tensor data outside its own bytes (ONNX external data).
	ExternalData,
	/// The engine could not type or optimise the model for the declared inputs.
	ModelPreparationFailed,
	/// The inputs do not match the model's declared input specs (count, dtype or shape).
	InputMismatch,
	/// A tensor's byte length does not match its dtype and shape.
	MalformedTensor,
	/// The inputs are larger than the engine accepts.
	InputTooLarge,
	/// The outputs are larger than the engine returns.
	OutputTooLarge,
	/// An output contains NaN, which has no canonical form.
	NanInOutput,
	/// The model needed more memory than the engine grants one inference.
	OutOfMemory,
	/// The inference used more fuel than its limit.
	FuelExhausted,
	/// The model failed while running (an operator error or a trap in the engine).
	ExecutionFailed,
	/// The model bytes were not available to the engine: not in state, or not decodable.
	ModelUnavailable,
}

impl EngineError {
	/// A sentence for people: logs, the `infer` command, RPC errors.
	pub fn describe(&self) -> &'static str {
		match self {
			Self::ModelTooLarge => "the model is larger than the engine accepts",
			Self::MalformedModel => "the bytes are not a valid ONNX model",
			Self::NonDeterministicOperator => {
				"the model uses a random operator (RandomNormal, RandomUniform, Multinomial, Bernoulli, …)"
			},
			Self::UnsupportedOperator => "the model uses an operator the engine does not implement",
			Self::ExternalData => "the model refers to tensor data stored outside the file",
			Self::ModelPreparationFailed => "the engine could not type or optimise the model for the declared inputs",
			Self::InputMismatch => "the inputs do not match the model's input specs",
			Self::MalformedTensor => "a tensor's byte length does not match its dtype and shape",
			Self::InputTooLarge => "the inputs are larger than the engine accepts",
			Self::OutputTooLarge => "the outputs are larger than the engine returns",
			Self::NanInOutput => "an output contains NaN",
			Self::OutOfMemory => "the model needed more memory than one inference is granted",
			Self::FuelExhausted => "the inference used more fuel than its limit",
			Self::ExecutionFailed => "the model failed while running",
			Self::ModelUnavailable => "the model bytes were not available to the engine",
		}
	}
}

/// Why one node could not reach a verdict at all: a fault of that node, not of the model, the
/// input or the state. Another node would compute a verdict, so none may be written: the node
/// aborts the runtime call that asked (its block is not authored or not imported, its
/// off-chain worker sends nothing) instead of turning this into an outcome.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug)]
pub enum LocalFailure {
	/// This process has no working engine: none was registered, its guest did not compile on
	/// this CPU, or the tile-kernel check at start-up failed.
	EngineUnavailable,
	/// The host could not get what a run needs from the operating system (memory for an
	/// instance or its growth, an instance slot, a poisoned lock).
	HostResources,
	/// The engine's host code panicked.
	HostPanic,
	/// The chain names another engine guest than the one this node runs.
	OtherGuest,
	/// Too many calls off the consensus lane (RPC calls, off-chain workers) wait for the
	/// engine's off-chain thread already; this one is refused rather than queued.
	OffchainLaneFull,
}

impl LocalFailure {
	/// A sentence for people: logs and the `infer` command.
	pub fn describe(&self) -> &'static str {
		match self {
			Self::EngineUnavailable => "this node has no working inference engine",
			Self::HostResources => "the operating system refused the engine memory or an instance",
			Self::HostPanic => "the engine's host code panicked",
			Self::OtherGuest => {
				"the chain names an engine guest this node neither has nor finds in state, or cannot run"
			},
			Self::OffchainLaneFull => "too many RPC or off-chain calls wait for the engine's off-chain thread already",
		}
	}
}

/// What a node's engine answers when it does not return outputs: a verdict every honest node
/// shares, or a failure of its own that must not become one.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunError {
	/// The model, the input or the state causes this error on every node.
	Verdict(EngineError),
	/// This node failed; no verdict.
	Local(LocalFailure),
}

impl From<EngineError> for RunError {
	fn from(error: EngineError) -> Self {
		Self::Verdict(error)
	}
}

impl From<LocalFailure> for RunError {
	fn from(failure: LocalFailure) -> Self {
		Self::Local(failure)
	}
}

#[cfg(feature = "std")]
impl std::fmt::Display for LocalFailure {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(self.describe())
	}
}

#[cfg(feature = "std")]
impl std::fmt::Display for RunError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Verdict(error) => error.fmt(f),
			Self::Local(failure) => write!(f, "{failure} (a fault of this node, no verdict)"),
		}
	}
}

#[cfg(feature = "std")]
impl std::fmt::Display for EngineError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(self.describe())
	}
}

#[cfg(feature = "std")]
impl std::error::Error for EngineError {}

#[cfg(feature = "std")]
impl std::error::Error for RunError {}
