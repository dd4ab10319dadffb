//! Benchmarks of the verification calls.

use super::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::traits::Get;
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

#[benchmarks(where T::JobId: From<u32>)]
mod benchmarks {
	use super::*;

	/// A challenge of a proposed result, with `d` challenges already waiting to be decided.
	#[benchmark]
	fn challenge(d: Linear<0, { T::MaxDisputes::get() - 1 }>) {
		let (job, challenger) = T::BenchmarkHelper::job(0);
		let until = frame_system::Pallet::<T>::block_number().saturating_add(T::ChallengePeriod::get());
		// As a submission to the optimistic mode leaves it.
		Proposals::<T>::insert(
			job.id,
			Proposal {
				node: job.executor.clone(),
				model: job.model,
				input_hash: job.input_hash,
				outcome: Outcome::Failed(veriml_inference_primitives::EngineError::FuelExhausted),
				challenge_until: until,
				challenger: None,
			},
		);
		ChallengeWindows::<T>::insert(until, job.id, ());
		let waiting: Vec<T::JobId> = (0..d).map(|i| T::JobId::from(1_000 + i)).collect();
		Disputes::<T>::put(frame_support::BoundedVec::truncate_from(waiting));
		#[extrinsic_call]
		_(RawOrigin::Signed(challenger.clone()), job.id);
		assert_eq!(Proposals::<T>::get(job.id).and_then(|p| p.challenger), Some(challenger));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
