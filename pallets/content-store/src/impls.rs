//! Deposits, fees, completing an item and expiry.

use crate::*;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate, MutateHold},
		tokens::{Precision, Preservation},
		Contains,
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{AccountIdConversion, Saturating};

/// Blocks' worth of expiry lists the start of one block looks through at most: after a block
/// whose list was longer than `MaxExpiriesPerBlock`, expiry catches up with the chain.
pub const EXPIRY_BLOCKS_PER_BLOCK: u32 = 4;

impl<T: Config> Pallet<T> {
	/// The store's account, into which retention fees are paid.
	pub fn account() -> T::AccountId {
		T::PalletId::get().into_account_truncating()
	}

	/// Makes the store's account exist (with the existential deposit, minted), so that any fee,
	/// however small, can be paid into it: at genesis, or at the upgrade that adds the store.
	/// Returns the weight used.
	pub fn ensure_account() -> Weight {
		let account = Self::account();
		let minimum = T::Currency::minimum_balance();
		if T::Currency::balance(&account) >= minimum {
			return T::DbWeight::get().reads(1);
		}
		let minted = T::Currency::mint_into(&account, minimum);
		debug_assert!(minted.is_ok(), "the store's account could not be made");
		T::DbWeight::get().reads_writes(2, 2)
	}

	/// The deposit held for an upload or item of `chunk_count` chunks.
	pub fn deposit_for(chunk_count: u32) -> BalanceOf<T> {
		T::DepositPerItem::get().saturating_add(T::DepositPerChunk::get().saturating_mul(chunk_count.into()))
	}

	/// The retention fee for keeping `chunk_count` chunks for `blocks` blocks.
	pub fn fee_for(chunk_count: u32, blocks: BlockNumberFor<T>) -> BalanceOf<T> {
		let blocks: u32 = blocks.try_into().unwrap_or(u32::MAX);
		T::FeePerChunkBlock::get().saturating_mul(chunk_count.into()).saturating_mul(blocks.into())
	}

	/// The length chunk `index` of an item of `byte_len` bytes must have.
	pub fn chunk_len(byte_len: u32, index: u32) -> u32 {
		veriml_primitives::content::chunk_len(byte_len, T::ChunkBytes::get(), index)
	}

	/// Indexes `data`, which must end the transaction being applied, under `hash`: nodes keep
	/// the last `data.len()` bytes of the transaction under that hash, so they must be `data`
	/// (`not_at_end` otherwise: the call is wrapped in one that adds bytes after it, or batched;
	/// `NotInBlock` outside a block's transactions).
	pub(crate) fn index_transaction_end(data: &[u8], hash: [u8; 32], not_at_end: Error<T>) -> DispatchResult {
		let extrinsic = frame_system::Pallet::<T>::extrinsic_index().ok_or(Error::<T>::NotInBlock)?;
		ensure!(frame_system::Pallet::<T>::extrinsic_data(extrinsic).ends_with(data), not_at_end);
		sp_io::transaction_index::index(extrinsic, data.len() as u32, hash);
		Ok(())
	}

	pub(crate) fn pay_fee(payer: &T::AccountId, fee: BalanceOf<T>) -> DispatchResult {
		T::Currency::transfer(payer, &Self::account(), fee, Preservation::Preserve)
			.map(|_| ())
			.map_err(|_| Error::<T>::InsufficientFee.into())
	}

	pub(crate) fn release_deposit(owner: &T::AccountId, deposit: BalanceOf<T>) {
		// The hold is the sum of the owner's deposits (try_state), so this releases all of it.
		let released = T::Currency::release(&HoldReason::ContentStorage.into(), owner, deposit, Precision::BestEffort);
		debug_assert_eq!(released.ok(), Some(deposit), "a content deposit was not held in full");
	}

