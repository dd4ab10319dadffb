//! The host function through which the runtime's off-chain workers read a stored chunk: the
//! bytes a node keeps as indexed transaction data (`pallet-content-store`), by their
//! blake2-256. A storage node's worker reads the chunk it is challenged on and proves it keeps
//! it (`pallet-storage-proofs`).
//!
//! What a node keeps is its own business, not consensus: block execution must never depend on
//! it. So the function answers only off-chain calls (off-chain workers, RPC `state_call`,
//! transaction validation: [`Lane::Offchain`](veriml_inference_interface::Lane)); in a block's
//! execution (import, authoring) it answers `None` on every node alike. (The engine reads the
//! chunks of a model registered from the content store in block execution too, but checks
//! each against the hash the state holds and aborts the call without them: `inference::run_stored`.)

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use sp_core::H256;
use sp_runtime_interface::{
	pass_by::{AllocateAndReturnByCodec, PassPointerAndReadCopy},
	runtime_interface,
};
/// Where the node's chunks are read from: kept with the engine's host functions, which read a
/// stored model's chunks through the same source.
#[cfg(feature = "std")]
pub use veriml_inference_interface::{set_process_source, ChunkSource, ChunkSourceExt};

#[cfg(feature = "std")]
fn read_chunk(ext: &mut dyn sp_externalities::Externalities, hash: &H256) -> Option<Vec<u8>> {
	if veriml_inference_interface::current_lane() != veriml_inference_interface::Lane::Offchain {
		log::warn!(
			target: "veriml::storage",
			"a block's execution asked for stored chunk {hash:?}: what a node keeps is not consensus, the answer is none"
		);
		return None;
	}
	veriml_inference_interface::kept_chunk(ext, hash)
}

/// Reading the chunks this node keeps.
#[runtime_interface]
pub trait Content {
	/// The bytes this node keeps under blake2-256 `hash` (a stored chunk), if it has them and
	/// the call is off-chain; `None` in a block's execution.
	fn chunk(&mut self, hash: PassPointerAndReadCopy<H256, 32>) -> AllocateAndReturnByCodec<Option<Vec<u8>>> {
		read_chunk(*self, &hash)
	}
}
