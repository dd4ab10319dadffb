//! A request's lifecycle: completed, refuted, abandoned, expired, waiting, cancelled,
//! refused; its fee settled or refunded; receipts pruned; quotes; preparation charged.

use super::*;

#[test]
fn a_verified_result_completes_the_request_and_settles_the_fee() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let fee = relu_fee();
		assert_eq!(escrowed(alice()), fee.total());
		assert_eq!(assigned_to(id), vec![node]);
		assert!(Assignments::<Test>::contains_key(node, id));
		assert_eq!(Inference::assignments_of(&node), vec![id]);
		System::assert_has_event(Event::Assigned { request: id, nodes: vec![node] }.into());

		let owner_before = Balances::balance(&owner());
		let operator_before = Balances::balance(&operator());
		let treasury_before = Balances::balance(&Treasury::get());
		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);
		let post = Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), hash).unwrap();
		assert_eq!(post.pays_fee, frame_support::dispatch::Pays::No);

		System::assert_has_event(Event::Completed { request: id, node, result_hash: hash, fee }.into());
		assert_eq!(Balances::balance(&alice()), ENDOWMENT - fee.total());
		assert_eq!(escrowed(alice()), 0);
		assert_eq!(Balances::balance(&owner()), owner_before + PRICE);
		assert_eq!(Balances::balance(&operator()), operator_before + fee.execution);
		assert_eq!(Balances::balance(&Treasury::get()), treasury_before + fee.protocol);
		// Nothing of the request is left but its receipt and outputs.
		assert!(!Requests::<Test>::contains_key(id));
		assert!(!Inputs::<Test>::contains_key(id));
		assert!(!Assignments::<Test>::contains_key(node, id));
		assert!(Inference::assignments_of(&node).is_empty());
		assert!(!OpenRequests::<Test>::contains_key(relu_hash()));
		assert_eq!(Deadlines::<Test>::iter().count(), 0);
		let receipt = Receipts::<Test>::get(id).unwrap();
		assert_eq!(receipt.outcome, Outcome::Outputs { output_hash: output_hash(&outputs), result_hash: hash });
		assert_eq!(receipt.executor, node);
		assert_eq!(receipt.input_hash, input_hash(&sample_input()));
		assert_eq!(pallet_verification::Outputs::<Test>::get(id), Some(outputs));

		// Late and duplicate submissions are refused.
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, sample_output(), hash),
			Error::<Test>::RequestClosed
		);
	});
}

#[test]
fn a_nodes_assignments_are_listed_in_request_order_until_it_answers() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let ids: Vec<u64> = (0..3).map(|_| request_from(alice(), sample_input())).collect();
		assert_eq!(Inference::assignments_of(&node), ids);

		submit_honest_result(node, ids[1]);

		assert_eq!(Inference::assignments_of(&node), vec![ids[0], ids[2]]);
		assert!(Inference::assignments_of(&account(11)).is_empty());
	});
}

#[test]
fn a_wrong_result_is_slashed_never_paid_and_the_request_goes_to_another_node() {
	run_test(|| {
		let (first, second) = (account(10), account(11));
		register_node(first);
		register_node(second);
		let id = request_from(alice(), sample_input());
		let liar = assigned_to(id)[0];
		let honest = if liar == first { second } else { first };
		let operator_before = Balances::balance(&operator());
		let alice_before = Balances::balance(&alice());
		let treasury_before = Balances::balance(&Treasury::get());

		// Right outputs, wrong hash; then wrong outputs with their own hash.
		let wrong_hash = H256::repeat_byte(7);
		let post = Inference::submit_result(RuntimeOrigin::signed(liar), id, sample_output(), wrong_hash).unwrap();
		assert_eq!(post.pays_fee, frame_support::dispatch::Pays::Yes);
		// 50% of the 2000 bond; 20% of that to the requester, the rest to the treasury.
		System::assert_has_event(Event::ResultRejected { request: id, node: liar, slashed: 1_000 }.into());
		assert_eq!(bond_of(liar), 1_000);
		assert_eq!(Balances::balance(&alice()), alice_before + 200);
		assert_eq!(Balances::balance(&Treasury::get()), treasury_before + 800);
		assert_eq!(Balances::balance(&operator()), operator_before);
		// Another node is drawn at the end of the block.
		end_block();
		assert_eq!(assigned_to(id), vec![honest]);
		assert!(!Assignments::<Test>::contains_key(liar, id));
		assert!(Receipts::<Test>::get(id).is_none());
		// The liar is no longer assigned.
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(liar), id, sample_output(), wrong_hash),
			Error::<Test>::NotAssigned
		);

		submit_honest_result(honest, id);
		assert_eq!(Balances::balance(&operator()), operator_before + relu_fee().execution);
		assert_eq!(Receipts::<Test>::get(id).unwrap().executor, honest);
	});
}