	/// The upload's last chunk arrived: its manifest and chunk list are kept until its
	/// retention ends. If someone else's upload stored the same item meanwhile, this one's
	/// retention is added to that item's (up to `MaxRetention` ahead) and its deposit released:
	/// whoever completes first owns the item, and nobody loses what they paid for by being
	/// second.
	pub(crate) fn complete(owner: T::AccountId, root: ContentRoot, upload: UploadOf<T>) {
		let now = frame_system::Pallet::<T>::block_number();
		let chunk_count = upload.chunk_count();
		Uploads::<T>::remove(&owner, root);
		let segments = UploadSegments::<T>::take(&owner, root);
		Expiries::<T>::remove(upload.expires_at, Expiring::Upload(owner.clone(), root));
		if let Some(item) = Items::<T>::get(root) {
			let retained_until = item
				.retained_until
				.max(now)
				.saturating_add(upload.retain_for)
				.min(now.saturating_add(T::MaxRetention::get()));
			Self::retain_item_until(root, item, retained_until);
			Self::release_deposit(&owner, upload.deposit);
			Self::deposit_event(Event::UploadJoined { root, owner, deposit: upload.deposit, retained_until });
			return;
		}
		let retained_until = now.saturating_add(upload.retain_for);
		Expiries::<T>::insert(retained_until, Expiring::<T::AccountId>::Item(root), ());
		ItemChunks::<T>::insert(root, upload.chunk_hashes);
		if let Some(segments) = segments {
			ItemSegments::<T>::insert(root, segments);
			Self::add_provable(root);
		}
		Items::<T>::insert(
			root,
			Manifest {
				owner: owner.clone(),
				byte_len: upload.byte_len,
				chunk_count,
				stored_at: now,
				retained_until,
				deposit: upload.deposit,
			},
		);
		Self::deposit_event(Event::ContentStored {
			root,
			owner,
			byte_len: upload.byte_len,
			chunk_count,
			retained_until,
		});
	}

	/// Keeps item `root` until `retained_until`: its expiry moves to that block.
	pub(crate) fn retain_item_until(root: ContentRoot, mut item: ManifestOf<T>, retained_until: BlockNumberFor<T>) {
		Expiries::<T>::remove(item.retained_until, Expiring::<T::AccountId>::Item(root));
		Expiries::<T>::insert(retained_until, Expiring::<T::AccountId>::Item(root), ());
		item.retained_until = retained_until;
		Items::<T>::insert(root, item);
	}

	/// Removes an item (whose expiry entry is already gone) and releases its deposit.
	pub(crate) fn remove_item(root: ContentRoot, item: ManifestOf<T>, expired: bool) {
		Items::<T>::remove(root);
		ItemChunks::<T>::remove(root);
		FileNodes::<T>::remove(root);
		if ItemSegments::<T>::take(root).is_some() {
			Self::remove_provable(root);
		}
		Self::release_deposit(&item.owner, item.deposit);
		Self::deposit_event(Event::ContentRemoved { root, owner: item.owner, deposit: item.deposit, expired });
	}

	/// Adds `root` to the items storage nodes prove, at the end.
	pub(crate) fn add_provable(root: ContentRoot) {
		let position = ProvableCount::<T>::get();
		ProvableItems::<T>::insert(position, root);
		ProvablePositions::<T>::insert(root, position);
		ProvableCount::<T>::put(position.saturating_add(1));
	}

	/// Removes `root` from the items storage nodes prove: the last one takes its place.
	fn remove_provable(root: ContentRoot) {
		let Some(position) = ProvablePositions::<T>::take(root) else { return };
		let last = ProvableCount::<T>::get().saturating_sub(1);
		if position != last {
			if let Some(moved) = ProvableItems::<T>::get(last) {
				ProvableItems::<T>::insert(position, moved);
				ProvablePositions::<T>::insert(moved, position);
			}
		}
		ProvableItems::<T>::remove(last);
		ProvableCount::<T>::put(last);
	}

