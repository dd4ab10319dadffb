//! Data nodes for the benchmarks, registered the way operators register them: in an instance
//! of `pallet-bonded-nodes` whose services are this pallet's feeds, with the node key's
//! signature. A runtime (or mock) uses [`BondedDataNodes`] as the `BenchmarkHelper` of both
//! this pallet and its data nodes' instance.

use crate::{Config, FeedId, NextFeedId, Pallet};
use core::marker::PhantomData;
use frame_benchmarking::account;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_core::sr25519;
use sp_runtime::{traits::Saturating, Perbill};

/// Benchmark helper backed by this pallet's feeds and the data nodes' instance `I`.
pub struct BondedDataNodes<T, I>(PhantomData<(T, I)>);

impl<T, I: 'static> crate::BenchmarkHelper<T::AccountId> for BondedDataNodes<T, I>
where
	T: Config + pallet_bonded_nodes::Config<I, Service = FeedId>,
{
	fn node(index: u32, feed: FeedId) -> T::AccountId {
		let node = pallet_bonded_nodes::benchmarking::register_node::<T, I>(index, alloc::vec![feed]);
		pallet_bonded_nodes::Nodes::<T, I>::mutate(&node, |record| {
			let record = record.as_mut().expect("registered");
			record.strikes = <T as pallet_bonded_nodes::Config<I>>::MaxStrikes::get().saturating_sub(1);
			record.since = 0u32.into();
		});
		node
	}
}

impl<T, I: 'static, Signature> pallet_bonded_nodes::BenchmarkHelper<FeedId, T::AccountId, Signature>
	for BondedDataNodes<T, I>
where
	T: Config,
	T::AccountId: From<sr25519::Public>,
	Signature: From<sr25519::Signature>,
{
	fn service(index: u32) -> FeedId {
		let owner: T::AccountId = account("feed-owner", index, 0);
		T::Currency::set_balance(&owner, T::FeedDeposit::get().saturating_mul(1_000u32.into()));
		let feed = NextFeedId::<T>::get();
		Pallet::<T>::register_feed(
			RawOrigin::Signed(owner).into(),
			BoundedVec::truncate_from(b"BTC/USD".to_vec()),
			BoundedVec::truncate_from(b"benchmark".to_vec()),
			2,
			T::MinRoundLength::get(),
			1,
			Perbill::from_percent(10),
		)
		.expect("registers the feed");
		feed
	}

	fn signed_by_node(index: u32, message: &[u8]) -> (T::AccountId, Signature) {
		pallet_bonded_nodes::benchmarking::sr25519_node(index, message)
	}

	fn admit(feed: &FeedId, operator: &T::AccountId) {
		if Pallet::<T>::approved(*feed, operator) {
			return;
		}
		let owner = crate::Feeds::<T>::get(feed).expect("a feed the helper registered").owner;
		Pallet::<T>::approve_operator(RawOrigin::Signed(owner).into(), *feed, operator.clone())
			.expect("the owner approves the operator");
	}
}
