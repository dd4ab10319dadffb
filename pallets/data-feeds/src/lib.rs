//! # Data feeds
//!
//! External values (prices, rates, measurements) brought on chain by accountable data nodes, so
//! models can run on inputs everyone agrees on.
//!
//! 1. Anyone [`register_feed`](Pallet::register_feed)s a feed: a name, a description of its
//!    source, the fixed-point `decimals` of its values, a round length in blocks, the least
//!    number of submissions a round needs and the deviation from the median beyond which a
//!    value is an outlier. A deposit is held from the owner until
//!    [`remove_feed`](Pallet::remove_feed).
//! 2. Data nodes are the accounts of `feed` keys, registered by their operators with a bond
//!    in the runtime's `DataNodes` pallet (an instance of `pallet-bonded-nodes`, [`Config::Nodes`]),
//!    offering feeds. A node's off-chain worker fetches each feed's value from the HTTP source
//!    its operator configured on that node (URL and JSON path, never on chain) and
//!    [`submit`](Pallet::submit)s it, signed, once per round. Accepted submissions are free.
//! 3. When a round ends, the chain aggregates it: with at least `min_submissions` values the
//!    median becomes the round's value, kept in a bounded [`History`]; values further than
//!    `max_deviation` from it are reported as outliers. A node that submitted an outlier or
//!    missed a round gets a strike, and one whose value was good has its strikes cleared; the
//!    data nodes' pallet slashes a node at its strike limit and suspends one whose bond falls
//!    below the minimum.
//!
//! Values are integers: a price of 64 123.45 in a feed with 2 decimals is `6412345`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod json;
#[cfg(test)]
mod mock;
mod offchain;
#[cfg(test)]
mod tests;
pub mod weights;

pub use offchain::{source_storage_key, FeedSource, LOG_TARGET};
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::crypto::KeyTypeId;
pub use veriml_primitives::nodes::BondedNodes;

/// Key type of the keys with which data nodes sign their submissions.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"feed");

/// The `feed` key: sr25519, kept in a data node's keystore
/// (`veriml-node key insert --key-type feed --scheme sr25519`).
pub mod crypto {
	use super::KEY_TYPE;
	veriml_offchain::node_key_crypto!(
		KEY_TYPE,
		#[doc = "Signs a data node's transactions with its `feed` key."]
		DataNodeId
	);
}

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

/// Registers data nodes for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// A new bonded data node serving `feed`, distinct for each `index`, one strike short of
	/// a slash and serving since block 0.
	fn node(index: u32, feed: FeedId) -> AccountId;
}

