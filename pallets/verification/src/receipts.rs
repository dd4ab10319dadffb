//! Receipts, the proof documents of verified results: kept in state for
//! [`Config::ReceiptRetention`] blocks, logged per block ([`ReceiptLogs`], in the block's leaf of
//! the chain's Merkle Mountain Range) and archived in the node's off-chain database by
//! off-chain indexing, where a node reads them after they left state
//! ([`Pallet::archived_receipt`]).

use crate::*;
use alloc::vec::Vec;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::*;
use sp_runtime::offchain::StorageKind;
use sp_runtime::traits::{One, Saturating, Zero};
use veriml_inference_primitives::H256;

impl<T: Config> Pallet<T> {
	/// Stores the receipt of `executor`'s result for `id` (`model` run on inputs hashing to
	/// `input_hash`) and its outputs until the end of their retention.
	pub(crate) fn keep_receipt(
		id: T::JobId,
		model: ModelHash,
		input_hash: H256,
		executor: T::AccountId,
		outcome: Outcome,
		outputs: Option<Vec<Tensor>>,
		verified_by: VerifiedBy,
	) {
		let now = frame_system::Pallet::<T>::block_number();
		let receipt = Receipt {
			request: id,
			model_hash: model,
			input_hash,
			outcome,
			engine_version: T::Runner::engine_version(),
			executor,
			verified_at: now,
			verified_by,
		};
		let hash = receipt_hash(&receipt);
		let mut log = ReceiptLogs::<T>::get(now).unwrap_or_default();
		let before = log.append(&hash);
		// Archived by the head it leads to: content-addressed, so blocks of competing forks
		// never overwrite each other's entries.
		sp_io::offchain_index::set(&archive_key(&log.head), &(before, &receipt).encode());
		ReceiptLogs::<T>::insert(now, log);
		Receipts::<T>::insert(id, receipt);
		if let Some(outputs) = outputs {
			Outputs::<T>::insert(id, outputs);
		}
		VerifiedIn::<T>::insert(now, id, ());
	}

	/// Removes the receipts verified `ReceiptRetention` blocks before `now` and those of any
	/// earlier block not pruned yet (after the retention was shortened; at most
	/// [`PRUNED_BLOCKS_PER_BLOCK`] blocks a call), each with what was held for keeping it
	/// (`VerifiedJobs::receipt_pruned`); returns the weight used.
	pub(crate) fn prune_receipts(now: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		// The retention (read from state where it is a storage parameter) and the cursor.
		let mut used = db.reads(2);
		let retention = T::ReceiptRetention::get().max(2u32.into());
		let due = now.saturating_sub(retention);
		let cursor = NextToPrune::<T>::get();
		if due.is_zero() {
			// A chain's first blocks: pruning will start from its first block.
			if cursor.is_none() {
				NextToPrune::<T>::put(BlockNumberFor::<T>::one());
				used.saturating_accrue(db.writes(1));
			}
			return used;
		}
		// Absent on a chain that pruned before the cursor was kept: it pruned every block due.
		let mut next = cursor.unwrap_or(due);
		let mut pruned = 0;
		while next <= due && pruned < PRUNED_BLOCKS_PER_BLOCK {
			used.saturating_accrue(Self::prune_block(next));
			next.saturating_inc();
			pruned += 1;
		}
		NextToPrune::<T>::put(next);
		used.saturating_add(db.writes(1))
	}

	/// Removes the receipts verified in `verified_in` and its receipt log; returns the weight.
	fn prune_block(verified_in: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		let mut count = 0u32;
		let mut released = Weight::zero();
		for (id, ()) in VerifiedIn::<T>::drain_prefix(verified_in) {
			Receipts::<T>::remove(id);
			Outputs::<T>::remove(id);
			released.saturating_accrue(T::Jobs::receipt_pruned(id));
			count += 1;
		}
		ReceiptLogs::<T>::remove(verified_in);
		if count > 0 {
			Self::deposit_event(Event::ReceiptsPruned { verified_in, count });
		}
		db.reads_writes(1 + count as u64, 3 * count as u64 + 2).saturating_add(released)
	}

	/// The receipt of `request` among those `log` says were kept in a block, read from the
	/// node's off-chain database (a node indexing off-chain keeps every receipt there), with
	/// the head before it and the hashes of the receipts kept after it: what proves it against
	/// the log. Only for the node's own calls (runtime APIs given its off-chain database);
	/// each entry read is checked to lead to the head it is kept under.
	pub fn archived_receipt(
		request: T::JobId,
		log: &ReceiptLog,
	) -> Result<(ReceiptOf<T>, H256, Vec<H256>), ArchiveError> {
		let mut head = log.head;
		let mut after = Vec::new();
		for _ in 0..log.count {
			let entry = sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, &archive_key(&head))
				.ok_or(ArchiveError::NotArchived)?;
			let (before, receipt) =
				<(H256, ReceiptOf<T>)>::decode(&mut &entry[..]).map_err(|_| ArchiveError::NotArchived)?;
			let hash = receipt_hash(&receipt);
			if ReceiptLog::step(&before, &hash) != head {
				return Err(ArchiveError::NotArchived);
			}
			if receipt.request == request {
				after.reverse();
				return Ok((receipt, before, after));
			}
			after.push(hash);
			head = before;
		}
		Err(ArchiveError::NoSuchReceipt)
	}
}

/// The most blocks whose receipts one block prunes: one due by the retention, one more while a
/// shortened retention's backlog lasts.
pub const PRUNED_BLOCKS_PER_BLOCK: u32 = 2;

/// Where the off-chain database keeps the receipt whose logging led to `head`, with the head
/// before it: `veriml/receipt/` ++ `head`.
pub fn archive_key(head: &H256) -> Vec<u8> {
	[&b"veriml/receipt/"[..], head.as_bytes()].concat()
}
