//! The optimistic challenge game: a result is proposed, waits through its challenge window and
//! is accepted unchallenged, or is challenged and decided by re-execution.

use super::{InBlock, VerificationMode};
use crate::*;
use core::marker::PhantomData;
use frame_support::{
	defensive,
	pallet_prelude::*,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};
use frame_system::pallet_prelude::*;
use sp_runtime::traits::Saturating;
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

	fn on_initialize(now: BlockNumberFor<T>, budget: Weight) -> Weight {
		let db = T::DbWeight::get();
		// Whether a challenge could be accepted in the last block, before deciding frees room.
		let waiting = Disputes::<T>::decode_len().unwrap_or_default() as u32;
		let mut used = db.reads(1);
		used.saturating_accrue(Self::decide_disputes(budget.saturating_sub(used)));
		if waiting >= T::MaxDisputes::get() {
			// No challenge could be accepted: nothing settles unchallenged now. The windows
			// ending now settle once there is room, challengeable until then.
			if SettleFrom::<T>::get().is_none() {
				SettleFrom::<T>::put(now);
			}
			Pallet::<T>::deposit_event(Event::SettlementHeld { waiting });
			return used.saturating_add(db.reads_writes(1, 1));
		}
		used.saturating_add(Self::settle_unchallenged(now, budget.saturating_sub(used)))
	}
}

