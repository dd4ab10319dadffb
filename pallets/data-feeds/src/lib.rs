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
//!    offering feeds. A feed's owner [`approve_operator`](Pallet::approve_operator)s the
//!    operators whose nodes may serve it ([`ApprovedOperators`] is the data nodes'
//!    admission), so nobody can fill a feed with nodes of their own, own its median and have
//!    honest nodes struck as outliers; [`revoke_operator`](Pallet::revoke_operator) takes the
//!    approval back (the operator's nodes' values no longer count and they are not struck). A node's off-chain worker fetches each feed's value from the HTTP source
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
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations (types, config, storage, events, errors, hooks, calls);
//! `rounds.rs` the rounds and their aggregation; `impls.rs` the interfaces other pallets use;
//! `try_state.rs` the invariants; `offchain.rs` the data node's off-chain worker; `json.rs` the
//! JSON path its sources are read with.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impls;
pub mod json;
#[cfg(test)]
mod mock;
mod offchain;
mod rounds;
#[cfg(test)]
mod tests;
mod try_state;
pub mod weights;

pub use impls::{ApprovedOperators, ExistingFeeds};
pub use offchain::{source_storage_key, FeedSource, FetchErrorKind, FetchErrors, FETCH_ERRORS_KEY, LOG_TARGET};
pub use rounds::median;
pub use weights::WeightInfo;

use codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::crypto::KeyTypeId;
pub use veriml_primitives::{
	feeds::{FeedId, FeedValue, FeedValues, RoundId, RoundValue},
	nodes::BondedNodes,
};

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

/// Registers data nodes for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// A new bonded data node serving `feed`, distinct for each `index`, one strike short of
	/// a slash and serving since block 0.
	fn node(index: u32, feed: FeedId) -> AccountId;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		dispatch::PostDispatchInfo,
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			tokens::Precision,
		},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use sp_runtime::{traits::Zero, Perbill};

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

	/// Version 1 (spec 111): a feed's owner approves the operators whose nodes serve it
	/// ([`Operators`]).
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
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

	/// The operators whose data nodes may serve each feed, approved by its owner (at most
	/// `MaxNodesPerFeed`: no more nodes serve a feed).
	#[pallet::storage]
	pub type Operators<T: Config> =
		StorageMap<_, Twox64Concat, FeedId, BoundedVec<T::AccountId, T::MaxNodesPerFeed>, ValueQuery>;

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
		/// `feed`'s owner approved `operator`'s data nodes to serve it.
		OperatorApproved { feed: FeedId, operator: T::AccountId },
		/// `feed`'s owner took back `operator`'s approval: its nodes' values no longer count
		/// (those of the open round were dropped).
		OperatorRevoked { feed: FeedId, operator: T::AccountId },
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
		/// The feed's owner has not approved the node's operator.
		OperatorNotApproved,
		/// The operator is approved already.
		AlreadyApproved,
		/// `MaxNodesPerFeed` operators are approved for the feed.
		TooManyOperators,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let ending = RoundEnds::<T>::take(now);
			let count = ending.len() as u32;
			for feed in ending {
				Self::end_round(feed, now);
			}
			// Reading each feed's approved operators and each of its nodes' operator at the end
			// of its round: not in the benchmark yet.
			let approvals = T::DbWeight::get().reads(1u64.saturating_add(T::MaxNodesPerFeed::get().into()));
			T::WeightInfo::on_initialize(count).saturating_add(approvals.saturating_mul(count.into()))
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

		/// Remove `feed`, which no data node may serve any more, with its history and the end
		/// of its current round; the deposit is released to the owner.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::remove_feed().saturating_add(T::DbWeight::get().reads_writes(1, 1)))]
		pub fn remove_feed(origin: OriginFor<T>, feed: FeedId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Self::owned_feed(feed, &who)?;
			ensure!(T::Nodes::nodes(&feed).is_empty(), Error::<T>::FeedInUse);
			T::Currency::release(&HoldReason::FeedDeposit.into(), &who, info.deposit, Precision::BestEffort)?;
			Feeds::<T>::remove(feed);
			History::<T>::remove(feed);
			Submissions::<T>::remove(feed);
			Operators::<T>::remove(feed);
			FeedCount::<T>::mutate(|count| *count = count.saturating_sub(1));
			// Its round's end leaves the block's list, where it would take the place of a
			// feed that exists.
			let now = frame_system::Pallet::<T>::block_number();
			let end = Self::round_start(Self::round_of(now, info.round_length).saturating_add(1), info.round_length);
			RoundEnds::<T>::mutate_exists(end, |ending| {
				if let Some(list) = ending {
					list.retain(|scheduled| *scheduled != feed);
					if list.is_empty() {
						*ending = None;
					}
				}
			});
			Self::deposit_event(Event::FeedRemoved { feed });
			Ok(())
		}

		/// Submit `value` for round `round` of `feed`, signed with the data node's `feed` key
		/// (its off-chain worker does this). Free when accepted; sent without a fee (`feeless_if`,
		/// read by the runtime's `SkipCheckIfFeeless`) when it passes the checks of dispatch.
		#[pallet::call_index(2)]
		#[pallet::feeless_if(|origin: &OriginFor<T>, feed: &FeedId, round: &RoundId, _value: &FeedValue| -> bool {
			Pallet::<T>::submits_without_fee(origin, *feed, *round)
		})]
		#[pallet::weight(T::WeightInfo::submit())]
		pub fn submit(
			origin: OriginFor<T>,
			feed: FeedId,
			round: RoundId,
			value: FeedValue,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			let mut values = Self::check_submission(&node, feed, round)?;
			// One value per serving node, and at most `MaxNodesPerFeed` nodes serve a feed.
			values.try_push((node.clone(), value)).map_err(|_| Error::<T>::TooManyNodesForFeed)?;
			Submissions::<T>::insert(feed, (round, values));
			Self::deposit_event(Event::ValueSubmitted { feed, round, node, value });
			Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::No })
		}

		/// Let data nodes of `operator` serve `feed`, as its owner. Until then they cannot
		/// offer it (`DataNodes`' `NotAdmitted`) or submit to it.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::approve_operator())]
		pub fn approve_operator(origin: OriginFor<T>, feed: FeedId, operator: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::owned_feed(feed, &who)?;
			Operators::<T>::try_mutate(feed, |approved| {
				ensure!(!approved.contains(&operator), Error::<T>::AlreadyApproved);
				approved.try_push(operator.clone()).map_err(|_| Error::<T>::TooManyOperators)
			})?;
			Self::deposit_event(Event::OperatorApproved { feed, operator });
			Ok(())
		}

		/// Take back `operator`'s approval for `feed`, as its owner: its nodes' values in the
		/// open round are dropped, later ones refused, and its nodes are no longer struck for
		/// the feed's rounds (its operator should stop offering the feed: `DataNodes.
		/// setServices`).
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::revoke_operator())]
		pub fn revoke_operator(origin: OriginFor<T>, feed: FeedId, operator: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::owned_feed(feed, &who)?;
			Operators::<T>::try_mutate(feed, |approved| {
				let before = approved.len();
				approved.retain(|approved| *approved != operator);
				ensure!(approved.len() < before, Error::<T>::OperatorNotApproved);
				Ok::<_, Error<T>>(())
			})?;
			Submissions::<T>::mutate_exists(feed, |open| {
				if let Some((_, values)) = open {
					values.retain(|(node, _)| T::Nodes::operator(node).as_ref() != Some(&operator));
				}
			});
			Self::deposit_event(Event::OperatorRevoked { feed, operator });
			Ok(())
		}
	}
}
