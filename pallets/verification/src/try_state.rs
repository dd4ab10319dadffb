//! The pallet's invariants (`try_state`).

use crate::*;
use frame_support::{pallet_prelude::*, traits::fungible::InspectHold};

impl<T: Config> Pallet<T> {
	/// The pallet's invariants, checked by `try_state` and after every block of the tests:
	///
	/// - every receipt is due for pruning in the block it was verified in (and nothing else
	///   is); a block's receipt log counts the receipts kept in it (a log is kept only for a
	///   block with receipts, from the release that added logs on); no receipt is kept of a
	///   block pruning has passed; and outputs are kept exactly for the receipts of completed results, hashing to
	///   the receipt's output hash;
	/// - every proposal answers an open job of its proposer, has its outputs exactly when it
	///   claims outputs (hashing to the claimed output hash), and settles at the end of its
	///   window while unchallenged (in a window not before [`SettleFrom`]) or waits among the
	///   disputes once challenged, with its challenger's deposit recorded; nothing else is in a
	///   window, among the disputes or among the deposits; each challenger's `ChallengeDeposit`
	///   hold is the sum of its waiting challenges' deposits.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		Self::check_receipts()?;
		Self::check_proposals()
	}

	fn check_receipts() -> Result<(), sp_runtime::TryRuntimeError> {
		let mut receipts = 0usize;
		let mut with_outputs = 0usize;
		for (id, receipt) in Receipts::<T>::iter() {
			receipts += 1;
			ensure!(VerifiedIn::<T>::contains_key(receipt.verified_at, id), "a receipt is not due for pruning");
			match receipt.outcome {
				Outcome::Outputs { output_hash, .. } => {
					let outputs = Outputs::<T>::get(id).ok_or("a completed result has no outputs")?;
					ensure!(
						veriml_inference_primitives::output_hash(&outputs) == output_hash,
						"kept outputs do not hash to their receipt's output hash"
					);
					with_outputs += 1;
				},
				Outcome::Failed(_) => ensure!(!Outputs::<T>::contains_key(id), "a failed result has outputs"),
			}
		}
		ensure!(VerifiedIn::<T>::iter_keys().count() == receipts, "a receipt due for pruning is not kept");
		if let Some(next) = NextToPrune::<T>::get() {
			ensure!(
				VerifiedIn::<T>::iter_keys().all(|(block, _)| block >= next),
				"a receipt was left behind by pruning"
			);
		}
		for (block, log) in ReceiptLogs::<T>::iter() {
			ensure!(
				VerifiedIn::<T>::iter_key_prefix(block).count() == log.count as usize,
				"a block's receipt log does not count the receipts kept in it"
			);
			ensure!(log.count > 0, "a receipt log of a block without receipts");
		}
		ensure!(Outputs::<T>::iter_keys().count() == with_outputs, "outputs without a receipt");
		Ok(())
	}

	fn check_proposals() -> Result<(), sp_runtime::TryRuntimeError> {
		let disputes = Disputes::<T>::get();
		let settle_from = SettleFrom::<T>::get();
		let mut proposals = 0usize;
		let mut with_outputs = 0usize;
		let mut challenged = 0usize;
		let mut held = veriml_primitives::invariants::ExpectedHolds::default();
		for (id, proposal) in Proposals::<T>::iter() {
			proposals += 1;
			ensure!(T::Jobs::job(id, &proposal.node).is_some(), "a proposal answers no open job of its proposer");
			match proposal.outcome {
				Outcome::Outputs { output_hash, .. } => {
					let outputs = ProposedOutputs::<T>::get(id).ok_or("a proposal of outputs has none")?;
					ensure!(
						veriml_inference_primitives::output_hash(&outputs) == output_hash,
						"proposed outputs do not hash to the proposal's output hash"
					);
					with_outputs += 1;
				},
				Outcome::Failed(_) => {
					ensure!(!ProposedOutputs::<T>::contains_key(id), "a proposed failure has outputs")
				},
			}
			match proposal.challenger {
				None => {
					ensure!(
						ChallengeWindows::<T>::contains_key(proposal.challenge_until, id) && !disputes.contains(&id),
						"an unchallenged proposal does not settle at the end of its window"
					);
					ensure!(
						settle_from.is_none_or(|from| from <= proposal.challenge_until),
						"an unchallenged proposal's window is before the windows still settled"
					);
				},
				Some(challenger) => {
					ensure!(
						disputes.iter().filter(|disputed| **disputed == id).count() == 1,
						"a challenged proposal does not wait once among the disputes"
					);
					let deposit = ChallengeDeposits::<T>::get(id).ok_or("a challenge has no deposit")?;
					held.add(challenger, deposit);
					challenged += 1;
				},
			}
		}
		ensure!(ProposedOutputs::<T>::iter_keys().count() == with_outputs, "proposed outputs without a proposal");
		ensure!(
			ChallengeWindows::<T>::iter_keys().count() == proposals - challenged,
			"a challenge window of no unchallenged proposal"
		);
		ensure!(disputes.len() == challenged, "a dispute of no challenged proposal");
		ensure!(ChallengeDeposits::<T>::iter_keys().count() == challenged, "a deposit of no challenge");
		held.check(
			|challenger| T::Currency::balance_on_hold(&HoldReason::ChallengeDeposit.into(), challenger),
			"a challenger's ChallengeDeposit hold is not the sum of its challenges' deposits",
		)
	}
}
