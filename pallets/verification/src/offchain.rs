//! The challenger's off-chain worker: an inference node re-executes other nodes' proposed
//! results of optimistic models once each and challenges the wrong ones, with its first
//! registered `infr` key. It shares the inference role's lock and nonce records with the
//! requests pallet's worker ([`veriml_offchain::inference`]), which signs results with the
//! same keys.

use crate::*;
use codec::Encode;
use frame_support::traits::{
	fungible::Inspect,
	tokens::{Fortitude, Preservation},
	Get,
};
use frame_system::pallet_prelude::BlockNumberFor;
use veriml_offchain::{
	inference::{LOG_TARGET, WORKER_LOCK},
	run_with_keys, send_signed, CheckMarker, NonceTracker, NONCE,
};
use veriml_primitives::nodes::BondedNodes;

/// Marks a proposal a key has re-executed: the block, and whether it was wrong.
const CHECKED: &[u8] = b"veriml/inference/checked";

impl<T: Config> Pallet<T> {
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		if Proposals::<T>::iter_keys().next().is_none() {
			return;
		}
		// Not an inference node without an `infr` key in the keystore.
		run_with_keys::<T, T::AuthorityId>(WORKER_LOCK, 20, 120_000, LOG_TARGET, now, |accounts| {
			// One key is enough to challenge; the first active one does.
			if let Some(account) = accounts.iter().find(|account| T::Nodes::is_active(&account.id)) {
				Self::challenge_wrong_proposals(now, account);
			}
		});
	}

	/// Proposed results `node` may challenge now: unchallenged (a proposal whose window
	/// ended stays challengeable until it settles), not of its operator; those whose window
	/// ends first come first.
	pub(crate) fn challengeable(node: &T::AccountId) -> Vec<T::JobId> {
		let operator = T::Nodes::operator(node);
		let mut open: Vec<(BlockNumberFor<T>, T::JobId)> = Proposals::<T>::iter()
			.filter(|(_, proposal)| proposal.challenger.is_none() && T::Nodes::operator(&proposal.node) != operator)
			.map(|(id, proposal)| (proposal.challenge_until, id))
			.collect();
		open.sort_by_key(|(until, _)| *until);
		open.into_iter().map(|(_, id)| id).collect()
	}

	/// Re-executes proposed result `id` (once per key, again after `ResubmitAfter` blocks if a
	/// challenge did not land): the challenge to send if the result is wrong.
	fn check_proposal(now: BlockNumberFor<T>, node: &T::AccountId, id: T::JobId) -> Option<Call<T>> {
		let marker = CheckMarker::due((CHECKED, node, id).encode(), now, T::ResubmitAfter::get())?;
		let proposal = Proposals::<T>::get(id)?;
		let job = T::Jobs::job(id, &proposal.node)?;
		let started = sp_io::offchain::timestamp();
		let execution = <Self as ResultVerifier<_, _, _>>::execute(&job);
		if let Err(error @ EngineError::ModelUnavailable) = execution {
			log::warn!(target: LOG_TARGET, "proposal {id:?}: cannot re-execute the model here: {error:?}");
			return None;
		}
		let expected = outcome_of(T::Runner::engine_version(), &job.model, &job.inputs, &execution);
		let wrong = expected != proposal.outcome;
		log::info!(
			target: LOG_TARGET,
			"proposal {id:?} by {:?}: re-executed in {} ms: {}",
			proposal.node,
			sp_io::offchain::timestamp().diff(&started).millis(),
			if wrong { "WRONG, challenging it" } else { "right" },
		);
		marker.record(now, wrong);
		wrong.then_some(Call::<T>::challenge { request: id })
	}

	/// Re-executes the proposals `account` may challenge and challenges the wrong ones.
	fn challenge_wrong_proposals(now: BlockNumberFor<T>, account: &frame_system::offchain::Account<T>) {
		let node = &account.id;
		let to_check = Self::challengeable(node);
		if to_check.is_empty() {
			return;
		}
		let deposit = T::ChallengeDeposit::get();
		let spendable = T::Currency::reducible_balance(node, Preservation::Preserve, Fortitude::Polite);
		if spendable < deposit {
			log::warn!(
				target: LOG_TARGET,
				"{node:?} cannot challenge: its spendable balance {spendable:?} is below the challenge deposit {deposit:?}"
			);
			return;
		}
		let nonces = NonceTracker::<T>::load(NONCE, node, now, T::ResubmitAfter::get());
		for id in to_check {
			let Some(call) = Self::check_proposal(now, node, id) else { continue };
			let nonce = nonces.claim();
			if let Err(why) = send_signed::<T, T::AuthorityId, _>(call, account, nonce) {
				nonces.give_back(nonce);
				log::warn!(target: LOG_TARGET, "proposal {id:?}: the challenge was not sent: {why:?}");
			}
		}
	}
}
