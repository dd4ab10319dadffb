//! Benchmarks of the data feed calls and of ending rounds, each at its worst case.

use super::*;
use crate::Pallet as FeedsPallet;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get, Hooks},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::{traits::Saturating, Perbill};

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let plenty = T::FeedDeposit::get().saturating_mul(1_000u32.into());
	T::Currency::set_balance(&who, plenty);
	who
}

fn round_length<T: Config>() -> BlockNumberFor<T> {
	T::MinRoundLength::get()
}

/// A new feed owned by a funded account; its id.
fn feed<T: Config>(index: u32) -> FeedId {
	let owner = funded::<T>("owner", index);
	let id = NextFeedId::<T>::get();
	FeedsPallet::<T>::register_feed(
		RawOrigin::Signed(owner).into(),
		BoundedVec::truncate_from(b"BTC/USD".to_vec()),
		BoundedVec::truncate_from(alloc::vec![b'x'; T::MaxSourceLength::get() as usize]),
		2,
		round_length::<T>(),
		1,
		Perbill::from_percent(10),
	)
	.expect("registers the feed");
	id
}

/// A bonded data node serving `feed`, one strike short of a slash.
fn node<T: Config>(index: u32, feed: FeedId) -> T::AccountId {
	T::BenchmarkHelper::node(index, feed)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_feed() {
		let owner = funded::<T>("owner", 0);
		let name = BoundedVec::truncate_from(alloc::vec![b'n'; T::MaxNameLength::get() as usize]);
		let source = BoundedVec::truncate_from(alloc::vec![b's'; T::MaxSourceLength::get() as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), name, source, 2, round_length::<T>(), 1, Perbill::from_percent(10));
		assert!(Feeds::<T>::contains_key(0));
	}

	#[benchmark]
	fn remove_feed() {
		let id = feed::<T>(0);
		let owner: T::AccountId = account("owner", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id);
		assert!(!Feeds::<T>::contains_key(id));
	}

	/// Worst case: every other node serving the feed submitted already.
	#[benchmark]
	fn submit() {
		let id = feed::<T>(0);
		let nodes: alloc::vec::Vec<T::AccountId> = (0..T::MaxNodesPerFeed::get()).map(|i| node::<T>(i, id)).collect();
		let now = frame_system::Pallet::<T>::block_number();
		let round = FeedsPallet::<T>::round_of(now, round_length::<T>());
		for (i, other) in nodes.iter().enumerate().skip(1) {
			FeedsPallet::<T>::submit(RawOrigin::Signed(other.clone()).into(), id, round, i as i128).expect("submits");
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(nodes[0].clone()), id, round, 0);
		assert_eq!(Submissions::<T>::get(id).map(|(_, values)| values.len() as u32), Some(T::MaxNodesPerFeed::get()));
	}

	/// Worst case: `MaxNodesPerFeed - 1` operators approved already.
	#[benchmark]
	fn approve_operator() {
		let id = feed::<T>(0);
		let owner: T::AccountId = account("owner", 0, 0);
		for i in 1..T::MaxNodesPerFeed::get() {
			let operator: T::AccountId = account("approved", i, 0);
			FeedsPallet::<T>::approve_operator(RawOrigin::Signed(owner.clone()).into(), id, operator)
				.expect("approves");
		}
		let operator: T::AccountId = account("approved", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id, operator.clone());
		assert!(FeedsPallet::<T>::approved(id, &operator));
	}

	/// Worst case: `MaxNodesPerFeed` operators approved, each node's value in the open round.
	#[benchmark]
	fn revoke_operator() {
		let id = feed::<T>(0);
		let owner: T::AccountId = account("owner", 0, 0);
		let nodes: alloc::vec::Vec<T::AccountId> = (0..T::MaxNodesPerFeed::get()).map(|i| node::<T>(i, id)).collect();
		let now = frame_system::Pallet::<T>::block_number();
		let round = FeedsPallet::<T>::round_of(now, round_length::<T>());
		for (i, node) in nodes.iter().enumerate() {
			FeedsPallet::<T>::submit(RawOrigin::Signed(node.clone()).into(), id, round, i as i128).expect("submits");
		}
		let operator = T::Nodes::operator(&nodes[0]).expect("registered");
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id, operator.clone());
		assert!(!FeedsPallet::<T>::approved(id, &operator));
	}

	/// Ending `n` feeds' rounds at once. Worst case per feed: all `MaxNodesPerFeed` nodes
	/// serving it stayed silent one strike short of the data nodes' limit, so each is struck
	/// and slashed, and the slash suspends it.
	#[benchmark]
	fn on_initialize(n: Linear<0, { T::MaxFeeds::get() }>) {
		let ids: alloc::vec::Vec<FeedId> = (0..n).map(feed::<T>).collect();
		for (f, id) in ids.iter().enumerate() {
			for i in 0..T::MaxNodesPerFeed::get() {
				let index = f as u32 * T::MaxNodesPerFeed::get() + i;
				node::<T>(index, *id);
			}
		}
		// The first block after a whole round: every feed's round ends there.
		let end = FeedsPallet::<T>::round_start(
			FeedsPallet::<T>::round_of(frame_system::Pallet::<T>::block_number(), round_length::<T>())
				.saturating_add(1),
			round_length::<T>(),
		);
		frame_system::Pallet::<T>::set_block_number(end);
		#[block]
		{
			FeedsPallet::<T>::on_initialize(end);
		}
		assert!(RoundEnds::<T>::get(end).is_empty());
		if let Some(first) = ids.first() {
			// Every node was struck out of the feed, slashed and suspended.
			assert!(T::Nodes::nodes(first).is_empty());
		}
	}

	impl_benchmark_test_suite!(FeedsPallet, crate::mock::new_test_ext(), crate::mock::Test);
}
