//! Benchmarks of the verification calls.

use super::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::traits::{
	fungible::{Inspect, Mutate},
	Get,
};
use frame_system::RawOrigin;
use sp_runtime::Saturating;

#[benchmarks(where T::JobId: From<u32>)]
mod benchmarks {
	use super::*;

	/// A challenge of a proposed result, with `d` challenges already waiting to be decided.
	#[benchmark]
	fn challenge(d: Linear<0, { T::MaxDisputes::get() - 1 }>) {
		let (job, challenger) = T::BenchmarkHelper::job(0);
		let deposit = T::ChallengeDeposit::get();
		let funds = deposit.saturating_add(deposit).saturating_add(T::Currency::minimum_balance());
		T::Currency::set_balance(&challenger, funds);
		// Proposed as a submission to the optimistic mode proposes it.
		let claim = Claim::Failure(veriml_inference_primitives::EngineError::FuelExhausted);
		let submitted = <Pallet<T> as ResultVerifier<_, _, _>>::submit(Verification::Optimistic, &job, claim);
		assert_eq!(submitted, Ok(Submission::Deferred));
		let waiting: Vec<T::JobId> = (0..d).map(|i| T::JobId::from(1_000 + i)).collect();
		Disputes::<T>::put(frame_support::BoundedVec::truncate_from(waiting));
		#[extrinsic_call]
		_(RawOrigin::Signed(challenger.clone()), job.id);
		assert_eq!(Proposals::<T>::get(job.id).and_then(|p| p.challenger), Some(challenger));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
