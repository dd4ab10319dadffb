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
//! 2. An operator [`register_node`](Pallet::register_node)s a data node — the account of a
//!    `feed` key in the node's keystore — for some feeds, with a bond of at least
//!    [`Config::MinBond`]. The node's off-chain worker fetches each feed's value from the
//!    HTTP source its operator configured on that node (URL and JSON path, never on chain)
//!    and [`submit`](Pallet::submit)s it, signed, once per round. Accepted submissions are free.
//! 3. When a round ends, the chain aggregates it: with at least `min_submissions` values the
//!    median becomes the round's value, kept in a bounded [`History`]; values further than
//!    `max_deviation` from it are reported as outliers. A node that submitted an outlier or
//!    missed a round gets a strike; [`Config::MaxStrikes`] strikes in a row slash
//!    [`Config::SlashFraction`] of its bond. A node whose bond falls below the minimum is
//!    suspended until [`bond_extra`](Pallet::bond_extra).
//! 4. Leaving takes [`Config::UnbondingDelay`] blocks ([`unbond`](Pallet::unbond), then
//!    [`withdraw`](Pallet::withdraw)).
//!
//! Values are integers: a price of 64 123.45 in a feed with 2 decimals is `6412345`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod json;
mod offchain;
pub mod weights;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use offchain::{source_storage_key, FeedSource, LOG_TARGET};
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::crypto::KeyTypeId;

/// Key type of the keys with which data nodes sign their submissions.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"feed");

/// The `feed` key: sr25519, kept in a data node's keystore
/// (`veriml-node key insert --key-type feed --scheme sr25519`).
pub mod crypto {
	use super::KEY_TYPE;
	use sp_runtime::{
		app_crypto::{app_crypto, sr25519},
		MultiSignature, MultiSigner,
	};
	app_crypto!(sr25519, KEY_TYPE);

	/// Signs a data node's transactions with its `feed` key.
	pub struct DataNodeId;

	impl frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for DataNodeId {
		type RuntimeAppPublic = Public;
		type GenericSignature = sp_core::sr25519::Signature;
		type GenericPublic = sp_core::sr25519::Public;
	}

	// For mock runtimes whose signature type is sr25519 itself.
	impl
		frame_system::offchain::AppCrypto<
			<sp_core::sr25519::Signature as sp_runtime::traits::Verify>::Signer,
			sp_core::sr25519::Signature,
		> for DataNodeId
	{
		type RuntimeAppPublic = Public;
		type GenericSignature = sp_core::sr25519::Signature;
		type GenericPublic = sp_core::sr25519::Public;
	}
}

/// Identifies a feed; assigned in order from 0.
pub type FeedId = u32;

/// A round of a feed: round `r` spans blocks `r × round_length .. (r + 1) × round_length`.
pub type RoundId = u32;

/// A feed value: an integer in units of 10^-decimals.
pub type FeedValue = i128;

/// The aggregated value of one round.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
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

