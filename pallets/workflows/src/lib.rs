//! # Workflows
//!
//! Scheduled inference on data-feed values, paid from a prepaid budget.
//!
//! A user [`register`](Pallet::register)s a workflow: a model, how to build its input from
//! feed values ([`FeedInput`]: the last `values` aggregated values of a feed, oldest first,
//! one after the other), a period in blocks and a budget, held in escrow. At the start of each
//! due block the chain builds the input from the feeds' aggregated values and makes an
//! inference request for the workflow's owner, drawing the request's fee from the budget; the
//! request is then computed, verified and settled like any other (its receipt, events and
//! `veriml_subscribeResult` work as for a request made by hand). A run whose feeds do not have
//! enough values yet, or whose fee is above the workflow's `max_fee_per_run`, is skipped, not
//! charged. A workflow holds [`Config::WorkflowDeposit`] from its owner while it exists (the
//! workflows are a global, bounded set) and runs at least every [`Config::MaxPeriod`] blocks,
//! so no one keeps a slot without paying for runs. The workflow ends, with what is left of
//! its budget refunded and its deposit released, when its owner
//! [`cancel`](Pallet::cancel)s it, when the budget cannot pay another run, or when its model
//! can no longer be requested.
//!
//! Inputs: the model must take exactly one `f32` tensor with as many elements as the
//! workflow's values. A feed value `v` with `d` decimals becomes `v / 10^d`, rounded to the
//! nearest `f32` (computed in `f64` first), the same on every node.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use veriml_inference_primitives::{DType, Tensor, TensorSpec};
use veriml_primitives::feeds::{FeedId, FeedValue};

/// Makes models, nodes and feeds for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// A model taking one `[1, width]` f32 tensor that can be requested, with a node serving it.
	fn model(width: u32) -> veriml_inference_primitives::ModelHash;
	/// A new feed (distinct for each `index`) with `values` aggregated values.
	fn feed(index: u32, values: u32) -> FeedId;
	/// Gives `who` plenty to hold budgets and deposits.
	fn fund(who: &AccountId);
}

/// Identifies a workflow; assigned in order from 0.
pub type WorkflowId = u32;

/// One part of a workflow's input: the last `values` aggregated values of `feed`, oldest first.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct FeedInput {
	/// The feed.
	pub feed: FeedId,
	/// How many of its latest values: 1 for the latest only.
	pub values: u32,
}

/// Why a due run made no request (and charged nothing).
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum SkipReason {
	/// A feed has fewer aggregated values than the workflow reads (it has just started, or its
	/// rounds are missing).
	NotEnoughFeedValues,
	/// The request's fee is above the workflow's `max_fee_per_run` (the model's price or the
	/// execution fee went up).
	FeeAboveMax,
	/// The request was refused (for example, no node serves the model and the queue of waiting
	/// requests is full); the chain's error is in the log.
	RequestRefused,
}

/// Why a workflow ended.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum EndReason {
	/// Its owner cancelled it.
	Cancelled,
	/// What is left of the budget cannot pay another run.
	BudgetSpent,
	/// Its model was deprecated or removed, or became too costly to verify.
	ModelUnavailable,
	/// A feed it reads was removed.
	FeedRemoved,
}

/// Builds a workflow's input tensor of shape `spec` from `values` (each with its feed's
/// decimals), in order; `None` if `spec` is not an `f32` tensor of `values.len()` elements.
pub fn feed_tensor(spec: &TensorSpec, values: &[(FeedValue, u8)]) -> Option<Tensor> {
	if spec.dtype != DType::F32 || spec.element_count()? != values.len() {
		return None;
	}
	let data = values.iter().map(|&(value, decimals)| scaled(value, decimals)).collect::<Vec<f32>>();
	Some(Tensor::from_f32(&spec.shape, &data))
}

