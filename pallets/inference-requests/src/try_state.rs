//! The pallet's invariants (`try_state`).

use crate::*;
use frame_support::{pallet_prelude::*, traits::fungible::InspectHold};
use sp_runtime::traits::Zero;
use veriml_inference_primitives::ModelHash;
use veriml_primitives::{escrow::Escrow, verification::ResultVerifier};

impl<T: Config> Pallet<T> {
	/// The pallet's invariants, checked by `try_state` and after every block of the tests:
	/// every open request has its inputs (a generation: what it asks, in [`Generations`]), its escrow (held from its requester), and, as
	/// its status says, its deadline and assignments (until a result is submitted for a
	/// later decision), its place in the pending queue (or, pending, its draw at the end of
	/// the block, or a full queue), or verification's proposal of it;
	/// or, a generation, its answer in its window;
	/// nothing else has any of these; no refuted or silent node is assigned again; every
	/// assignment's lapse is due in a later block, before its request's deadline; the count of
	/// open requests per model is right; each receipt deposit is held from the requester of an
	/// open request, or of a request whose receipt is kept, and each requester's hold is the sum
	/// of its deposits.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		let next = NextRequestId::<T>::get();
		let pending = PendingQueue::<T>::get();
		let mut per_model: BTreeMap<ModelHash, u32> = BTreeMap::new();
		let mut open = 0usize;
		let mut assignments = 0usize;
		let mut due = 0usize;
		let mut generations = 0usize;
		for (id, request) in Requests::<T>::iter() {
			open += 1;
			ensure!(id < next, "an open request has an id not given yet");
			let generation = Generations::<T>::contains_key(id);
			ensure!(
				Inputs::<T>::contains_key(id) != generation,
				"an open request has its inputs, or is a generation, not both"
			);
			ensure!(
				T::Escrow::locked(id).is_some_and(|(payer, _)| payer == request.requester),
				"an open request's fee is not held in escrow from its requester"
			);
			// Until a result is proposed: due at its deadline, and computed by its nodes.
			let computing = matches!(request.status, RequestStatus::Pending | RequestStatus::Assigned);
			ensure!(
				Deadlines::<T>::contains_key(request.deadline, id) == computing,
				"a request is due at its deadline exactly while no result is proposed"
			);
			if computing {
				for node in &request.assigned {
					ensure!(Assignments::<T>::contains_key(node, id), "an assigned node does not have the request");
					ensure!(!request.refuted.contains(node), "a refuted or silent node is assigned again");
				}
				assignments += request.assigned.len();
				due += 1;
			}
			// A pending request waits in the queue, or for the end of this block to draw its
			// nodes, or (with the queue full) for its deadline.
			ensure!(
				!pending.contains(&id) || request.status == RequestStatus::Pending,
				"the pending queue holds a request that is not pending"
			);
			ensure!(
				request.status != RequestStatus::Pending
					|| pending.contains(&id)
					|| Undrawn::<T>::contains_key(id)
					|| pending.len() as u32 == T::MaxPending::get(),
				"a pending request is neither in the queue nor drawn at the end of the block"
			);
			let awaited =
				if generation { GenerationAnswers::<T>::contains_key(id) } else { T::Verifier::proposal(id).is_some() };
			ensure!(
				awaited == (request.status == RequestStatus::Verifying),
				"verification holds a proposal, or a generation its answer, of exactly the requests that wait for a decision"
			);
			if generation {
				generations += 1;
			}
			*per_model.entry(request.model).or_default() += 1;
		}
		ensure!(Inputs::<T>::iter_keys().count() + generations == open, "inputs of a request that is not open");
		ensure!(Generations::<T>::iter_keys().count() == generations, "a generation whose request is not open");
		Self::check_generations()?;
		ensure!(Assignments::<T>::iter_keys().count() == assignments, "an assignment of a request that is not open");
		ensure!(Deadlines::<T>::iter_keys().count() == due, "a deadline of a request no node computes");
		let now = frame_system::Pallet::<T>::block_number();
		for (lapse, (id, _)) in Lapses::<T>::iter_keys() {
			ensure!(lapse > now, "an assignment's lapse was not handled in its block");
			ensure!(
				Requests::<T>::get(id).is_none_or(|request| lapse < request.deadline),
				"an assignment lapses at or after its request's deadline"
			);
		}
		for (model, count) in OpenRequests::<T>::iter() {
			ensure!(
				per_model.get(&model).copied().unwrap_or_default() == count,
				"a model's count of open requests is wrong"
			);
		}
		for (model, count) in per_model {
			ensure!(OpenRequests::<T>::get(model) == count, "a model's count of open requests is wrong");
		}
		let mut held = veriml_primitives::invariants::ExpectedHolds::default();
		for (id, (requester, amount)) in ReceiptDeposits::<T>::iter() {
			ensure!(!amount.is_zero(), "a receipt deposit of nothing is recorded");
			match Requests::<T>::get(id) {
				Some(request) => ensure!(request.requester == requester, "a receipt deposit is not its requester's"),
				None => ensure!(T::Verifier::has_receipt(id), "a receipt deposit outlives its receipt"),
			}
			held.add(requester, amount);
		}
		held.check(
			|requester| T::Currency::balance_on_hold(&HoldReason::ReceiptDeposit.into(), requester),
			"a requester's receipt-deposit hold is not the sum of its requests' deposits",
		)
	}
}
