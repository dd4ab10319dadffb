//! The inference node's off-chain worker: computes the requests assigned to the node's `infr`
//! keys and submits their results, signed. (Re-executing other nodes' proposed results of
//! optimistic models and challenging the wrong ones is the verification pallet's worker; the
//! two share the role's lock and nonce records, [`veriml_offchain::inference`].)
//!
//! Restart-safe and exactly-once in effect: a persistent marker per (key, request) records the
//! block a result was submitted in, so a restarted node neither forgets nor re-sends work
//! already in the pool; after `ResubmitAfter` blocks without the request closing, the result is
//! sent again (the transaction may have been dropped). The chain refuses anything that is not
//! the first verified result of an open request it is assigned, so a duplicate costs nothing
//! but its fee. One worker runs at a time (a storage lock), and the worker numbers its own
//! transactions, so many results from one key can enter the same block.

use crate::{pallet::*, RequestId};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::traits::Get;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::{offchain::storage::StorageValueRef, traits::Saturating};
use veriml_inference_primitives::{result_hash, EngineError};
use veriml_offchain::inference::LOG_TARGET;
use veriml_offchain::{inference::WORKER_LOCK, run_with_keys, send_signed, NonceTracker, NONCE};
use veriml_primitives::{models::ModelCatalog, nodes::BondedNodes as _, verification::ResultVerifier};

const SUBMITTED: &[u8] = b"veriml/inference/submitted";

impl<T: Config> Pallet<T> {
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		// Not an inference node without an `infr` key in the keystore.
		run_with_keys::<T, T::AuthorityId>(WORKER_LOCK, 20, 120_000, LOG_TARGET, now, |accounts| {
			for account in &accounts {
				Self::work_for(now, account);
			}
		});
	}

	fn work_for(now: BlockNumberFor<T>, account: &Account<T>) {
		let node = &account.id;
		let assigned: Vec<RequestId> = Assignments::<T>::iter_key_prefix(node).collect();
		if assigned.is_empty() {
			return;
		}
		if T::Nodes::operator(node).is_none() {
			log::warn!(target: LOG_TARGET, "infr key {node:?} has assignments but is not a registered node");
			return;
		}
		let nonces = NonceTracker::<T>::load(NONCE, node, now, T::ResubmitAfter::get());
		let mut sent = 0u32;

		for id in assigned {
			let marker_key = (SUBMITTED, node, id).encode();
			let marker = StorageValueRef::persistent(&marker_key);
			if let Ok(Some(at)) = marker.get::<BlockNumberFor<T>>() {
				if now < at.saturating_add(T::ResubmitAfter::get()) {
					continue;
				}
				log::info!(target: LOG_TARGET, "request {id}: result sent at block {at:?} has not landed; sending it again");
			}
			let Some(request) = Requests::<T>::get(id) else { continue };
			let Some(terms) = T::Models::terms(&request.model) else { continue };
			let job = Self::job_of(id, &request, terms.inputs, node.clone());
			let started = sp_io::offchain::timestamp();
			let call = match T::Verifier::execute(&job) {
				Ok(execution) => {
					let hash = result_hash(
						T::Models::engine_versions().0,
						&job.model,
						&request.input_hash,
						&execution.outputs,
					);
					log::info!(
						target: LOG_TARGET,
						"request {id}: ran model {:?} in {} ms ({} fuel), result {hash:?}",
						job.model,
						sp_io::offchain::timestamp().diff(&started).millis(),
						execution.fuel_used,
					);
					Call::<T>::submit_result { request: id, outputs: execution.outputs, result_hash: hash }
				},
				// The model's bytes are not readable here: leave the request for later or for
				// another node. (A fault of this node's engine never reaches here: the host
				// aborts the worker's runtime call instead of answering.)
				Err(error @ EngineError::ModelUnavailable) => {
					log::warn!(target: LOG_TARGET, "request {id}: cannot run the model here: {error:?}");
					continue;
				},
				Err(error) => {
					log::info!(target: LOG_TARGET, "request {id}: the engine refuses the input: {error:?}");
					Call::<T>::report_failure { request: id, error }
				},
			};
			let nonce = nonces.claim();
			match send_signed::<T, T::AuthorityId, _>(call, account, nonce) {
				Ok(()) => {
					marker.set(&now);
					sent += 1;
				},
				Err(why) => {
					nonces.give_back(nonce);
					log::warn!(target: LOG_TARGET, "request {id}: the result was not sent: {why:?}");
				},
			}
		}

		if sent > 0 {
			log::debug!(target: LOG_TARGET, "block {now:?}: sent {sent} results from {node:?}");
		}
	}
}
