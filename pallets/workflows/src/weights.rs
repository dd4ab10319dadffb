//! Weights of `pallet_workflows`.
//!
//! Not yet generated from benchmarks: these are the storage accesses each path makes, at the
//! runtime's database weights, plus compute bounded from the benchmarked calls they resemble
//! (a run makes a request: `pallet_inference_requests::request`, measured 0.19 ms, with its
//! 8 reads and 9 writes). Replace them with `scripts/benchmark/pallets.sh pallet_workflows`
//! once the pallet has benchmarks.

#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::Weight};

/// Weights of the calls and runs of `pallet_workflows`.
pub trait WeightInfo {
	/// `register` with `n` feed inputs.
	fn register(n: u32) -> Weight;
	fn cancel() -> Weight;
	/// `on_initialize` in a block where no workflow is due.
	fn on_initialize_idle() -> Weight;
	/// A run that makes a request, reading `n` feed inputs.
	fn run(n: u32) -> Weight;
	/// A run that is skipped.
	fn skip() -> Weight;
	/// A run that ends the workflow.
	fn end() -> Weight;
}

/// Weights with the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register(n: u32) -> Weight {
		// Model terms and quote, each feed, the count, the escrow hold.
		Weight::from_parts(120_000_000, 8_000)
			.saturating_add(Weight::from_parts(10_000_000, 600).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(7_u64 + n as u64))
			.saturating_add(T::DbWeight::get().writes(7_u64))
	}
	fn cancel() -> Weight {
		Weight::from_parts(80_000_000, 6_000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	fn on_initialize_idle() -> Weight {
		Weight::from_parts(5_000_000, 500).saturating_add(T::DbWeight::get().reads_writes(1, 1))
	}
	fn run(n: u32) -> Weight {
		// The request (0.19 ms, 8 reads, 9 writes) plus the draw from the budget and the feeds.
		Weight::from_parts(300_000_000, 12_000)
			.saturating_add(Weight::from_parts(15_000_000, 600).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(16_u64 + 2 * n as u64))
			.saturating_add(T::DbWeight::get().writes(16_u64))
	}
	fn skip() -> Weight {
		Weight::from_parts(100_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	fn end() -> Weight {
		Weight::from_parts(100_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
}

/// For tests: no weight.
impl WeightInfo for () {
	fn register(_: u32) -> Weight {
		Weight::zero()
	}
	fn cancel() -> Weight {
		Weight::zero()
	}
	fn on_initialize_idle() -> Weight {
		Weight::zero()
	}
	fn run(_: u32) -> Weight {
		Weight::zero()
	}
	fn skip() -> Weight {
		Weight::zero()
	}
	fn end() -> Weight {
		Weight::zero()
	}
}