impl<T: Config> Optimistic<T> {
	/// `challenger` disputes the proposed result of `id`, with `ChallengeDeposit` held from
	/// it; returns how many disputes waited before it.
	pub(crate) fn challenge(challenger: T::AccountId, id: T::JobId) -> Result<u32, DispatchError> {
		ensure!(T::Nodes::is_active(&challenger), Error::<T>::NotANode);
		let mut proposal = Proposals::<T>::get(id).ok_or(Error::<T>::NothingToChallenge)?;
		ensure!(proposal.node != challenger, Error::<T>::OwnResult);
		// A sibling node would win back half its own operator's slash.
		ensure!(T::Nodes::operator(&challenger) != T::Nodes::operator(&proposal.node), Error::<T>::SameOperator);
		ensure!(proposal.challenger.is_none(), Error::<T>::AlreadyChallenged);
		let mut queue = Disputes::<T>::get();
		let waiting = queue.len() as u32;
		queue.try_push(id).map_err(|_| Error::<T>::TooManyDisputes)?;
		let deposit = T::ChallengeDeposit::get();
		T::Currency::hold(&HoldReason::ChallengeDeposit.into(), &challenger, deposit)
			.map_err(|_| Error::<T>::InsufficientDeposit)?;
		Disputes::<T>::put(queue);
		ChallengeDeposits::<T>::insert(id, deposit);
		ChallengeWindows::<T>::remove(proposal.challenge_until, id);
		proposal.challenger = Some(challenger.clone());
		Pallet::<T>::deposit_event(Event::Challenged { request: id, node: proposal.node.clone(), challenger, deposit });
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

	/// Accepts, without re-executing them, the unchallenged proposals whose window ended by
	/// `now`, oldest window first, as many as `budget` has room for (the rest from
	/// [`SettleFrom`] in the next block); returns the weight used.
	fn settle_unchallenged(now: BlockNumberFor<T>, budget: Weight) -> Weight {
		let db = T::DbWeight::get();
		let step = db.reads(1);
		let acceptance = T::Jobs::max_confirmation_weight().saturating_add(Self::acceptance_storage());
		let mut used = db.reads_writes(1, 1);
		let mut block = SettleFrom::<T>::get().unwrap_or(now);
		while block <= now {
			if used.saturating_add(step).any_gt(budget) {
				break;
			}
			used.saturating_accrue(step);
			let Some(id) = ChallengeWindows::<T>::iter_key_prefix(block).next() else {
				block.saturating_inc();
				continue;
			};
			if used.saturating_add(acceptance).any_gt(budget) {
				break;
			}
			ChallengeWindows::<T>::remove(block, id);
			used.saturating_accrue(Self::accept(id));
		}
		if block > now {
			SettleFrom::<T>::kill();
		} else {
			SettleFrom::<T>::put(block);
		}
		used
	}

	/// What accepting a proposal does to storage besides its job owner's `confirmed`: taking
	/// the proposal and its outputs, removing its window, keeping the receipt (receipt,
	/// outputs, pruning index, its block's receipt log).
	fn acceptance_storage() -> Weight {
		T::DbWeight::get().reads_writes(3, 7)
	}

	/// What deciding a dispute does to storage besides re-executing and its job owner's
	/// `confirmed` or `refuted`: taking the proposal, its outputs and its deposit, reading the
	/// job, striking the loser, moving the deposit (hold and account) and the receipt (with
	/// its block's receipt log).
	fn decision_storage() -> Weight {
		T::DbWeight::get().reads_writes(9, 10)
	}

	/// Accepts the unchallenged proposal of `id` (its window entry removed); returns the
	/// weight used.
	fn accept(id: T::JobId) -> Weight {
		let db = T::DbWeight::get();
		let storage = Self::acceptance_storage();
		let Some((proposal, claim, output_bytes)) = Self::take(id) else { return db.reads(1) };
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
		storage.saturating_add(T::Jobs::confirmed(id, node, outcome, output_bytes))
	}

	/// Decides challenged proposals by re-execution, oldest first, as many as `budget` has
	/// room for at their fuel limits (at least one); returns the weight used.
	fn decide_disputes(budget: Weight) -> Weight {
		let db = T::DbWeight::get();
		let queue = Disputes::<T>::get();
		let mut used = db.reads(1);
		let mut decided = 0;
		for &id in &queue {
			// Reading the request and its model's terms to bound its decision.
			used.saturating_accrue(db.reads(2));
			let bound = T::Jobs::max_decision_weight(id).saturating_add(Self::decision_storage());
			if decided > 0 && used.saturating_add(bound).any_gt(budget) {
				break;
			}
			used.saturating_accrue(Self::decide(id));
			decided += 1;
		}
		if decided > 0 {
			let mut queue = queue;
			queue.drain(..decided);
			Disputes::<T>::put(queue);
			used.saturating_accrue(db.writes(1));
		}
		used
	}

	/// Re-executes disputed `id` and strikes whoever was wrong: a wrong proposer through the
	/// job's owner, the challenger's deposit returned; a wrong challenger here, its deposit
	/// paid to the proposer's operator. Returns the weight used.
	fn decide(id: T::JobId) -> Weight {
		let db = T::DbWeight::get();
		let Some((proposal, claim, output_bytes)) = Self::take(id) else { return db.reads(1) };
		let deposit = ChallengeDeposits::<T>::take(id).unwrap_or_default();
		let weight = Self::decision_storage();
		// Only challenged proposals are queued as disputes.
		let Some(challenger) = proposal.challenger.clone() else { return weight };
		// A proposed job stays open until it is decided; were it gone, the challenge is void.
		let Some(job) = T::Jobs::job(id, &proposal.node) else {
			Self::return_deposit(&challenger, deposit);
			return weight;
		};
		let node = proposal.node;
		let (fuel_used, decided) = match InBlock::<T>::verify(&job, &claim) {
			Verdict::Confirmed { outcome, fuel_used } => {
				let node_operator = T::Nodes::operator(&node).unwrap_or_else(|| node.clone());
				let slashed = T::Nodes::strike(&challenger, Some(&node_operator));
				let forfeited = Self::forfeit_deposit(&challenger, &node_operator, deposit);
				Pallet::<T>::deposit_event(Event::ChallengeRejected {
					request: id,
					node: node.clone(),
					challenger,
					slashed,
					forfeited,
				});
				(fuel_used, T::Jobs::confirmed(id, node, outcome, output_bytes))
			},
			Verdict::Refuted { fuel_used, .. } => {
				Self::return_deposit(&challenger, deposit);
				let challenger_operator = T::Nodes::operator(&challenger).unwrap_or_else(|| challenger.clone());
				let (slashed, refuted) = T::Jobs::refuted(id, &node, &challenger_operator, output_bytes);
				Pallet::<T>::deposit_event(Event::ChallengeUpheld { request: id, node, challenger, slashed });
				(fuel_used, refuted)
			},
		};
		weight.saturating_add(T::Jobs::re_execution_weight(&job, fuel_used)).saturating_add(decided)
	}

	/// Releases a right (or void) challenge's deposit to its challenger.
	fn return_deposit(challenger: &T::AccountId, deposit: T::Balance) {
		if let Err(error) =
			T::Currency::release(&HoldReason::ChallengeDeposit.into(), challenger, deposit, Precision::BestEffort)
		{
			defensive!("a challenge deposit held cannot be released", error);
		}
	}

	/// Pays a wrong challenge's deposit to `to` (the proposer's operator); returns what was
	/// paid. Were the payment refused, the deposit is burnt: a wrong challenger never gets it
	/// back.
	fn forfeit_deposit(challenger: &T::AccountId, to: &T::AccountId, deposit: T::Balance) -> T::Balance {
		let reason = HoldReason::ChallengeDeposit.into();
		T::Currency::transfer_on_hold(
			&reason,
			challenger,
			to,
			deposit,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		)
		.unwrap_or_else(|_| {
			if let Err(error) =
				T::Currency::burn_held(&reason, challenger, deposit, Precision::BestEffort, Fortitude::Force)
			{
				defensive!("a challenge deposit held can be neither paid nor burnt", error);
			}
			Default::default()
		})
	}
}
