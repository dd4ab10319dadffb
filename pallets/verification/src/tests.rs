//! Judging claims in each mode and keeping receipts, as the requests pallet and clients see
//! it: verdicts, proposals, challenges and their decisions, receipts, outputs, events and
//! pruning. The invariants run after every test.

use crate::{
	archive_key, mock::*, receipt_hash, ArchiveError, ChallengeWindows, Claim, Disputes, Error, Event, Job, Outcome,
	Outputs, Proposals, ProposedOutputs, ReceiptLog, ReceiptLogs, Receipts, ResultVerifier, SettleFrom, Submission,
	Verdict, Verification as Mode, VerifiedBy, VerifiedIn,
};
use frame_support::{assert_noop, assert_ok};
use veriml_inference_primitives::{input_hash, result_hash, EngineError, Tensor, H256};

const MODEL: H256 = H256([7; 32]);
const EXECUTOR: u64 = 42;

fn inputs() -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, 4], &[1.0, -2.0, 3.5, 0.0])]
}

fn job(id: u64, model: H256) -> Job<u64, u64> {
	Job {
		id,
		model,
		input_specs: Vec::new(),
		input_hash: input_hash(&inputs()),
		inputs: inputs(),
		fuel_limit: 1_000,
		preparation_limit: None,
		max_output_bytes: 1_024,
		executor: EXECUTOR,
	}
}

/// What an honest node claims for `job`: the stand-in's outputs (the inputs) and their hash.
fn honest(job: &Job<u64, u64>) -> Claim {
	let outputs = job.inputs.clone();
	let result_hash = result_hash(ENGINE_VERSION, &job.model, &input_hash(&job.inputs), &outputs);
	Claim::Outputs { outputs, result_hash }
}

fn submit(mode: Mode, job: &Job<u64, u64>, claim: Claim) -> Result<Submission, sp_runtime::DispatchError> {
	<Verification as ResultVerifier<u64, u64, u64>>::submit(mode, job, claim)
}

fn verify(job: &Job<u64, u64>, claim: &Claim) -> Verdict {
	match submit(Mode::InBlock, job, claim.clone()) {
		Ok(Submission::Decided(verdict)) => verdict,
		other => panic!("in-block verification decides at once, not {other:?}"),
	}
}

#[test]
fn a_right_result_is_confirmed_and_its_receipt_and_outputs_kept() {
	run_test(|| {
		let job = job(1, MODEL);
		let claim = honest(&job);
		let outcome = claim.outcome();
		assert_eq!(verify(&job, &claim), Verdict::Confirmed { outcome, fuel_used: FUEL });
		let receipt = Receipts::<Test>::get(1).unwrap();
		assert_eq!(receipt.model_hash, MODEL);
		assert_eq!(receipt.input_hash, input_hash(&inputs()));
		assert_eq!(receipt.outcome, outcome);
		assert_eq!(receipt.engine_version, ENGINE_VERSION);
		assert_eq!(
			(receipt.executor, receipt.verified_at, receipt.verified_by),
			(EXECUTOR, 1, VerifiedBy::ReExecution)
		);
		assert_eq!(Outputs::<Test>::get(1), Some(inputs()));
		assert_eq!(Verification::receipt_key(1), Receipts::<Test>::hashed_key_for(1));
		System::assert_has_event(Event::ResultConfirmed { request: 1, executor: EXECUTOR, outcome }.into());
	});
}

