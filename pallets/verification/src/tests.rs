//! Judging claims in each mode and keeping receipts, as the requests pallet and clients see
//! it: verdicts, proposals, challenges and their decisions, receipts, outputs, events and
//! pruning. The invariants run after every test.

use crate::{
	mock::*, ChallengeWindows, Claim, Disputes, Error, Event, Job, Outcome, Outputs, Proposals, ProposedOutputs,
	Receipts, ResultVerifier, Submission, Verdict, Verification as Mode, VerifiedBy, VerifiedIn,
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
		assert!(Receipts::<Test>::get(2).is_some());
		run_to_block(3 + RETENTION);
		assert!(Receipts::<Test>::get(2).is_none());
		assert_eq!(VerifiedIn::<Test>::iter().count(), 0);
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
		System::assert_has_event(Event::Challenged { request: 1, node: EXECUTOR, challenger: 43 }.into());
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
			Event::ChallengeRejected { request: 1, node: EXECUTOR, challenger: 43, slashed: SLASH }.into(),
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
fn no_window_ends_while_the_dispute_queue_is_full() {
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
		System::assert_has_event(Event::ChallengeWindowExtended { request: 3, challenge_until: until + 1 }.into());
		assert_eq!(Proposals::<Test>::get(3).unwrap().challenge_until, until + 1);
		assert!(Receipts::<Test>::get(3).is_none(), "not accepted while it could not be challenged");
		// One dispute was decided at the start of the block: there is room again, and the
		// window ends at the start of the next.
		assert_ok!(challenge(43, 3));
		assert_eq!(Proposals::<Test>::get(3).unwrap().challenger, Some(43));
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
		assert_eq!(Verification::challengeable(3, &43), vec![9, 1, 5]);
		assert_eq!(Verification::challengeable(3, &46), Vec::<u64>::new(), "nothing of its own operator's");
		assert_eq!(Verification::challengeable(4, &43), vec![1, 5], "a window that ended is left out");
	});
}
