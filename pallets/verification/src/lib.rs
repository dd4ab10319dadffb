//! # Verification
//!
//! Owns how inference results are verified. A result (a [`Claim`] of a [`Job`]) is submitted
//! by the pallet whose job it answers (the requests pallet) to the verification mode of its
//! model ([`Verification`], from the model's terms), which decides now or later:
//!
//! - [`InBlock`](modes::InBlock): the result is re-executed while the block that carries it is
//!   applied. The block author and every complete node importing the block run the same
//!   deterministic engine (the node's `inference` host functions) on the same model and
//!   input, so a wrong result fails its check on every honest node alike: verification is part
//!   of the state transition, not an opinion of one node. The verdict is returned at once.
//! - [`Optimistic`](modes::Optimistic): for models too costly to re-execute every result. The
//!   result is proposed and waits [`Config::ChallengePeriod`] blocks; any other bonded node may
//!   [`challenge`](Pallet::challenge) it, with [`Config::ChallengeDeposit`] held (nodes do so
//!   from their off-chain worker after re-executing it). A challenged result is decided by
//!   re-execution at the start of a block (as many a block as [`Config::DecisionWeight`] has
//!   room for) and the loser is struck: a wrong proposer through the job's owner
//!   ([`VerifiedJobs::refuted`]), its slash partly to the challenger's operator, the deposit
//!   returned; a wrong challenger here, its slash partly and its deposit wholly to the
//!   proposer's operator. An unchallenged result is accepted when its window ends, except
//!   while [`Config::MaxDisputes`] challenges wait (no challenge could be accepted): then
//!   settlement is held, and the result stays challengeable until it settles. The job's owner
//!   hears each decision through [`VerifiedJobs`].
//!
//! Both are implementations of [`VerificationMode`](modes::VerificationMode); a third mode is
//! a third implementation and one arm in [`modes::submit`] (see docs/architecture.md).
//!
//! For each confirmed result the pallet keeps a [`Receipt`] — the proof document: request,
//! model hash, input hash, output hash, result hash, executor, engine version, block and how it
//! was verified — and the outputs, for [`Config::ReceiptRetention`] blocks. A client checks a
//! receipt against a finalised header with a storage proof of [`Receipts`]. Light clients do
//! not execute blocks and so never re-execute.
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations; `modes.rs` the modes and the [`ResultVerifier`] the
//! requests pallet calls; `receipts.rs` the proof documents and their pruning; `offchain.rs`
//! the challenger's off-chain worker; `try_state.rs` the invariants.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod modes;
mod offchain;
mod receipts;
pub use receipts::{archive_key, PRUNED_BLOCKS_PER_BLOCK};
mod try_state;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

use alloc::vec::Vec;
use core::marker::PhantomData;
use frame_support::{dispatch::DispatchClass, traits::Get, weights::Weight};
use veriml_inference_primitives::{EngineError, EngineVersion, Execution, ModelHash, Tensor, TensorSpec};
use veriml_primitives::Fuel;

/// Runs a registered model with the deterministic engine.
pub trait InferenceRunner {
	/// The engine version of the guest the chain runs now: the first field of the result
	/// hashes its runs make.
	fn engine_version() -> EngineVersion;

	/// Runs `model` for `input_specs` on `inputs` within `fuel_limit`, and, where given, its
	/// preparation for those specs within `preparation_limit` ([`Job::preparation_limit`]).
	///
	/// [`Job::preparation_limit`]: veriml_primitives::verification::Job
	fn run(
		model: &ModelHash,
		input_specs: &[TensorSpec],
		inputs: &[Tensor],
		fuel_limit: Fuel,
		preparation_limit: Option<Fuel>,
	) -> Result<Execution, EngineError>;
}

/// The most weight one normal transaction may have in `T`'s blocks: a budget of
/// [`Config::DecisionWeight`] that leaves room for a verification at its most fuel (which must
/// fit one transaction) and for the block's transactions.
pub struct MaxExtrinsicWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> Get<Weight> for MaxExtrinsicWeight<T> {
	fn get() -> Weight {
		let weights = T::BlockWeights::get();
		weights.get(DispatchClass::Normal).max_extrinsic.unwrap_or(weights.max_block)
	}
}

