//! Weights of `pallet_storage_proofs`.
//!
//! Estimated, not yet measured (the pallet has no benchmarks yet): the database reads and
//! writes each step makes, with the content store's figures for a chunk list read and the
//! registry's for hashing, and a margin.
#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::{constants::ParityDbWeight, Weight}};

/// Weights of the calls and period starts of `pallet_storage_proofs`.
pub trait WeightInfo {
	fn prove() -> Weight;
	fn start_period(n: u32, ) -> Weight;
}

/// The estimates with the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Reads the challenge, the item, its chunk list and segment roots (64 KiB at most), the
	/// node, both accounts; writes the challenge, the node's strikes, both accounts; hashes
	/// the segment and up to 32 path nodes.
	fn prove() -> Weight {
		Weight::from_parts(300_000_000, 80_000)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// For each of `n` nodes: its open challenge (read, removed, and for a missed one the item,
	/// its chunk lists and the node's record read and written, a slash's hold and accounts),
	/// and its new challenge (an item drawn, its chunk lists read, the challenge written).
	fn start_period(n: u32, ) -> Weight {
		Weight::from_parts(20_000_000, 1_000)
			.saturating_add(Weight::from_parts(400_000_000, 160_000).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().reads(14_u64).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().writes(7_u64).saturating_mul(n.into()))
	}
}

/// The same estimates with ParityDB's database weights, for tests and mocks.
impl WeightInfo for () {
	fn prove() -> Weight {
		Weight::from_parts(300_000_000, 80_000)
			.saturating_add(ParityDbWeight::get().reads(7_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
	fn start_period(n: u32, ) -> Weight {
		Weight::from_parts(20_000_000, 1_000)
			.saturating_add(Weight::from_parts(400_000_000, 160_000).saturating_mul(n.into()))
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().reads(14_u64).saturating_mul(n.into()))
			.saturating_add(ParityDbWeight::get().writes(7_u64).saturating_mul(n.into()))
	}
}
