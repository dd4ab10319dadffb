//! The store's invariants (`try_state`).

use crate::*;
use frame_support::{pallet_prelude::*, traits::fungible::InspectHold};
use veriml_primitives::{content, invariants::ExpectedHolds};

impl<T: Config> Pallet<T> {
	/// The store's invariants, checked by `try_state` and after every block of the tests:
	/// every item's chunk list makes its root and counts its chunks; every upload's bits count
	/// its received chunks and its hashes make its root; every upload and item is listed once
	/// in the expiry lists, under the block it expires at, and the lists name nothing else and
	/// nothing behind the cursor; segment roots are kept exactly for the chunks stored, and every
	/// item with them is at its place among the proven items; each account's `ContentStorage` hold is the sum of its
	/// deposits.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use frame_support::traits::fungible::Inspect;
		let mut deposits = ExpectedHolds::default();
		let mut listed = 0usize;
		for (root, item) in Items::<T>::iter() {
			let hashes = ItemChunks::<T>::get(root).ok_or("a stored item has no chunk list")?;
			ensure!(hashes.len() as u32 == item.chunk_count, "an item's chunk list is not its chunk count");
			ensure!(content::chunk_root(&hashes) == root, "an item's chunks do not make its root");
			ensure!(
				item.byte_len.div_ceil(T::ChunkBytes::get()) == item.chunk_count,
				"an item's length does not take its chunks"
			);
			ensure!(
				Expiries::<T>::contains_key(item.retained_until, Expiring::<T::AccountId>::Item(root)),
				"an item is not listed under the end of its retention"
			);
			match ItemSegments::<T>::get(root) {
				Some(segments) => {
					ensure!(
						segments.len() as u32 == item.chunk_count,
						"an item's segment roots are not its chunk count"
					);
					ensure!(segments.iter().all(|s| !s.is_zero()), "an item lacks a chunk's segment root");
					let position = ProvablePositions::<T>::get(root).ok_or("a proven item has no position")?;
					ensure!(ProvableItems::<T>::get(position) == Some(root), "a proven item is not at its position");
				},
				None => ensure!(!ProvablePositions::<T>::contains_key(root), "an item without segment roots is proven"),
			}
			listed += 1;
			deposits.add(item.owner.clone(), item.deposit);
		}
		let count = ProvableCount::<T>::get();
		ensure!(ProvableItems::<T>::iter_keys().all(|position| position < count), "a proven item beyond the count");
		ensure!(ProvableItems::<T>::iter_keys().count() as u32 == count, "the proven items are not counted");
		ensure!(ProvablePositions::<T>::iter_keys().count() as u32 == count, "a position of no proven item");
		ensure!(ItemSegments::<T>::iter_keys().all(Items::<T>::contains_key), "segment roots of no stored item");
		ensure!(FileNodes::<T>::iter_keys().all(Items::<T>::contains_key), "a file node of no stored item");
		ensure!(ItemChunks::<T>::iter_keys().count() == Items::<T>::iter_keys().count(), "a chunk list of no item");
		for (owner, root, upload) in Uploads::<T>::iter() {
			ensure!(content::chunk_root(&upload.chunk_hashes) == root, "an upload's chunks do not make its root");
			let bits: u32 = upload.received.iter().map(|byte| byte.count_ones()).sum();
			ensure!(bits == upload.chunks_received, "an upload's bits are not its received chunks");
			ensure!(upload.chunks_received < upload.chunk_count(), "a complete upload was not made an item");
			ensure!(
				Expiries::<T>::contains_key(upload.expires_at, Expiring::Upload(owner.clone(), root)),
				"an upload is not listed under its expiry"
			);
			if let Some(segments) = UploadSegments::<T>::get(&owner, root) {
				ensure!(segments.len() as u32 == upload.chunk_count(), "an upload's segment roots are not its chunks");
				for (index, segment) in segments.iter().enumerate() {
					ensure!(
						segment.is_zero() != upload.has(index as u32),
						"an upload's segment roots are not its received chunks"
					);
				}
			}
			listed += 1;
			deposits.add(owner, upload.deposit);
		}
		ensure!(
			UploadSegments::<T>::iter_keys().all(|(owner, root)| Uploads::<T>::contains_key(owner, root)),
			"segment roots of no upload"
		);
		let cursor = NextExpiry::<T>::get();
		for (at, _) in Expiries::<T>::iter_keys() {
			ensure!(at >= cursor, "an expiry behind the cursor");
		}
		ensure!(Expiries::<T>::iter_keys().count() == listed, "the expiry lists name what is not stored");
		ensure!(
			T::Currency::balance(&Self::account()) >= T::Currency::minimum_balance(),
			"the store's account does not exist"
		);
		deposits.check(
			|who| T::Currency::balance_on_hold(&HoldReason::ContentStorage.into(), who),
			"an account's ContentStorage hold is not the sum of its deposits",
		)
	}
}