#[test]
fn outputs_that_differ_from_their_hash_are_refuted() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let forged = vec![Tensor::from_f32(&[1, WIDTH], &[9.0; 8])];
		// The hash of the honest outputs, attached to forged ones.
		let hash = honest_hash(&sample_input(), &sample_output());
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, forged, hash));
		System::assert_has_event(Event::ResultRejected { request: id, node, slashed: 1_000 }.into());
		// No other node at the end of the block: the request waits for one.
		end_block();
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		assert_eq!(PendingQueue::<Test>::get().into_inner(), vec![id]);
		// The liar still serves the model with enough bond, but never gets this request again.
		assert_eq!(bond_of(node), MIN_BOND);
		run_to_block(3);
		assert!(assigned_to(id).is_empty());
		assert!(!Assignments::<Test>::contains_key(node, id));
		let newcomer = account(11);
		register_node(newcomer);
		run_to_block(4);
		assert_eq!(assigned_to(id), vec![newcomer]);
		assert!(PendingQueue::<Test>::get().is_empty());
	});
}

#[test]
fn a_request_is_abandoned_and_refunded_after_max_refuted_nodes_plus_one_wrong_results() {
	run_test(|| {
		let liars = [account(10), account(11), account(12)];
		for liar in liars {
			register_node(liar);
		}
		let alice_before = Balances::balance(&alice());
		let id = request_from(alice(), sample_input());
		let wrong_hash = H256::repeat_byte(7);
		// MaxRefutedNodes is 2 in the mock: the third wrong result abandons the request.
		for round in 0..3 {
			let liar = assigned_to(id)[0];
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), id, sample_output(), wrong_hash));
			end_block();
			if round < 2 {
				assert_eq!(Requests::<Test>::get(id).unwrap().refuted.len(), round + 1);
			}
		}
		System::assert_has_event(Event::Abandoned { request: id, refunded: relu_fee().total() }.into());
		// The whole fee back, plus the requester's share of three slashes (20% of 1000 each).
		assert_eq!(Balances::balance(&alice()), alice_before + 3 * 200);
		assert_eq!(escrowed(alice()), 0);
		assert!(!Requests::<Test>::contains_key(id));
		assert!(!Inputs::<Test>::contains_key(id));
		assert!(!OpenRequests::<Test>::contains_key(relu_hash()));
		assert_eq!(Assignments::<Test>::iter().count(), 0);
		assert_eq!(Deadlines::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_false_failure_report_is_slashed() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		assert_ok!(Inference::report_failure(RuntimeOrigin::signed(node), id, EngineError::FuelExhausted));
		System::assert_has_event(Event::ResultRejected { request: id, node, slashed: 1_000 }.into());
		assert_eq!(bond_of(node), MIN_BOND);
		// The only serving node lied: the request waits for another.
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		assert!(Receipts::<Test>::get(id).is_none());
	});
}

#[test]
fn an_unanswered_request_expires_and_is_refunded() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let deadline = Requests::<Test>::get(id).unwrap().deadline;
		assert_eq!(deadline, 1 + TIMEOUT);
		run_to_block(deadline - 1);
		assert!(Requests::<Test>::contains_key(id));
		run_to_block(deadline);
		System::assert_has_event(Event::Expired { request: id, refunded: relu_fee().total() }.into());
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);
		assert_eq!(escrowed(alice()), 0);
		assert!(!Requests::<Test>::contains_key(id));
		assert!(!Inputs::<Test>::contains_key(id));
		assert!(!Assignments::<Test>::contains_key(node, id));
		assert!(Inference::assignments_of(&node).is_empty());
		assert!(!OpenRequests::<Test>::contains_key(relu_hash()));
		let hash = honest_hash(&sample_input(), &sample_output());
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, sample_output(), hash),
			Error::<Test>::RequestClosed
		);
	});
}

