//! What nodes' answers cost in transaction fees: an answer that passes dispatch's checks is
//! `feeless_if` (the runtime's `SkipCheckIfFeeless` charges it nothing, so a node's key needs
//! no balance for the verification it asks for); one that would fail pays, so no one fills
//! blocks for free.

use super::*;
use crate::Call;
use frame_support::dispatch::CheckIfFeeless;

/// Whether `who`'s result `outputs` / `hash` for request `id` is sent without a fee.
fn result_is_feeless(who: AccountId, id: u64, outputs: Vec<Tensor>, hash: H256) -> bool {
	RuntimeCall::Inference(Call::submit_result { request: id, outputs, result_hash: hash })
		.is_feeless(&RuntimeOrigin::signed(who))
}

/// Whether `who`'s failure report for request `id` is sent without a fee.
fn report_is_feeless(who: AccountId, id: u64) -> bool {
	RuntimeCall::Inference(Call::report_failure { request: id, error: EngineError::FuelExhausted })
		.is_feeless(&RuntimeOrigin::signed(who))
}

#[test]
fn an_assigned_nodes_answers_are_free_and_every_other_answer_pays() {
	run_test(|| {
		let (node, other) = (account(10), account(11));
		register_node(node);
		let id = request_from(alice(), sample_input());
		assert_eq!(assigned_to(id), vec![node]);
		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);

		// The assigned node: its result and its failure report are free, a wrong result too
		// (it is re-executed and the node struck; that is its cost).
		assert!(result_is_feeless(node, id, outputs.clone(), hash));
		assert!(report_is_feeless(node, id));
		let (wrong, wrong_hash) = (sample_input(), honest_hash(&sample_input(), &sample_input()));
		assert!(result_is_feeless(node, id, wrong, wrong_hash));

		// Answers dispatch refuses pay: from a node not assigned, unsigned, for no request,
		// with outputs larger than a result may carry.
		assert!(!result_is_feeless(other, id, outputs.clone(), hash));
		assert!(!report_is_feeless(other, id));
		assert!(!RuntimeCall::Inference(Call::report_failure { request: id, error: EngineError::FuelExhausted })
			.is_feeless(&RuntimeOrigin::none()));
		assert!(!result_is_feeless(node, id + 1, outputs.clone(), hash));
		let too_large = vec![Tensor::from_f32(&[1, 512], &[0.0; 512])];
		assert!(codec::Encode::encoded_size(&too_large) > 1024);
		assert!(!result_is_feeless(node, id, too_large.clone(), honest_hash(&sample_input(), &too_large)));
		assert_noop!(
			Inference::submit_result(
				RuntimeOrigin::signed(node),
				id,
				too_large.clone(),
				honest_hash(&sample_input(), &too_large)
			),
			Error::<Test>::OutputTooLarge
		);

		// Once the request is completed, a second answer would fail: it pays.
		submit_honest_result(node, id);
		assert!(!result_is_feeless(node, id, outputs, hash));
		assert!(!report_is_feeless(node, id));
	});
}

#[test]
fn an_optimistic_result_is_free_only_if_its_hash_commits_to_its_outputs() {
	OptimisticAboveFuel::set(0);
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let outputs = sample_output();

		// Verification refuses a hash that does not commit to the outputs without deciding
		// anything: such a result would fail, so it pays.
		let inconsistent = honest_hash(&sample_input(), &sample_input());
		assert!(!result_is_feeless(node, id, outputs.clone(), inconsistent));
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), inconsistent),
			pallet_verification::Error::<Test>::ResultHashMismatch
		);
		// A consistent one is free, wrong or right: wrong ones are challenged.
		let wrong = vec![Tensor::from_f32(&[1, WIDTH], &[1.0; WIDTH as usize])];
		assert!(result_is_feeless(node, id, wrong.clone(), honest_hash(&sample_input(), &wrong)));
		assert!(result_is_feeless(node, id, outputs.clone(), honest_hash(&sample_input(), &outputs)));
	});
	OptimisticAboveFuel::set(u64::MAX);
}

#[test]
fn a_result_of_the_replaced_engine_pays_since_dispatch_refuses_it() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let (before, after) = switch_to_next_engine_version();
		let outputs = sample_output();
		let stale = result_hash(before.version, &relu_hash(), &input_hash(&sample_input()), &outputs);
		let fresh = result_hash(after.version, &relu_hash(), &input_hash(&sample_input()), &outputs);
		assert!(!result_is_feeless(node, id, outputs.clone(), stale));
		assert!(result_is_feeless(node, id, outputs, fresh));
	});
}

#[test]
fn a_node_no_longer_active_pays_for_its_answers() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);
		assert!(result_is_feeless(node, id, outputs.clone(), hash));
		// Leaving (as a suspended node): its bond no longer stands behind a re-execution it would
		// ask for free, so its answers pay their fee up front (refunded when verified).
		assert_ok!(Nodes::unbond(RuntimeOrigin::signed(operator()), node));
		assert_eq!(assigned_to(id), vec![node]);
		assert!(!result_is_feeless(node, id, outputs, hash));
		assert!(!report_is_feeless(node, id));
		submit_honest_result(node, id);
	});
}
