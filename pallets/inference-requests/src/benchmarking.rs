//! Benchmarks of the request calls and hooks, with real models run by the node's engine.

use super::*;
use crate::Pallet as InferencePallet;
use alloc::{vec, vec::Vec};
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Get, Hooks};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::{Bounded, Saturating};
use veriml_inference_primitives::{input_hash, result_hash, EngineError, ModelHash, Tensor};
use veriml_primitives::models::ModelCatalog;

/// Width of a `[1, width]` float tensor whose SCALE encoding is about `bytes` long.
fn width_for(bytes: u32) -> u32 {
	(bytes.saturating_sub(16) / 4).max(1)
}

fn zeros(width: u32) -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, width], &vec![0.0; width as usize])]
}

fn requester<T: Config>(index: u32) -> T::AccountId {
	let who: T::AccountId = account("requester", index, 0);
	T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 4u32.into());
	who
}

/// The end of the block: the nodes of the requests it made are drawn.
fn end_block<T: Config>() {
	InferencePallet::<T>::on_finalize(frame_system::Pallet::<T>::block_number());
}

/// `who` requests `model` on zeros, and the block ends.
fn make_request<T: Config>(who: &T::AccountId, model: ModelHash, width: u32) -> RequestId {
	let id = NextRequestId::<T>::get();
	InferencePallet::<T>::request(
		RawOrigin::Signed(who.clone()).into(),
		model,
		zeros(width),
		BalanceOf::<T>::max_value(),
	)
	.expect("requests");
	end_block::<T>();
	id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// A request, with the draw of its node at the end of the block.
	#[benchmark]
	fn request(i: Linear<64, { T::MaxInputBytes::get() }>) {
		let width = width_for(i);
		let (model, _) = T::BenchmarkHelper::sum_model(0, width);
		T::BenchmarkHelper::node(model, 0);
		let who = requester::<T>(0);
		#[block]
		{
			InferencePallet::<T>::request(
				RawOrigin::Signed(who).into(),
				model,
				zeros(width),
				BalanceOf::<T>::max_value(),
			)
			.expect("requests");
			end_block::<T>();
		}
		assert_eq!(Requests::<T>::get(0).map(|r| r.status), Some(RequestStatus::Assigned));
	}

	/// Inputs taken from a complete upload of `i` bytes: assembled from its chunks, checked
	/// against their hash, decoded, the upload deleted and its deposit released; the node
	/// drawn at the end of the block.
	#[benchmark]
	fn request_uploaded(i: Linear<64, { T::MaxUploadedInputBytes::get() }>) {
		let width = width_for(i);
		let (model, _) = T::BenchmarkHelper::sum_model(0, width);
		T::BenchmarkHelper::node(model, 0);
		let who = requester::<T>(0);
		let inputs_hash = T::BenchmarkHelper::upload(&who, &zeros(width).encode());
		#[block]
		{
			InferencePallet::<T>::request_uploaded(
				RawOrigin::Signed(who).into(),
				model,
				inputs_hash,
				BalanceOf::<T>::max_value(),
			)
			.expect("requests");
			end_block::<T>();
		}
		assert_eq!(Requests::<T>::get(0).map(|r| r.status), Some(RequestStatus::Assigned));
	}

	/// A verified result: re-execution, receipt, settlement to three payees, clean-up.
	#[benchmark]
	fn submit_result(o: Linear<64, { T::MaxOutputBytes::get() }>) {
		let width = width_for(o);
		let (model, _) = T::BenchmarkHelper::model(0, width);
		let node = T::BenchmarkHelper::node(model, 0);
		let who = requester::<T>(0);
		let id = make_request::<T>(&who, model, width);
		// Relu of zeros is zeros.
		let outputs = zeros(width);
		let hash = result_hash(T::Models::engine_versions().0, &model, &input_hash(&zeros(width)), &outputs);
		#[extrinsic_call]
		_(RawOrigin::Signed(node), id, outputs, hash);
		assert!(!Requests::<T>::contains_key(id));
	}

	/// A refuted report: re-execution, slash, reassignment to another node at the end of the
	/// block.
	#[benchmark]
	fn report_failure() {
		let (model, _) = T::BenchmarkHelper::model(0, 16);
		let first = T::BenchmarkHelper::node(model, 0);
		let second = T::BenchmarkHelper::node(model, 1);
		let who = requester::<T>(0);
		let id = make_request::<T>(&who, model, 16);
		let assigned = Requests::<T>::get(id).expect("open").assigned[0].clone();
		let other = if assigned == first { second } else { first };
		#[block]
		{
			InferencePallet::<T>::report_failure(RawOrigin::Signed(assigned).into(), id, EngineError::FuelExhausted)
				.expect("refuted, not refused");
			end_block::<T>();
		}
		assert_eq!(Requests::<T>::get(id).map(|r| r.assigned.into_inner()), Some(vec![other]));
	}

	#[benchmark]
	fn cancel(p: Linear<1, { T::MaxPending::get() }>) {
		let (model, _) = T::BenchmarkHelper::model(0, 16);
		let who = requester::<T>(0);
		let ids: Vec<RequestId> = (0..p).map(|_| make_request::<T>(&who, model, 16)).collect();
		let last = *ids.last().expect("at least one");
		#[extrinsic_call]
		_(RawOrigin::Signed(who), last);
		assert!(!Requests::<T>::contains_key(last));
	}

	/// `e` requests expire and `a` waiting requests get a node (at the end of the block).
	#[benchmark]
	fn on_initialize(e: Linear<0, 100>, a: Linear<0, { T::MaxPending::get() }>) {
		let who = requester::<T>(0);
		let (served, _) = T::BenchmarkHelper::model(0, 16);
		T::BenchmarkHelper::node(served, 0);
		for _ in 0..e {
			make_request::<T>(&who, served, 16);
		}
		let deadline: BlockNumberFor<T> =
			frame_system::Pallet::<T>::block_number().saturating_add(T::RequestTimeout::get());
		// The waiting requests expire a block later.
		let next = frame_system::Pallet::<T>::block_number().saturating_add(1u32.into());
		frame_system::Pallet::<T>::set_block_number(next);
		let (waiting, _) = T::BenchmarkHelper::model(1, 16);
		for _ in 0..a {
			make_request::<T>(&who, waiting, 16);
		}
		T::BenchmarkHelper::node(waiting, 1);
		// The queue draws a request from the block after the one it was made in.
		frame_system::Pallet::<T>::set_block_number(next.saturating_add(1u32.into()));
		#[block]
		{
			InferencePallet::<T>::on_initialize(deadline);
			InferencePallet::<T>::on_finalize(deadline);
		}
		assert!(PendingQueue::<T>::get().is_empty());
	}

	impl_benchmark_test_suite!(InferencePallet, crate::mock::new_test_ext(), crate::mock::Test);
}
