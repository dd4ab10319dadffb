//! Challenges, checking proofs, rewards and the invariants.

use crate::{pallet::*, BondedNodes, Challenge, ProvableContent, StorageService, WeightInfo};
use codec::Encode;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::{Fortitude, Preservation},
		Randomness,
	},
};
use frame_system::pallet_prelude::*;
use sp_core::H256;
use sp_runtime::traits::{Saturating, Zero};
use veriml_primitives::content;

/// Logging target of storage proofs: `-l veriml::storage=debug`.
pub const LOG_TARGET: &str = "veriml::storage";

impl<T: Config> Pallet<T> {
	/// The start of a period: every challenge still open is a missed proof, and every active
	/// storage node gets a new one. Returns the weight used.
	pub(crate) fn start_period(now: BlockNumberFor<T>) -> Weight {
		let max = T::MaxNodes::get();
		let open: alloc::vec::Vec<_> = Challenges::<T>::drain().take(max as usize).collect();
		let missed = open.len() as u32;
		for (node, challenge) in open {
			// An item that left the store meanwhile has nothing to prove: no strike.
			if !T::Content::is_provable(&challenge.root) {
				continue;
			}
			let slashed = T::Nodes::strike(&node, None);
			log::info!(
				target: LOG_TARGET,
				"storage node {node:?} missed its proof of chunk {} of {:?}",
				challenge.chunk,
				challenge.root
			);
			Self::deposit_event(Event::ProofMissed { node, root: challenge.root, chunk: challenge.chunk, slashed });
		}
		let nodes = T::Nodes::nodes(&StorageService::AllItems);
		let count = T::Content::provable_count();
		let mut challenged = 0u32;
		if count > 0 {
			let random = Self::randomness(now);
			for node in nodes.iter().take(max as usize) {
				if let Some(challenge) = Self::draw(&random, node, count, now) {
					Self::deposit_event(Event::Challenged {
						node: node.clone(),
						root: challenge.root,
						chunk: challenge.chunk,
						chunk_hash: challenge.chunk_hash,
						segment: challenge.segment,
					});
					Challenges::<T>::insert(node, challenge);
					challenged += 1;
				}
			}
		}
		T::WeightInfo::start_period(missed.max(challenged))
	}

	fn randomness(now: BlockNumberFor<T>) -> H256 {
		let subject = (b"veriml/storage-challenge", now).encode();
		let (random, _) = T::Randomness::random(&subject);
		let random = random.unwrap_or_else(|| {
			log::warn!(target: LOG_TARGET, "no randomness in this block: challenging from the parent hash");
			frame_system::Pallet::<T>::parent_hash()
		});
		H256(sp_io::hashing::blake2_256(&(random, subject).encode()))
	}

	/// The challenge of `node` this period: an item, a chunk of it and a segment of that, each
	/// drawn uniformly from the period's randomness and the node's account.
	fn draw(random: &H256, node: &T::AccountId, count: u32, now: BlockNumberFor<T>) -> Option<ChallengeOf<T>> {
		let seed = sp_io::hashing::blake2_256(&(random, node).encode());
		let pick = |at: usize, of: u32| -> u32 {
			let mut word = [0u8; 8];
			word.copy_from_slice(&seed[at..at + 8]);
			(u64::from_le_bytes(word) % u64::from(of.max(1))) as u32
		};
		let (root, chunks) = T::Content::provable(pick(0, count))?;
		let chunk = pick(8, chunks);
		let proven = T::Content::chunk(&root, chunk)?;
		let segment = pick(16, content::segment_count(proven.len));
		Some(Challenge { root, chunk, chunk_hash: proven.hash, segment, issued_at: now })
	}

	/// `node`'s open challenge, if `segment` and `proof` prove it.
	pub(crate) fn check_proof(
		node: &T::AccountId,
		segment: &[u8],
		proof: &[H256],
	) -> Result<ChallengeOf<T>, DispatchError> {
		let challenge = Challenges::<T>::get(node).ok_or(Error::<T>::NoChallenge)?;
		let chunk = T::Content::chunk(&challenge.root, challenge.chunk).ok_or(Error::<T>::ItemGone)?;
		ensure!(
			content::verify_segment(&chunk.segment_root, chunk.len, challenge.segment, segment, proof),
			Error::<T>::InvalidProof
		);
		Ok(challenge)
	}

	/// Whether `origin`'s proof is sent without a transaction fee (the call's `feeless_if`,
	/// which the runtime's `SkipCheckIfFeeless` reads when it validates the transaction): when
	/// it proves the caller's open challenge, so a storage node's key needs no balance for its
	/// proofs, and a proof that would fail pays its fee.
	pub fn proves_without_fee(origin: &OriginFor<T>, segment: &[u8], proof: &[H256]) -> bool {
		ensure_signed(origin.clone()).is_ok_and(|node| Self::check_proof(&node, segment, proof).is_ok())
	}

	/// Pays `operator` the proof reward from the pot, or what the pot can give without going
	/// below its existential deposit. Returns what was paid.
	pub(crate) fn pay_reward(operator: &T::AccountId) -> BalanceOf<T> {
		let pot = T::RewardPot::get();
		let available = T::Currency::reducible_balance(&pot, Preservation::Preserve, Fortitude::Polite);
		let reward = T::ProofReward::get().min(available);
		if reward.is_zero() {
			return reward;
		}
		match T::Currency::transfer(&pot, operator, reward, Preservation::Preserve) {
			Ok(paid) => paid,
			Err(error) => {
				// An operator account that cannot receive it (below the existential deposit).
				log::debug!(target: LOG_TARGET, "no reward paid to {operator:?}: {error:?}");
				Zero::zero()
			},
		}
	}

	/// The pallet's invariants, checked by `try_state` and after every block of the tests:
	/// at most `MaxNodes` challenges are open, each drawn in the current period and on a segment
	/// within its chunk.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let now = frame_system::Pallet::<T>::block_number();
		let period = T::ChallengePeriod::get();
		let period_start = now.saturating_sub(now % period);
		let mut open = 0u32;
		for challenge in Challenges::<T>::iter_values() {
			open += 1;
			ensure!(challenge.issued_at == period_start, "a challenge of another period is open");
			if let Some(chunk) = T::Content::chunk(&challenge.root, challenge.chunk) {
				ensure!(chunk.hash == challenge.chunk_hash, "a challenge names another chunk's hash");
				ensure!(
					challenge.segment < content::segment_count(chunk.len),
					"a challenge's segment is beyond its chunk"
				);
			}
		}
		ensure!(open <= T::MaxNodes::get(), "more challenges than MaxNodes");
		Ok(())
	}
}