#[test]
fn a_request_without_a_node_waits_and_is_assigned_when_one_registers() {
	run_test(|| {
		let id = request_from(alice(), sample_input());
		System::assert_has_event(Event::AwaitingNode { request: id }.into());
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		register_node(account(10));
		// Not drawn in the block it was made in (its id is that block's order), but from the
		// next on.
		run_to_block(2);
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		run_to_block(3);
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Assigned);
		assert_eq!(assigned_to(id), vec![account(10)]);
		assert!(PendingQueue::<Test>::get().is_empty());
		// Assigned: no longer cancellable.
		assert_noop!(Inference::cancel(RuntimeOrigin::signed(alice()), id), Error::<Test>::AlreadyAssigned);
	});
}

#[test]
fn a_waiting_request_can_be_cancelled_and_the_queue_is_bounded() {
	run_test(|| {
		let first = request_from(alice(), sample_input());
		let _second = request_from(bob(), sample_input());
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(alice()), relu_hash(), sample_input(), 1_000),
			Error::<Test>::NoNodeAvailable
		);
		assert_noop!(Inference::cancel(RuntimeOrigin::signed(bob()), first), Error::<Test>::NotRequester);
		assert_ok!(Inference::cancel(RuntimeOrigin::signed(alice()), first));
		System::assert_has_event(Event::Cancelled { request: first, refunded: relu_fee().total() }.into());
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);
		assert!(!Requests::<Test>::contains_key(first));
		assert_eq!(PendingQueue::<Test>::get().len(), 1);
		assert_noop!(Inference::cancel(RuntimeOrigin::signed(alice()), first), Error::<Test>::RequestClosed);
		assert_noop!(Inference::cancel(RuntimeOrigin::signed(alice()), 99), Error::<Test>::UnknownRequest);
	});
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
	run_test(|| {
		register_node(account(10));
		let origin = || RuntimeOrigin::signed(alice());
		assert_noop!(
			Inference::request(origin(), H256::repeat_byte(1), sample_input(), 1_000),
			Error::<Test>::UnknownModel
		);
		let wrong_shape = vec![Tensor::from_f32(&[WIDTH, 1], &[1.0; 8])];
		assert_noop!(
			Inference::request(origin(), relu_hash(), wrong_shape, 1_000),
			Error::<Test>::InputDoesNotMatchModel
		);
		let wrong_dtype = vec![Tensor { dtype: DType::I32, shape: vec![1, WIDTH], data: vec![0; 32] }];
		assert_noop!(
			Inference::request(origin(), relu_hash(), wrong_dtype, 1_000),
			Error::<Test>::InputDoesNotMatchModel
		);
		let two_inputs = [sample_input(), sample_input()].concat();
		assert_noop!(
			Inference::request(origin(), relu_hash(), two_inputs, 1_000),
			Error::<Test>::InputDoesNotMatchModel
		);
		let short = vec![Tensor { dtype: DType::F32, shape: vec![1, WIDTH], data: vec![0; 31] }];
		assert_noop!(Inference::request(origin(), relu_hash(), short, 1_000), Error::<Test>::MalformedTensor);
		let huge = vec![Tensor::from_f32(&[1, 512], &[1.0; 512])];
		assert_noop!(Inference::request(origin(), relu_hash(), huge, 1_000), Error::<Test>::InputTooLarge);
		assert_noop!(
			Inference::request(origin(), relu_hash(), sample_input(), relu_fee().total() - 1),
			Error::<Test>::FeeAboveMax
		);
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(poor()), relu_hash(), sample_input(), 1_000),
			Error::<Test>::InsufficientBalance
		);
		assert_ok!(Models::deprecate_model(RuntimeOrigin::signed(owner()), relu_hash()));
		assert_noop!(Inference::request(origin(), relu_hash(), sample_input(), 1_000), Error::<Test>::ModelDeprecated);
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);
	});
}

#[test]
fn a_model_whose_outputs_no_result_can_carry_is_refused_before_anyone_pays_or_works() {
	run_test(|| {
		register_node(account(10));
		// A model registered before the registry refused such models: its outputs are
		// larger than a result may carry, so no node could ever submit one.
		pallet_model_registry::Models::<Test>::mutate(relu_hash(), |model| {
			let model = model.as_mut().unwrap();
			model.outputs =
				BoundedVec::truncate_from(vec![
					veriml_inference_primitives::TensorSpec::new(DType::F32, &[1, 1024]).unwrap()
				]);
		});
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(alice()), relu_hash(), sample_input(), 1_000),
			Error::<Test>::OutputTooLarge
		);
		end_block();
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);
		assert!(crate::Assignments::<Test>::iter().next().is_none());
	});
}

