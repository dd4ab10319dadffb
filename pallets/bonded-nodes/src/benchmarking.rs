//! Benchmarks of the node calls, on services the runtime's helper makes (registered models,
//! registered feeds) and node keys that sign their registration.

use super::*;
use crate::Pallet as NodesPallet;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get, PalletInfoAccess},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

fn funded_operator<T: Config<I>, I: 'static>() -> T::AccountId {
	let operator: T::AccountId = whitelisted_caller();
	T::Currency::set_balance(&operator, T::MinBond::get().saturating_mul(100u32.into()));
	operator
}

fn services<T: Config<I>, I: 'static>(count: u32) -> ServicesOf<T, I> {
	BoundedVec::truncate_from((0..count).map(T::BenchmarkHelper::service).collect())
}

/// Node key `index`'s account and its consent to be registered by `operator`.
fn signed_node<T: Config<I>, I: 'static>(operator: &T::AccountId, index: u32) -> (T::AccountId, T::NodeSignature) {
	let message = registration_message(<NodesPallet<T, I> as PalletInfoAccess>::name(), operator);
	T::BenchmarkHelper::signed_by_node(index, &message)
}

/// Node key `index`, registered by `operator` offering `services` with the least bond.
fn register_by<T: Config<I>, I: 'static>(
	operator: &T::AccountId,
	index: u32,
	services: ServicesOf<T, I>,
) -> T::AccountId {
	let (node, proof) = signed_node::<T, I>(operator, index);
	admit::<T, I>(&services, operator);
	NodesPallet::<T, I>::register(
		RawOrigin::Signed(operator.clone()).into(),
		node.clone(),
		services,
		T::MinBond::get(),
		proof,
	)
	.expect("registers the node");
	node
}

/// `operator`'s nodes admitted to `services`.
fn admit<T: Config<I>, I: 'static>(services: &[T::Service], operator: &T::AccountId) {
	for service in services {
		T::BenchmarkHelper::admit(service, operator);
	}
}

fn registered<T: Config<I>, I: 'static>(operator: &T::AccountId, count: u32) -> T::AccountId {
	register_by::<T, I>(operator, 0, services::<T, I>(count))
}

#[instance_benchmarks]
mod benchmarks {
	use super::*;

	/// With the node key's signature checked.
	#[benchmark]
	fn register(s: Linear<1, { T::MaxServicesPerNode::get() }>) {
		let operator = funded_operator::<T, I>();
		let (node, proof) = signed_node::<T, I>(&operator, 0);
		let offered = services::<T, I>(s);
		admit::<T, I>(&offered, &operator);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), offered, T::MinBond::get(), proof);
		assert!(Nodes::<T, I>::contains_key(&node));
	}

	#[benchmark]
	fn set_services(s: Linear<1, { T::MaxServicesPerNode::get() }>) {
		let operator = funded_operator::<T, I>();
		let node = registered::<T, I>(&operator, T::MaxServicesPerNode::get());
		let offered = services::<T, I>(s);
		admit::<T, I>(&offered, &operator);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), offered);
		assert_eq!(Nodes::<T, I>::get(&node).map(|n| n.services.len() as u32), Some(s));
	}

	/// Worst case: the node was suspended by a slash and rejoins every service's index.
	#[benchmark]
	fn bond_extra(s: Linear<1, { T::MaxServicesPerNode::get() }>) {
		let operator = funded_operator::<T, I>();
		let node = registered::<T, I>(&operator, s);
		let wronged: T::AccountId = account("wronged", 0, 0);
		T::Currency::set_balance(&wronged, T::MinBond::get());
		for _ in 0..T::MaxStrikes::get() {
			<NodesPallet<T, I> as BondedNodes<_, _, _>>::strike(&node, Some(&wronged));
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone(), T::MinBond::get());
		assert!(Nodes::<T, I>::get(&node).is_some_and(|n| n.status == NodeStatus::Active));
	}

	#[benchmark]
	fn unbond(s: Linear<1, { T::MaxServicesPerNode::get() }>) {
		let operator = funded_operator::<T, I>();
		let node = registered::<T, I>(&operator, s);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone());
		assert!(Nodes::<T, I>::get(&node).is_some_and(|n| n.status != NodeStatus::Active));
	}

	#[benchmark]
	fn withdraw() {
		let operator = funded_operator::<T, I>();
		let node = registered::<T, I>(&operator, 1);
		NodesPallet::<T, I>::unbond(RawOrigin::Signed(operator.clone()).into(), node.clone()).expect("unbonds");
		let later = frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
		frame_system::Pallet::<T>::set_block_number(later);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node.clone());
		assert!(!Nodes::<T, I>::contains_key(&node));
	}

	impl_benchmark_test_suite!(NodesPallet, crate::mock::new_test_ext(), crate::mock::Test);
}

/// Node keys for benchmark helpers: an sr25519 key made in the keystore (the benchmark CLI's,
/// or a test's `KeystoreExt`) from `index`, and its signature of `message`.
pub fn sr25519_node<AccountId, Signature>(index: u32, message: &[u8]) -> (AccountId, Signature)
where
	AccountId: From<sp_core::sr25519::Public>,
	Signature: From<sp_core::sr25519::Signature>,
{
	const KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"bnch");
	let mut seed = b"//veriml-benchmark-node-".to_vec();
	seed.extend_from_slice(alloc::format!("{index}").as_bytes());
	let public = sp_io::crypto::sr25519_generate(KEY_TYPE, Some(seed));
	let signature = sp_io::crypto::sr25519_sign(KEY_TYPE, &public, message).expect("the key was just made");
	(public.into(), signature.into())
}

/// A node registered the way an operator registers one, for other pallets' benchmarks: operator
/// `index` funded with ten bonds, the node key `index` of the instance's helper signing its
/// consent, offering `services` with the least bond. Returns the node's account.
pub fn register_node<T: Config<I>, I: 'static>(index: u32, services: Vec<T::Service>) -> T::AccountId {
	let operator: T::AccountId = account("operator", index, 0);
	T::Currency::set_balance(&operator, T::MinBond::get().saturating_mul(10u32.into()));
	register_by::<T, I>(&operator, index, BoundedVec::truncate_from(services))
}
