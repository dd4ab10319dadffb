//! Judging claims by re-execution and keeping receipts, as the requests pallet and clients see
//! it: verdicts, receipts, outputs, events and pruning. The invariants run after every test.

use crate::{mock::*, Claim, Event, Job, Outcome, Outputs, Receipts, ResultVerifier, Verdict, VerifiedBy, VerifiedIn};
use veriml_inference_primitives::{input_hash, output_hash, result_hash, EngineError, Tensor, H256};

const MODEL: H256 = H256([7; 32]);
const EXECUTOR: u64 = 42;

fn inputs() -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, 4], &[1.0, -2.0, 3.5, 0.0])]
}

fn job(id: u64, model: H256) -> Job<u64, u64> {
	Job { id, model, input_specs: Vec::new(), inputs: inputs(), fuel_limit: 1_000, executor: EXECUTOR }
}

/// What an honest node claims for `job`: the stand-in's outputs (the inputs) and their hash.
fn honest(job: &Job<u64, u64>) -> Claim {
	let outputs = job.inputs.clone();
	let result_hash = result_hash(ENGINE_VERSION, &job.model, &input_hash(&job.inputs), &outputs);
	Claim::Outputs { outputs, result_hash }
}

fn verify(job: &Job<u64, u64>, claim: &Claim) -> Verdict {
	<Verification as ResultVerifier<u64, u64>>::verify(job, claim)
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
fn an_unchallenged_optimistic_result_is_kept_without_re_execution() {
	run_test(|| {
		// Outputs the stand-in would not give: accepting does not run the engine.
		let outputs = vec![Tensor::from_f32(&[1, 1], &[9.0])];
		let claim = Claim::Outputs { outputs: outputs.clone(), result_hash: H256::repeat_byte(3) };
		let outcome = <Verification as ResultVerifier<u64, u64>>::accept_unchallenged(&job(1, MODEL), claim);
		assert_eq!(outcome, Outcome::Outputs { output_hash: output_hash(&outputs), result_hash: H256::repeat_byte(3) });
		let receipt = Receipts::<Test>::get(1).unwrap();
		assert_eq!(receipt.verified_by, VerifiedBy::Unchallenged);
		assert_eq!(Outputs::<Test>::get(1), Some(outputs));
		System::assert_has_event(Event::ResultAccepted { request: 1, executor: EXECUTOR, outcome }.into());
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