/// `value / 10^decimals` rounded to the nearest `f32` via `f64`: integer-to-float conversion,
/// multiplication and division are exactly rounded IEEE operations, so every node gets the same
/// bits (10^d is exact in `f64` up to d = 22).
fn scaled(value: FeedValue, decimals: u8) -> f32 {
	let scale = (0..decimals).fold(1f64, |scale, _| scale * 10.0);
	(value as f64 / scale) as f32
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		storage::{with_transaction, TransactionOutcome},
		traits::{
			fungible::{Inspect, InspectHold, MutateHold},
			tokens::Precision,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{One, Saturating, Zero},
		DispatchError,
	};
	use veriml_inference_primitives::ModelHash;
	use veriml_primitives::{
		escrow::Escrow,
		feeds::FeedValues,
		models::ModelCatalog,
		requests::{InferenceRequests, QuoteError, RequestId},
	};

	/// Logging target of workflow runs: `-l veriml::workflows=debug`.
	pub const LOG_TARGET: &str = "veriml::workflows";

	/// Balance of the currency budgets are held in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A workflow of this runtime.
	pub type WorkflowOf<T> =
		Workflow<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>, <T as Config>::MaxFeedInputs>;

	/// A registered workflow.
	#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(MaxInputs))]
	#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
	pub struct Workflow<AccountId, Balance, BlockNumber, MaxInputs: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// Who pays (from the budget) and is the requester of its requests.
		pub owner: AccountId,
		/// The model run.
		pub model: ModelHash,
		/// How the input is built from feed values, in order.
		pub inputs: BoundedVec<FeedInput, MaxInputs>,
		/// Blocks between runs.
		pub every: BlockNumber,
		/// Most a run may cost; a dearer run is skipped.
		pub max_fee_per_run: Balance,
		/// The block of the next run.
		pub next_run: BlockNumber,
		/// Requests made so far.
		pub runs: u32,
		/// The request of the latest run.
		pub last_request: Option<RequestId>,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency budgets are paid and deposits held in.
		type Currency: Inspect<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// Held from a workflow's owner while the workflow exists, released when it ends.
		#[pallet::constant]
		type WorkflowDeposit: Get<BalanceOf<Self>>;

		/// Most blocks between two runs of a workflow: a workflow pays for a run at least this
		/// often, or ends.
		#[pallet::constant]
		type MaxPeriod: Get<BlockNumberFor<Self>>;

		/// The registered models (a workflow's model must take one `f32` tensor).
		type Models: ModelCatalog<Self::AccountId, BalanceOf<Self>>;

		/// The data feeds whose aggregated values become the inputs.
		type Feeds: FeedValues;

		/// Makes the inference requests.
		type Requests: InferenceRequests<Self::AccountId, BalanceOf<Self>>;

		/// Holds the budgets.
		type Escrow: Escrow<WorkflowId, Self::AccountId, BalanceOf<Self>>;

		/// Most feed inputs of one workflow.
		#[pallet::constant]
		type MaxFeedInputs: Get<u32>;

		/// Most values one feed input may read (the feeds' history holds no more).
		#[pallet::constant]
		type MaxValuesPerInput: Get<u32>;

		/// Fewest blocks between two runs of a workflow.
		#[pallet::constant]
		type MinPeriod: Get<BlockNumberFor<Self>>;

		/// Most workflows at once: every one may be due in the same block.
		#[pallet::constant]
		type MaxWorkflows: Get<u32>;

		/// Weights of this pallet's calls and runs.
		type WeightInfo: WeightInfo;

		/// Makes models, nodes and feeds for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The id the next workflow gets.
	#[pallet::storage]
	pub type NextWorkflowId<T: Config> = StorageValue<_, WorkflowId, ValueQuery>;

	/// Registered workflows.
	#[pallet::storage]
	pub type Workflows<T: Config> = StorageMap<_, Twox64Concat, WorkflowId, WorkflowOf<T>>;

	/// How many workflows are registered.
	#[pallet::storage]
	pub type WorkflowCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// The deposit held for each workflow.
	#[pallet::storage]
	pub type Deposits<T: Config> = StorageMap<_, Twox64Concat, WorkflowId, BalanceOf<T>>;

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A workflow's deposit, while it exists.
		WorkflowDeposit,
	}

	/// Workflows by the block of their next run.
	#[pallet::storage]
	pub type Schedule<T: Config> = StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, WorkflowId, ()>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `owner` registered a workflow running `model` every `every` blocks from block
		/// `first_run`; `budget` is held in escrow and `deposit` held until it ends.
		Registered {
			workflow: WorkflowId,
			owner: T::AccountId,
			model: ModelHash,
			every: BlockNumberFor<T>,
			first_run: BlockNumberFor<T>,
			budget: BalanceOf<T>,
			deposit: BalanceOf<T>,
		},
		/// Run number `run` made inference request `request`, its `fee` drawn from the budget;
		/// `budget_left` remains.
		Ran { workflow: WorkflowId, run: u32, request: RequestId, fee: BalanceOf<T>, budget_left: BalanceOf<T> },
		/// A due run made no request and charged nothing; the next is at `next_run`.
		Skipped { workflow: WorkflowId, reason: SkipReason, next_run: BlockNumberFor<T> },
		/// The workflow ended; `refunded` of its budget went back to its owner, and its
		/// deposit was released.
		Ended { workflow: WorkflowId, reason: EndReason, refunded: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No model with this hash is registered.
		UnknownModel,
		/// The model cannot be requested now (deprecated, or too costly to verify).
		ModelNotRequestable,
		/// The model does not take exactly one `f32` tensor with as many elements as the
		/// workflow's feed values.
		InputDoesNotMatchModel,
		/// No feed with this id is registered.
		UnknownFeed,
		/// A workflow reads at least one feed input, of 1 to `MaxValuesPerInput` values.
		InvalidFeedInput,
		/// The period is shorter than `MinPeriod` blocks.
		PeriodTooShort,
		/// The period is longer than `MaxPeriod` blocks.
		PeriodTooLong,
		/// The model's fee now is above `max_fee_per_run`.
		FeeAboveMax,
		/// The budget does not pay one run at `max_fee_per_run`.
		BudgetTooSmall,
		/// The caller's free balance cannot cover the budget and the deposit.
		InsufficientBalance,
		/// `MaxWorkflows` workflows are registered.
		TooManyWorkflows,
		/// No workflow with this id is registered.
		UnknownWorkflow,
		/// Only the owner may cancel a workflow.
		NotOwner,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let due: Vec<WorkflowId> = Schedule::<T>::iter_key_prefix(now).collect();
			let _ = Schedule::<T>::clear_prefix(now, u32::MAX, None);
			let mut weight = T::WeightInfo::on_initialize_idle();
			for id in due {
				weight = weight.saturating_add(Self::run(id, now));
			}
			weight
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			let worst = T::WeightInfo::run(T::MaxFeedInputs::get())
				.saturating_mul(T::MaxWorkflows::get().into())
				.saturating_add(T::WeightInfo::on_initialize_idle());
			let max_block = T::BlockWeights::get().max_block;
			assert!(
				worst.all_lte(max_block),
				"MaxWorkflows runs due in one block ({worst}) exceed a block ({max_block}): lower MaxWorkflows"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a workflow: every `every` blocks from the next block, request an inference
		/// of `model` on the values of `inputs`, paying each run's fee (at most
		/// `max_fee_per_run`) from `budget`, held in escrow now.
		///
		/// The model must take one `f32` tensor with as many elements as `inputs` read values.
		/// Cancel it to get the rest of the budget back; it ends by itself when the budget
		/// cannot pay another run.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register(inputs.len() as u32).saturating_add(Pallet::<T>::deposit_weight()))]
		pub fn register(
			origin: OriginFor<T>,
			model: ModelHash,
			inputs: BoundedVec<FeedInput, T::MaxFeedInputs>,
			every: BlockNumberFor<T>,
			max_fee_per_run: BalanceOf<T>,
			budget: BalanceOf<T>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			ensure!(every >= T::MinPeriod::get(), Error::<T>::PeriodTooShort);
			ensure!(every <= T::MaxPeriod::get(), Error::<T>::PeriodTooLong);
			ensure!(!inputs.is_empty(), Error::<T>::InvalidFeedInput);
			let mut values = 0u32;
			for input in &inputs {
				ensure!(input.values > 0 && input.values <= T::MaxValuesPerInput::get(), Error::<T>::InvalidFeedInput);
				ensure!(T::Feeds::decimals(input.feed).is_some(), Error::<T>::UnknownFeed);
				values = values.saturating_add(input.values);
			}
			let terms = T::Models::terms(&model).ok_or(Error::<T>::UnknownModel)?;
			let [spec] = &terms.inputs[..] else { return Err(Error::<T>::InputDoesNotMatchModel.into()) };
			let zeros = alloc::vec![(0, 0); values as usize];
			ensure!(feed_tensor(spec, &zeros).is_some(), Error::<T>::InputDoesNotMatchModel);
			let fee = T::Requests::quote(&model).map_err(|error| match error {
				QuoteError::UnknownModel => Error::<T>::UnknownModel,
				_ => Error::<T>::ModelNotRequestable,
			})?;
			ensure!(fee.total() <= max_fee_per_run, Error::<T>::FeeAboveMax);
			ensure!(budget >= max_fee_per_run, Error::<T>::BudgetTooSmall);
			let count = WorkflowCount::<T>::get();
			ensure!(count < T::MaxWorkflows::get(), Error::<T>::TooManyWorkflows);

			let id = NextWorkflowId::<T>::get();
			let deposit = T::WorkflowDeposit::get();
			T::Currency::hold(&HoldReason::WorkflowDeposit.into(), &owner, deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			T::Escrow::lock(id, &owner, budget).map_err(|_| Error::<T>::InsufficientBalance)?;
			Deposits::<T>::insert(id, deposit);
			let first_run = frame_system::Pallet::<T>::block_number().saturating_add(One::one());
			Workflows::<T>::insert(
				id,
				Workflow {
					owner: owner.clone(),
					model,
					inputs,
					every,
					max_fee_per_run,
					next_run: first_run,
					runs: 0,
					last_request: None,
				},
			);
			Schedule::<T>::insert(first_run, id, ());
			NextWorkflowId::<T>::put(id.saturating_add(1));
			WorkflowCount::<T>::put(count.saturating_add(1));
			Self::deposit_event(Event::Registered { workflow: id, owner, model, every, first_run, budget, deposit });
			Ok(())
		}

		/// Cancel a workflow the caller owns: no more runs; the rest of its budget is refunded.
		/// Requests already made complete (or expire and are refunded) as usual.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::cancel().saturating_add(Pallet::<T>::deposit_weight()))]
		pub fn cancel(origin: OriginFor<T>, workflow: WorkflowId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let record = Workflows::<T>::get(workflow).ok_or(Error::<T>::UnknownWorkflow)?;
			ensure!(record.owner == who, Error::<T>::NotOwner);
			Self::end(workflow, &record, EndReason::Cancelled);
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Runs workflow `id`, due at `now`: one request, a skip, or its end. Returns the weight.
		fn run(id: WorkflowId, now: BlockNumberFor<T>) -> Weight {
			let Some(mut workflow) = Workflows::<T>::get(id) else { return T::WeightInfo::skip() };
			let fee = match T::Requests::quote(&workflow.model) {
				Ok(fee) => fee.total(),
				Err(_) => {
					Self::end(id, &workflow, EndReason::ModelUnavailable);
					return T::WeightInfo::end().saturating_add(Self::deposit_weight());
				},
			};
			let budget = T::Escrow::locked(id).map(|(_, amount)| amount).unwrap_or_else(Zero::zero);
			// A run the workflow would skip for its price does not end it.
			if fee <= workflow.max_fee_per_run && fee > budget {
				Self::end(id, &workflow, EndReason::BudgetSpent);
				return T::WeightInfo::end().saturating_add(Self::deposit_weight());
			}
			workflow.next_run = now.saturating_add(workflow.every);
			let outcome = Self::build_inputs(&workflow).and_then(|inputs| {
				if fee > workflow.max_fee_per_run {
					return Err(SkipReason::FeeAboveMax);
				}
				Self::request(id, &workflow, inputs, fee)
			});
			let weight = match outcome {
				Ok(request) => {
					workflow.runs = workflow.runs.saturating_add(1);
					workflow.last_request = Some(request);
					Self::deposit_event(Event::Ran {
						workflow: id,
						run: workflow.runs,
						request,
						fee,
						budget_left: budget.saturating_sub(fee),
					});
					T::WeightInfo::run(workflow.inputs.len() as u32)
				},
				Err(SkipReason::NotEnoughFeedValues) if Self::feed_removed(&workflow) => {
					Self::end(id, &workflow, EndReason::FeedRemoved);
					return T::WeightInfo::end().saturating_add(Self::deposit_weight());
				},
				Err(reason) => {
					Self::deposit_event(Event::Skipped { workflow: id, reason, next_run: workflow.next_run });
					T::WeightInfo::skip()
				},
			};
			Schedule::<T>::insert(workflow.next_run, id, ());
			Workflows::<T>::insert(id, workflow);
			weight
		}

		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// `WorkflowCount` counts the workflows; each has an id given out, its next run
		/// scheduled (and nothing else is), its budget in escrow from its owner and its deposit
		/// recorded (and no other workflow's is); each owner's held deposits are the sum of its
		/// workflows'.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let mut count = 0u32;
			for (id, workflow) in Workflows::<T>::iter() {
				count += 1;
				ensure!(id < NextWorkflowId::<T>::get(), "a workflow has an id not given out yet");
				ensure!(Schedule::<T>::contains_key(workflow.next_run, id), "a workflow's next run is not scheduled");
				ensure!(
					T::Escrow::locked(id).is_some_and(|(payer, _)| payer == workflow.owner),
					"a workflow's budget is not in escrow from its owner"
				);
			}
			ensure!(WorkflowCount::<T>::get() == count, "WorkflowCount does not count the workflows");
			let mut held = veriml_primitives::invariants::ExpectedHolds::default();
			for (id, deposit) in Deposits::<T>::iter() {
				held.add(Workflows::<T>::get(id).ok_or("a deposit of no workflow")?.owner, deposit);
			}
			held.check(
				|owner| T::Currency::balance_on_hold(&HoldReason::WorkflowDeposit.into(), owner),
				"an owner's held deposits are not its workflows'",
			)?;
			ensure!(Schedule::<T>::iter_keys().count() == count as usize, "a run is scheduled for no workflow");
			Ok(())
		}

		/// The input tensor of `workflow` from its feeds' latest aggregated values.
		fn build_inputs(workflow: &WorkflowOf<T>) -> Result<Vec<Tensor>, SkipReason> {
			let mut values = Vec::new();
			for input in &workflow.inputs {
				let decimals = T::Feeds::decimals(input.feed).ok_or(SkipReason::NotEnoughFeedValues)?;
				let latest = T::Feeds::latest(input.feed, input.values);
				if latest.len() < input.values as usize {
					return Err(SkipReason::NotEnoughFeedValues);
				}
				values.extend(latest.into_iter().map(|value| (value, decimals)));
			}
			let terms = T::Models::terms(&workflow.model).ok_or(SkipReason::RequestRefused)?;
			let spec = terms.inputs.first().ok_or(SkipReason::RequestRefused)?;
			let tensor = feed_tensor(spec, &values).ok_or(SkipReason::RequestRefused)?;
			Ok(alloc::vec![tensor])
		}

		/// Draws `fee` from the budget of workflow `id` and makes the request; all or nothing.
		fn request(
			id: WorkflowId,
			workflow: &WorkflowOf<T>,
			inputs: Vec<Tensor>,
			fee: BalanceOf<T>,
		) -> Result<RequestId, SkipReason> {
			with_transaction(|| {
				// Released from the budget's hold to the owner, then held again for the request.
				let drawn = T::Escrow::pay(id, &workflow.owner, fee)
					.and_then(|_| T::Requests::request(workflow.owner.clone(), workflow.model, inputs, fee));
				match drawn {
					Ok(request) => TransactionOutcome::Commit(Ok(request)),
					Err(error) => TransactionOutcome::Rollback(Err(error)),
				}
			})
			.map_err(|error: DispatchError| {
				log::warn!(target: LOG_TARGET, "workflow {id}: the request was refused: {error:?}");
				SkipReason::RequestRefused
			})
		}

		fn feed_removed(workflow: &WorkflowOf<T>) -> bool {
			workflow.inputs.iter().any(|input| T::Feeds::decimals(input.feed).is_none())
		}

		/// Holding or releasing a workflow's deposit and its record (the hold, the account, the
		/// deposit), beyond the benchmarked calls until they are benchmarked again.
		pub(crate) fn deposit_weight() -> Weight {
			T::DbWeight::get().reads_writes(3, 3)
		}

		/// Removes workflow `id`, refunds the rest of its budget and releases its deposit.
		fn end(id: WorkflowId, workflow: &WorkflowOf<T>, reason: EndReason) {
			Schedule::<T>::remove(workflow.next_run, id);
			Workflows::<T>::remove(id);
			WorkflowCount::<T>::mutate(|count| *count = count.saturating_sub(1));
			let refunded = T::Escrow::refund(id);
			if let Some(deposit) = Deposits::<T>::take(id) {
				if let Err(error) = T::Currency::release(
					&HoldReason::WorkflowDeposit.into(),
					&workflow.owner,
					deposit,
					Precision::BestEffort,
				) {
					frame_support::defensive!("a workflow's deposit held cannot be released", error);
				}
			}
			Self::deposit_event(Event::Ended { workflow: id, reason, refunded });
		}
	}
}