/// The median of `values` (sorted in place): the middle value, or the mean of the two middle
/// ones rounded toward zero. `None` for no values.
pub fn median(values: &mut [FeedValue]) -> Option<FeedValue> {
	if values.is_empty() {
		return None
	}
	values.sort_unstable();
	let mid = values.len() / 2;
	if values.len() % 2 == 1 {
		return Some(values[mid])
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
			tokens::{Fortitude, Precision, Restriction},
		},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use sp_runtime::{
		traits::{Saturating, Zero},
		Perbill, SaturatedConversion,
	};

	/// Balance of the currency deposits and bonds are held in.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A feed of this runtime.
	pub type FeedOf<T> = FeedInfo<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxNameLength,
		<T as Config>::MaxSourceLength,
	>;

	/// A data node of this runtime.
	pub type DataNodeOf<T> = DataNodeRecord<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxFeedsPerNode,
	>;

	/// The feeds a node serves.
	pub type ServedFeeds<T> = BoundedVec<FeedId, <T as Config>::MaxFeedsPerNode>;

	/// The values submitted in a feed's open round, by node.
	pub type RoundSubmissions<T> =
		BoundedVec<(<T as frame_system::Config>::AccountId, FeedValue), <T as Config>::MaxNodesPerFeed>;

	/// A registered feed.
	#[derive(
		Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
	)]
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

	/// Whether a data node takes part in rounds.
	#[derive(
		Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
	)]
	pub enum DataNodeStatus<BlockNumber> {
		/// Submits values; missed rounds count against it.
		Active,
		/// Its bond fell below `MinBond` after a slash: no submissions until `bond_extra`.
		Suspended,
		/// Leaving: no submissions; the bond can be withdrawn from block `withdrawable_at`.
		Unbonding { withdrawable_at: BlockNumber },
	}

	/// What the chain keeps about a data node.
	#[derive(
		Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
	)]
	#[scale_info(skip_type_params(MaxFeeds))]
	#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
	pub struct DataNodeRecord<AccountId, Balance, BlockNumber, MaxFeeds: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// The account that registered the node and holds its bond.
		pub operator: AccountId,
		/// The bond held from the operator.
		pub bond: Balance,
		/// The feeds it serves.
		pub feeds: BoundedVec<FeedId, MaxFeeds>,
		/// Whether it takes part in rounds.
		pub status: DataNodeStatus<BlockNumber>,
		/// Outliers and missed rounds since its last good submission.
		pub strikes: u32,
		/// Since when it serves its feeds: rounds that began earlier are not held against it.
		pub since: BlockNumber,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits and bonds are held in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The crypto of data nodes' `feed` keys.
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Deposit held from a feed's owner while the feed exists.
		#[pallet::constant]
		type FeedDeposit: Get<BalanceOf<Self>>;

		/// Smallest bond with which a data node takes part.
		#[pallet::constant]
		type MinBond: Get<BalanceOf<Self>>;

		/// Blocks between `unbond` and `withdraw`.
		#[pallet::constant]
		type UnbondingDelay: Get<BlockNumberFor<Self>>;

		/// Strikes (outliers or missed rounds in a row) that get a node slashed.
		#[pallet::constant]
		type MaxStrikes: Get<u32>;

		/// Share of a node's bond slashed at `MaxStrikes` strikes.
		#[pallet::constant]
		type SlashFraction: Get<Perbill>;

		/// Where slashed bonds go (the protocol account).
		type SlashDestination: Get<Self::AccountId>;

		/// Shortest round, in blocks.
		#[pallet::constant]
		type MinRoundLength: Get<BlockNumberFor<Self>>;

		/// Most feeds that exist at once.
		#[pallet::constant]
		type MaxFeeds: Get<u32>;

		/// Most nodes serving one feed (and so submissions in one round).
		#[pallet::constant]
		type MaxNodesPerFeed: Get<u32>;

		/// Most feeds one node serves.
		#[pallet::constant]
		type MaxFeedsPerNode: Get<u32>;

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
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A feed's deposit.
		FeedDeposit,
		/// A data node's bond.
		DataNodeBond,
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

	/// Registered data nodes, by the account of their `feed` key.
	#[pallet::storage]
	pub type DataNodes<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, DataNodeOf<T>>;

	/// The active nodes serving each feed.
	#[pallet::storage]
	pub type FeedNodes<T: Config> =
		StorageMap<_, Twox64Concat, FeedId, BoundedVec<T::AccountId, T::MaxNodesPerFeed>, ValueQuery>;

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
		/// A data node was registered by `operator` for `feeds`, with `bond` held.
		DataNodeRegistered { node: T::AccountId, operator: T::AccountId, feeds: ServedFeeds<T>, bond: BalanceOf<T> },
		/// A data node's feeds changed.
		DataNodeFeedsChanged { node: T::AccountId, feeds: ServedFeeds<T> },
		/// A data node's bond grew by `amount` to `bond`.
		DataNodeBonded { node: T::AccountId, amount: BalanceOf<T>, bond: BalanceOf<T> },
		/// A data node stopped taking part; its bond can be withdrawn from `withdrawable_at`.
		DataNodeUnbonding { node: T::AccountId, withdrawable_at: BlockNumberFor<T> },
		/// A data node left and its bond was released to its operator.
		DataNodeWithdrawn { node: T::AccountId, operator: T::AccountId, bond: BalanceOf<T> },
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
		/// `node` reached `MaxStrikes`: `amount` of its bond went to the protocol; `bond` is left.
		DataNodeSlashed { node: T::AccountId, operator: T::AccountId, amount: BalanceOf<T>, bond: BalanceOf<T> },
		/// A data node's bond fell below `MinBond`: it takes no part until it bonds more.
		DataNodeSuspended { node: T::AccountId, bond: BalanceOf<T> },
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
		/// This node account is registered already.
		AlreadyRegistered,
		/// No data node is registered with this account.
		UnknownNode,
		/// Only the node's operator may do this.
		NotOperator,
		/// The bond is below `MinBond`.
		BondTooLow,
		/// A node must serve at least one feed.
		NoFeeds,
		/// A feed is listed twice.
		DuplicateFeed,
		/// A feed is served by `MaxNodesPerFeed` nodes already.
		TooManyNodesForFeed,
		/// The node is leaving; it cannot change or rejoin.
		Unbonding,
		/// The node is not unbonding: call `unbond` first.
		NotUnbonding,
		/// The unbonding delay has not passed yet.
		StillUnbonding,
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
			assert!(T::MaxStrikes::get() > 0, "MaxStrikes must be at least 1");
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
			ensure!(FeedNodes::<T>::get(feed).is_empty(), Error::<T>::FeedInUse);
			T::Currency::release(&HoldReason::FeedDeposit.into(), &who, info.deposit, Precision::BestEffort)?;
			Feeds::<T>::remove(feed);
			History::<T>::remove(feed);
			Submissions::<T>::remove(feed);
			FeedCount::<T>::mutate(|count| *count = count.saturating_sub(1));
			// Its pending `RoundEnds` entry is skipped when it comes up.
			Self::deposit_event(Event::FeedRemoved { feed });
			Ok(())
		}

		/// Register `node` — the account of a `feed` key in the node's keystore — for `feeds`,
		/// with `bond` held from the caller, who becomes its operator.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::register_node(feeds.len() as u32))]
		pub fn register_node(
			origin: OriginFor<T>,
			node: T::AccountId,
			feeds: ServedFeeds<T>,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			ensure!(!DataNodes::<T>::contains_key(&node), Error::<T>::AlreadyRegistered);
			ensure!(bond >= T::MinBond::get(), Error::<T>::BondTooLow);
			Self::check_feeds(&feeds)?;
			Self::check_room(&node, &feeds)?;
			T::Currency::hold(&HoldReason::DataNodeBond.into(), &operator, bond)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			Self::add_to_feeds(&node, &feeds);
			DataNodes::<T>::insert(
				&node,
				DataNodeRecord {
					operator: operator.clone(),
					bond,
					feeds: feeds.clone(),
					status: DataNodeStatus::Active,
					strikes: 0,
					since: frame_system::Pallet::<T>::block_number(),
				},
			);
			Self::deposit_event(Event::DataNodeRegistered { node, operator, feeds, bond });
			Ok(())
		}

		/// Replace the feeds `node` serves.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::set_feeds(T::MaxFeedsPerNode::get()))]
		pub fn set_feeds(origin: OriginFor<T>, node: T::AccountId, feeds: ServedFeeds<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, DataNodeStatus::Unbonding { .. }), Error::<T>::Unbonding);
			Self::check_feeds(&feeds)?;
			if record.status == DataNodeStatus::Active {
				// A feed the node serves already has room for it.
				Self::check_room(&node, &feeds)?;
				Self::remove_from_feeds(&node, &record.feeds);
				Self::add_to_feeds(&node, &feeds);
			}
			record.feeds = feeds.clone();
			record.since = frame_system::Pallet::<T>::block_number();
			DataNodes::<T>::insert(&node, record);
			Self::deposit_event(Event::DataNodeFeedsChanged { node, feeds });
			Ok(())
		}

		/// Add `amount` to `node`'s bond. A suspended node takes part again once its bond is
		/// back at `MinBond`, in those of its feeds that still exist.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::bond_extra(T::MaxFeedsPerNode::get()))]
		pub fn bond_extra(origin: OriginFor<T>, node: T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, DataNodeStatus::Unbonding { .. }), Error::<T>::Unbonding);
			let bond = record.bond.saturating_add(amount);
			let rejoins = record.status == DataNodeStatus::Suspended && bond >= T::MinBond::get();
			if rejoins {
				// Its owner may have removed a feed while no active node served it.
				record.feeds.retain(|feed| Feeds::<T>::contains_key(*feed));
				Self::check_room(&node, &record.feeds)?;
			}
			T::Currency::hold(&HoldReason::DataNodeBond.into(), &who, amount)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			record.bond = bond;
			if rejoins {
				Self::add_to_feeds(&node, &record.feeds);
				record.status = DataNodeStatus::Active;
				record.strikes = 0;
				record.since = frame_system::Pallet::<T>::block_number();
			}
			DataNodes::<T>::insert(&node, record);
			Self::deposit_event(Event::DataNodeBonded { node, amount, bond });
			Ok(())
		}

		/// Stop `node` taking part and start the unbonding delay. Its bond stays held until
		/// `withdraw`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::unbond(T::MaxFeedsPerNode::get()))]
		pub fn unbond(origin: OriginFor<T>, node: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, DataNodeStatus::Unbonding { .. }), Error::<T>::Unbonding);
			if record.status == DataNodeStatus::Active {
				Self::remove_from_feeds(&node, &record.feeds);
			}
			let withdrawable_at =
				frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
			record.status = DataNodeStatus::Unbonding { withdrawable_at };
			DataNodes::<T>::insert(&node, record);
			Self::deposit_event(Event::DataNodeUnbonding { node, withdrawable_at });
			Ok(())
		}

		/// Release the bond of an unbonded `node` to its operator and remove the node.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::withdraw())]
		pub fn withdraw(origin: OriginFor<T>, node: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let record = Self::operated_by(&node, &who)?;
			let DataNodeStatus::Unbonding { withdrawable_at } = record.status else {
				return Err(Error::<T>::NotUnbonding.into())
			};
			ensure!(frame_system::Pallet::<T>::block_number() >= withdrawable_at, Error::<T>::StillUnbonding);
			let bond =
				T::Currency::release(&HoldReason::DataNodeBond.into(), &who, record.bond, Precision::BestEffort)?;
			DataNodes::<T>::remove(&node);
			Self::deposit_event(Event::DataNodeWithdrawn { node, operator: who, bond });
			Ok(())
		}

		/// Submit `value` for round `round` of `feed`, signed with the data node's `feed` key
		/// (its off-chain worker does this). Free when accepted.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::submit())]
		pub fn submit(
			origin: OriginFor<T>,
			feed: FeedId,
			round: RoundId,
			value: FeedValue,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			let record = DataNodes::<T>::get(&node).ok_or(Error::<T>::NotADataNode)?;
			ensure!(record.status == DataNodeStatus::Active, Error::<T>::NodeNotActive);
			let info = Feeds::<T>::get(feed).ok_or(Error::<T>::UnknownFeed)?;
			ensure!(record.feeds.contains(&feed), Error::<T>::NotServingFeed);
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
						Self::strike(node);
					},
					None => DataNodes::<T>::mutate(node, |record| {
						if let Some(record) = record {
							record.strikes = 0;
						}
					}),
				}
			}
			let round_began = Self::round_start(round, info.round_length);
			for node in FeedNodes::<T>::get(feed) {
				if submitted.iter().any(|(who, _)| *who == node) {
					continue
				}
				let served_whole_round = DataNodes::<T>::get(&node).is_some_and(|record| record.since <= round_began);
				if served_whole_round {
					Self::deposit_event(Event::RoundMissed { feed, round, node: node.clone() });
					Self::strike(&node);
				}
			}

			let next_end = now.saturating_add(info.round_length);
			// Every feed has one scheduled end and at most `MaxFeeds` feeds exist.
			let _ = RoundEnds::<T>::try_mutate(next_end, |ending| ending.try_push(feed));
		}

		/// One more strike for `node`; at `MaxStrikes` its bond is slashed.
		fn strike(node: &T::AccountId) {
			let Some(mut record) = DataNodes::<T>::get(node) else { return };
			record.strikes = record.strikes.saturating_add(1);
			if record.strikes >= T::MaxStrikes::get() {
				record.strikes = 0;
				let held = T::Currency::balance_on_hold(&HoldReason::DataNodeBond.into(), &record.operator);
				let amount = (T::SlashFraction::get() * record.bond).min(held);
				let slashed = Self::slash_bond(&record.operator, amount);
				record.bond = record.bond.saturating_sub(slashed);
				Self::deposit_event(Event::DataNodeSlashed {
					node: node.clone(),
					operator: record.operator.clone(),
					amount: slashed,
					bond: record.bond,
				});
				if record.bond < T::MinBond::get() && record.status == DataNodeStatus::Active {
					Self::remove_from_feeds(node, &record.feeds);
					record.status = DataNodeStatus::Suspended;
					Self::deposit_event(Event::DataNodeSuspended { node: node.clone(), bond: record.bond });
				}
			}
			DataNodes::<T>::insert(node, record);
		}

		/// Moves `amount` of `operator`'s bond to the slash destination, burning it if the
		/// destination cannot receive it. Returns what was taken.
		fn slash_bond(operator: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
			if amount.is_zero() {
				return amount
			}
			T::Currency::transfer_on_hold(
				&HoldReason::DataNodeBond.into(),
				operator,
				&T::SlashDestination::get(),
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
			.or_else(|_| {
				T::Currency::burn_held(
					&HoldReason::DataNodeBond.into(),
					operator,
					amount,
					Precision::BestEffort,
					Fortitude::Force,
				)
			})
			.unwrap_or_else(|_| Zero::zero())
		}

		fn operated_by(node: &T::AccountId, who: &T::AccountId) -> Result<DataNodeOf<T>, DispatchError> {
			let record = DataNodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
			ensure!(record.operator == *who, Error::<T>::NotOperator);
			Ok(record)
		}

		fn check_feeds(feeds: &[FeedId]) -> DispatchResult {
			ensure!(!feeds.is_empty(), Error::<T>::NoFeeds);
			for (i, feed) in feeds.iter().enumerate() {
				ensure!(!feeds[..i].contains(feed), Error::<T>::DuplicateFeed);
				ensure!(Feeds::<T>::contains_key(feed), Error::<T>::UnknownFeed);
			}
			Ok(())
		}

		/// Whether every one of `feeds` has room for `node`.
		fn check_room(node: &T::AccountId, feeds: &[FeedId]) -> DispatchResult {
			for feed in feeds {
				let nodes = FeedNodes::<T>::get(feed);
				ensure!(
					nodes.contains(node) || (nodes.len() as u32) < T::MaxNodesPerFeed::get(),
					Error::<T>::TooManyNodesForFeed
				);
			}
			Ok(())
		}

		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// `FeedCount` counts the feeds, each has an id given out and its round's end is
		/// scheduled exactly once; a feed's node list holds exactly the active nodes serving
		/// it; holds equal the deposits and bonds they secure; nothing is kept of a feed that
		/// does not exist but the end of its last round.
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
			let mut bonds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
			let mut serving = 0usize;
			for (node, record) in DataNodes::<T>::iter() {
				let sum = bonds.entry(record.operator.clone()).or_default();
				*sum = sum.saturating_add(record.bond);
				let active = record.status == DataNodeStatus::Active;
				for feed in &record.feeds {
					ensure!(
						FeedNodes::<T>::get(feed).contains(&node) == active,
						"a feed's node list does not hold exactly its active nodes"
					);
					serving += usize::from(active);
				}
			}
			let mut listed = 0usize;
			for (feed, nodes) in FeedNodes::<T>::iter() {
				ensure!(Feeds::<T>::contains_key(feed), "nodes listed for a feed that does not exist");
				ensure!(!nodes.is_empty(), "an empty node list is kept for a feed");
				listed += nodes.len();
			}
			ensure!(listed == serving, "a feed's node list holds a node that does not serve it");
			for (operator, bond) in bonds {
				ensure!(
					T::Currency::balance_on_hold(&HoldReason::DataNodeBond.into(), &operator) == bond,
					"an operator's DataNodeBond hold is not the sum of its nodes' bonds"
				);
			}
			for feed in Submissions::<T>::iter_keys().chain(History::<T>::iter_keys()) {
				ensure!(Feeds::<T>::contains_key(feed), "rounds kept of a feed that does not exist");
			}
			Ok(())
		}

		/// Adds `node` to each feed's nodes; `check_room` said there is room.
		fn add_to_feeds(node: &T::AccountId, feeds: &[FeedId]) {
			for feed in feeds {
				FeedNodes::<T>::mutate(feed, |nodes| {
					if !nodes.contains(node) {
						let _ = nodes.try_push(node.clone());
					}
				});
			}
		}

		fn remove_from_feeds(node: &T::AccountId, feeds: &[FeedId]) {
			for feed in feeds {
				FeedNodes::<T>::mutate_exists(feed, |nodes| {
					if let Some(list) = nodes {
						list.retain(|n| n != node);
						if list.is_empty() {
							*nodes = None;
						}
					}
				});
			}
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
