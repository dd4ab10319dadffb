//! Weights of `pallet_data_feeds`.
//!
//! PROVISIONAL: not generated yet. Each is 100 µs of compute plus the storage it touches at
//! the runtime's database weights, an over-estimate next to the measured calls of the other
//! pallets (`pallet_inference_nodes::register` measured 0.20 ms). `scripts/benchmark/pallets.sh
//! pallet_data_feeds` replaces this file from `benchmarking.rs`.

#![allow(unused_parens)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::Weight};

/// Weights of the calls of `pallet_data_feeds`.
pub trait WeightInfo {
	fn register_feed() -> Weight;
	fn remove_feed() -> Weight;
	fn register_node(f: u32) -> Weight;
	fn set_feeds(f: u32) -> Weight;
	fn bond_extra(f: u32) -> Weight;
	fn unbond(f: u32) -> Weight;
	fn withdraw() -> Weight;
	fn submit() -> Weight;
	/// Ending the rounds of `n` feeds, each with up to `MaxNodesPerFeed` nodes.
	fn on_initialize(n: u32) -> Weight;
}

const COMPUTE: Weight = Weight::from_parts(100_000_000, 0);
/// Proof size of one storage item, generous.
const PROOF: u64 = 4_000;

fn touching<T: frame_system::Config>(reads: u64, writes: u64) -> Weight {
	COMPUTE
		.saturating_add(T::DbWeight::get().reads_writes(reads, writes))
		.saturating_add(Weight::from_parts(0, PROOF.saturating_mul(reads)))
}

/// Provisional weights with the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_feed() -> Weight {
		touching::<T>(4, 6)
	}
	fn remove_feed() -> Weight {
		touching::<T>(3, 6)
	}
	fn register_node(f: u32) -> Weight {
		touching::<T>(3 + 2 * f as u64, 2 + f as u64)
	}
	fn set_feeds(f: u32) -> Weight {
		touching::<T>(1 + 3 * f as u64, 1 + 2 * f as u64)
	}
	fn bond_extra(f: u32) -> Weight {
		touching::<T>(2 + f as u64, 2 + f as u64)
	}
	fn unbond(f: u32) -> Weight {
		touching::<T>(1 + f as u64, 1 + f as u64)
	}
	fn withdraw() -> Weight {
		touching::<T>(2, 2)
	}
	fn submit() -> Weight {
		touching::<T>(3, 1)
	}
	fn on_initialize(n: u32) -> Weight {
		// Per feed: the feed, its submissions, history, nodes, and a strike (node record,
		// holds, the slash destination) for each of up to 16 nodes.
		touching::<T>(1, 1).saturating_add(touching::<T>(5 + 16 * 3, 4 + 16 * 3).saturating_mul(n as u64))
	}
}

impl WeightInfo for () {
	fn register_feed() -> Weight {
		Weight::zero()
	}
	fn remove_feed() -> Weight {
		Weight::zero()
	}
	fn register_node(_f: u32) -> Weight {
		Weight::zero()
	}
	fn set_feeds(_f: u32) -> Weight {
		Weight::zero()
	}
	fn bond_extra(_f: u32) -> Weight {
		Weight::zero()
	}
	fn unbond(_f: u32) -> Weight {
		Weight::zero()
	}
	fn withdraw() -> Weight {
		Weight::zero()
	}
	fn submit() -> Weight {
		Weight::zero()
	}
	fn on_initialize(_n: u32) -> Weight {
		Weight::zero()
	}
}
