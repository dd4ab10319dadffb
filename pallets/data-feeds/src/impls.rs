//! The interfaces other pallets use: the feeds that exist (the services of data nodes) and
//! feed values (workflows).

use crate::*;
use alloc::vec::Vec;
use core::marker::PhantomData;
use frame_support::{ensure, traits::Contains};

/// The operators a feed's owner approved: the data nodes' admission.
pub struct ApprovedOperators<T>(PhantomData<T>);

impl<T: Config> veriml_primitives::nodes::Admission<T::AccountId, FeedId> for ApprovedOperators<T> {
	fn admits(feed: &FeedId, operator: &T::AccountId) -> bool {
		Pallet::<T>::approved(*feed, operator)
	}
}

impl<T: Config> Pallet<T> {
	/// `feed`, if `who` owns it.
	pub(crate) fn owned_feed(feed: FeedId, who: &T::AccountId) -> Result<FeedOf<T>, Error<T>> {
		let info = Feeds::<T>::get(feed).ok_or(Error::<T>::UnknownFeed)?;
		ensure!(info.owner == *who, Error::<T>::NotFeedOwner);
		Ok(info)
	}

	/// Whether `feed`'s owner approved `operator`'s data nodes.
	pub fn approved(feed: FeedId, operator: &T::AccountId) -> bool {
		Operators::<T>::get(feed).contains(operator)
	}
}

/// The feeds that exist: the services data nodes may offer.
pub struct ExistingFeeds<T>(PhantomData<T>);

impl<T: Config> Contains<FeedId> for ExistingFeeds<T> {
	fn contains(feed: &FeedId) -> bool {
		Feeds::<T>::contains_key(feed)
	}
}

impl<T: Config> FeedValues for Pallet<T> {
	fn decimals(feed: FeedId) -> Option<u8> {
		Feeds::<T>::get(feed).map(|info| info.decimals)
	}

	fn latest(feed: FeedId, count: u32) -> Vec<FeedValue> {
		let history = History::<T>::get(feed);
		let skip = history.len().saturating_sub(count as usize);
		history.iter().skip(skip).map(|round| round.value).collect()
	}
}
