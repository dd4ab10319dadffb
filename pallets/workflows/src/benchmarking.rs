//! Benchmarks of registering, cancelling and running workflows, on a real model, real feeds and
//! the real requests pallet (a run makes a request that is assigned to a node).

use super::*;
use crate::Pallet as WorkflowsPallet;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{Get, Hooks},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::{One, Saturating};
use veriml_primitives::requests::InferenceRequests;

/// A workflow of `n` feed inputs, each reading `values` values of its own feed (the last one
/// `last_values`), on a model of that many inputs: registered by a funded owner with a budget of
/// `runs` runs. Returns its id and the block of its first run.
fn workflow<T: Config>(n: u32, values: u32, last_values: u32, runs: u32) -> (WorkflowId, BlockNumberFor<T>) {
	let inputs: alloc::vec::Vec<FeedInput> = (0..n)
		.map(|i| {
			let available = if i + 1 == n { last_values } else { values };
			FeedInput { feed: T::BenchmarkHelper::feed(i, available), values }
		})
		.collect();
	let model = T::BenchmarkHelper::model(n * values);
	let owner: T::AccountId = account("workflow-owner", 0, 0);
	T::BenchmarkHelper::fund(&owner);
	let fee = T::Requests::quote(&model).expect("the model can be requested").total();
	let id = NextWorkflowId::<T>::get();
	WorkflowsPallet::<T>::register(
		RawOrigin::Signed(owner).into(),
		model,
		BoundedVec::truncate_from(inputs),
		T::MinPeriod::get(),
		fee,
		fee.saturating_mul(runs.into()),
	)
	.expect("registers the workflow");
	(id, frame_system::Pallet::<T>::block_number().saturating_add(One::one()))
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// `n` feed inputs of `MaxValuesPerInput` values each.
	#[benchmark]
	fn register(n: Linear<1, { T::MaxFeedInputs::get() }>) {
		let values = T::MaxValuesPerInput::get();
		let inputs: alloc::vec::Vec<FeedInput> =
			(0..n).map(|i| FeedInput { feed: T::BenchmarkHelper::feed(i, values), values }).collect();
		let model = T::BenchmarkHelper::model(n * values);
		let owner: T::AccountId = account("workflow-owner", 0, 0);
		T::BenchmarkHelper::fund(&owner);
		let fee = T::Requests::quote(&model).expect("the model can be requested").total();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), model, BoundedVec::truncate_from(inputs), T::MinPeriod::get(), fee, fee);
		assert!(Workflows::<T>::contains_key(0));
	}

	#[benchmark]
	fn cancel() {
		let (id, _) = workflow::<T>(1, 1, 1, 10);
		let owner = Workflows::<T>::get(id).expect("registered").owner;
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id);
		assert!(!Workflows::<T>::contains_key(id));
	}

	/// A block where no workflow is due.
	#[benchmark]
	fn on_initialize_idle() {
		let now = frame_system::Pallet::<T>::block_number();
		#[block]
		{
			WorkflowsPallet::<T>::on_initialize(now);
		}
	}

	/// A run that makes a request, reading `n` feed inputs of `MaxValuesPerInput` values.
	#[benchmark]
	fn run(n: Linear<1, { T::MaxFeedInputs::get() }>) {
		let values = T::MaxValuesPerInput::get();
		let (id, due) = workflow::<T>(n, values, values, 10);
		frame_system::Pallet::<T>::set_block_number(due);
		#[block]
		{
			WorkflowsPallet::<T>::on_initialize(due);
		}
		assert_eq!(Workflows::<T>::get(id).map(|w| w.runs), Some(1));
	}

	/// A run skipped after reading every feed: the last one lacks values.
	#[benchmark]
	fn skip() {
		let values = T::MaxValuesPerInput::get();
		let (id, due) = workflow::<T>(T::MaxFeedInputs::get(), values, values - 1, 10);
		frame_system::Pallet::<T>::set_block_number(due);
		#[block]
		{
			WorkflowsPallet::<T>::on_initialize(due);
		}
		assert_eq!(Workflows::<T>::get(id).map(|w| w.runs), Some(0));
	}

	/// A run that ends the workflow: its budget paid one run, which is done.
	#[benchmark]
	fn end() {
		let (id, due) = workflow::<T>(1, 1, 1, 1);
		frame_system::Pallet::<T>::set_block_number(due);
		WorkflowsPallet::<T>::on_initialize(due);
		let next = Workflows::<T>::get(id).expect("ran once").next_run;
		frame_system::Pallet::<T>::set_block_number(next);
		#[block]
		{
			WorkflowsPallet::<T>::on_initialize(next);
		}
		assert!(!Workflows::<T>::contains_key(id));
	}

	impl_benchmark_test_suite!(WorkflowsPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
