//! Registered models for the benchmarks of pallets that use models (inference nodes,
//! requests): real uploads and registrations, checked by the node's engine.

use crate::{Config, Pallet};
use alloc::vec;
use frame_benchmarking::account;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;
use veriml_inference_primitives::{model_hash, onnx_builder, ModelHash, TensorSpec};

/// Registers a Relu model over `[1, width]` float inputs, distinct for each `index`, owned by a
/// funded benchmark account; returns its hash and input spec.
pub fn register_relu<T: Config>(index: u32, width: u32) -> (ModelHash, TensorSpec) {
	let owner: T::AccountId = account("model-owner", index, 0);
	let bytes = onnx_builder::unary_model("Relu", width, index as usize);
	let spec = onnx_builder::unary_model_input(width);
	if crate::Models::<T>::contains_key(model_hash(&bytes)) {
		return (model_hash(&bytes), spec);
	}
	let hash = upload::<T>(&owner, &bytes);
	let origin = || RawOrigin::Signed(owner.clone()).into();
	Pallet::<T>::register_model(
		origin(),
		hash,
		BoundedVec::truncate_from(b"benchmark-relu".to_vec()),
		index.saturating_add(1),
		BoundedVec::truncate_from(vec![spec.clone()]),
		1u32.into(),
	)
	.expect("registers the model");
	(hash, spec)
}

/// Uploads `bytes` from `who`, minting the upload's deposit to `who` first; returns their hash.
pub fn upload<T: Config>(who: &T::AccountId, bytes: &[u8]) -> ModelHash {
	let deposit = Pallet::<T>::deposit_for(bytes.len() as u32).saturating_add(T::Currency::minimum_balance());
	T::Currency::mint_into(who, deposit).expect("mints the deposit");
	let hash = model_hash(bytes);
	let origin = || RawOrigin::Signed(who.clone()).into();
	Pallet::<T>::begin_upload(origin(), hash, bytes.len() as u32).expect("begins the upload");
	for (chunk_index, chunk) in bytes.chunks(T::MaxChunkBytes::get() as usize).enumerate() {
		Pallet::<T>::upload_chunk(origin(), hash, chunk_index as u32, BoundedVec::truncate_from(chunk.to_vec()))
			.expect("uploads a chunk");
	}
	hash
}
