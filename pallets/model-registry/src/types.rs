//! What the registry keeps about uploads and models.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::{ConstU32, Get},
	BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use veriml_inference_primitives::{
	generation::{DecoderInput, DecoderLayout},
	EngineError, EngineVersion, ModelHash, ModelInfo, TensorSpec,
};
pub use veriml_primitives::models::{ModelCatalog, ModelTerms, UploadedBytes, Verification};
use veriml_primitives::Fuel;

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
	/// Engine fuel one inference used on all-zero inputs, measured at registration or by the
	/// latest [`remeasure_model`](crate::Pallet::remeasure_model).
	pub fuel_per_run: Fuel,
	/// Engine fuel preparing the model used, measured with `fuel_per_run`; a decoder's is the
	/// highest any guest measured (it never falls: its steps' preparation limit comes from it).
	pub fuel_to_prepare: Fuel,
	/// How its results are verified, from its measured fuel per run.
	pub verification: Verification,
	/// Whether it takes new requests.
	pub status: ModelStatus,
	/// Deposit held from the owner for the bytes kept in state.
	pub deposit: Balance,
	/// Block in which the model was registered.
	pub registered_at: BlockNumber,
	/// The engine version of the guest that measured `fuel_per_run` and `fuel_to_prepare`.
	/// Once the chain runs a guest of another version, anyone may have the model measured
	/// again ([`remeasure_model`](crate::Pallet::remeasure_model)).
	pub measured_with: EngineVersion,
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
	/// Engine fuel one inference used on all-zero inputs, measured by the guest of
	/// `measured_with`.
	pub fuel_per_run: Fuel,
	/// Engine fuel preparing the model used, measured with `fuel_per_run`.
	pub fuel_to_prepare: Fuel,
	/// How its results are verified.
	pub verification: Verification,
	/// Whether it takes new requests.
	pub status: ModelStatus,
	/// Block in which the model was registered.
	pub registered_at: BlockNumber,
	/// The engine version of the guest that measured its fuel figures: where it is not the
	/// chain's guest's, `remeasureModel` measures them again.
	pub measured_with: EngineVersion,
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
			measured_with: record.measured_with,
		}
	}
}

/// What the registry keeps of a decoder ([`register_decoder`](crate::Pallet::register_decoder)),
/// beside its model record: the context it was measured for and the tokenizer registered with
/// it ([`Tokenizers`](crate::Tokenizers) holds its bytes). Clients read it
/// (`ModelsApi::decoder`).
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct DecoderTerms {
	/// The most tokens one generation feeds it (prompt and generated tokens together): its
	/// fuel per run is measured at the last of them, whose cache is the longest.
	pub context_length: u32,
	/// Decoder layers: pairs of `past_key_values.N.key/value` inputs.
	pub layers: u32,
	/// Key/value heads of each layer's cache.
	pub heads: u32,
	/// Elements of one head's key or value.
	pub head_size: u32,
	/// The blake2-256 of its `tokenizer.json`.
	pub tokenizer_hash: veriml_inference_primitives::H256,
	/// Length of its `tokenizer.json`, in bytes.
	pub tokenizer_len: u32,
	/// Its graph's inputs in the order it declares them (what each step feeds where; last, so
	/// that a client reading the fields before it reads them as it did).
	pub inputs: BoundedVec<DecoderInput, ConstU32<MAX_DECODER_INPUTS>>,
}

/// Most inputs a decoder's terms list: `input_ids`, `attention_mask`, `position_ids` and the
/// key and value of 128 layers. (A model's inputs are also at most `MaxTensors`.)
pub const MAX_DECODER_INPUTS: u32 = 3 + 2 * 128;

impl DecoderTerms {
	/// The decoder's layout, from which each step's inputs are built
	/// ([`DecoderLayout::step_inputs`]) without reading the model.
	pub fn layout(&self) -> DecoderLayout {
		DecoderLayout {
			inputs: self.inputs.to_vec(),
			layers: self.layers,
			heads: self.heads,
			head_size: self.head_size,
		}
	}
}

/// A model registered from the content store whose item is stored, as nodes read it
/// (`ModelsApi::stored_models`): the chunks a node must hold to run it, which it fetches from
/// its peers when its database lacks them (a node that synced from a warp proof or prunes
/// block bodies).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct StoredModelChunks {
	/// The model's hash (the blake2-256 of its whole file).
	pub model: ModelHash,
	/// The content store's item its bytes are.
	pub root: veriml_primitives::content::ContentRoot,
	/// The item's chunk hashes, in order.
	pub chunks: alloc::vec::Vec<veriml_primitives::content::ChunkHash>,
}

/// The engine as the registry needs it: checking a model before it is registered.
pub trait ModelInspector {
	/// Parses and checks `model` for `inputs`, within `fuel_limit`, with the engine guest
	/// `guest` the chain names.
	fn inspect(
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: Fuel,
	) -> Result<ModelInfo, EngineError>;

	/// [`inspect`](Self::inspect) for a model in the content store, whose chunk list the
	/// state holds under `chunks_key`: the blake2-256 of its whole bytes and its figures.
	fn inspect_stored(
		guest: ModelHash,
		chunks_key: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: Fuel,
	) -> Result<(ModelHash, ModelInfo), EngineError>;
}

/// The node's deterministic engine, through the `inference` host functions.
pub struct HostEngine;

impl ModelInspector for HostEngine {
	fn inspect(
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: Fuel,
	) -> Result<ModelInfo, EngineError> {
		veriml_inference_interface::inference::inspect(guest, model, inputs.to_vec(), fuel_limit)
	}

	fn inspect_stored(
		guest: ModelHash,
		chunks_key: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: Fuel,
	) -> Result<(ModelHash, ModelInfo), EngineError> {
		veriml_inference_interface::inference::inspect_stored(guest, chunks_key, inputs.to_vec(), fuel_limit)
	}
}
