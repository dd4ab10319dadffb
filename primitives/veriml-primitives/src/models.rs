//! Registered models as the pallets that use them see them (the model registry provides them).

use crate::Fuel;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, Weight};
use veriml_inference_primitives::{generation::DecoderLayout, EngineVersion, ModelHash, ModelInfo, TensorSpec, H256};

/// How results of a model are verified.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum Verification {
	/// Every result is re-executed while the block that carries it is applied.
	InBlock,
	/// Too costly to re-execute every result: results wait through a challenge window and
	/// only challenged ones are re-executed.
	Optimistic,
}

/// The SCALE size of outputs of `specs` (a `Vec<Tensor>`: each tensor's dtype, shape and
/// data), computed without making them; saturates at `u64::MAX`.
pub fn encoded_outputs_len(specs: &[TensorSpec]) -> u64 {
	use codec::{Compact, CompactLen};
	let compact = |n: u64| Compact::<u64>::compact_len(&n) as u64;
	specs.iter().fold(compact(specs.len() as u64), |total, spec| {
		let rank = spec.shape.len() as u64;
		let data = spec.byte_len().map_or(u64::MAX, |len| len as u64);
		total
			.saturating_add(1)
			.saturating_add(compact(rank))
			.saturating_add(4 * rank)
			.saturating_add(compact(data))
			.saturating_add(data)
	})
}

/// What an inference request needs to know of a model.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ModelTerms<AccountId, Balance> {
	/// Who is paid the model's price.
	pub owner: AccountId,
	/// The price per inference.
	pub price_per_inference: Balance,
	/// The input tensors the model takes.
	pub inputs: Vec<TensorSpec>,
	/// Engine fuel one inference used on all-zero inputs at registration.
	pub fuel_per_run: Fuel,
	/// Engine fuel preparing the model used at registration: what a node whose engine has not
	/// prepared it (after a restart, say) spends before its first run.
	pub fuel_to_prepare: Fuel,
	/// The engine version of the guest that measured `fuel_per_run` and `fuel_to_prepare`:
	/// where it is not the chain's guest's, the chain's guest may prepare the model for more
	/// fuel (or refuse it) until `models.remeasureModel` measures it again.
	pub measured_with: EngineVersion,
	/// Length of the model's bytes, which such a node reads from state or its content store.
	pub byte_len: u32,
	/// Whether the bytes are an item of the content store (read from the node's database)
	/// rather than kept in state.
	pub in_content_store: bool,
	/// The SCALE size of the model's outputs, from its output specs ([`encoded_outputs_len`],
	/// saturated at `u32::MAX`): what its results keep in state.
	pub output_bytes: u32,
	/// Whether the model takes new requests.
	pub active: bool,
	/// How its results are verified.
	pub verification: Verification,
}

/// What a generation request needs to know of a model registered as a decoder.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecoderSpec {
	/// What each step feeds where: each step's inputs are built from it without reading the
	/// model.
	pub layout: DecoderLayout,
	/// The most tokens one generation feeds it and chooses (prompt and generated tokens
	/// together); it was measured at its first and its last step.
	pub context_length: u32,
	/// Rows of its logits: every token id is below it.
	pub vocabulary: u32,
	/// The most fuel preparing it for one step's cache may take
	/// ([`decoder_step_preparation_limit`] of its registered `fuel_to_prepare`).
	pub step_preparation_limit: Fuel,
}

/// A decoder's figures from the engine's check of its first step (`first`, an empty cache)
/// and of its context's last step (`last`, the longest cache): the last step's inputs and
/// outputs with the larger fuel per run and to prepare of the two. The first step does work
/// the later steps skip, and for a short context it is the costliest. The chain registers a
/// decoder with these figures (`pallet-model-registry`'s `measure_decoder`) and
/// `veriml-node infer --generate` measures one as the chain does.
pub fn decoder_figures(first: &ModelInfo, mut last: ModelInfo) -> ModelInfo {
	last.fuel_per_run = last.fuel_per_run.max(first.fuel_per_run);
	last.fuel_to_prepare = last.fuel_to_prepare.max(first.fuel_to_prepare);
	last
}

/// The most fuel preparing a decoder for one step's cache may take, where `fuel_to_prepare` is
/// the decoder's registered figure (the larger of its first and its last step's): an eighth
/// more, room for the small differences between lengths an honest export shows. A step whose
/// preparation takes more is refused on every node, whether it prepared that step before or
/// not, so a decoder costly to prepare at a length between its ends can never make a step's
/// judgement take longer than the chain charges for it.
pub const fn decoder_step_preparation_limit(fuel_to_prepare: Fuel) -> Fuel {
	fuel_to_prepare.saturating_add(fuel_to_prepare / 8)
}

/// The registered models, as the pallets that use them see them.
pub trait ModelCatalog<AccountId, Balance> {
	/// The terms of `model`, if it is registered.
	fn terms(model: &ModelHash) -> Option<ModelTerms<AccountId, Balance>>;

	/// The weight of `fuel` units of engine work, at the measured price of the chain's engine
	/// guest's version.
	fn fuel_weight(fuel: Fuel) -> Weight;

	/// [`fuel_weight`](Self::fuel_weight) at the highest price any engine version is charged:
	/// for a check made now of work done later, when root may have set a guest charged more.
	fn most_fuel_weight(fuel: Fuel) -> Weight;

	/// The weight of preparing a model of these terms in an engine that has not prepared it:
	/// reading its bytes from state and its preparation fuel.
	fn preparation_weight(terms: &ModelTerms<AccountId, Balance>) -> Weight;

	/// The most reading the bytes of a model kept in state weighs (the part of
	/// [`preparation_weight`](Self::preparation_weight) that is not fuel). A model in the
	/// content store may be larger and take longer: each request of one is checked against
	/// a transaction's weight instead.
	fn max_state_model_read_weight() -> Weight;

	/// The engine version of the guest the chain runs now (the first field of the result
	/// hashes it confirms), and that of the guest it replaced, if any.
	fn engine_versions() -> (EngineVersion, Option<EngineVersion>);

	/// The decoder terms of `model`, if it is registered as a decoder (`registerDecoder`).
	fn decoder(model: &ModelHash) -> Option<DecoderSpec>;
}

/// Completed uploads taken by other pallets as content-addressed bytes: inputs of a request
/// too large for one transaction are uploaded like a model, then named by their hash.
pub trait UploadedBytes<AccountId> {
	/// Takes `who`'s complete upload `hash` of at most `max_len` bytes: returns its bytes,
	/// checked against `hash`, deletes its chunks and releases its deposit.
	fn take(who: &AccountId, hash: &H256, max_len: u32) -> Result<Vec<u8>, DispatchError>;
}

#[cfg(test)]
mod tests {
	use super::*;
	use veriml_inference_primitives::{DType, Tensor};

	#[test]
	fn the_outputs_length_from_specs_is_the_encoded_length_of_such_outputs() {
		let specs = [
			TensorSpec::new(DType::F32, &[1, 3]).unwrap(),
			TensorSpec::new(DType::I64, &[2]).unwrap(),
			TensorSpec::new(DType::F32, &[1, 100, 100]).unwrap(),
		];
		let outputs: Vec<Tensor> = specs.iter().map(|spec| Tensor::zeros(spec).unwrap()).collect();
		assert_eq!(encoded_outputs_len(&specs), outputs.encoded_size() as u64);
		assert_eq!(encoded_outputs_len(&[]), Vec::<Tensor>::new().encoded_size() as u64);
	}
}
