//! The storage node's off-chain worker: for each `stor` key with an open challenge, reads the
//! challenged chunk from the node's own database (the `content::chunk` host function), proves
//! the challenged segment and sends the proof, signed, once per challenge.
//!
//! A node without the chunk (never synced it, or pruned its block bodies with
//! `--blocks-pruning`) sends nothing and is struck when the period ends.

use crate::{pallet::*, BondedNodes, ProvableContent};
use codec::Encode;
use frame_support::BoundedVec;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::{offchain::storage::StorageValueRef, traits::Saturating};
use veriml_offchain::{run_with_keys, send_signed, NonceTracker, NONCE};

pub use crate::impls::LOG_TARGET;

const WORKER_LOCK: &[u8] = b"veriml/storage/worker-lock";
const SENT: &[u8] = b"veriml/storage/sent";
const MISSING: &[u8] = b"veriml/storage/missing";
/// Blocks after which a proof that has not landed counts as dropped.
const RESUBMIT_AFTER: u32 = 3;

/// The key of a storage node's tally of challenges it could not answer because it lacks the
/// chunk (each counted once), in its persistent off-chain storage (a SCALE `u64`).
pub const MISSING_CHUNKS_KEY: &[u8] = b"veriml/storage/missing-chunks";

impl<T: Config> Pallet<T> {
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		// Not a storage node without a `stor` key in the keystore.
		run_with_keys::<T, T::AuthorityId>(WORKER_LOCK, 10, 60_000, LOG_TARGET, now, |accounts| {
			for account in &accounts {
				Self::prove_for(now, account);
			}
		});
	}

	fn prove_for(now: BlockNumberFor<T>, account: &Account<T>) {
		let node = &account.id;
		let Some(challenge) = Challenges::<T>::get(node) else { return };
		let marker_key = (SENT, node).encode();
		let marker = StorageValueRef::persistent(&marker_key);
		// Sent for this challenge, and not long enough ago to count as dropped.
		let sent = marker.get::<(BlockNumberFor<T>, BlockNumberFor<T>)>().ok().flatten();
		if sent.is_some_and(|(issued_at, sent_at)| {
			issued_at == challenge.issued_at && now < sent_at.saturating_add(RESUBMIT_AFTER.into())
		}) {
			return;
		}
		if T::Nodes::operator(node).is_none() {
			return;
		}
		let Some(chunk) = T::Content::chunk(&challenge.root, challenge.chunk) else { return };
		let Some(bytes) = veriml_content_interface::content::chunk(chunk.hash) else {
			// Tried again each block (the node may still be importing the chunk's block), told
			// and counted once per challenge.
			let told_key = (MISSING, node).encode();
			let told = StorageValueRef::persistent(&told_key);
			if told.get::<BlockNumberFor<T>>().ok().flatten() == Some(challenge.issued_at) {
				log::debug!(target: LOG_TARGET, "still without chunk {:?}", chunk.hash);
				return;
			}
			told.set(&challenge.issued_at);
			log::warn!(
				target: LOG_TARGET,
				"challenged on chunk {} of {:?} ({:?}), which this node does not keep: no proof is sent",
				challenge.chunk,
				challenge.root,
				chunk.hash
			);
			let tally = StorageValueRef::persistent(MISSING_CHUNKS_KEY);
			let missing = tally.get::<u64>().ok().flatten().unwrap_or_default();
			tally.set(&missing.saturating_add(1));
			return;
		};
		let proven = veriml_primitives::content::segment_proof(&bytes, challenge.segment)
			.and_then(|(segment, path)| Some((BoundedVec::try_from(segment).ok()?, BoundedVec::try_from(path).ok()?)));
		let Some((segment, proof)) = proven else {
			log::warn!(target: LOG_TARGET, "the kept bytes of {:?} have no segment {}", chunk.hash, challenge.segment);
			return;
		};
		let nonces = NonceTracker::<T>::load(NONCE, node, now, RESUBMIT_AFTER.into());
		let nonce = nonces.claim();
		match send_signed::<T, T::AuthorityId, _>(Call::<T>::prove { segment, proof }, account, nonce) {
			Ok(()) => {
				log::info!(
					target: LOG_TARGET,
					"proved segment {} of chunk {} of {:?}",
					challenge.segment,
					challenge.chunk,
					challenge.root
				);
				marker.set(&(challenge.issued_at, now));
			},
			Err(why) => {
				nonces.give_back(nonce);
				log::warn!(target: LOG_TARGET, "the proof was not sent: {why:?}");
			},
		}
	}
}
