//! The optimistic challenge game: a result is proposed, waits through its challenge window and
//! is accepted unchallenged, or is challenged and decided by re-execution.

use super::{InBlock, VerificationMode};
use crate::*;
use core::marker::PhantomData;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::*;
use sp_runtime::traits::{One, Saturating};
use veriml_inference_primitives::result_hash;
use veriml_primitives::nodes::BondedNodes;

/// Results are proposed and re-executed only when a bonded node challenges them in their
/// window; the loser of a challenge is struck.
pub struct Optimistic<T>(PhantomData<T>);

impl<T: Config> VerificationMode<T> for Optimistic<T> {
	fn submit(job: &JobOf<T>, claim: Claim) -> Result<Submission, DispatchError> {
		if let Claim::Outputs { outputs, result_hash: claimed } = &claim {
			let committed = result_hash(T::Runner::engine_version(), &job.model, &job.input_hash, outputs);
			ensure!(committed == *claimed, Error::<T>::ResultHashMismatch);
		}
		let outcome = claim.outcome();
		let challenge_until = frame_system::Pallet::<T>::block_number().saturating_add(T::ChallengePeriod::get());
		if let Claim::Outputs { outputs, .. } = claim {
			ProposedOutputs::<T>::insert(job.id, outputs);
		}
		Proposals::<T>::insert(
			job.id,
			Proposal {
				node: job.executor.clone(),
				model: job.model,
				input_hash: job.input_hash,
				outcome,
				challenge_until,
				challenger: None,
			},
		);
		ChallengeWindows::<T>::insert(challenge_until, job.id, ());
		Pallet::<T>::deposit_event(Event::ResultProposed {
			request: job.id,
			node: job.executor.clone(),
			outcome,
			challenge_until,
		});
		Ok(Submission::Deferred)
	}

	fn on_initialize(now: BlockNumberFor<T>) -> Weight {
		Self::settle_unchallenged(now).saturating_add(Self::decide_disputes())
	}
}

impl<T: Config> Optimistic<T> {
	/// `challenger` disputes the proposed result of `id`; returns how many disputes waited
	/// before it.
	pub(crate) fn challenge(challenger: T::AccountId, id: T::JobId) -> Result<u32, DispatchError> {
		ensure!(T::Nodes::is_active(&challenger), Error::<T>::NotANode);
		let mut proposal = Proposals::<T>::get(id).ok_or(Error::<T>::NothingToChallenge)?;
		ensure!(proposal.node != challenger, Error::<T>::OwnResult);
		// A sibling node would win back half its own operator's slash.
		ensure!(T::Nodes::operator(&challenger) != T::Nodes::operator(&proposal.node), Error::<T>::SameOperator);
		ensure!(proposal.challenger.is_none(), Error::<T>::AlreadyChallenged);
		let waiting = Disputes::<T>::try_mutate(|queue| {
			let waiting = queue.len() as u32;
			queue.try_push(id).map(|()| waiting)
		})
		.map_err(|_| Error::<T>::TooManyDisputes)?;
		ChallengeWindows::<T>::remove(proposal.challenge_until, id);
		proposal.challenger = Some(challenger.clone());
		Pallet::<T>::deposit_event(Event::Challenged { request: id, node: proposal.node.clone(), challenger });
		Proposals::<T>::insert(id, proposal);
		Ok(waiting)
	}

	/// Takes the proposal of `id` with its claim and the SCALE size of its outputs.
	fn take(id: T::JobId) -> Option<(ProposalOf<T>, Claim, u32)> {
		let proposal = Proposals::<T>::take(id)?;
		let (claim, output_bytes) = match proposal.outcome {
			Outcome::Outputs { result_hash, .. } => {
				let outputs = ProposedOutputs::<T>::take(id).unwrap_or_default();
				let output_bytes = outputs.encoded_size() as u32;
				(Claim::Outputs { outputs, result_hash }, output_bytes)
			},
			Outcome::Failed(error) => (Claim::Failure(error), 0),
		};
		Some((proposal, claim, output_bytes))
	}

