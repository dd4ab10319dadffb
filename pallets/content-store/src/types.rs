//! What the store keeps about uploads and stored items.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use scale_info::TypeInfo;
pub use veriml_primitives::content::{
	ChunkHash, ContentRoot, ProvableChunk, ProvableContent, SegmentRoot, StoredContent, StoredItem,
};

/// An item on its way to the store, chunk by chunk.
#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxChunks))]
#[codec(mel_bound(Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct Upload<Balance, BlockNumber, MaxChunks: Get<u32>>
where
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// Length of the item in bytes.
	pub byte_len: u32,
	/// The chunks' blake2-256 hashes, in order: what each chunk must hash to.
	pub chunk_hashes: BoundedVec<ChunkHash, MaxChunks>,
	/// Which chunks were stored: bit `i % 8` of byte `i / 8` for chunk `i`.
	pub received: BoundedVec<u8, MaxChunks>,
	/// How many chunks were stored.
	pub chunks_received: u32,
	/// Blocks the item is kept for once complete (its retention fee was paid for them).
	pub retain_for: BlockNumber,
	/// Deposit held from the uploader for the records in state.
	pub deposit: Balance,
	/// The block at whose start the upload expires if it is not complete.
	pub expires_at: BlockNumber,
}

impl<Balance, BlockNumber, MaxChunks: Get<u32>> Upload<Balance, BlockNumber, MaxChunks>
where
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The number of chunks.
	pub fn chunk_count(&self) -> u32 {
		self.chunk_hashes.len() as u32
	}

	/// Whether chunk `index` was stored.
	pub fn has(&self, index: u32) -> bool {
		self.received.get((index / 8) as usize).is_some_and(|byte| byte & (1 << (index % 8)) != 0)
	}

	/// Marks chunk `index` as stored (once).
	pub fn mark(&mut self, index: u32) {
		if let Some(byte) = self.received.get_mut((index / 8) as usize) {
			if *byte & (1 << (index % 8)) == 0 {
				*byte |= 1 << (index % 8);
				self.chunks_received += 1;
			}
		}
	}
}

/// A stored item: what state keeps of bytes it does not hold.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Manifest<AccountId, Balance, BlockNumber> {
	/// Who stored the item, and may remove it.
	pub owner: AccountId,
	/// Length of the item in bytes.
	pub byte_len: u32,
	/// Number of chunks: every one but the last is `ChunkBytes` long.
	pub chunk_count: u32,
	/// The block the last chunk was stored in.
	pub stored_at: BlockNumber,
	/// The block at whose start the item leaves state, unless renewed.
	pub retained_until: BlockNumber,
	/// Deposit held from the owner for the records in state.
	pub deposit: Balance,
}

/// What leaves state at a block: an upload not completed in time, or an item whose retention
/// ended.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum Expiring<AccountId> {
	/// The upload of `ContentRoot` by `AccountId`.
	Upload(AccountId, ContentRoot),
	/// The stored item.
	Item(ContentRoot),
}

/// The most bytes of an item's file node: [`content::max_file_node_bytes`] of `MaxChunks`.
pub struct MaxFileNodeBytes<T>(core::marker::PhantomData<T>);

impl<T: crate::Config> frame_support::traits::Get<u32> for MaxFileNodeBytes<T> {
	fn get() -> u32 {
		veriml_primitives::content::max_file_node_bytes(T::MaxChunks::get())
	}
}
