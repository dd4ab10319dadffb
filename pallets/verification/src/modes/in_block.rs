//! Re-execution in the block that carries the result.

use super::VerificationMode;
use crate::*;
use core::marker::PhantomData;
use frame_support::pallet_prelude::*;

/// Every result is re-executed while the block that carries it is applied, by the author and
/// by every node importing the block; the verdict is known at once.
pub struct InBlock<T>(PhantomData<T>);

impl<T: Config> InBlock<T> {
	/// Re-executes `job` and judges `claim`; a confirmed claim's receipt and outputs are kept.
	pub(crate) fn verify(job: &JobOf<T>, claim: &Claim) -> Verdict {
		let execution = <Pallet<T> as ResultVerifier<_, _, _>>::execute(job);
		let fuel_used = match &execution {
			Ok(execution) => execution.fuel_used,
			// A failed run may have used up to the whole limit.
			Err(_) => job.fuel_limit,
		};
		let expected = outcome_of(T::Runner::engine_version(), &job.model, &job.inputs, &execution);
		let claimed = claim.outcome();
		// Equal outcomes: the same error, or outputs with the same hash whose result hash
		// commits to them.
		if claimed != expected {
			Pallet::<T>::deposit_event(Event::ResultRefuted {
				request: job.id,
				executor: job.executor.clone(),
				claimed,
				expected,
			});
			return Verdict::Refuted { expected, fuel_used };
		}
		let outputs = execution.ok().map(|execution| execution.outputs);
		Pallet::<T>::keep_receipt(
			job.id,
			job.model,
			job.input_hash,
			job.executor.clone(),
			expected,
			outputs,
			VerifiedBy::ReExecution,
		);
		Pallet::<T>::deposit_event(Event::ResultConfirmed {
			request: job.id,
			executor: job.executor.clone(),
			outcome: expected,
		});
		Verdict::Confirmed { outcome: expected, fuel_used }
	}
}

impl<T: Config> VerificationMode<T> for InBlock<T> {
	fn submit(job: &JobOf<T>, claim: Claim) -> Result<Submission, DispatchError> {
		Ok(Submission::Decided(Self::verify(job, &claim)))
	}
}
