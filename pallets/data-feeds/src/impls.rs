//! The interfaces other pallets use: the feeds that exist (the services of data nodes) and
//! feed values (workflows).

use crate::*;
use alloc::vec::Vec;
use core::marker::PhantomData;
use frame_support::{ensure, pallet_prelude::*, traits::Contains};
use frame_system::pallet_prelude::*;

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

	/// What a value of `node` for `round` of `feed` must be sent as: from an active data node
	/// serving the feed for an approved operator, for the open round, the node's first, with
	/// room for it. Returns the round's values so far.
	pub(crate) fn check_submission(
		node: &T::AccountId,
		feed: FeedId,
		round: RoundId,
	) -> Result<RoundSubmissions<T>, DispatchError> {
		let operator = T::Nodes::operator(node).ok_or(Error::<T>::NotADataNode)?;
		ensure!(T::Nodes::is_active(node), Error::<T>::NodeNotActive);
		let info = Feeds::<T>::get(feed).ok_or(Error::<T>::UnknownFeed)?;
		ensure!(T::Nodes::serves(node, &feed), Error::<T>::NotServingFeed);
		ensure!(Self::approved(feed, &operator), Error::<T>::OperatorNotApproved);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(round == Self::round_of(now, info.round_length), Error::<T>::WrongRound);
		let values = match Submissions::<T>::get(feed) {
			Some((open, values)) if open == round => values,
			_ => BoundedVec::new(),
		};
		ensure!(!values.iter().any(|(who, _)| who == node), Error::<T>::AlreadySubmitted);
		ensure!(values.len() < T::MaxNodesPerFeed::get() as usize, Error::<T>::TooManyNodesForFeed);
		Ok(values)
	}

	/// Whether `origin`'s value for `round` of `feed` is sent without a transaction fee (the
	/// call's `feeless_if`, which the runtime's `SkipCheckIfFeeless` reads when it validates
	/// the transaction): when it passes [`check_submission`](Self::check_submission), so a data
	/// node's key needs no balance for its submissions, and a submission that would fail pays
	/// its fee.
	pub fn submits_without_fee(origin: &OriginFor<T>, feed: FeedId, round: RoundId) -> bool {
		ensure_signed(origin.clone()).is_ok_and(|node| Self::check_submission(&node, feed, round).is_ok())
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
