//! The optimistic protocol: a costly model's result is proposed, waits through its challenge
//! window, settles unchallenged, or is challenged and decided by re-execution.

use crate::*;
use alloc::vec::Vec;
use frame_support::{dispatch::PostDispatchInfo, pallet_prelude::*};
use frame_system::pallet_prelude::*;
use sp_runtime::traits::Saturating;
use veriml_inference_primitives::result_hash;
use veriml_primitives::{
	models::ModelCatalog,
	nodes::BondedNodes,
	verification::{Claim, Job, Outcome, ResultVerifier, Verdict},
};

impl<T: Config> Pallet<T> {
	/// Records `node`'s claim for an optimistic model's request as a proposal that settles
	/// after `ChallengePeriod` blocks unless challenged.
	pub(crate) fn propose(
		node: T::AccountId,
		id: RequestId,
		mut request: RequestOf<T>,
		claim: Claim,
		base_weight: Weight,
	) -> DispatchResultWithPostInfo {
		if let Claim::Outputs { outputs, result_hash: claimed } = &claim {
			let committed = result_hash(T::Models::engine_versions().0, &request.model, &request.input_hash, outputs);
			ensure!(committed == *claimed, Error::<T>::ResultHashMismatch);
		}
		let outcome = claim.outcome();
		let challenge_until = frame_system::Pallet::<T>::block_number().saturating_add(T::ChallengePeriod::get());
		// The request no longer expires or waits for other nodes: it settles or is decided.
		for assigned in &request.assigned {
			Assignments::<T>::remove(assigned, id);
		}
		request.assigned = BoundedVec::new();
		Deadlines::<T>::remove(request.deadline, id);
		request.status = RequestStatus::Proposed;
		if let Claim::Outputs { outputs, .. } = claim {
			ProposedOutputs::<T>::insert(id, outputs);
		}
		Proposals::<T>::insert(id, Proposal { node: node.clone(), outcome, challenge_until, challenger: None });
		ChallengeWindows::<T>::insert(challenge_until, id, ());
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::ResultProposed { request: id, node, outcome, challenge_until });
		Ok(PostDispatchInfo { actual_weight: Some(base_weight), pays_fee: Pays::No })
	}

	/// Takes the proposal of open request `id` with what settling or deciding it needs.
	/// Reads before it removes, so a request it cannot judge keeps its proposal.
	pub(crate) fn take_proposal(id: RequestId) -> Option<TakenProposal<T>> {
		let request = Requests::<T>::get(id)?;
		let terms = T::Models::terms(&request.model)?;
		let proposal = Proposals::<T>::take(id)?;
		let (claim, output_bytes) = match proposal.outcome {
			Outcome::Outputs { result_hash, .. } => {
				let outputs = ProposedOutputs::<T>::take(id).unwrap_or_default();
				let output_bytes = outputs.encoded_size() as u32;
				(Claim::Outputs { outputs, result_hash }, output_bytes)
			},
			Outcome::Failed(error) => (Claim::Failure(error), 0),
		};
		let job = Self::job(id, &request, terms.inputs, proposal.node.clone());
		Some(TakenProposal { request, proposal, job, claim, output_bytes, owner: terms.owner })
	}

	/// Settles the proposals whose challenge window ends at `now`; returns the weight used.
	pub(crate) fn settle_unchallenged(now: BlockNumberFor<T>) -> Weight {
		let mut weight = T::DbWeight::get().reads(1);
		let due: Vec<RequestId> = ChallengeWindows::<T>::iter_key_prefix(now).collect();
		for id in due {
			ChallengeWindows::<T>::remove(now, id);
			let Some(TakenProposal { request, proposal, job, claim, output_bytes, owner }) = Self::take_proposal(id)
			else {
				continue;
			};
			let outcome = T::Verifier::accept_unchallenged(&job, claim);
			Self::settle(id, &request, proposal.node, outcome, &owner);
			// Bounded by a verified submission (which also re-executes a model).
			weight = weight.saturating_add(T::WeightInfo::submit_result(output_bytes));
		}
		weight
	}

	/// Decides up to `DisputesPerBlock` challenged proposals by re-execution; returns the
	/// weight used.
	pub(crate) fn decide_disputes() -> Weight {
		let db = T::DbWeight::get();
		let mut queue = Disputes::<T>::get();
		if queue.is_empty() {
			return db.reads(1);
		}
		let count = (T::DisputesPerBlock::get() as usize).min(queue.len());
		let decided: Vec<RequestId> = queue.drain(..count).collect();
		Disputes::<T>::put(queue);
		let mut weight = db.reads_writes(1, 1);
		for id in decided {
			weight = weight.saturating_add(Self::decide(id));
		}
		weight
	}

	/// Re-executes disputed `id` and slashes whoever was wrong; returns the weight used.
	pub(crate) fn decide(id: RequestId) -> Weight {
		let db = T::DbWeight::get();
		let Some(TakenProposal { mut request, proposal, job, claim, output_bytes, owner }) = Self::take_proposal(id)
		else {
			return db.reads(3);
		};
		// Only challenged proposals are queued as disputes.
		let Some(challenger) = proposal.challenger.clone() else { return db.reads_writes(4, 2) };
		let input_bytes = request.input_bytes;
		let preparation =
			T::Models::terms(&job.model).map(|terms| Self::charge_preparation(&job.model, &terms)).unwrap_or_default();
		let fuel_used = match T::Verifier::verify(&job, &claim) {
			Verdict::Confirmed { outcome, fuel_used } => {
				let node_operator = T::Nodes::operator(&proposal.node).unwrap_or_else(|| proposal.node.clone());
				let slashed = T::Nodes::strike(&challenger, Some(&node_operator));
				Self::deposit_event(Event::ChallengeRejected {
					request: id,
					node: proposal.node.clone(),
					challenger,
					slashed,
				});
				Self::settle(id, &request, proposal.node, outcome, &owner);
				fuel_used
			},
			Verdict::Refuted { fuel_used, .. } => {
				let challenger_operator = T::Nodes::operator(&challenger).unwrap_or_else(|| challenger.clone());
				// Its first deadline may be past: the next node gets a full timeout.
				request.deadline = frame_system::Pallet::<T>::block_number().saturating_add(T::RequestTimeout::get());
				Deadlines::<T>::insert(request.deadline, id, ());
				request.status = RequestStatus::Assigned;
				let slashed = Self::reject(id, request, &proposal.node, &challenger_operator);
				Self::deposit_event(Event::ChallengeUpheld { request: id, node: proposal.node, challenger, slashed });
				fuel_used
			},
		};
		T::WeightInfo::submit_result(output_bytes)
			.saturating_add(Self::input_weight(input_bytes))
			.saturating_add(Self::fuel_weight(fuel_used))
			.saturating_add(preparation)
			.saturating_add(db.reads_writes(5, 6))
	}
}

/// A proposal taken from storage to be settled or decided.
pub(crate) struct TakenProposal<T: Config> {
	request: RequestOf<T>,
	proposal: Proposal<T::AccountId, BlockNumberFor<T>>,
	/// The execution the proposal answers, by its proposer.
	job: Job<RequestId, T::AccountId>,
	/// What the proposer claimed, with its outputs.
	claim: Claim,
	/// SCALE size of the claimed outputs.
	output_bytes: u32,
	/// The model's owner, paid its price.
	owner: T::AccountId,
}
