//! What the registry keeps about uploads and models.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use scale_info::TypeInfo;
use veriml_inference_primitives::{EngineError, ModelHash, ModelInfo, TensorSpec};

/// Model bytes on their way to the chain, chunk by chunk.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Upload<AccountId, Balance> {
	/// Who uploads, and will own the model.
	pub uploader: AccountId,
	/// Total length of the model in bytes.
	pub byte_len: u32,
	/// Number of chunks the bytes are split into.
	pub chunk_count: u32,
	/// Chunks stored so far.
	pub chunks_received: u32,
	/// Deposit held from the uploader for the bytes.
	pub deposit: Balance,
}

/// Whether a model takes new inference requests.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum ModelStatus {
	/// Takes requests.
	Active,
	/// Kept for existing requests and verification; takes no new requests.
	Deprecated,
}

/// How results of a model are verified.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum Verification {
	/// Every result is re-executed while the block that carries it is applied.
	InBlock,
	/// Too costly to re-execute every result: results wait through a challenge window and
	/// only challenged ones are re-executed.
	Optimistic,
}

/// A registered model.
#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(NameLen, Tensors))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct ModelRecord<AccountId, Balance, BlockNumber, NameLen: Get<u32>, Tensors: Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The account that registered the model and may price, deprecate and remove it.
	pub owner: AccountId,
	/// Human name, shared by the model's versions.
	pub name: BoundedVec<u8, NameLen>,
	/// Version under the owner's name; strictly increasing.
	pub version: u32,
	/// Input tensors the model takes.
	pub inputs: BoundedVec<TensorSpec, Tensors>,
	/// Output tensors it produces.
	pub outputs: BoundedVec<TensorSpec, Tensors>,
	/// What the owner is paid per inference.
	pub price_per_inference: Balance,
	/// Length of the ONNX bytes.
	pub byte_len: u32,
	/// ONNX nodes in the graph.
	pub node_count: u32,
	/// Engine fuel one inference used on all-zero inputs at registration.
	pub fuel_per_run: u64,
	/// Engine fuel preparing the model used at registration.
	pub fuel_to_prepare: u64,
	/// How its results are verified, from its measured fuel per run.
	pub verification: Verification,
	/// Whether it takes new requests.
	pub status: ModelStatus,
	/// Deposit held from the owner for the bytes kept in state.
	pub deposit: Balance,
	/// Block in which the model was registered.
	pub registered_at: BlockNumber,
}

/// A registered model as clients read it (`ModelsApi::model`): a view kept apart from the
/// storage item it is read from, so that the record may change without it.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct RegisteredModel<AccountId, Balance, BlockNumber> {
	/// The account that registered the model and may price, deprecate and remove it.
	pub owner: AccountId,
	/// Human name, shared by the model's versions.
	pub name: alloc::vec::Vec<u8>,
	/// Version under the owner's name.
	pub version: u32,
	/// Input tensors the model takes.
	pub inputs: alloc::vec::Vec<TensorSpec>,
	/// Output tensors it produces.
	pub outputs: alloc::vec::Vec<TensorSpec>,
	/// What the owner is paid per inference.
	pub price_per_inference: Balance,
	/// Length of the ONNX bytes.
	pub byte_len: u32,
	/// Engine fuel one inference used on all-zero inputs at registration.
	pub fuel_per_run: u64,
	/// Engine fuel preparing the model used at registration.
	pub fuel_to_prepare: u64,
	/// How its results are verified.
	pub verification: Verification,
	/// Whether it takes new requests.
	pub status: ModelStatus,
	/// Block in which the model was registered.
	pub registered_at: BlockNumber,
}

impl<AccountId, Balance, BlockNumber, NameLen: Get<u32>, Tensors: Get<u32>>
	From<ModelRecord<AccountId, Balance, BlockNumber, NameLen, Tensors>>
	for RegisteredModel<AccountId, Balance, BlockNumber>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	fn from(record: ModelRecord<AccountId, Balance, BlockNumber, NameLen, Tensors>) -> Self {
		Self {
			owner: record.owner,
			name: record.name.into_inner(),
			version: record.version,
			inputs: record.inputs.into_inner(),
			outputs: record.outputs.into_inner(),
			price_per_inference: record.price_per_inference,
			byte_len: record.byte_len,
			fuel_per_run: record.fuel_per_run,
			fuel_to_prepare: record.fuel_to_prepare,
			verification: record.verification,
			status: record.status,
			registered_at: record.registered_at,
		}
	}
}

/// The engine as the registry needs it: checking a model before it is registered.
pub trait ModelInspector {
	/// Parses and checks `model` for `inputs`, within `fuel_limit`, with the engine guest
	/// `guest` the chain names.
	fn inspect(
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<ModelInfo, EngineError>;
}

/// The node's deterministic engine, through the `inference` host functions.
pub struct HostEngine;

impl ModelInspector for HostEngine {
	fn inspect(
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<ModelInfo, EngineError> {
		veriml_inference_interface::inference::inspect(guest, model, inputs.to_vec(), fuel_limit)
	}
}

/// What an inference request needs to know of a model.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ModelTerms<AccountId, Balance> {
	/// Who is paid the model's price.
	pub owner: AccountId,
	/// The price per inference.
	pub price_per_inference: Balance,
	/// The input tensors the model takes.
	pub inputs: alloc::vec::Vec<TensorSpec>,
	/// Engine fuel one inference used on all-zero inputs at registration.
	pub fuel_per_run: u64,
	/// Engine fuel preparing the model used at registration: what a node whose engine has not
	/// prepared it (after a restart, say) spends before its first run.
	pub fuel_to_prepare: u64,
	/// Length of the model's bytes, which such a node reads from state.
	pub byte_len: u32,
	/// Whether the model takes new requests.
	pub active: bool,
	/// How its results are verified.
	pub verification: Verification,
}

/// The registered models, as the pallets that use them see them.
pub trait ModelCatalog<AccountId, Balance> {
	/// The terms of `model`, if it is registered.
	fn terms(model: &veriml_inference_primitives::ModelHash) -> Option<ModelTerms<AccountId, Balance>>;

	/// The weight of `fuel` units of engine work, at the registry's measured rate.
	fn fuel_weight(fuel: u64) -> frame_support::weights::Weight;

	/// The weight of preparing a model of these terms in an engine that has not prepared it:
	/// reading its bytes from state and its preparation fuel.
	fn preparation_weight(terms: &ModelTerms<AccountId, Balance>) -> frame_support::weights::Weight;

	/// The most reading the bytes of any model that can be registered weighs (the part of
	/// [`preparation_weight`](Self::preparation_weight) that is not fuel).
	fn max_model_read_weight() -> frame_support::weights::Weight;

	/// The engine version of the guest the chain runs now (the first field of the result
	/// hashes it confirms), and that of the guest it replaced, if any.
	fn engine_versions(
	) -> (veriml_inference_primitives::EngineVersion, Option<veriml_inference_primitives::EngineVersion>);
}

/// Completed uploads taken by other pallets as content-addressed bytes: inputs of a request
/// too large for one transaction are uploaded like a model, then named by their hash.
pub trait UploadedBytes<AccountId> {
	/// Takes `who`'s complete upload `hash` of at most `max_len` bytes: returns its bytes,
	/// checked against `hash`, deletes its chunks and releases its deposit.
	fn take(
		who: &AccountId,
		hash: &veriml_inference_primitives::H256,
		max_len: u32,
	) -> Result<alloc::vec::Vec<u8>, sp_runtime::DispatchError>;
}
