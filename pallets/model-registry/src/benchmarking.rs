//! Benchmarks of the registry's calls, on models built in code.

use super::*;
use crate::Pallet as Registry;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate},
		Get,
	},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;
use veriml_inference_primitives::{model_hash, onnx_builder, ModelHash};

const WIDTH: u32 = 16;

fn funded<T: Config>() -> T::AccountId {
	let who: T::AccountId = whitelisted_caller();
	let amount = Registry::<T>::deposit_for(T::MaxModelBytes::get())
		.saturating_mul(10u32.into())
		.saturating_add(T::Currency::minimum_balance());
	T::Currency::set_balance(&who, amount);
	who
}

/// A Relu model padded to `len` bytes (at least its minimal size).
fn model_of_len(len: u32) -> Vec<u8> {
	let bare = onnx_builder::unary_model("Relu", WIDTH, 0).len();
	// The padding field's own length prefix grows by a byte or two with its size.
	let mut padding = (len as usize).saturating_sub(bare);
	loop {
		let bytes = onnx_builder::unary_model("Relu", WIDTH, padding);
		if bytes.len() <= len as usize || padding == 0 {
			return bytes;
		}
		padding -= 1;
	}
}

fn uploaded<T: Config>(who: &T::AccountId, bytes: &[u8]) -> ModelHash {
	let hash = model_hash(bytes);
	Registry::<T>::begin_upload(RawOrigin::Signed(who.clone()).into(), hash, bytes.len() as u32).expect("begins");
	for (index, chunk) in bytes.chunks(T::MaxChunkBytes::get() as usize).enumerate() {
		Registry::<T>::upload_chunk(
			RawOrigin::Signed(who.clone()).into(),
			hash,
			index as u32,
			BoundedVec::truncate_from(chunk.to_vec()),
		)
		.expect("uploads");
	}
	hash
}

fn registered<T: Config>(who: &T::AccountId) -> ModelHash {
	let bytes = model_of_len(512);
	let hash = uploaded::<T>(who, &bytes);
	Registry::<T>::register_model(
		RawOrigin::Signed(who.clone()).into(),
		hash,
		BoundedVec::truncate_from(b"relu".to_vec()),
		1,
		BoundedVec::truncate_from(alloc::vec![onnx_builder::unary_model_input(WIDTH)]),
		1u32.into(),
	)
	.expect("registers");
	hash
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn begin_upload() {
		let caller = funded::<T>();
		let len = T::MaxModelBytes::get();
		let hash = model_hash(b"benchmark");
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), hash, len);
		assert!(Uploads::<T>::contains_key(caller, hash));
	}

	#[benchmark]
	fn upload_chunk(b: Linear<1, { T::MaxChunkBytes::get() }>) {
		let caller = funded::<T>();
		let hash = model_hash(b"benchmark");
		Registry::<T>::begin_upload(RawOrigin::Signed(caller.clone()).into(), hash, b).expect("begins");
		let chunk = BoundedVec::truncate_from(alloc::vec![7u8; b as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), hash, 0, chunk);
		assert!(UploadChunks::<T>::contains_key((caller, hash, 0)));
	}

	#[benchmark]
	fn abort_upload(c: Linear<1, { T::MaxModelBytes::get().div_ceil(T::MaxChunkBytes::get()) }>) {
		let caller = funded::<T>();
		let len = c.saturating_mul(T::MaxChunkBytes::get()).min(T::MaxModelBytes::get());
		let bytes = alloc::vec![1u8; len as usize];
		let hash = uploaded::<T>(&caller, &bytes);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), hash);
		assert!(!Uploads::<T>::contains_key(caller, hash));
	}

	#[benchmark]
	fn register_model(b: Linear<256, { T::MaxModelBytes::get() }>) {
		let caller = funded::<T>();
		let bytes = model_of_len(b);
		let hash = uploaded::<T>(&caller, &bytes);
		let inputs = BoundedVec::truncate_from(alloc::vec![onnx_builder::unary_model_input(WIDTH)]);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), hash, BoundedVec::truncate_from(b"relu".to_vec()), 1, inputs, 1u32.into());
		assert!(crate::pallet::Models::<T>::contains_key(hash));
	}

	#[benchmark]
	fn set_price() {
		let caller = funded::<T>();
		let hash = registered::<T>(&caller);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), hash, 5u32.into());
	}

	#[benchmark]
	fn deprecate_model() {
		let caller = funded::<T>();
		let hash = registered::<T>(&caller);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), hash);
		assert_eq!(crate::pallet::Models::<T>::get(hash).map(|m| m.status), Some(ModelStatus::Deprecated));
	}

	#[benchmark]
	fn remove_model() {
		let caller = funded::<T>();
		let hash = registered::<T>(&caller);
		#[extrinsic_call]
		_(RawOrigin::Signed(caller), hash);
		assert!(!crate::pallet::Models::<T>::contains_key(hash));
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}
