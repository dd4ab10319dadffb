//! Rounds: which round a block is in, and aggregating a round when it ends (the median, the
//! outliers' and missed rounds' strikes, the next round's end).

use crate::*;
use alloc::vec::Vec;
use frame_system::pallet_prelude::*;
use sp_runtime::{traits::Saturating, SaturatedConversion};

/// The median of `values` (sorted in place): the middle value, or the mean of the two middle
/// ones rounded toward zero. `None` for no values.
pub fn median(values: &mut [FeedValue]) -> Option<FeedValue> {
	if values.is_empty() {
		return None;
	}
	values.sort_unstable();
	let mid = values.len() / 2;
	if values.len() % 2 == 1 {
		return Some(values[mid]);
	}
	let (a, b) = (values[mid - 1], values[mid]);
	// (a + b) / 2 without overflow.
	Some(a / 2 + b / 2 + (a % 2 + b % 2) / 2)
}

impl<T: Config> Pallet<T> {
	/// The round of a feed with rounds of `round_length` blocks at block `at`.
	pub fn round_of(at: BlockNumberFor<T>, round_length: BlockNumberFor<T>) -> RoundId {
		let at: u64 = at.saturated_into();
		let length: u64 = round_length.saturated_into();
		(at / length.max(1)).saturated_into()
	}

	/// The first block of `round`.
	pub fn round_start(round: RoundId, round_length: BlockNumberFor<T>) -> BlockNumberFor<T> {
		let length: u64 = round_length.saturated_into();
		(u64::from(round).saturating_mul(length)).saturated_into()
	}

	/// Aggregates the round of `feed` that ends at `now` and schedules the next one.
	pub(crate) fn end_round(feed: FeedId, now: BlockNumberFor<T>) {
		// A removed feed's last scheduled end.
		let Some(info) = Feeds::<T>::get(feed) else { return };
		let round = Self::round_of(now, info.round_length).saturating_sub(1);
		let submitted = match Submissions::<T>::take(feed) {
			Some((open, values)) if open == round => values.into_inner(),
			_ => Vec::new(),
		};
		let count = submitted.len() as u32;
		let mut values: Vec<FeedValue> = submitted.iter().map(|(_, value)| *value).collect();
		let aggregated = if count >= info.min_submissions { median(&mut values) } else { None };
		match aggregated {
			Some(value) => {
				History::<T>::mutate(feed, |history| {
					if history.is_full() {
						history.remove(0);
					}
					// Room was made above.
					let _ = history.try_push(RoundValue { round, value, submissions: count, at: now });
				});
				Self::deposit_event(Event::RoundAggregated { feed, round, value, submissions: count });
			},
			None => Self::deposit_event(Event::RoundWithoutValue {
				feed,
				round,
				submissions: count,
				needed: info.min_submissions,
			}),
		}

		// Strikes: outliers (when there is a median to compare with) and missed rounds.
		for (node, value) in &submitted {
			let outlier = aggregated.filter(|median| {
				let allowed = info.max_deviation.mul_floor(median.unsigned_abs());
				value.abs_diff(*median) > allowed
			});
			match outlier {
				Some(median) => {
					Self::deposit_event(Event::OutlierReported {
						feed,
						round,
						node: node.clone(),
						value: *value,
						median,
					});
					T::Nodes::strike(node, None);
				},
				None => T::Nodes::clear_strikes(node),
			}
		}
		let round_began = Self::round_start(round, info.round_length);
		let approved = Operators::<T>::get(feed);
		for node in T::Nodes::nodes(&feed) {
			if submitted.iter().any(|(who, _)| *who == node) {
				continue;
			}
			// A node whose operator's approval was taken back is not the feed's any more.
			if !T::Nodes::operator(&node).is_some_and(|operator| approved.contains(&operator)) {
				continue;
			}
			let served_whole_round = T::Nodes::serving_since(&node).is_some_and(|since| since <= round_began);
			if served_whole_round {
				Self::deposit_event(Event::RoundMissed { feed, round, node: node.clone() });
				T::Nodes::strike(&node, None);
			}
		}

		let next_end = now.saturating_add(info.round_length);
		// Every existing feed has one scheduled end (a removed feed's is removed with it) and
		// at most `MaxFeeds` feeds exist, so the list has room.
		if RoundEnds::<T>::try_mutate(next_end, |ending| ending.try_push(feed)).is_err() {
			frame_support::defensive!("a block's list of round ends is full: a feed's rounds stop");
		}
	}
}
