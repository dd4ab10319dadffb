//! The interfaces other pallets use: the feeds that exist (the services of data nodes) and
//! feed values (workflows).

use crate::*;
use alloc::vec::Vec;
use core::marker::PhantomData;
use frame_support::traits::Contains;

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