	/// Accepts the proposals whose challenge window ends at `now`, without re-executing them;
	/// returns the weight used. While `MaxDisputes` challenges wait, no challenge can be
	/// accepted, so nothing settles unchallenged: the windows ending now move to the next
	/// block.
	fn settle_unchallenged(now: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		let mut weight = db.reads(2);
		let due: Vec<T::JobId> = ChallengeWindows::<T>::iter_key_prefix(now).collect();
		if Disputes::<T>::decode_len().unwrap_or_default() >= T::MaxDisputes::get() as usize {
			let next = now.saturating_add(One::one());
			for id in due {
				ChallengeWindows::<T>::remove(now, id);
				ChallengeWindows::<T>::insert(next, id, ());
				Proposals::<T>::mutate(id, |proposal| {
					if let Some(proposal) = proposal {
						proposal.challenge_until = next;
					}
				});
				Pallet::<T>::deposit_event(Event::ChallengeWindowExtended { request: id, challenge_until: next });
				weight = weight.saturating_add(db.reads_writes(1, 3));
			}
			return weight;
		}
		for id in due {
			ChallengeWindows::<T>::remove(now, id);
			weight = weight.saturating_add(db.reads_writes(2, 3));
			let Some((proposal, claim, output_bytes)) = Self::take(id) else { continue };
			let outcome = proposal.outcome;
			let outputs = match claim {
				Claim::Outputs { outputs, .. } => Some(outputs),
				Claim::Failure(_) => None,
			};
			let node = proposal.node;
			Pallet::<T>::keep_receipt(
				id,
				proposal.model,
				proposal.input_hash,
				node.clone(),
				outcome,
				outputs,
				VerifiedBy::Unchallenged,
			);
			Pallet::<T>::deposit_event(Event::ResultAccepted { request: id, executor: node.clone(), outcome });
			weight = weight.saturating_add(T::Jobs::confirmed(id, node, outcome, output_bytes));
		}
		weight
	}

	/// Decides up to `DisputesPerBlock` challenged proposals by re-execution; returns the
	/// weight used.
	fn decide_disputes() -> Weight {
		let db = T::DbWeight::get();
		let mut queue = Disputes::<T>::get();
		if queue.is_empty() {
			return db.reads(1);
		}
		let count = (T::DisputesPerBlock::get() as usize).min(queue.len());
		let decided: Vec<T::JobId> = queue.drain(..count).collect();
		Disputes::<T>::put(queue);
		let mut weight = db.reads_writes(1, 1);
		for id in decided {
			weight = weight.saturating_add(Self::decide(id));
		}
		weight
	}

	/// Re-executes disputed `id` and strikes whoever was wrong; returns the weight used.
	fn decide(id: T::JobId) -> Weight {
		let db = T::DbWeight::get();
		let Some((proposal, claim, output_bytes)) = Self::take(id) else { return db.reads(1) };
		let weight = db.reads_writes(2, 2);
		// Only challenged proposals are queued as disputes, and a proposed job stays open
		// until it is decided; either missing, there is nothing to decide.
		let Some(challenger) = proposal.challenger.clone() else { return weight };
		let Some(job) = T::Jobs::job(id, &proposal.node) else { return weight.saturating_add(db.reads(1)) };
		let node = proposal.node;
		let (fuel_used, decided) = match InBlock::<T>::verify(&job, &claim) {
			Verdict::Confirmed { outcome, fuel_used } => {
				let node_operator = T::Nodes::operator(&node).unwrap_or_else(|| node.clone());
				let slashed = T::Nodes::strike(&challenger, Some(&node_operator));
				Pallet::<T>::deposit_event(Event::ChallengeRejected {
					request: id,
					node: node.clone(),
					challenger,
					slashed,
				});
				(fuel_used, T::Jobs::confirmed(id, node, outcome, output_bytes))
			},
			Verdict::Refuted { fuel_used, .. } => {
				let challenger_operator = T::Nodes::operator(&challenger).unwrap_or_else(|| challenger.clone());
				let (slashed, refuted) = T::Jobs::refuted(id, &node, &challenger_operator, output_bytes);
				Pallet::<T>::deposit_event(Event::ChallengeUpheld { request: id, node, challenger, slashed });
				(fuel_used, refuted)
			},
		};
		weight
			.saturating_add(T::Jobs::re_execution_weight(&job, fuel_used))
			.saturating_add(decided)
			.saturating_add(db.reads_writes(2, 2))
	}
}
