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
	let bytes = onnx_builder::unary_model("Relu", width, index as usize);
	register::<T>(index, b"benchmark-relu", bytes, onnx_builder::unary_model_input(width))
}

/// Registers a model summing `[1, width]` float inputs into one `[1, 1]` float, distinct for
/// each `index`: large inputs with small outputs (a Relu model's outputs are as large as its
/// inputs, and registration refuses outputs no result can carry). Returns its hash and input
/// spec.
pub fn register_sum<T: Config>(index: u32, width: u32) -> (ModelHash, TensorSpec) {
	register::<T>(index, b"benchmark-sum", sum_model(width, index as usize), onnx_builder::unary_model_input(width))
}

/// Uploads and registers `bytes` (taking `spec`) under `name`, owned by a funded benchmark
/// account of `index`, unless it is registered already; returns its hash and input spec.
fn register<T: Config>(
	index: u32,
	name: &[u8],
	bytes: alloc::vec::Vec<u8>,
	spec: TensorSpec,
) -> (ModelHash, TensorSpec) {
	let hash = model_hash(&bytes);
	if crate::Models::<T>::contains_key(hash) {
		return (hash, spec);
	}
	let owner: T::AccountId = account("model-owner", index, 0);
	upload::<T>(&owner, &bytes);
	Pallet::<T>::register_model(
		RawOrigin::Signed(owner).into(),
		hash,
		BoundedVec::truncate_from(name.to_vec()),
		index.saturating_add(1),
		BoundedVec::truncate_from(vec![spec.clone()]),
		1u32.into(),
	)
	.expect("registers the model");
	(hash, spec)
}

/// A model computing `y = ReduceSum(x)` (all axes, dimensions kept) for `x: f32[1, width]`,
/// with `padding` bytes of doc string. Written here, not in `veriml_inference_primitives::
/// onnx_builder`: that crate is compiled into the engine guest, whose bytes are pinned.
pub fn sum_model(width: u32, padding: usize) -> alloc::vec::Vec<u8> {
	use alloc::vec::Vec;
	use veriml_primitives::protobuf::{put_bytes_field as field, put_varint_field as number};
	// ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: FLOAT, shape } } }
	let value_info = |name: &[u8], dims: [u64; 2]| {
		let mut shape = Vec::new();
		for dim in dims {
			let mut dimension = Vec::new();
			number(&mut dimension, 1, dim);
			field(&mut shape, 1, &dimension);
		}
		let mut tensor_type = Vec::new();
		number(&mut tensor_type, 1, 1);
		field(&mut tensor_type, 2, &shape);
		let mut type_proto = Vec::new();
		field(&mut type_proto, 1, &tensor_type);
		let mut info = Vec::new();
		field(&mut info, 1, name);
		field(&mut info, 2, &type_proto);
		info
	};
	let mut node = Vec::new();
	field(&mut node, 1, b"x");
	field(&mut node, 2, b"y");
	field(&mut node, 4, b"ReduceSum");
	let mut graph = Vec::new();
	field(&mut graph, 1, &node);
	field(&mut graph, 2, b"sum");
	field(&mut graph, 11, &value_info(b"x", [1, width as u64]));
	field(&mut graph, 12, &value_info(b"y", [1, 1]));
	let mut opset = Vec::new();
	field(&mut opset, 1, b"");
	number(&mut opset, 2, 13);
	let mut model = Vec::new();
	number(&mut model, 1, 7);
	field(&mut model, 6, &vec![b' '; padding]);
	field(&mut model, 7, &graph);
	field(&mut model, 8, &opset);
	model
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