	/// Removes the uploads and items whose time ended by block `now`: at most
	/// `MaxExpiriesPerBlock` of them, looking through at most [`EXPIRY_BLOCKS_PER_BLOCK`] blocks'
	/// lists from [`NextExpiry`] on. Returns the weight used.
	pub(crate) fn expire(now: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		let mut weight = db.reads_writes(1, 1);
		let mut cursor = NextExpiry::<T>::get();
		let mut budget = T::MaxExpiriesPerBlock::get();
		let mut blocks = 0;
		while cursor <= now && blocks < EXPIRY_BLOCKS_PER_BLOCK {
			blocks += 1;
			let due: alloc::vec::Vec<_> =
				Expiries::<T>::drain_prefix(cursor).take(budget as usize).map(|(key, ())| key).collect();
			weight.saturating_accrue(db.reads(1));
			budget.saturating_reduce(due.len() as u32);
			for expiring in due {
				weight.saturating_accrue(T::WeightInfo::expire_one());
				Self::expire_one(cursor, expiring);
			}
			weight.saturating_accrue(db.reads(1));
			if Expiries::<T>::iter_prefix(cursor).next().is_some() {
				break;
			}
			cursor.saturating_inc();
			if budget == 0 {
				break;
			}
		}
		NextExpiry::<T>::put(cursor);
		weight
	}

	fn expire_one(at: BlockNumberFor<T>, expiring: ExpiringOf<T>) {
		match expiring {
			Expiring::Upload(owner, root) => {
				if let Some(upload) = Uploads::<T>::take(&owner, root) {
					UploadSegments::<T>::remove(&owner, root);
					debug_assert!(upload.expires_at == at, "an upload listed under another block than its expiry");
					Self::release_deposit(&owner, upload.deposit);
					Self::deposit_event(Event::UploadEnded { root, owner, deposit: upload.deposit, expired: true });
				}
			},
			Expiring::Item(root) => {
				if let Some(item) = Items::<T>::get(root) {
					debug_assert!(item.retained_until == at, "an item listed under another block than its expiry");
					if T::ContentPinned::contains(&root) {
						// Work in flight reads it (a request of the model registered from it):
						// it stays until that work is over, a `PinnedRetention` at a time.
						let retained_until = at.saturating_add(T::PinnedRetention::get());
						Self::retain_item_until(root, item, retained_until);
						Self::deposit_event(Event::ContentHeldOver { root, retained_until });
					} else {
						Self::remove_item(root, item, true);
					}
				}
			},
		}
	}
}

impl<T: Config> ProvableContent for Pallet<T> {
	fn provable_count() -> u32 {
		ProvableCount::<T>::get()
	}

	fn provable(n: u32) -> Option<(ContentRoot, u32)> {
		let root = ProvableItems::<T>::get(n)?;
		Items::<T>::get(root).map(|item| (root, item.chunk_count))
	}

	fn is_provable(root: &ContentRoot) -> bool {
		ProvablePositions::<T>::contains_key(root)
	}

	fn chunk(root: &ContentRoot, index: u32) -> Option<ProvableChunk> {
		let item = Items::<T>::get(root)?;
		let segment_root = *ItemSegments::<T>::get(root)?.get(index as usize)?;
		let hash = *ItemChunks::<T>::get(root)?.get(index as usize)?;
		Some(ProvableChunk { hash, segment_root, len: Self::chunk_len(item.byte_len, index) })
	}
}

impl<T: Config> StoredContent<T::AccountId, BlockNumberFor<T>> for Pallet<T> {
	fn item(root: &ContentRoot) -> Option<StoredItem<T::AccountId, BlockNumberFor<T>>> {
		Items::<T>::get(root).map(|item| StoredItem {
			owner: item.owner,
			byte_len: item.byte_len,
			chunk_count: item.chunk_count,
			stored_at: item.stored_at,
		})
	}

	fn chunk_list_key(root: &ContentRoot) -> alloc::vec::Vec<u8> {
		ItemChunks::<T>::hashed_key_for(root)
	}

	fn chunks(root: &ContentRoot) -> Option<alloc::vec::Vec<ChunkHash>> {
		ItemChunks::<T>::get(root).map(|chunks| chunks.into_inner())
	}
}
