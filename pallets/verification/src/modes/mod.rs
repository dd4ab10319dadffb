//! The verification modes: how a result is judged, now or later.
//!
//! A mode implements [`VerificationMode`] and is registered with one arm in [`submit`] (the
//! model registry's [`Verification`] names it in a model's terms) and, if it decides later,
//! one line in [`on_initialize`]. Decisions taken later reach the job's owner through
//! [`VerifiedJobs`]; every confirmed result gets its receipt ([`Pallet::keep_receipt`]).

mod in_block;
mod optimistic;

pub use in_block::InBlock;
pub use optimistic::Optimistic;

use crate::*;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::*;

/// One way of verifying results.
pub trait VerificationMode<T: Config> {
	/// Judges `claim` of `job` now ([`Submission::Decided`]) or takes it to decide later
	/// ([`Submission::Deferred`]). An error refuses the claim and changes nothing.
	fn submit(job: &JobOf<T>, claim: Claim) -> Result<Submission, DispatchError>;

	/// Takes the decisions due at the start of block `now`, as many as `budget` has room for
	/// (the rest wait for the next block); returns the weight used.
	fn on_initialize(_now: BlockNumberFor<T>, _budget: Weight) -> Weight {
		Weight::zero()
	}
}

/// Submits `claim` of `job` to the mode `mode` names.
pub(crate) fn submit<T: Config>(mode: Verification, job: &JobOf<T>, claim: Claim) -> Result<Submission, DispatchError> {
	match mode {
		Verification::InBlock => InBlock::<T>::submit(job, claim),
		Verification::Optimistic => Optimistic::<T>::submit(job, claim),
	}
}

/// Every mode's decisions due at the start of block `now`, within `budget`; returns the
/// weight used.
pub(crate) fn on_initialize<T: Config>(now: BlockNumberFor<T>, budget: Weight) -> Weight {
	let used = InBlock::<T>::on_initialize(now, budget);
	used.saturating_add(Optimistic::<T>::on_initialize(now, budget.saturating_sub(used)))
}

impl<T: Config> ResultVerifier<T::JobId, T::AccountId, BlockNumberFor<T>> for Pallet<T> {
	fn execute(job: &JobOf<T>) -> Result<Execution, EngineError> {
		let execution =
			T::Runner::run(&job.model, &job.input_specs, &job.inputs, job.fuel_limit, job.preparation_limit)?;
		// Outputs no result could carry: the run's failure, the same on every node.
		ensure!(execution.outputs.encoded_size() <= job.max_output_bytes as usize, EngineError::OutputTooLarge);
		Ok(execution)
	}

	fn submit(mode: Verification, job: &JobOf<T>, claim: Claim) -> Result<Submission, DispatchError> {
		submit::<T>(mode, job, claim)
	}

	fn proposal(id: T::JobId) -> Option<ProposalOf<T>> {
		Proposals::<T>::get(id)
	}

	fn has_receipt(id: T::JobId) -> bool {
		Receipts::<T>::contains_key(id)
	}

	fn decision_weight() -> Weight {
		T::DecisionWeight::get()
	}

	fn keep_receipt(
		id: T::JobId,
		model: ModelHash,
		input_hash: veriml_inference_primitives::H256,
		executor: T::AccountId,
		outcome: Outcome,
		outputs: Vec<Tensor>,
	) {
		Pallet::<T>::keep_receipt(id, model, input_hash, executor, outcome, Some(outputs), VerifiedBy::Unchallenged);
	}
}
