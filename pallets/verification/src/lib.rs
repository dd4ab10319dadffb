//! # Verification
//!
//! Re-executes submitted inferences while the block that carries them is applied. The block
//! author and every complete node importing the block run the same deterministic engine (the
//! node's `inference` host functions) on the same model and input, so a wrong result hash makes
//! the submission fail its check on every honest node alike: verification is part of the
//! state transition, not an opinion of one node. Light clients do not execute blocks and so
//! never re-execute.
//!
//! Results of optimistic models are re-executed only when challenged; one that went
//! unchallenged through its window is [`accept_unchallenged`](ResultVerifier::accept_unchallenged)ed
//! and its receipt says so ([`VerifiedBy::Unchallenged`]).
//!
//! For each confirmed result the pallet keeps a [`Receipt`] — the proof document: request,
//! model hash, input hash, output hash, result hash, executor, engine version, block and how it
//! was verified — and
//! the outputs, for [`Config::ReceiptRetention`] blocks. A client checks a receipt against a
//! finalised header with a storage proof of [`Receipts`].
//!
//! The pallet has no calls: the requests pallet asks it to [`verify`](ResultVerifier::verify).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use veriml_inference_primitives::{EngineError, EngineVersion, Execution, ModelHash, Tensor, TensorSpec};
use veriml_primitives::Fuel;

/// Runs a registered model with the deterministic engine.
pub trait InferenceRunner {
	/// The engine version of the guest the chain runs now: the first field of the result
	/// hashes its runs make.
	fn engine_version() -> EngineVersion;

	/// Runs `model` (registered with `input_specs`) on `inputs` within `fuel_limit`.
	fn run(
		model: &ModelHash,
		input_specs: &[TensorSpec],
		inputs: &[Tensor],
		fuel_limit: Fuel,
	) -> Result<Execution, EngineError>;
}

pub use veriml_primitives::verification::{
	outcome_of, Claim, Job, Outcome, Receipt, ResultVerifier, Verdict, VerifiedBy,
};

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::Saturating;

	/// A receipt of this runtime.
	pub type ReceiptOf<T> = Receipt<<T as Config>::JobId, <T as frame_system::Config>::AccountId, BlockNumberFor<T>>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// Identifies what a result answers (an inference request's id).
		type JobId: Parameter + MaxEncodedLen + Copy;

		/// The deterministic engine.
		type Runner: InferenceRunner;

		/// Blocks a receipt and its outputs are kept after verification.
		#[pallet::constant]
		type ReceiptRetention: Get<BlockNumberFor<Self>>;
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
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let db = T::DbWeight::get();
			if now <= T::ReceiptRetention::get() {
				return db.reads(0);
			}
			let verified_in = now.saturating_sub(T::ReceiptRetention::get());
			let mut count = 0u32;
			for (id, ()) in VerifiedIn::<T>::drain_prefix(verified_in) {
				Receipts::<T>::remove(id);
				Outputs::<T>::remove(id);
				count += 1;
			}
			if count > 0 {
				Self::deposit_event(Event::ReceiptsPruned { verified_in, count });
			}
			db.reads_writes(1 + count as u64, 3 * count as u64 + 1)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	impl<T: Config> Pallet<T> {
		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// every receipt is due for pruning in the block it was verified in (and nothing else
		/// is), and outputs are kept exactly for the receipts of completed results, hashing
		/// to the receipt's output hash.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let mut receipts = 0usize;
			let mut with_outputs = 0usize;
			for (id, receipt) in Receipts::<T>::iter() {
				receipts += 1;
				ensure!(VerifiedIn::<T>::contains_key(receipt.verified_at, id), "a receipt is not due for pruning");
				match receipt.outcome {
					Outcome::Outputs { output_hash, .. } => {
						let outputs = Outputs::<T>::get(id).ok_or("a completed result has no outputs")?;
						ensure!(
							veriml_inference_primitives::output_hash(&outputs) == output_hash,
							"kept outputs do not hash to their receipt's output hash"
						);
						with_outputs += 1;
					},
					Outcome::Failed(_) => ensure!(!Outputs::<T>::contains_key(id), "a failed result has outputs"),
				}
			}
			ensure!(VerifiedIn::<T>::iter_keys().count() == receipts, "a receipt due for pruning is not kept");
			ensure!(Outputs::<T>::iter_keys().count() == with_outputs, "outputs without a receipt");
			Ok(())
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
	}

	impl<T: Config> ResultVerifier<T::JobId, T::AccountId> for Pallet<T> {
		fn execute(job: &Job<T::JobId, T::AccountId>) -> Result<Execution, EngineError> {
			T::Runner::run(&job.model, &job.input_specs, &job.inputs, job.fuel_limit)
		}

		fn verify(job: &Job<T::JobId, T::AccountId>, claim: &Claim) -> Verdict {
			let execution = Self::execute(job);
			let fuel_used = match &execution {
				Ok(execution) => execution.fuel_used,
				// A failed run may have used up to the whole limit.
				Err(_) => job.fuel_limit,
			};
			let expected = outcome_of(T::Runner::engine_version(), &job.model, &job.inputs, &execution);
			let claimed = claim.outcome();
			// Equal outcomes: the same error, or outputs with the same hash whose result hash
			// commits to them.
			let matches = claimed == expected;
			if !matches {
				Self::deposit_event(Event::ResultRefuted {
					request: job.id,
					executor: job.executor.clone(),
					claimed,
					expected,
				});
				return Verdict::Refuted { expected, fuel_used };
			}

			let outputs = execution.ok().map(|execution| execution.outputs);
			Self::keep_receipt(job, expected, outputs, VerifiedBy::ReExecution);
			Self::deposit_event(Event::ResultConfirmed {
				request: job.id,
				executor: job.executor.clone(),
				outcome: expected,
			});
			Verdict::Confirmed { outcome: expected, fuel_used }
		}

		fn accept_unchallenged(job: &Job<T::JobId, T::AccountId>, claim: Claim) -> Outcome {
			let outcome = claim.outcome();
			let outputs = match claim {
				Claim::Outputs { outputs, .. } => Some(outputs),
				Claim::Failure(_) => None,
			};
			Self::keep_receipt(job, outcome, outputs, VerifiedBy::Unchallenged);
			Self::deposit_event(Event::ResultAccepted { request: job.id, executor: job.executor.clone(), outcome });
			outcome
		}
	}

	impl<T: Config> Pallet<T> {
		/// Stores `job`'s receipt and outputs until the end of their retention.
		fn keep_receipt(
			job: &Job<T::JobId, T::AccountId>,
			outcome: Outcome,
			outputs: Option<Vec<Tensor>>,
			verified_by: VerifiedBy,
		) {
			let now = frame_system::Pallet::<T>::block_number();
			Receipts::<T>::insert(
				job.id,
				Receipt {
					request: job.id,
					model_hash: job.model,
					input_hash: veriml_inference_primitives::input_hash(&job.inputs),
					outcome,
					engine_version: T::Runner::engine_version(),
					executor: job.executor.clone(),
					verified_at: now,
					verified_by,
				},
			);
			if let Some(outputs) = outputs {
				Outputs::<T>::insert(job.id, outputs);
			}
			VerifiedIn::<T>::insert(now, job.id, ());
		}
	}
}