#[test]
fn bad_submissions_are_refused_and_change_nothing() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let hash = honest_hash(&sample_input(), &sample_output());
		let stranger = account(12);
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(stranger), id, sample_output(), hash),
			Error::<Test>::NotAssigned
		);
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), 42, sample_output(), hash),
			Error::<Test>::UnknownRequest
		);
		let huge = vec![Tensor::from_f32(&[1, 512], &[1.0; 512])];
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, huge, hash),
			Error::<Test>::OutputTooLarge
		);
		assert_eq!(bond_of(node), MIN_BOND * 2);
	});
}

#[test]
fn a_model_with_open_requests_cannot_be_removed() {
	run_test(|| {
		register_node(account(10));
		let id = request_from(alice(), sample_input());
		assert_eq!(OpenRequests::<Test>::get(relu_hash()), 1);
		assert_noop!(
			Models::remove_model(RuntimeOrigin::signed(owner()), relu_hash()),
			pallet_model_registry::Error::<Test>::ModelInUse
		);
		run_to_block(1 + TIMEOUT);
		assert!(!Requests::<Test>::contains_key(id));
		assert_ok!(Models::remove_model(RuntimeOrigin::signed(owner()), relu_hash()));
	});
}

#[test]
fn receipts_are_pruned_after_their_retention() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		submit_honest_result(node, id);
		run_to_block(1 + RETENTION - 1);
		assert!(Receipts::<Test>::contains_key(id));
		run_to_block(1 + RETENTION);
		assert!(!Receipts::<Test>::contains_key(id));
		assert!(pallet_verification::Outputs::<Test>::get(id).is_none());
	});
}

#[test]
fn a_verified_failure_refunds_the_price_and_pays_the_node() {
	run_test(|| {
		let node = account(10);
		let log = register_unary("Log");
		assert_ok!(Nodes::register(
			RuntimeOrigin::signed(operator()),
			node,
			BoundedVec::truncate_from(vec![log]),
			MIN_BOND * 2,
			node_proof(&node, &operator())
		));
		// The logarithm of a negative number is NaN, which has no canonical form: the engine
		// refuses the output, on every node alike.
		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request(
			RuntimeOrigin::signed(alice()),
			log,
			input([-1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
			1_000
		));
		end_block();
		let fee = relu_fee();
		let operator_before = Balances::balance(&operator());
		let owner_before = Balances::balance(&owner());
		assert_ok!(Inference::report_failure(RuntimeOrigin::signed(node), id, EngineError::NanInOutput));
		System::assert_has_event(Event::Failed { request: id, node, error: EngineError::NanInOutput }.into());
		assert_eq!(Balances::balance(&operator()), operator_before + fee.execution);
		assert_eq!(Balances::balance(&owner()), owner_before);
		assert_eq!(Balances::balance(&alice()), ENDOWMENT - fee.execution - fee.protocol);
		assert_eq!(Receipts::<Test>::get(id).unwrap().outcome, Outcome::Failed(EngineError::NanInOutput));
		assert!(!Requests::<Test>::contains_key(id));
		assert_eq!(bond_of(node), MIN_BOND * 2);
	});
}

#[test]
fn a_quote_is_the_fee_a_request_holds_or_why_it_cannot_be_made() {
	run_test(|| {
		register_node(account(10));
		assert_eq!(Inference::quote(&relu_hash()), Ok(relu_fee()));
		let id = request_from(alice(), sample_input());
		assert_eq!(Requests::<Test>::get(id).unwrap().fee, relu_fee());
		assert_eq!(Inference::quote(&H256::repeat_byte(1)), Err(crate::QuoteError::UnknownModel));
		assert_ok!(Models::deprecate_model(RuntimeOrigin::signed(owner()), relu_hash()));
		assert_eq!(Inference::quote(&relu_hash()), Err(crate::QuoteError::ModelDeprecated));
	});
}

#[test]
fn the_first_re_execution_of_a_model_in_a_block_pays_for_preparing_it() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let ids = [0, 1, 2].map(|_| request_from(alice(), sample_input()));
		use pallet_model_registry::ModelCatalog;
		let terms = <Models as ModelCatalog<_, _>>::terms(&relu_hash()).unwrap();
		let preparation = <Models as ModelCatalog<_, _>>::preparation_weight(&terms);
		assert!(preparation.ref_time() > 0);
		// A block reserves it for every submission, as it cannot know which comes first.
		let reserved = Inference::verification_weight(ids[0], Weight::zero());
		assert!(
			reserved.ref_time()
				>= preparation.ref_time() + <Test as crate::Config>::Models::fuel_weight(terms.fuel_per_run).ref_time()
		);

		let submit = |id| {
			let outputs = sample_output();
			Inference::submit_result(
				RuntimeOrigin::signed(node),
				id,
				outputs.clone(),
				honest_hash(&sample_input(), &outputs),
			)
			.unwrap()
			.actual_weight
			.unwrap()
		};
		// An importing node that restarted prepares the model for the first result of the
		// block: that one is charged for it, the next one in the block is not.
		let first = submit(ids[0]);
		let second = submit(ids[1]);
		assert!(first.ref_time() >= second.ref_time() + preparation.ref_time());
		assert_eq!(crate::PreparedInBlock::<Test>::get().into_inner(), vec![relu_hash()]);
		// In the next block, the first one is charged again.
		run_to_block(System::block_number() + 1);
		assert!(crate::PreparedInBlock::<Test>::get().is_empty());
		let third = submit(ids[2]);
		assert_eq!(third, first);
	});
}

