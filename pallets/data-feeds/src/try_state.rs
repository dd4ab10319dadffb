//! The pallet's invariants (`try_state`).

use crate::*;
use frame_support::{pallet_prelude::*, traits::fungible::InspectHold};
use veriml_primitives::invariants::ExpectedHolds;

impl<T: Config> Pallet<T> {
	/// The pallet's invariants, checked by `try_state` and after every block of the tests:
	/// `FeedCount` counts the feeds, each has an id given out and its round's end is
	/// scheduled exactly once; holds equal the deposits they secure; nothing is kept of a
	/// feed that does not exist, not even a round's end or an approval. (The data nodes' own invariants are
	/// the `DataNodes` instance's.)
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		let mut deposits = ExpectedHolds::default();
		let mut scheduled: BTreeMap<FeedId, u32> = BTreeMap::new();
		for (_, ending) in RoundEnds::<T>::iter() {
			for feed in ending {
				*scheduled.entry(feed).or_default() += 1;
			}
		}
		let mut feeds = 0u32;
		for (id, feed) in Feeds::<T>::iter() {
			feeds += 1;
			ensure!(id < NextFeedId::<T>::get(), "a feed has an id not given out yet");
			ensure!(scheduled.get(&id) == Some(&1), "a feed's round end is not scheduled exactly once");
			deposits.add(feed.owner, feed.deposit);
		}
		ensure!(FeedCount::<T>::get() == feeds, "FeedCount does not count the feeds");
		deposits.check(
			|owner| T::Currency::balance_on_hold(&HoldReason::FeedDeposit.into(), owner),
			"an owner's FeedDeposit hold is not the sum of its feeds' deposits",
		)?;
		for feed in Submissions::<T>::iter_keys()
			.chain(History::<T>::iter_keys())
			.chain(Operators::<T>::iter_keys())
			.chain(scheduled.into_keys())
		{
			ensure!(Feeds::<T>::contains_key(feed), "rounds kept of a feed that does not exist");
		}
		Ok(())
	}
}
