//! Receipts, the proof documents of verified results, and their pruning after
//! [`Config::ReceiptRetention`] blocks.

use crate::*;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::*;
use sp_runtime::traits::Saturating;
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
		Receipts::<T>::insert(
			id,
			Receipt {
				request: id,
				model_hash: model,
				input_hash,
				outcome,
				engine_version: T::Runner::engine_version(),
				executor,
				verified_at: now,
				verified_by,
			},
		);
		if let Some(outputs) = outputs {
			Outputs::<T>::insert(id, outputs);
		}
		VerifiedIn::<T>::insert(now, id, ());
	}

	/// Removes the receipts verified `ReceiptRetention` blocks before `now`, each with what was
	/// held for keeping it (`VerifiedJobs::receipt_pruned`); returns the weight used.
	pub(crate) fn prune_receipts(now: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		if now <= T::ReceiptRetention::get() {
			return db.reads(0);
		}
		let verified_in = now.saturating_sub(T::ReceiptRetention::get());
		let mut count = 0u32;
		let mut released = Weight::zero();
		for (id, ()) in VerifiedIn::<T>::drain_prefix(verified_in) {
			Receipts::<T>::remove(id);
			Outputs::<T>::remove(id);
			released.saturating_accrue(T::Jobs::receipt_pruned(id));
			count += 1;
		}
		if count > 0 {
			Self::deposit_event(Event::ReceiptsPruned { verified_in, count });
		}
		db.reads_writes(1 + count as u64, 3 * count as u64 + 1).saturating_add(released)
	}
}
