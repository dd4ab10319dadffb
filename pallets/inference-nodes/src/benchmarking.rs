//! Benchmarks of the inference node calls, on models registered through the registry.

use super::*;
use crate::Pallet as NodesPallet;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

fn funded_operator<T: Config>() -> T::AccountId {
	let operator: T::AccountId = whitelisted_caller();
	T::Currency::set_balance(&operator, T::MinBond::get().saturating_mul(100u32.into()));
	operator
}

fn models<T: Config>(count: u32) -> ServedModels<T> {
	BoundedVec::truncate_from((0..count).map(T::BenchmarkHelper::model).collect())
}

fn registered<T: Config>(operator: &T::AccountId, count: u32) -> T::AccountId {
	let node: T::AccountId = account("node", 0, 0);
	NodesPallet::<T>::register(
		RawOrigin::Signed(operator.clone()).into(),
		node.clone(),
		models::<T>(count),
		T::MinBond::get(),
	)
	.expect("registers the node");
	node
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register(m: Linear<1, { T::MaxModelsPerNode::get() }>) {
		let operator = funded_operator::<T>();
		let node: T::AccountId = account("node", 0, 0);
		let served = models::<T>(m);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), served, T::MinBond::get());
		assert!(Nodes::<T>::contains_key(&node));
	}

	#[benchmark]
	fn set_models(m: Linear<1, { T::MaxModelsPerNode::get() }>) {
		let operator = funded_operator::<T>();
		let node = registered::<T>(&operator, T::MaxModelsPerNode::get());
		let served = models::<T>(m);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), served);
		assert_eq!(Nodes::<T>::get(&node).map(|n| n.models.len() as u32), Some(m));
	}

	/// Worst case: the node was suspended by a slash and rejoins every model's index.
	#[benchmark]
	fn bond_extra(m: Linear<1, { T::MaxModelsPerNode::get() }>) {
		let operator = funded_operator::<T>();
		let node = registered::<T>(&operator, m);
		let wronged: T::AccountId = account("wronged", 0, 0);
		T::Currency::set_balance(&wronged, T::MinBond::get());
		<NodesPallet<T> as InferenceNodes<_, _>>::slash(&node, &wronged);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), T::MinBond::get());
		assert!(Nodes::<T>::get(&node).is_some_and(|n| n.bond >= T::MinBond::get()));
	}

	#[benchmark]
	fn unbond(m: Linear<1, { T::MaxModelsPerNode::get() }>) {
		let operator = funded_operator::<T>();
		let node = registered::<T>(&operator, m);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone());
		assert!(Nodes::<T>::get(&node).is_some_and(|n| n.status != NodeStatus::Active));
	}

	#[benchmark]
	fn withdraw() {
		let operator = funded_operator::<T>();
		let node = registered::<T>(&operator, 1);
		NodesPallet::<T>::unbond(RawOrigin::Signed(operator.clone()).into(), node.clone())
			.expect("unbonds");
		let later = frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
		frame_system::Pallet::<T>::set_block_number(later);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone());
		assert!(!Nodes::<T>::contains_key(&node));
	}

	impl_benchmark_test_suite!(NodesPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