#[test]
fn a_wrong_result_is_refuted_and_nothing_is_kept() {
	run_test(|| {
		let job = job(1, MODEL);
		let expected = honest(&job).outcome();
		// Right outputs, a result hash that does not commit to them.
		let wrong_hash = Claim::Outputs { outputs: inputs(), result_hash: H256::repeat_byte(1) };
		// A hash that commits to outputs the model does not give.
		let other = vec![Tensor::from_f32(&[1, 4], &[0.0; 4])];
		let wrong_outputs = Claim::Outputs {
			result_hash: result_hash(ENGINE_VERSION, &MODEL, &input_hash(&inputs()), &other),
			outputs: other,
		};
		// A failure the engine does not report for this input.
		let false_failure = Claim::Failure(EngineError::FuelExhausted);
		for claim in [wrong_hash, wrong_outputs, false_failure] {
			assert_eq!(verify(&job, &claim), Verdict::Refuted { expected, fuel_used: FUEL });
			System::assert_last_event(
				Event::ResultRefuted { request: 1, executor: EXECUTOR, claimed: claim.outcome(), expected }.into(),
			);
		}
		assert!(Receipts::<Test>::get(1).is_none());
		assert!(Outputs::<Test>::get(1).is_none());
		assert_eq!(VerifiedIn::<Test>::iter().count(), 0);
	});
}

#[test]
fn an_engine_refusal_is_a_verdict_every_node_confirms() {
	run_test(|| {
		let refused_job = job(1, FAILING);
		let refused = Claim::Failure(EngineError::FuelExhausted);
		let outcome = Outcome::Failed(EngineError::FuelExhausted);
		// A failed run is charged its whole fuel limit.
		assert_eq!(verify(&refused_job, &refused), Verdict::Confirmed { outcome, fuel_used: 1_000 });
		assert_eq!(Receipts::<Test>::get(1).unwrap().outcome, outcome);
		assert!(Outputs::<Test>::get(1).is_none(), "a failure has no outputs");
		// Claiming outputs (or another error) for it is refuted.
		let other = job(2, FAILING);
		assert!(matches!(verify(&other, &honest(&other)), Verdict::Refuted { expected, .. } if expected == outcome));
		assert!(matches!(
			verify(&other, &Claim::Failure(EngineError::OutOfMemory)),
			Verdict::Refuted { expected, .. } if expected == outcome
		));
	});
}

#[test]
fn outputs_larger_than_a_result_may_carry_are_the_runs_failure_on_every_node() {
	run_test(|| {
		// The stand-in's outputs (its inputs) take one byte more than the job allows.
		let size = codec::Encode::encoded_size(&inputs()) as u32;
		let job = Job { max_output_bytes: size - 1, ..job(1, MODEL) };
		// What the node's worker computes: a failure to report, not outputs it could not submit.
		let execution = <Verification as ResultVerifier<u64, u64, u64>>::execute(&job);
		assert_eq!(execution.map(|_| ()), Err(EngineError::OutputTooLarge));
		// The chain re-executes to the same verdict: the report is confirmed, outputs refuted.
		let reported = Claim::Failure(EngineError::OutputTooLarge);
		assert_eq!(verify(&job, &reported), Verdict::Confirmed { outcome: reported.outcome(), fuel_used: 1_000 });
		let job = Job { id: 2, ..job };
		assert!(matches!(verify(&job, &honest(&job)), Verdict::Refuted { .. }));
		// Exactly at the limit, the outputs stand.
		let job = Job { id: 3, max_output_bytes: size, ..job };
		assert!(matches!(verify(&job, &honest(&job)), Verdict::Confirmed { .. }));
	});
}