/// Makes, for the benchmarks, an open job whose result a node computed and another bonded
/// node that may challenge it.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<Id, AccountId> {
	/// An open job of a bonded node and a second bonded node, distinct for each `index`.
	fn job(index: u32) -> (Job<Id, AccountId>, AccountId);
}

pub use veriml_primitives::{
	models::Verification,
	verification::{
		outcome_of, receipt_hash, ArchiveError, Claim, Job, Outcome, Proposal, Receipt, ReceiptLog, ResultVerifier,
		Submission, Verdict, VerifiedBy, VerifiedJobs,
	},
};

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		dispatch::PostDispatchInfo,
		pallet_prelude::*,
		traits::fungible::{Inspect, Mutate, MutateHold},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use veriml_primitives::nodes::BondedNodes;

	/// A receipt of this runtime.
	pub type ReceiptOf<T> = Receipt<<T as Config>::JobId, <T as frame_system::Config>::AccountId, BlockNumberFor<T>>;

	/// A job of this runtime.
	pub type JobOf<T> = Job<<T as Config>::JobId, <T as frame_system::Config>::AccountId>;

	/// A proposal of this runtime.
	pub type ProposalOf<T> = Proposal<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>;

	/// Version 1 (spec 110): the optimistic game's storage is this pallet's (it was the
	/// requests pallet's). Version 2 (spec 111): every waiting challenge has its deposit in
	/// [`ChallengeDeposits`].
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: CreateSignedTransaction<Call<Self>> + frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// Identifies what a result answers (an inference request's id).
		type JobId: Parameter + MaxEncodedLen + Copy;

		/// Amounts slashed from nodes and held for challenges.
		type Balance: Parameter + frame_support::traits::tokens::Balance;

		/// The currency challenge deposits are held in.
		type Currency: Inspect<Self::AccountId, Balance = Self::Balance>
			+ Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The deterministic engine.
		type Runner: InferenceRunner;

		/// The bonded inference nodes: who may challenge, and whose bond answers for a wrong
		/// challenge.
		type Nodes: BondedNodes<Self::AccountId, Self::Balance, BlockNumberFor<Self>>;

		/// The pallet whose jobs are verified: it gives a job back to decide it and hears the
		/// decision.
		type Jobs: VerifiedJobs<Self::JobId, Self::AccountId, Self::Balance>;

		/// The key inference nodes sign their challenges with (their `infr` key).
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Blocks any bonded node has to challenge an optimistic result before it settles.
		#[pallet::constant]
		type ChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Most challenged results waiting to be decided.
		#[pallet::constant]
		type MaxDisputes: Get<u32>;

		/// Held from a challenger until its challenge is decided: returned if it was right,
		/// paid to the proposer's operator if it was wrong. Each waiting challenge has its own,
		/// so one bond cannot answer for many.
		#[pallet::constant]
		type ChallengeDeposit: Get<Self::Balance>;

		/// The most weight decisions (re-executing disputes, accepting unchallenged results)
		/// take at the start of one block. It must have room for one verification at the most
		/// fuel a verification may use (the requests pallet's `integrity_test` checks it);
		/// disputes of cheaper models are decided several a block.
		#[pallet::constant]
		type DecisionWeight: Get<Weight>;

		/// Blocks after which a node's off-chain worker checks a proposal again whose
		/// challenge did not land.
		#[pallet::constant]
		type ResubmitAfter: Get<BlockNumberFor<Self>>;

		/// Blocks a receipt and its outputs are kept after verification (at least 2, so that a
		/// block's receipt log is still there when the next block appends its leaf). It may
		/// change: a longer retention pauses pruning until it is due again, a shorter one prunes
		/// the blocks it makes due at [`PRUNED_BLOCKS_PER_BLOCK`] blocks a block until caught up.
		#[pallet::constant]
		type ReceiptRetention: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes jobs and nodes for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::JobId, Self::AccountId>;
	}

	/// Receipts of verified results, by request.
	#[pallet::storage]
	pub type Receipts<T: Config> = StorageMap<_, Twox64Concat, T::JobId, ReceiptOf<T>>;

	/// The outputs of verified results, by request (their size was bounded at submission).
	#[pallet::storage]
	#[pallet::unbounded]
	pub type Outputs<T: Config> = StorageMap<_, Twox64Concat, T::JobId, Vec<Tensor>>;

	/// Receipts to prune, by the block they were verified in.
	#[pallet::storage]
	pub type VerifiedIn<T: Config> = StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, T::JobId, ()>;

	/// The first block whose receipts are still to be pruned; absent until the first pruning,
	/// which starts at the block `ReceiptRetention` before it.
	#[pallet::storage]
	pub type NextToPrune<T: Config> = StorageValue<_, BlockNumberFor<T>, OptionQuery>;

	/// The receipts kept in a block, as a chain of their hashes (in the block's leaf of the
	/// chain's Merkle Mountain Range), by block; pruned with the block's receipts.
	#[pallet::storage]
	pub type ReceiptLogs<T: Config> = StorageMap<_, Twox64Concat, BlockNumberFor<T>, ReceiptLog>;

	/// Optimistic results waiting through their challenge window or, challenged, for their
	/// decision.
	#[pallet::storage]
	pub type Proposals<T: Config> = StorageMap<_, Twox64Concat, T::JobId, ProposalOf<T>>;

	/// The outputs of proposed results (their size was bounded at submission).
	#[pallet::storage]
	#[pallet::unbounded]
	pub type ProposedOutputs<T: Config> = StorageMap<_, Twox64Concat, T::JobId, Vec<Tensor>>;

	/// Unchallenged proposals by the block at whose start they settle.
	#[pallet::storage]
	pub type ChallengeWindows<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, T::JobId, ()>;

	/// Challenged proposals waiting to be decided by re-execution, oldest first.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageValue<_, BoundedVec<T::JobId, T::MaxDisputes>, ValueQuery>;

	/// The deposit held from each waiting challenge's challenger, by request.
	#[pallet::storage]
	pub type ChallengeDeposits<T: Config> = StorageMap<_, Twox64Concat, T::JobId, T::Balance>;

	/// The earliest block whose [`ChallengeWindows`] may still hold proposals to settle
	/// (settlement was held, or ran out of [`Config::DecisionWeight`]); none: the current one.
	#[pallet::storage]
	pub type SettleFrom<T: Config> = StorageValue<_, BlockNumberFor<T>>;

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A challenge's deposit, until the challenge is decided.
		ChallengeDeposit,
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Re-execution confirmed `executor`'s result for `request`; its receipt is stored.
		ResultConfirmed { request: T::JobId, executor: T::AccountId, outcome: Outcome },
		/// `executor`'s optimistic result for `request` went unchallenged through its window;
		/// its receipt is stored (`verified_by: Unchallenged`).
		ResultAccepted { request: T::JobId, executor: T::AccountId, outcome: Outcome },
		/// Re-execution refuted `executor`'s result for `request`: it claimed `claimed`,
		/// the engine gives `expected`.
		ResultRefuted { request: T::JobId, executor: T::AccountId, claimed: Outcome, expected: Outcome },
		/// `count` receipts verified in block `verified_in` reached the end of their retention
		/// and were removed.
		ReceiptsPruned { verified_in: BlockNumberFor<T>, count: u32 },
		/// `node` proposed the result of an optimistic model's request: it settles at the start
		/// of block `challenge_until` unless a bonded node challenges it before.
		ResultProposed { request: T::JobId, node: T::AccountId, outcome: Outcome, challenge_until: BlockNumberFor<T> },
		/// `challenger` disputes `node`'s proposed result, with `deposit` held; the chain will
		/// re-execute it.
		Challenged { request: T::JobId, node: T::AccountId, challenger: T::AccountId, deposit: T::Balance },
		/// Re-execution proved `challenger` right: `node` was slashed `slashed` (part of it paid
		/// to the challenger's operator), the challenger's deposit was returned and the request
		/// went to another node.
		ChallengeUpheld { request: T::JobId, node: T::AccountId, challenger: T::AccountId, slashed: T::Balance },
		/// Re-execution confirmed `node`'s proposed result: `challenger` was slashed `slashed`
		/// (part of it paid to the node's operator), its deposit `forfeited` to the node's
		/// operator, and the result settled.
		ChallengeRejected {
			request: T::JobId,
			node: T::AccountId,
			challenger: T::AccountId,
			slashed: T::Balance,
			forfeited: T::Balance,
		},
		/// `MaxDisputes` challenges waited at the end of the last block, so no challenge could
		/// be accepted: no result settles unchallenged at the start of this block. The results
		/// whose window ended stay challengeable and settle once there is room.
		SettlementHeld { waiting: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The result hash does not commit to the outputs (`blake2_256(SCALE(engine_version,
		/// model_hash, input_hash, outputs))`).
		ResultHashMismatch,
		/// Only an active inference node (registered, not suspended or leaving) may challenge:
		/// its bond answers for a wrong challenge.
		NotANode,
		/// A node of the proposer's own operator cannot challenge its result.
		SameOperator,
		/// The request has no proposed result in its challenge window.
		NothingToChallenge,
		/// A node cannot challenge its own result.
		OwnResult,
		/// The proposed result has been challenged already.
		AlreadyChallenged,
		/// `MaxDisputes` challenges wait to be decided; try again in a few blocks.
		TooManyDisputes,
		/// The challenger's free balance cannot cover `ChallengeDeposit`.
		InsufficientDeposit,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::prune_receipts(now).saturating_add(modes::on_initialize::<T>(now, T::DecisionWeight::get()))
		}

		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			let decisions = T::DecisionWeight::get();
			let max_block = T::BlockWeights::get().max_block;
			assert!(decisions.ref_time() > 0, "DecisionWeight must leave time for decisions");
			assert!(decisions.all_lte(max_block), "DecisionWeight ({decisions}) exceeds a block ({max_block})");
			assert!(T::MaxDisputes::get() > 0, "MaxDisputes must be at least 1");
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Challenge `request`'s proposed result (of an optimistic model) as wrong, as an
		/// active inference node of another operator than its proposer's, before it settles
		/// (when its window ends, or later while settlement is held), with `ChallengeDeposit`
		/// held from the caller.
		///
		/// The chain re-executes it at the start of one of the next blocks (as many a block as
		/// `DecisionWeight` has room for). If the result was wrong its node is slashed, part of
		/// the slash paid to the caller's operator, the deposit is returned and the request goes
		/// to another node; if it was right the caller is slashed and its deposit paid to the
		/// proposer's operator, and the result settles. An accepted challenge pays no
		/// transaction fee: a wrong one costs the caller its slash and deposit.
		///
		/// Operational: it has the block space kept for operational transactions and their
		/// priority, so filling blocks with normal transactions cannot keep a challenge out of
		/// a window.
		#[pallet::call_index(0)]
		#[pallet::weight((
			T::WeightInfo::challenge(T::MaxDisputes::get()).saturating_add(Pallet::<T>::deposit_weight()),
			DispatchClass::Operational
		))]
		pub fn challenge(origin: OriginFor<T>, request: T::JobId) -> DispatchResultWithPostInfo {
			let challenger = ensure_signed(origin)?;
			let waiting = modes::Optimistic::<T>::challenge(challenger, request)?;
			let actual = T::WeightInfo::challenge(waiting).saturating_add(Self::deposit_weight());
			Ok(PostDispatchInfo { actual_weight: Some(actual), pays_fee: Pays::No })
		}
	}

	impl<T: Config> Pallet<T> {
		/// Holding a challenge's deposit and recording it (the hold, the account, the record),
		/// beyond the benchmarked `challenge` until it is benchmarked again.
		pub(crate) fn deposit_weight() -> Weight {
			T::DbWeight::get().reads_writes(3, 3)
		}

		/// The receipt of `request`, while it is retained.
		pub fn receipt(request: T::JobId) -> Option<ReceiptOf<T>> {
			Receipts::<T>::get(request)
		}

		/// The storage key of `request`'s receipt, for proofs of it against a state root.
		pub fn receipt_key(request: T::JobId) -> Vec<u8> {
			Receipts::<T>::hashed_key_for(request)
		}

		/// The outputs of `request`'s verified result, while its receipt is retained.
		pub fn outputs(request: T::JobId) -> Option<Vec<Tensor>> {
			Outputs::<T>::get(request)
		}

		/// The receipts kept in `block` (an empty log if none were, or once they are pruned).
		pub fn receipt_log(block: BlockNumberFor<T>) -> ReceiptLog {
			ReceiptLogs::<T>::get(block).unwrap_or_default()
		}
	}
}
