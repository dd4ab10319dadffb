//! Data feeds' values as the pallets that read them see them (the data feeds pallet provides
//! them).

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Identifies a feed; assigned in order from 0.
pub type FeedId = u32;

/// A round of a feed: round `r` spans blocks `r × round_length .. (r + 1) × round_length`.
pub type RoundId = u32;

/// A feed value: an integer in units of 10^-decimals.
pub type FeedValue = i128;

/// The aggregated value of one round.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct RoundValue<BlockNumber> {
	/// The round.
	pub round: RoundId,
	/// The median of the round's submissions.
	pub value: FeedValue,
	/// How many values were submitted.
	pub submissions: u32,
	/// The block in which the round was aggregated.
	pub at: BlockNumber,
}

/// Feed values as other pallets (workflows) read them.
pub trait FeedValues {
	/// The `decimals` of `feed`'s values; `None` if there is no such feed.
	fn decimals(feed: FeedId) -> Option<u8>;
	/// The last `count` aggregated values of `feed`, oldest first (fewer if the history is
	/// shorter).
	fn latest(feed: FeedId, count: u32) -> Vec<FeedValue>;
}