#[test]
fn receipts_and_outputs_are_pruned_after_their_retention() {
	run_test(|| {
		let first = job(1, MODEL);
		verify(&first, &honest(&first));
		run_to_block(3);
		let second = job(2, MODEL);
		verify(&second, &honest(&second));
		// Kept `RETENTION` blocks (those verified in block 1: blocks 1 to 5), removed at the start
		// of the next.
		run_to_block(RETENTION);
		assert!(Receipts::<Test>::get(1).is_some(), "kept for the whole retention");
		run_to_block(1 + RETENTION);
		assert!(Receipts::<Test>::get(1).is_none());
		assert!(Outputs::<Test>::get(1).is_none());
		System::assert_has_event(Event::ReceiptsPruned { verified_in: 1, count: 1 }.into());
		// The job's owner hears it, to release what it held for the receipt.
		assert_eq!(pruned(), vec![1]);
		assert!(Receipts::<Test>::get(2).is_some());
		run_to_block(3 + RETENTION);
		assert!(Receipts::<Test>::get(2).is_none());
		assert_eq!(pruned(), vec![1, 2]);
		assert_eq!(VerifiedIn::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_shorter_retention_prunes_the_blocks_it_makes_due_and_a_longer_one_waits() {
	run_test(|| {
		for block in 1..=4 {
			run_to_block(block);
			let job = job(block, MODEL);
			verify(&job, &honest(&job));
		}
		run_to_block(5);
		assert_eq!(Receipts::<Test>::iter().count(), 4, "none due yet");
		// Shortened from 5 to 2: blocks 1 to 4 are due at once, pruned two a block.
		RetentionBlocks::set(2);
		run_to_block(6);
		assert_eq!(pruned(), vec![1, 2]);
		run_to_block(7);
		assert_eq!(pruned(), vec![1, 2, 3, 4]);
		assert_eq!(Receipts::<Test>::iter().count(), 0);
		// Lengthened to 10: the receipt of block 8 is kept until block 18.
		run_to_block(8);
		let job = job(8, MODEL);
		verify(&job, &honest(&job));
		RetentionBlocks::set(10);
		run_to_block(17);
		assert!(Receipts::<Test>::get(8).is_some());
		run_to_block(18);
		assert!(Receipts::<Test>::get(8).is_none());
	});
}

#[test]
fn a_retention_below_two_blocks_is_taken_as_two() {
	run_test(|| {
		RetentionBlocks::set(1);
		let job = job(1, MODEL);
		verify(&job, &honest(&job));
		// The block's receipt log outlives the start of the next block, where its leaf is made.
		run_to_block(2);
		assert_eq!(Verification::receipt_log(1).count, 1);
		run_to_block(3);
		assert_eq!(pruned(), vec![1]);
		assert_eq!(Verification::receipt_log(1).count, 0);
	});
}

/// A fresh chain whose runtime reads and writes a node's off-chain database, as the node's
/// runtime API calls do.
fn ext_with_offchain_db() -> sp_io::TestExternalities {
	let mut ext = new_test_ext();
	let (offchain, _) = sp_core::offchain::testing::TestOffchainExt::with_offchain_db(ext.offchain_db());
	ext.register_extension(sp_core::offchain::OffchainDbExt::new(offchain));
	ext
}

#[test]
fn a_blocks_receipts_are_logged_as_a_chain_of_their_hashes_and_archived_off_chain() {
	let mut ext = ext_with_offchain_db();
	ext.execute_with(|| {
		for id in 1..=3 {
			let job = job(id, MODEL);
			verify(&job, &honest(&job));
		}
		run_to_block(2);
		let other = job(4, MODEL);
		verify(&other, &honest(&other));
	});
	// What block import does with the block's off-chain index writes on a node indexing them.
	ext.persist_offchain_overlay();
	ext.execute_with(|| {
		let hashes: Vec<H256> = (1..=3).map(|id| receipt_hash(&Receipts::<Test>::get(id).unwrap())).collect();
		let log = Verification::receipt_log(1);
		let head = hashes.iter().fold(H256::zero(), |head, hash| ReceiptLog::step(&head, hash));
		assert_eq!(log, ReceiptLog { count: 3, head });
		assert_eq!(Verification::receipt_log(2).count, 1);
		assert_eq!(Verification::receipt_log(3), ReceiptLog::default());

		// The second receipt, with the head before it and the hash after it, leads to the head.
		let (receipt, before, after) = Verification::archived_receipt(2, &log).unwrap();
		assert_eq!(receipt, Receipts::<Test>::get(2).unwrap());
		assert_eq!(before, ReceiptLog::step(&H256::zero(), &hashes[0]));
		assert_eq!(after, vec![hashes[2]]);
		assert_eq!(ReceiptLog::head_from(&before, &receipt_hash(&receipt), &after), log.head);
		let (first, before, after) = Verification::archived_receipt(1, &log).unwrap();
		assert_eq!((first.request, before, after), (1, H256::zero(), hashes[1..].to_vec()));
		assert_eq!(Verification::archived_receipt(4, &log), Err(ArchiveError::NoSuchReceipt));

		// Pruned from state after the retention, still read from the archive.
		run_to_block(1 + RETENTION);
		assert!(Receipts::<Test>::get(2).is_none());
		assert!(!ReceiptLogs::<Test>::contains_key(1));
		assert_eq!(Verification::archived_receipt(2, &log).unwrap().0.request, 2);

		// An archive entry that does not lead to the head it is kept under is refused.
		let mut entry =
			sp_io::offchain::local_storage_get(sp_core::offchain::StorageKind::PERSISTENT, &archive_key(&log.head))
				.unwrap();
		let last = entry.len() - 1;
		entry[last] ^= 1;
		sp_io::offchain::local_storage_set(sp_core::offchain::StorageKind::PERSISTENT, &archive_key(&log.head), &entry);
		assert_eq!(Verification::archived_receipt(3, &log), Err(ArchiveError::NotArchived));
	});
}

#[test]
fn a_node_without_the_archive_says_so() {
	let mut ext = ext_with_offchain_db();
	ext.execute_with(|| {
		let job = job(1, MODEL);
		verify(&job, &honest(&job));
		// The block's index writes were never persisted: a node that does not index.
		assert_eq!(Verification::archived_receipt(1, &Verification::receipt_log(1)), Err(ArchiveError::NotArchived));
	});
}

#[test]
fn the_invariants_catch_broken_state() {
	new_test_ext().execute_with(|| {
		let job = job(1, MODEL);
		verify(&job, &honest(&job));
		assert!(Verification::do_try_state().is_ok());
		// Outputs that do not hash to the receipt's output hash.
		Outputs::<Test>::insert(1, vec![Tensor::from_f32(&[1, 1], &[0.0])]);
		assert!(Verification::do_try_state().is_err());
		Outputs::<Test>::insert(1, inputs());
		// A receipt never pruned.
		VerifiedIn::<Test>::remove(1, 1);
		assert!(Verification::do_try_state().is_err());
		VerifiedIn::<Test>::insert(1, 1, ());
		// Outputs without a receipt.
		Outputs::<Test>::insert(2, inputs());
		assert!(Verification::do_try_state().is_err());
		Outputs::<Test>::remove(2);
		// A receipt log that miscounts its block's receipts.
		ReceiptLogs::<Test>::mutate(1, |log| log.as_mut().unwrap().count = 2);
		assert!(Verification::do_try_state().is_err());
	});
}

/// Nodes of the optimistic tests: the proposer (`EXECUTOR`, operated by 1) and a challenger
/// (43, operated by 2); 44 is no node.
fn optimistic_nodes() {
	register(EXECUTOR, 1);
	register(43, 2);
}

/// Proposes `claim` for open job `id` of `MODEL` from `EXECUTOR`.
fn propose(id: u64, claim: Claim) {
	let job = job(id, MODEL);
	open_job(job.clone());
	assert_eq!(submit(Mode::Optimistic, &job, claim), Ok(Submission::Deferred));
}

fn challenge(who: u64, id: u64) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Verification::challenge(RuntimeOrigin::signed(who), id)
}

#[test]
fn an_optimistic_result_is_proposed_and_accepted_unchallenged_without_re_execution() {
	run_test(|| {
		optimistic_nodes();
		// Outputs the stand-in would not give, with a hash that commits to them: accepting does
		// not run the engine.
		let outputs = vec![Tensor::from_f32(&[1, 1], &[9.0])];
		let hash = result_hash(ENGINE_VERSION, &MODEL, &input_hash(&inputs()), &outputs);
		let claim = Claim::Outputs { outputs: outputs.clone(), result_hash: hash };
		let outcome = claim.outcome();
		propose(1, claim);
		let until = 1 + CHALLENGE_PERIOD;
		System::assert_has_event(
			Event::ResultProposed { request: 1, node: EXECUTOR, outcome, challenge_until: until }.into(),
		);
		let proposal = Proposals::<Test>::get(1).unwrap();
		assert_eq!((proposal.model, proposal.input_hash, proposal.challenger), (MODEL, input_hash(&inputs()), None));
		assert_eq!(<Verification as ResultVerifier<u64, u64, u64>>::proposal(1), Some(proposal));
		assert!(ChallengeWindows::<Test>::contains_key(until, 1));

		run_to_block(until - 1);
		assert!(decisions().is_empty(), "nothing is decided during the window");
		run_to_block(until);
		assert_eq!(decisions(), vec![Decision::Confirmed { id: 1, executor: EXECUTOR, outcome }]);
		let receipt = Receipts::<Test>::get(1).unwrap();
		assert_eq!(
			(receipt.verified_by, receipt.outcome, receipt.model_hash),
			(VerifiedBy::Unchallenged, outcome, MODEL)
		);
		assert_eq!(receipt.input_hash, input_hash(&inputs()));
		assert_eq!(Outputs::<Test>::get(1), Some(outputs));
		System::assert_has_event(Event::ResultAccepted { request: 1, executor: EXECUTOR, outcome }.into());
		assert!(!Proposals::<Test>::contains_key(1) && !ProposedOutputs::<Test>::contains_key(1));
		assert!(struck().is_empty());
	});
}

#[test]
fn a_proposal_whose_hash_does_not_commit_to_its_outputs_is_refused_and_nothing_kept() {
	run_test(|| {
		optimistic_nodes();
		let job = job(1, MODEL);
		open_job(job.clone());
		let claim = Claim::Outputs { outputs: inputs(), result_hash: H256::repeat_byte(1) };
		assert_eq!(submit(Mode::Optimistic, &job, claim), Err(Error::<Test>::ResultHashMismatch.into()));
		assert_eq!(Proposals::<Test>::iter().count(), 0);
		assert_eq!(ChallengeWindows::<Test>::iter().count(), 0);
	});
}

#[test]
fn only_another_node_may_challenge_a_proposal_once_in_its_window_while_disputes_have_room() {
	run_test(|| {
		optimistic_nodes();
		register(45, 2);
		let job = job(1, MODEL);
		propose(1, honest(&job));
		assert_noop!(challenge(44, 1), Error::<Test>::NotANode);
		assert_noop!(challenge(EXECUTOR, 1), Error::<Test>::OwnResult);
		assert_noop!(challenge(43, 9), Error::<Test>::NothingToChallenge);
		let info = challenge(43, 1).unwrap();
		assert_eq!(info.pays_fee, frame_support::dispatch::Pays::No, "an accepted challenge is free");
		System::assert_has_event(
			Event::Challenged { request: 1, node: EXECUTOR, challenger: 43, deposit: DEPOSIT }.into(),
		);
		assert_eq!(Disputes::<Test>::get().into_inner(), vec![1]);
		assert_eq!(ChallengeWindows::<Test>::iter().count(), 0, "a disputed result does not settle unchallenged");
		assert_noop!(challenge(45, 1), Error::<Test>::AlreadyChallenged);
		// `MAX_DISPUTES` waiting: the next challenge is refused until one is decided.
		propose(2, honest(&job));
		propose(3, honest(&job));
		assert_ok!(challenge(43, 2));
		assert_noop!(challenge(43, 3), Error::<Test>::TooManyDisputes);
		// One decided a block.
		run_to_block(2);
		assert_eq!(Disputes::<Test>::get().into_inner(), vec![2]);
		assert_ok!(challenge(43, 3));
		// After its window, nothing is left to challenge.
		propose(4, honest(&job));
		run_to_block(2 + CHALLENGE_PERIOD);
		assert_noop!(challenge(43, 4), Error::<Test>::NothingToChallenge);
	});
}

#[test]
fn a_wrong_proposal_challenged_is_refuted_and_its_node_struck_for_the_challengers_operator() {
	run_test(|| {
		optimistic_nodes();
		// A failure the stand-in does not report for this input.
		propose(1, Claim::Failure(EngineError::FuelExhausted));
		assert_ok!(challenge(43, 1));
		run_to_block(2);
		System::assert_has_event(
			Event::ChallengeUpheld { request: 1, node: EXECUTOR, challenger: 43, slashed: SLASH }.into(),
		);
		assert_eq!(decisions(), vec![Decision::Refuted { id: 1, executor: EXECUTOR, wronged: 2 }]);
		assert_eq!(struck(), vec![(EXECUTOR, Some(2))]);
		assert!(Receipts::<Test>::get(1).is_none(), "a refuted result has no receipt");
		assert!(Proposals::<Test>::get(1).is_none() && Disputes::<Test>::get().is_empty());
	});
}

#[test]
fn a_right_proposal_challenged_is_confirmed_by_re_execution_and_the_challenger_struck() {
	run_test(|| {
		optimistic_nodes();
		let job = job(1, MODEL);
		let claim = honest(&job);
		let outcome = claim.outcome();
		propose(1, claim);
		assert_ok!(challenge(43, 1));
		run_to_block(2);
		System::assert_has_event(
			Event::ChallengeRejected { request: 1, node: EXECUTOR, challenger: 43, slashed: SLASH, forfeited: DEPOSIT }
				.into(),
		);
		System::assert_has_event(Event::ResultConfirmed { request: 1, executor: EXECUTOR, outcome }.into());
		assert_eq!(struck(), vec![(43, Some(1))], "the challenger pays the proposer's operator");
		assert_eq!(decisions(), vec![Decision::Confirmed { id: 1, executor: EXECUTOR, outcome }]);
		assert_eq!(Receipts::<Test>::get(1).unwrap().verified_by, VerifiedBy::ReExecution);
		assert_eq!(Outputs::<Test>::get(1), Some(inputs()));
	});
}

#[test]
fn the_invariants_catch_a_broken_challenge_game() {
	new_test_ext().execute_with(|| {
		optimistic_nodes();
		let job = job(1, MODEL);
		propose(1, honest(&job));
		assert!(Verification::do_try_state().is_ok());
		// An unchallenged proposal that would never settle.
		let until = Proposals::<Test>::get(1).unwrap().challenge_until;
		ChallengeWindows::<Test>::remove(until, 1);
		assert!(Verification::do_try_state().is_err());
		ChallengeWindows::<Test>::insert(until, 1, ());
		// A dispute of an unchallenged proposal.
		Disputes::<Test>::put(frame_support::BoundedVec::truncate_from(vec![1]));
		assert!(Verification::do_try_state().is_err());
		Disputes::<Test>::kill();
		// Outputs that do not hash to the proposal's.
		ProposedOutputs::<Test>::insert(1, vec![Tensor::from_f32(&[1, 1], &[0.0])]);
		assert!(Verification::do_try_state().is_err());
		ProposedOutputs::<Test>::insert(1, inputs());
		assert!(Verification::do_try_state().is_ok());
		// A challenge's deposit recorded as more than its challenger holds.
		assert_ok!(challenge(43, 1));
		assert!(Verification::do_try_state().is_ok());
		crate::ChallengeDeposits::<Test>::mutate(1, |deposit| *deposit.as_mut().unwrap() += 1);
		assert!(Verification::do_try_state().is_err());
		crate::ChallengeDeposits::<Test>::mutate(1, |deposit| *deposit.as_mut().unwrap() -= 1);
		assert!(Verification::do_try_state().is_ok());
	});
}

#[test]
fn only_an_active_node_of_another_operator_may_challenge() {
	run_test(|| {
		optimistic_nodes();
		let job = job(1, MODEL);
		propose(1, honest(&job));
		// Suspended (or leaving): its bond no longer answers for a wrong challenge.
		register(45, 2);
		suspend(45);
		assert_noop!(challenge(45, 1), Error::<Test>::NotANode);
		// A sibling of the proposer would win back half its own operator's slash.
		register(46, 1);
		assert_noop!(challenge(46, 1), Error::<Test>::SameOperator);
		assert_ok!(challenge(43, 1));
		// With the block space and priority of operational transactions.
		let info =
			frame_support::dispatch::GetDispatchInfo::get_dispatch_info(&crate::Call::<Test>::challenge { request: 1 });
		assert_eq!(info.class, frame_support::dispatch::DispatchClass::Operational);
	});
}

#[test]
fn nothing_settles_while_the_dispute_queue_is_full_and_no_window_moves() {
	run_test(|| {
		optimistic_nodes();
		register(45, 3);
		let job = job(1, MODEL);
		for id in 1..=3 {
			propose(id, honest(&job));
		}
		let until = 1 + CHALLENGE_PERIOD;
		run_to_block(until - 1);
		// `MAX_DISPUTES` challenges wait: no one can challenge the third proposal now.
		assert_ok!(challenge(43, 1));
		assert_ok!(challenge(45, 2));
		assert_noop!(challenge(43, 3), Error::<Test>::TooManyDisputes);
		run_to_block(until);
		System::assert_has_event(Event::SettlementHeld { waiting: MAX_DISPUTES }.into());
		assert!(Receipts::<Test>::get(3).is_none(), "not accepted while it could not be challenged");
		// Nothing was rewritten: the window stays where it was and settlement resumes there.
		assert_eq!(Proposals::<Test>::get(3).unwrap().challenge_until, until);
		assert!(ChallengeWindows::<Test>::contains_key(until, 3));
		assert_eq!(SettleFrom::<Test>::get(), Some(until));
		// One dispute was decided at the start of the block: there is room again, and the
		// result whose window ended can still be challenged.
		assert_ok!(challenge(43, 3));
		assert_eq!(Proposals::<Test>::get(3).unwrap().challenger, Some(43));
		// Full again at the end of the block: held once more, then every window up to now is
		// looked at.
		run_to_block(until + 1);
		assert_eq!(SettleFrom::<Test>::get(), Some(until));
		run_to_block(until + 2);
		assert_eq!(SettleFrom::<Test>::get(), None);
	});
}

#[test]
fn a_result_whose_window_ended_while_held_settles_once_there_is_room() {
	run_test(|| {
		optimistic_nodes();
		register(45, 3);
		let job = job(1, MODEL);
		propose(3, honest(&job));
		let until = 1 + CHALLENGE_PERIOD;
		// The disputes' queue fills in the block before the window ends.
		run_to_block(until - 1);
		propose(1, honest(&job));
		propose(2, honest(&job));
		assert_ok!(challenge(43, 1));
		assert_ok!(challenge(45, 2));
		run_to_block(until);
		System::assert_has_event(Event::SettlementHeld { waiting: MAX_DISPUTES }.into());
		assert!(Proposals::<Test>::contains_key(3) && Receipts::<Test>::get(3).is_none());
		// One dispute was decided: room at the end of the block, so the held window settles at
		// the start of the next.
		run_to_block(until + 1);
		assert_eq!(Receipts::<Test>::get(3).unwrap().verified_by, VerifiedBy::Unchallenged);
		assert_eq!(SettleFrom::<Test>::get(), None);
	});
}

#[test]
fn settlements_beyond_the_decision_weight_wait_for_the_next_block_in_window_order() {
	run_test(|| {
		optimistic_nodes();
		let job = job(1, MODEL);
		for id in 1..=5 {
			propose(id, honest(&job));
		}
		run_to_block(2);
		propose(6, honest(&job));
		// Room for two settlements a block.
		DecisionWeight::set(frame_support::weights::Weight::from_parts(2 * ACCEPTANCE + 5, 0));
		let until = 1 + CHALLENGE_PERIOD;
		run_to_block(until + 1);
		let settled = |decisions: Vec<Decision>| -> Vec<u64> {
			decisions
				.into_iter()
				.map(|decision| match decision {
					Decision::Confirmed { id, .. } => id,
					other => panic!("only acceptances, not {other:?}"),
				})
				.collect()
		};
		assert_eq!(settled(decisions()).len(), 4, "two a block");
		assert_eq!(SettleFrom::<Test>::get(), Some(until), "the first window is not done yet");
		run_to_block(until + 2);
		assert_eq!(settled(decisions()).len(), 6);
		assert_eq!(SettleFrom::<Test>::get(), None);
	});
}

#[test]
fn each_waiting_challenge_holds_its_deposit_returned_if_right_and_paid_to_the_proposer_if_wrong() {
	use frame_support::traits::fungible::{Inspect, InspectHold};
	run_test(|| {
		optimistic_nodes();
		let held = |who: u64| Balances::balance_on_hold(&crate::HoldReason::ChallengeDeposit.into(), &who);
		// A node with nothing to hold cannot challenge.
		register(150, 3);
		let job = job(1, MODEL);
		propose(1, Claim::Failure(EngineError::FuelExhausted));
		propose(2, honest(&job));
		assert_noop!(challenge(150, 1), Error::<Test>::InsufficientDeposit);
		// One deposit for each waiting challenge, so one bond cannot answer for many.
		assert_ok!(challenge(43, 1));
		assert_ok!(challenge(43, 2));
		assert_eq!(held(43), 2 * DEPOSIT);
		assert_eq!(crate::ChallengeDeposits::<Test>::get(1), Some(DEPOSIT));
		// The wrong proposal is decided first: the deposit comes back.
		run_to_block(2);
		assert_eq!((held(43), Balances::balance(&43)), (DEPOSIT, ENDOWMENT - DEPOSIT));
		// The right one next: its deposit is the proposer's operator's (1).
		run_to_block(3);
		assert_eq!((held(43), Balances::balance(&43)), (0, ENDOWMENT - DEPOSIT));
		assert_eq!(Balances::balance(&1), ENDOWMENT + DEPOSIT);
		assert_eq!(crate::ChallengeDeposits::<Test>::iter().count(), 0);
	});
}

#[test]
fn disputes_are_decided_as_many_a_block_as_the_decision_weight_has_room_for() {
	run_test(|| {
		optimistic_nodes();
		register(45, 3);
		let cheap = Job { fuel_limit: 200, ..job(1, MODEL) };
		let costly = Job { fuel_limit: 5_000, ..job(3, MODEL) };
		for job in [cheap.clone(), Job { id: 2, ..cheap.clone() }] {
			open_job(job.clone());
			assert_eq!(submit(Mode::Optimistic, &job, honest(&job)), Ok(Submission::Deferred));
		}
		assert_ok!(challenge(43, 1));
		assert_ok!(challenge(45, 2));
		// Both cheap disputes fit the block's decision weight (1 050) at their fuel limits.
		run_to_block(2);
		assert!(Disputes::<Test>::get().is_empty());
		assert_eq!(decisions().len(), 2);
		// A dispute that does not fit what is left waits for the next block; one costlier than
		// the whole budget is still decided there, first in its block.
		open_job(costly.clone());
		assert_eq!(submit(Mode::Optimistic, &costly, honest(&costly)), Ok(Submission::Deferred));
		let next = Job { id: 4, ..cheap };
		open_job(next.clone());
		assert_eq!(submit(Mode::Optimistic, &next, honest(&next)), Ok(Submission::Deferred));
		assert_ok!(challenge(45, 4));
		assert_ok!(challenge(43, 3));
		run_to_block(3);
		assert_eq!(Disputes::<Test>::get().into_inner(), vec![3]);
		run_to_block(4);
		assert!(Disputes::<Test>::get().is_empty());
		assert_eq!(decisions().len(), 4);
	});
}

#[test]
fn a_watching_node_checks_the_proposals_whose_window_ends_first_first() {
	run_test(|| {
		optimistic_nodes();
		register(46, 1);
		let job = job(1, MODEL);
		// Windows ending at the start of blocks 4, 5 and 6.
		for (id, block) in [(9, 1), (1, 2), (5, 3)] {
			run_to_block(block);
			propose(id, honest(&job));
		}
		assert_eq!(Verification::challengeable(&43), vec![9, 1, 5]);
		assert_eq!(Verification::challengeable(&46), Vec::<u64>::new(), "nothing of its own operator's");
		run_to_block(4);
		assert_eq!(Verification::challengeable(&43), vec![1, 5], "a settled result is left out");
	});
}
