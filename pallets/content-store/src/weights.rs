//! Weights of `pallet_content_store`.
//!
//! Estimated, not yet measured: `scripts/benchmark/pallets.sh` (which rewrites this file from
//! the pallet's benchmarks on the reference machine) has not been run for this pallet. The
//! figures take the registry's measured chunk upload (1 879 ps per byte hashed and copied,
//! `pallet_model_registry::weights`) with a third more for the bytes of a chunk (it is hashed,
//! and the transaction's end read back and compared with it), 4 µs per chunk for the Merkle
//! tree and list of an item (the tree takes at most three hashes a chunk), and the database
//! reads and writes each call makes, with a margin. A stored chunk's segment root (spec 116)
//! hashes each 256-byte segment and the tree over them: about two hashes per 128 bytes, 16 000 ps
//! a byte at 2 µs a hash in the runtime; `./scripts/test.sh` runs every benchmark
//! once on the mock.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::{constants::ParityDbWeight, Weight}};

/// Weights of the calls of `pallet_content_store`.
pub trait WeightInfo {
	fn begin_store(c: u32, ) -> Weight;
	fn store_chunk(b: u32, ) -> Weight;
	fn complete_item(c: u32, ) -> Weight;
	fn abort_store() -> Weight;
	fn renew() -> Weight;
	fn remove() -> Weight;
	fn expire_one() -> Weight;
	fn store_file_node(c: u32, ) -> Weight;
}

/// The estimates with the runtime's database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Reads `Items`, `Uploads`, the hold, both accounts; writes `Uploads`, `UploadSegments`,
	/// the hold, both accounts, `Expiries`.
	fn begin_store(c: u32, ) -> Weight {
		Weight::from_parts(200_000_000, 40_000)
			.saturating_add(Weight::from_parts(4_000_000, 64).saturating_mul(c.into()))
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	/// Reads `Uploads` (its chunk list), `UploadSegments`, the transaction; writes both; the
	/// chunk is hashed, and its segments and their tree for its segment root.
	fn store_chunk(b: u32, ) -> Weight {
		Weight::from_parts(80_000_000, 80_000)
			.saturating_add(Weight::from_parts(18_500, 2).saturating_mul(b.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// Writes `Items`, `ItemChunks`, `ItemSegments`, `Uploads`, `UploadSegments`, two
	/// `Expiries`, the proven items' index (three).
	fn complete_item(c: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 0)
			.saturating_add(Weight::from_parts(200_000, 64).saturating_mul(c.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	/// Reads `Uploads`, the hold; writes `Uploads`, `UploadSegments`, `Expiries`, the hold.
	fn abort_store() -> Weight {
		Weight::from_parts(150_000_000, 40_000)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Reads `Items`, both accounts; writes `Items`, both accounts, two `Expiries`.
	fn renew() -> Weight {
		Weight::from_parts(180_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Reads `Items`, whether a model uses the item (`ContentInUse`), the hold, the item's
	/// proving position and the last proven item; writes `Items`, `ItemChunks`, `ItemSegments`,
	/// `FileNodes`, `Expiries`, the hold and the proven items' index.
	fn remove() -> Weight {
		Weight::from_parts(150_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(11_u64))
	}
	/// Reads the upload or item and the hold, whether work in flight reads the item
	/// (`ContentPinned`: two reads in the runtime), an item's proving position and the last
	/// proven item; writes them, `ItemChunks`, `FileNodes`, the segment roots and the proven
	/// items' index.
	fn expire_one() -> Weight {
		Weight::from_parts(150_000_000, 40_000)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(11_u64))
	}
	/// Reads `Items`, `FileNodes`, `ItemChunks` (32 bytes a chunk) and the transaction (the
	/// node, at most 58 bytes a chunk); builds the node and hashes it; writes `FileNodes`.
	fn store_file_node(c: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 8_000)
			.saturating_add(Weight::from_parts(400_000, 96).saturating_mul(c.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
}

/// The same estimates with ParityDB's database weights, for tests and mocks.
impl WeightInfo for () {
	fn begin_store(c: u32, ) -> Weight {
		Weight::from_parts(200_000_000, 40_000)
			.saturating_add(Weight::from_parts(4_000_000, 64).saturating_mul(c.into()))
			.saturating_add(ParityDbWeight::get().reads(5_u64))
			.saturating_add(ParityDbWeight::get().writes(6_u64))
	}
	fn store_chunk(b: u32, ) -> Weight {
		Weight::from_parts(80_000_000, 80_000)
			.saturating_add(Weight::from_parts(18_500, 2).saturating_mul(b.into()))
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().writes(2_u64))
	}
	fn complete_item(c: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 0)
			.saturating_add(Weight::from_parts(200_000, 64).saturating_mul(c.into()))
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(10_u64))
	}
	fn abort_store() -> Weight {
		Weight::from_parts(150_000_000, 40_000)
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
	fn renew() -> Weight {
		Weight::from_parts(180_000_000, 8_000)
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().writes(5_u64))
	}
	fn remove() -> Weight {
		Weight::from_parts(150_000_000, 8_000)
			.saturating_add(ParityDbWeight::get().reads(5_u64))
			.saturating_add(ParityDbWeight::get().writes(11_u64))
	}
	fn expire_one() -> Weight {
		Weight::from_parts(150_000_000, 40_000)
			.saturating_add(ParityDbWeight::get().reads(6_u64))
			.saturating_add(ParityDbWeight::get().writes(11_u64))
	}
	fn store_file_node(c: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 8_000)
			.saturating_add(Weight::from_parts(400_000, 96).saturating_mul(c.into()))
			.saturating_add(ParityDbWeight::get().reads(4_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
}
