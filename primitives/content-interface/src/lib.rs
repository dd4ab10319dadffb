//! The host function through which the runtime's off-chain workers read a stored chunk: the
//! bytes a node keeps as indexed transaction data (`pallet-content-store`), by their
//! blake2-256. A storage node's worker reads the chunk it is challenged on and proves it keeps
//! it (`pallet-storage-proofs`).
//!
//! What a node keeps is its own business, not consensus: block execution must never depend on
//! it. So the function answers only off-chain calls (off-chain workers, RPC `state_call`,
//! transaction validation: [`Lane::Offchain`](veriml_inference_interface::Lane)); in a block's
//! execution (import, authoring) it answers `None` on every node alike.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use sp_core::H256;
use sp_runtime_interface::{
	pass_by::{AllocateAndReturnByCodec, PassPointerAndReadCopy},
	runtime_interface,
};

/// Where a node reads the chunks it keeps: its database's indexed transactions.
#[cfg(feature = "std")]
pub trait ChunkSource: Send + Sync {
	/// The bytes kept under `hash`, if this node has them.
	fn chunk(&self, hash: &H256) -> Option<Vec<u8>>;
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The chunks a runtime call reads (tests register one; the node sets its database for
	/// the whole process with [`set_process_source`]).
	pub struct ChunkSourceExt(std::sync::Arc<dyn ChunkSource>);
}

#[cfg(feature = "std")]
impl ChunkSourceExt {
	/// Wraps a source for registration.
	pub fn new(source: std::sync::Arc<dyn ChunkSource>) -> Self {
		Self(source)
	}
}

#[cfg(feature = "std")]
static PROCESS_SOURCE: std::sync::OnceLock<std::sync::Arc<dyn ChunkSource>> = std::sync::OnceLock::new();

/// Sets where runtime calls of this process read chunks (the node's database); `false` if it
/// was set already.
#[cfg(feature = "std")]
pub fn set_process_source(source: std::sync::Arc<dyn ChunkSource>) -> bool {
	PROCESS_SOURCE.set(source).is_ok()
}

#[cfg(feature = "std")]
fn read_chunk(mut ext: &mut dyn sp_externalities::Externalities, hash: &H256) -> Option<Vec<u8>> {
	use sp_externalities::ExternalitiesExt;
	if veriml_inference_interface::current_lane() != veriml_inference_interface::Lane::Offchain {
		log::warn!(
			target: "veriml::storage",
			"a block's execution asked for stored chunk {hash:?}: what a node keeps is not consensus, the answer is none"
		);
		return None;
	}
	let source =
		ext.extension::<ChunkSourceExt>().map(|ext| ext.0.clone()).or_else(|| PROCESS_SOURCE.get().cloned())?;
	source.chunk(hash)
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