/// Feed values as other pallets (workflows) read them.
pub trait FeedValues {
	/// The `decimals` of `feed`'s values; `None` if there is no such feed.
	fn decimals(feed: FeedId) -> Option<u8>;
	/// The last `count` aggregated values of `feed`, oldest first (fewer if the history is
	/// shorter).
	fn latest(feed: FeedId, count: u32) -> Vec<FeedValue>;
}

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

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		dispatch::PostDispatchInfo,
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			tokens::Precision,
			Contains,
		},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use sp_runtime::{
		traits::{Saturating, Zero},
		Perbill, SaturatedConversion,
	};

	/// Balance of the currency deposits and bonds are held in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A feed of this runtime.
	pub type FeedOf<T> = FeedInfo<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxNameLength,
		<T as Config>::MaxSourceLength,
	>;

	/// The values submitted in a feed's open round, by node.
	pub type RoundSubmissions<T> =
		BoundedVec<(<T as frame_system::Config>::AccountId, FeedValue), <T as Config>::MaxNodesPerFeed>;

	/// A registered feed.
	#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(MaxName, MaxSource))]
	#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
	pub struct FeedInfo<AccountId, Balance, BlockNumber, MaxName: Get<u32>, MaxSource: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// Who registered it and holds its deposit.
		pub owner: AccountId,
		/// A short name, such as `BTC/USD`.
		pub name: BoundedVec<u8, MaxName>,
		/// What the value is and where it comes from, for node operators and users.
		pub source: BoundedVec<u8, MaxSource>,
		/// Values are integers in units of 10^-decimals.
		pub decimals: u8,
		/// Blocks per round.
		pub round_length: BlockNumber,
		/// Least number of submissions for a round to have a value.
		pub min_submissions: u32,
		/// A value further than this share of the median from it is an outlier.
		pub max_deviation: Perbill,
		/// The deposit held from the owner.
		pub deposit: Balance,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits and bonds are held in.
		type Currency: Mutate<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The crypto of data nodes' `feed` keys.
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Deposit held from a feed's owner while the feed exists.
		#[pallet::constant]
		type FeedDeposit: Get<BalanceOf<Self>>;

		/// The data nodes: who serves which feed, and their strikes.
		type Nodes: BondedNodes<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>, Service = FeedId>;

		/// Shortest round, in blocks.
		#[pallet::constant]
		type MinRoundLength: Get<BlockNumberFor<Self>>;

		/// Most feeds that exist at once.
		#[pallet::constant]
		type MaxFeeds: Get<u32>;

		/// Most nodes serving one feed (and so submissions in one round): the data nodes'
		/// `MaxNodesPerService`.
		#[pallet::constant]
		type MaxNodesPerFeed: Get<u32>;

		/// Aggregated values kept per feed.
		#[pallet::constant]
		type MaxHistory: Get<u32>;

		/// Longest feed name.
		#[pallet::constant]
		type MaxNameLength: Get<u32>;

		/// Longest source description.
		#[pallet::constant]
		type MaxSourceLength: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Registers data nodes for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A feed's deposit.
		FeedDeposit,
	}

	/// The id the next feed gets.
	#[pallet::storage]
	pub type NextFeedId<T> = StorageValue<_, FeedId, ValueQuery>;

	/// How many feeds exist.
	#[pallet::storage]
	pub type FeedCount<T> = StorageValue<_, u32, ValueQuery>;

	/// Registered feeds.
	#[pallet::storage]
	pub type Feeds<T: Config> = StorageMap<_, Twox64Concat, FeedId, FeedOf<T>>;

	/// The values submitted so far in each feed's open round.
	#[pallet::storage]
	pub type Submissions<T: Config> = StorageMap<_, Twox64Concat, FeedId, (RoundId, RoundSubmissions<T>)>;

	/// Each feed's aggregated values, oldest first, at most `MaxHistory`.
	#[pallet::storage]
	pub type History<T: Config> =
		StorageMap<_, Twox64Concat, FeedId, BoundedVec<RoundValue<BlockNumberFor<T>>, T::MaxHistory>, ValueQuery>;

	/// The feeds whose round ends at a block (aggregated in that block's `on_initialize`).
	#[pallet::storage]
	pub type RoundEnds<T: Config> =
		StorageMap<_, Twox64Concat, BlockNumberFor<T>, BoundedVec<FeedId, T::MaxFeeds>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `owner` registered feed `feed`; its first round ends at block `first_round_ends`.
		FeedRegistered {
			feed: FeedId,
			owner: T::AccountId,
			name: BoundedVec<u8, T::MaxNameLength>,
			decimals: u8,
			round_length: BlockNumberFor<T>,
			first_round_ends: BlockNumberFor<T>,
		},
		/// Feed `feed` was removed and its deposit released.
		FeedRemoved { feed: FeedId },
		/// `node` submitted `value` for round `round` of `feed`.
		ValueSubmitted { feed: FeedId, round: RoundId, node: T::AccountId, value: FeedValue },
		/// Round `round` of `feed` ended with `value`, the median of `submissions` values.
		RoundAggregated { feed: FeedId, round: RoundId, value: FeedValue, submissions: u32 },
		/// Round `round` of `feed` ended with `submissions` values, fewer than the `needed`;
		/// it has no value.
		RoundWithoutValue { feed: FeedId, round: RoundId, submissions: u32, needed: u32 },
		/// `node`'s `value` for round `round` of `feed` was further from the median `median`
		/// than the feed allows: a strike.
		OutlierReported { feed: FeedId, round: RoundId, node: T::AccountId, value: FeedValue, median: FeedValue },
		/// `node` submitted nothing in round `round` of `feed`: a strike.
		RoundMissed { feed: FeedId, round: RoundId, node: T::AccountId },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// A feed needs a name.
		EmptyName,
		/// The round is shorter than `MinRoundLength` blocks.
		RoundTooShort,
		/// `min_submissions` must be at least 1 and at most `MaxNodesPerFeed`.
		InvalidMinSubmissions,
		/// `MaxFeeds` feeds exist already.
		TooManyFeeds,
		/// The owner's free balance cannot cover the deposit or the bond.
		InsufficientBalance,
		/// No feed with this id.
		UnknownFeed,
		/// Only the feed's owner may do this.
		NotFeedOwner,
		/// Data nodes still serve this feed.
		FeedInUse,
		/// More nodes serve the feed than a round takes values from (`MaxNodesPerFeed`).
		TooManyNodesForFeed,
		/// The sender is not a registered data node.
		NotADataNode,
		/// The node is suspended or leaving: it submits nothing.
		NodeNotActive,
		/// The node does not serve this feed.
		NotServingFeed,
		/// The round is not the feed's current round.
		WrongRound,
		/// The node submitted a value for this round already.
		AlreadySubmitted,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let ending = RoundEnds::<T>::take(now);
			let count = ending.len() as u32;
			for feed in ending {
				Self::end_round(feed, now);
			}
			T::WeightInfo::on_initialize(count)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now);
		}

		fn integrity_test() {
			assert!(!T::MinRoundLength::get().is_zero(), "MinRoundLength must be at least 1 block");
			assert!(T::MaxNodesPerFeed::get() > 0, "MaxNodesPerFeed must be at least 1");
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a feed named `name`, described by `source`, with values in units of
		/// 10^-`decimals`, a round every `round_length` blocks, a value when at least
		/// `min_submissions` nodes submit, and outliers beyond `max_deviation` of the median.
		/// `FeedDeposit` is held from the caller, its owner.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_feed())]
		pub fn register_feed(
			origin: OriginFor<T>,
			name: BoundedVec<u8, T::MaxNameLength>,
			source: BoundedVec<u8, T::MaxSourceLength>,
			decimals: u8,
			round_length: BlockNumberFor<T>,
			min_submissions: u32,
			max_deviation: Perbill,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			ensure!(!name.is_empty(), Error::<T>::EmptyName);
			ensure!(round_length >= T::MinRoundLength::get(), Error::<T>::RoundTooShort);
			ensure!(
				min_submissions >= 1 && min_submissions <= T::MaxNodesPerFeed::get(),
				Error::<T>::InvalidMinSubmissions
			);
			let count = FeedCount::<T>::get();
			ensure!(count < T::MaxFeeds::get(), Error::<T>::TooManyFeeds);
			let deposit = T::FeedDeposit::get();
			T::Currency::hold(&HoldReason::FeedDeposit.into(), &owner, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			let feed = NextFeedId::<T>::get();
			NextFeedId::<T>::put(feed.saturating_add(1));
			FeedCount::<T>::put(count + 1);
			let now = frame_system::Pallet::<T>::block_number();
			let first_round_ends = Self::round_start(Self::round_of(now, round_length).saturating_add(1), round_length);
			// At most `MaxFeeds` feeds exist, so the list has room.
			RoundEnds::<T>::try_mutate(first_round_ends, |ending| ending.try_push(feed))
				.map_err(|_| Error::<T>::TooManyFeeds)?;
			Feeds::<T>::insert(
				feed,
				FeedInfo {
					owner: owner.clone(),
					name: name.clone(),
					source,
					decimals,
					round_length,
					min_submissions,
					max_deviation,
					deposit,
				},
			);
			Self::deposit_event(Event::FeedRegistered { feed, owner, name, decimals, round_length, first_round_ends });
			Ok(())
		}

		/// Remove `feed`, which no data node may serve any more, with its history; the deposit
		/// is released to the owner.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::remove_feed())]
		pub fn remove_feed(origin: OriginFor<T>, feed: FeedId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Feeds::<T>::get(feed).ok_or(Error::<T>::UnknownFeed)?;
			ensure!(info.owner == who, Error::<T>::NotFeedOwner);
			ensure!(T::Nodes::nodes(&feed).is_empty(), Error::<T>::FeedInUse);
			T::Currency::release(&HoldReason::FeedDeposit.into(), &who, info.deposit, Precision::BestEffort)?;
			Feeds::<T>::remove(feed);
			History::<T>::remove(feed);
			Submissions::<T>::remove(feed);
			FeedCount::<T>::mutate(|count| *count = count.saturating_sub(1));
			// Its pending `RoundEnds` entry is skipped when it comes up.
			Self::deposit_event(Event::FeedRemoved { feed });
			Ok(())
		}

		/// Submit `value` for round `round` of `feed`, signed with the data node's `feed` key
		/// (its off-chain worker does this). Free when accepted.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::submit())]
		pub fn submit(
			origin: OriginFor<T>,
			feed: FeedId,
			round: RoundId,
			value: FeedValue,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			ensure!(T::Nodes::operator(&node).is_some(), Error::<T>::NotADataNode);
			ensure!(T::Nodes::is_active(&node), Error::<T>::NodeNotActive);
			let info = Feeds::<T>::get(feed).ok_or(Error::<T>::UnknownFeed)?;
			ensure!(T::Nodes::serves(&node, &feed), Error::<T>::NotServingFeed);
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(round == Self::round_of(now, info.round_length), Error::<T>::WrongRound);
			let mut values = match Submissions::<T>::get(feed) {
				Some((open, values)) if open == round => values,
				_ => BoundedVec::new(),
			};
			ensure!(!values.iter().any(|(who, _)| *who == node), Error::<T>::AlreadySubmitted);
			// One value per serving node, and at most `MaxNodesPerFeed` nodes serve a feed.
			values.try_push((node.clone(), value)).map_err(|_| Error::<T>::TooManyNodesForFeed)?;
			Submissions::<T>::insert(feed, (round, values));
			Self::deposit_event(Event::ValueSubmitted { feed, round, node, value });
			Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::No })
		}
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
		fn end_round(feed: FeedId, now: BlockNumberFor<T>) {
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
			for node in T::Nodes::nodes(&feed) {
				if submitted.iter().any(|(who, _)| *who == node) {
					continue;
				}
				let served_whole_round = T::Nodes::serving_since(&node).is_some_and(|since| since <= round_began);
				if served_whole_round {
					Self::deposit_event(Event::RoundMissed { feed, round, node: node.clone() });
					T::Nodes::strike(&node, None);
				}
			}

			let next_end = now.saturating_add(info.round_length);
			// Every feed has one scheduled end and at most `MaxFeeds` feeds exist.
			let _ = RoundEnds::<T>::try_mutate(next_end, |ending| ending.try_push(feed));
		}

		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// `FeedCount` counts the feeds, each has an id given out and its round's end is
		/// scheduled exactly once; holds equal the deposits they secure; nothing is kept of a
		/// feed that does not exist but the end of its last round. (The data nodes' own
		/// invariants are the `DataNodes` instance's.)
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			let mut deposits: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
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
				let sum = deposits.entry(feed.owner).or_default();
				*sum = sum.saturating_add(feed.deposit);
			}
			ensure!(FeedCount::<T>::get() == feeds, "FeedCount does not count the feeds");
			for (owner, deposit) in deposits {
				ensure!(
					T::Currency::balance_on_hold(&HoldReason::FeedDeposit.into(), &owner) == deposit,
					"an owner's FeedDeposit hold is not the sum of its feeds' deposits"
				);
			}
			for feed in Submissions::<T>::iter_keys().chain(History::<T>::iter_keys()) {
				ensure!(Feeds::<T>::contains_key(feed), "rounds kept of a feed that does not exist");
			}
			Ok(())
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
}
