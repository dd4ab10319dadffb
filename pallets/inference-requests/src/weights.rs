//! Weights of `pallet_inference_requests`.
//!
//! PROVISIONAL until `scripts/benchmark/pallets.sh` generates this file from the benchmarks in
//! `benchmarking.rs`: each call's storage reads and writes with a compute estimate.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::{constants::ParityDbWeight, Weight}};

/// Weights of the calls of `pallet_inference_requests`.
pub trait WeightInfo {
	fn request(i: u32, ) -> Weight;
	fn submit_result(o: u32, ) -> Weight;
	fn report_failure() -> Weight;
	fn cancel(p: u32, ) -> Weight;
	fn on_initialize(e: u32, a: u32, ) -> Weight;
}

/// Estimated weights, with the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn request(i: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul((i / 1024).into()))
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(7_u64))
	}
	fn submit_result(o: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul((o / 1024).into()))
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	fn report_failure() -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	fn cancel(p: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(p.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
			.saturating_add(T::DbWeight::get().reads_writes(1, 1).saturating_mul(p.into()))
	}
	fn on_initialize(e: u32, a: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(e.into()))
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(a.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().reads_writes(1, 1).saturating_mul(e.into()))
			.saturating_add(T::DbWeight::get().reads_writes(1, 1).saturating_mul(a.into()))
	}
}

/// The same figures with ParityDB's database weights, for tests and mocks.
impl WeightInfo for () {
	fn request(i: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul((i / 1024).into()))
			.saturating_add(ParityDbWeight::get().reads(6_u64))
			.saturating_add(ParityDbWeight::get().writes(7_u64))
	}
	fn submit_result(o: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul((o / 1024).into()))
			.saturating_add(ParityDbWeight::get().reads(8_u64))
			.saturating_add(ParityDbWeight::get().writes(10_u64))
	}
	fn report_failure() -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(ParityDbWeight::get().reads(8_u64))
			.saturating_add(ParityDbWeight::get().writes(10_u64))
	}
	fn cancel(p: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(p.into()))
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().writes(6_u64))
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1).saturating_mul(p.into()))
	}
	fn on_initialize(e: u32, a: u32, ) -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(e.into()))
			.saturating_add(Weight::from_parts(1_000_000, 100).saturating_mul(a.into()))
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1).saturating_mul(e.into()))
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1).saturating_mul(a.into()))
	}
}