#[test]
fn a_request_whose_re_execution_with_a_large_stored_models_reading_exceeds_a_transaction_is_refused() {
	run_test(|| {
		let terms = |byte_len: u32, in_content_store: bool| veriml_primitives::models::ModelTerms {
			owner: alice(),
			price_per_inference: 0,
			inputs: Vec::new(),
			fuel_per_run: 1_000_000,
			fuel_to_prepare: 1_000_000,
			measured_with: 1,
			byte_len,
			in_content_store,
			output_bytes: 64,
			active: true,
			verification: veriml_primitives::models::Verification::InBlock,
		};
		// A small model on small inputs: verified in a block.
		assert!(Inference::verifiable(&terms(1024, true), 64, 1_500_000));
		// The same fuel, but bytes in the content store that take longer to read than a
		// transaction may take (10 ns a byte in the mock): every request of it is refused, since
		// no block could re-execute its result, whatever MaxVerificationFuel allows.
		let unreadable = terms(u32::MAX, true);
		assert!(!Inference::verifiable(&unreadable, 64, 1_500_000));
		assert!(
			unreadable.fuel_per_run + unreadable.fuel_to_prepare
				<= <<Test as crate::Config>::MaxVerificationFuel as frame_support::traits::Get<u64>>::get()
		);
		// So is a request whose inputs, with the model, would not fit.
		assert!(!Inference::verifiable(&terms(1024, true), u32::MAX, 1_500_000));
	});
}

#[test]
fn a_request_is_taken_only_if_a_guest_charged_the_highest_price_of_fuel_could_verify_it() {
	run_test(|| {
		register_node(account(10));
		let terms = <Models as pallet_model_registry::ModelCatalog<_, _>>::terms(&relu_hash()).unwrap();
		let fuel_limit = Inference::fuel_limit(&terms).unwrap();
		let today = Inference::fuel_weight(fuel_limit);
		assert_eq!(Inference::quote(&relu_hash()), Ok(relu_fee()));
		// Root may set a guest of the next version, charged 0.1 ms a unit of fuel: a block
		// could not re-execute this model's result then. The chain still runs today's guest,
		// at today's price.
		let version = pallet_model_registry::EngineGuest::<Test>::get().version;
		crate::mock::DearerVersionsFrom::set(version + 1);
		assert_eq!(Inference::fuel_weight(fuel_limit), today);
		assert!(!Inference::verifiable(&terms, 64, fuel_limit));
		assert_eq!(Inference::quote(&relu_hash()), Err(crate::QuoteError::ModelTooCostlyToVerify));
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(alice()), relu_hash(), sample_input(), 1_000),
			Error::<Test>::ModelTooCostlyToVerify
		);
		// Once the dearer guest runs, its fuel is charged its price.
		switch_to_next_engine_version();
		assert_eq!(
			Inference::fuel_weight(fuel_limit).ref_time() - Inference::fuel_weight(0).ref_time(),
			fuel_limit * crate::mock::DEARER_PICOSECONDS_PER_FUEL
		);
	});
}
