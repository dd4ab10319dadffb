//! Requests from start to settlement, with the real engine: every lifecycle path and every
//! refusal, by its effect on storage, balances and events.

use crate::{mock::*, Assignments, Deadlines, Error, Event, Fee, Inputs, OpenRequests, PendingQueue, RequestStatus, Requests};
use frame_support::{
	assert_noop, assert_ok,
	traits::{fungible::{Inspect, InspectHold}, Hooks},
	weights::Weight,
	BoundedVec,
};
use pallet_verification::{Outcome, Receipts};
use veriml_inference_primitives::{input_hash, output_hash, result_hash, DType, EngineError, Tensor, ENGINE_VERSION, H256};

fn input(values: [f32; WIDTH as usize]) -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, WIDTH], &values)]
}

fn sample_input() -> Vec<Tensor> {
	input([-2.0, -1.0, -0.0, 0.5, 1.0, 2.0, -3.5, 4.0])
}

/// What Relu gives for `sample_input`.
fn sample_output() -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, WIDTH], &[0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 0.0, 4.0])]
}

fn honest_hash(inputs: &[Tensor], outputs: &[Tensor]) -> H256 {
	result_hash(ENGINE_VERSION, &relu_hash(), &input_hash(inputs), outputs)
}

/// `node` submits the right result of request `id` on `sample_input()`; it must be accepted.
fn submit_honest_result(node: AccountId, id: u64) {
	let outputs = sample_output();
	assert_ok!(Inference::submit_result(
		RuntimeOrigin::signed(node),
		id,
		outputs.clone(),
		honest_hash(&sample_input(), &outputs)
	));
}

/// The fee of a Relu request in the mock: price 70, execution 50, protocol 10% of 120.
fn relu_fee() -> Fee<u64> {
	Fee { model_price: PRICE, execution: 50, protocol: 12 }
}

fn escrowed(who: AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Escrow(pallet_escrow::HoldReason::Escrow), &who)
}

fn bond_of(node: AccountId) -> u64 {
	pallet_inference_nodes::Nodes::<Test>::get(node).unwrap().bond
}

fn request_from(who: AccountId, inputs: Vec<Tensor>) -> u64 {
	let id = crate::NextRequestId::<Test>::get();
	assert_ok!(Inference::request(RuntimeOrigin::signed(who), relu_hash(), inputs, 1_000));
	id
}

fn assigned_to(id: u64) -> Vec<AccountId> {
	Requests::<Test>::get(id).unwrap().assigned.into_inner()
}

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
		// No other node: the request waits for one.
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
		run_to_block(2);
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
		assert_noop!(
			Inference::request(origin(), relu_hash(), sample_input(), 1_000),
			Error::<Test>::ModelDeprecated
		);
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);
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
fn nodes_bond_unbond_after_a_delay_and_refusals_change_nothing() {
	run_test(|| {
		use pallet_inference_nodes::{Error as NodeError, NodesByModel};
		let node = account(10);
		let models = || BoundedVec::truncate_from(vec![relu_hash()]);
		let op = || RuntimeOrigin::signed(operator());
		assert_noop!(Nodes::register(op(), node, models(), MIN_BOND - 1), NodeError::<Test>::BondTooLow);
		assert_noop!(
			Nodes::register(op(), node, BoundedVec::truncate_from(vec![H256::repeat_byte(3)]), MIN_BOND),
			NodeError::<Test>::UnknownModel
		);
		assert_noop!(
			Nodes::register(op(), node, BoundedVec::truncate_from(vec![relu_hash(), relu_hash()]), MIN_BOND),
			NodeError::<Test>::DuplicateModel
		);
		assert_noop!(Nodes::register(op(), node, BoundedVec::new(), MIN_BOND), NodeError::<Test>::NoModels);
		assert_noop!(
			Nodes::register(RuntimeOrigin::signed(poor()), node, models(), MIN_BOND),
			NodeError::<Test>::InsufficientBalance
		);
		assert_ok!(Nodes::register(op(), node, models(), MIN_BOND));
		assert_noop!(Nodes::register(op(), node, models(), MIN_BOND), NodeError::<Test>::AlreadyRegistered);
		let bonded = RuntimeHoldReason::Nodes(pallet_inference_nodes::HoldReason::NodeBond);
		assert_eq!(Balances::balance_on_hold(&bonded, &operator()), MIN_BOND);
		assert_noop!(Nodes::unbond(RuntimeOrigin::signed(alice()), node), NodeError::<Test>::NotOperator);
		assert_noop!(Nodes::withdraw(op(), node), NodeError::<Test>::NotUnbonding);

		assert_ok!(Nodes::unbond(op(), node));
		assert!(NodesByModel::<Test>::get(relu_hash()).is_empty());
		// No node takes new requests now.
		let id = request_from(alice(), sample_input());
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		assert_noop!(Nodes::withdraw(op(), node), NodeError::<Test>::StillUnbonding);
		run_to_block(11);
		assert_ok!(Nodes::withdraw(op(), node));
		assert_eq!(Balances::balance_on_hold(&bonded, &operator()), 0);
		assert_eq!(Balances::balance(&operator()), ENDOWMENT);
		assert!(pallet_inference_nodes::Nodes::<Test>::get(node).is_none());
	});
}

#[test]
fn a_suspended_node_rejoins_when_it_bonds_enough() {
	run_test(|| {
		let node = account(10);
		assert_ok!(Nodes::register(
			RuntimeOrigin::signed(operator()),
			node,
			BoundedVec::truncate_from(vec![relu_hash()]),
			MIN_BOND
		));
		let id = request_from(alice(), sample_input());
		let hash = H256::repeat_byte(1);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, sample_output(), hash));
		System::assert_has_event(pallet_inference_nodes::Event::NodeSuspended { node, bond: MIN_BOND / 2 }.into());
		assert!(pallet_inference_nodes::NodesByModel::<Test>::get(relu_hash()).is_empty());
		assert_ok!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, MIN_BOND / 2));
		assert_eq!(pallet_inference_nodes::NodesByModel::<Test>::get(relu_hash()).into_inner(), vec![node]);
	});
}

/// A test externalities with an off-chain worker, a transaction pool and a keystore holding
/// one `infr` key made from `seed`; the key's account; and a function that takes the
/// transactions sent to the pool so far.
fn offchain_ext(seed: &str) -> (sp_io::TestExternalities, AccountId, impl Fn() -> Vec<Extrinsic>) {
	use codec::Decode;
	use sp_core::offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use std::sync::Arc;

	let mut ext = new_test_ext();
	let keystore = MemoryKeystore::new();
	let key = keystore.sr25519_generate_new(crate::KEY_TYPE, Some(seed)).unwrap();
	let (offchain, _) = testing::TestOffchainExt::new();
	let (pool, pool_state) = testing::TestTransactionPoolExt::new();
	ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
	ext.register_extension(OffchainDbExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt(Arc::new(keystore)));
	let sent = move || {
		pool_state.write().transactions.drain(..).map(|tx| Extrinsic::decode(&mut &tx[..]).unwrap()).collect()
	};
	(ext, key, sent)
}

mod offchain_worker {
	use super::*;

	#[test]
	fn an_inference_node_computes_its_assignment_once_and_the_result_verifies() {
		let (mut ext, key, sent_transactions) = offchain_ext("//infr");

		ext.execute_with(|| {
			let node: AccountId = key;
			register_node(node);
			let first = request_from(alice(), sample_input());
			let second = request_from(bob(), input([1.0; 8]));

			<Inference as Hooks<u64>>::offchain_worker(1);
			let sent = sent_transactions();
			assert_eq!(sent.len(), 2);
			for xt in &sent {
				match &xt.preamble {
					sp_runtime::generic::Preamble::Signed(who, _, ()) => assert_eq!(*who, node),
					_ => panic!("results are sent signed"),
				}
			}

			// A second run while they are in the pool sends nothing again.
			<Inference as Hooks<u64>>::offchain_worker(2);
			assert!(sent_transactions().is_empty());

			for xt in sent {
				let RuntimeCall::Inference(call) = xt.function else { panic!("not an inference call") };
				let crate::Call::submit_result { request, outputs, result_hash } = call else {
					panic!("not a result")
				};
				assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), request, outputs, result_hash));
			}
			System::assert_has_event(
				Event::Completed {
					request: first,
					node,
					result_hash: honest_hash(&sample_input(), &sample_output()),
					fee: relu_fee(),
				}
				.into(),
			);
			assert!(Receipts::<Test>::contains_key(second));
			assert!(Requests::<Test>::iter().next().is_none());
		});
	}
}

/// An engine that fails on this node only: no engine, an allocation the OS refused, a panic of
/// the host's code. None of these may become a verdict.
struct FailingEngine(veriml_inference_primitives::LocalFailure);

impl veriml_inference_interface::InferenceEngine for FailingEngine {
	fn guest_hash(&self) -> veriml_inference_primitives::ModelHash {
		veriml_engine::guest_hash()
	}

	fn has_guest(&self, guest: &veriml_inference_primitives::ModelHash) -> bool {
		*guest == veriml_engine::guest_hash()
	}

	fn add_guest(&self, _: &[u8]) -> Option<veriml_inference_primitives::EngineGuest> {
		None
	}

	fn inspect(
		&self,
		_: veriml_inference_interface::Lane,
		_: veriml_inference_primitives::ModelHash,
		_: &[u8],
		_: &[veriml_inference_primitives::TensorSpec],
		_: u64,
	) -> Result<veriml_inference_primitives::ModelInfo, veriml_inference_primitives::RunError> {
		Err(self.0.into())
	}

	fn run(
		&self,
		_: veriml_inference_interface::Lane,
		_: veriml_inference_primitives::ModelHash,
		_: veriml_inference_primitives::ModelHash,
		_: &mut dyn FnMut() -> Option<Vec<u8>>,
		_: &[veriml_inference_primitives::TensorSpec],
		_: &[Tensor],
		_: u64,
	) -> Result<veriml_inference_primitives::Execution, veriml_inference_primitives::RunError> {
		Err(self.0.into())
	}
}

/// Runs `call` and answers whether it aborted (panicked), as the node's executor would abort
/// the runtime call around it.
fn aborts(call: impl FnOnce()) -> bool {
	std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).is_err()
}

#[test]
fn a_local_engine_failure_aborts_the_call_and_is_never_a_verdict() {
	use veriml_inference_primitives::LocalFailure;
	for failure in [LocalFailure::EngineUnavailable, LocalFailure::HostResources, LocalFailure::HostPanic] {
		let mut ext = new_test_ext();
		let (node, id) = ext.execute_with(|| {
			let node = account(10);
			register_node(node);
			(node, request_from(alice(), sample_input()))
		});
		// From here on this node's engine fails, whatever it is asked.
		ext.register_extension(veriml_inference_interface::InferenceExt::new(std::sync::Arc::new(
			FailingEngine(failure),
		)));
		ext.execute_with(|| {
			System::reset_events();
			let bond = bond_of(node);
			let alice_balance = Balances::balance(&alice());

			// An honest result cannot be verified here: the call aborts rather than refute it.
			assert!(aborts(|| submit_honest_result(node, id)), "{failure:?}: submit_result");
			// A false failure report cannot be judged here either.
			assert!(
				aborts(|| {
					let _ = Inference::report_failure(RuntimeOrigin::signed(node), id, EngineError::FuelExhausted);
				}),
				"{failure:?}: report_failure"
			);
			// Nothing was decided: no verdict, no slash, no payment, the request still assigned.
			assert!(System::events().is_empty(), "{failure:?}: {:?}", System::events());
			assert_eq!(bond_of(node), bond);
			assert_eq!(Balances::balance(&alice()), alice_balance);
			assert_eq!(assigned_to(id), vec![node]);
			assert!(Receipts::<Test>::get(id).is_none());

			// Registering a model (its upload goes through) cannot be decided here either.
			let sigmoid = veriml_inference_primitives::model_hash(&veriml_inference_primitives::onnx_builder::unary_model(
				"Sigmoid", WIDTH, 0,
			));
			assert!(aborts(|| { register_unary("Sigmoid"); }), "{failure:?}: register_model");
			assert!(pallet_model_registry::Models::<Test>::get(sigmoid).is_none());
		});
	}
}

#[test]
fn a_node_whose_engine_runs_another_guest_than_the_chain_names_decides_nothing() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		// The chain names a guest this node's engine does not run, and the state does not hold
		// its bytes.
		let ours = pallet_model_registry::EngineGuest::<Test>::get();
		pallet_model_registry::EngineGuest::<Test>::put(veriml_inference_primitives::EngineGuest {
			hash: H256::repeat_byte(0xee),
			..ours
		});
		System::reset_events();
		let bond = bond_of(node);
		assert!(aborts(|| submit_honest_result(node, id)));
		assert!(System::events().is_empty(), "{:?}", System::events());
		assert_eq!(bond_of(node), bond);
		assert_eq!(assigned_to(id), vec![node]);
		assert!(aborts(|| { register_unary("Sigmoid"); }));
		// Back on the guest it runs, the same node verifies the same result.
		pallet_model_registry::EngineGuest::<Test>::put(ours);
		submit_honest_result(node, id);
		assert!(Receipts::<Test>::get(id).is_some());
	});
}

#[test]
fn a_result_computed_with_the_engine_the_chain_just_replaced_is_refused_without_a_slash() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		// The chain has switched to a guest of the next engine version (the same code here),
		// after this node computed its result with the one before.
		let before = pallet_model_registry::EngineGuest::<Test>::get();
		let after = veriml_inference_primitives::EngineGuest { version: before.version + 1, ..before };
		pallet_model_registry::EngineGuest::<Test>::put(after);
		pallet_model_registry::ReplacedEngineGuest::<Test>::put(before);
		let bond = bond_of(node);
		System::reset_events();

		let outputs = sample_output();
		let stale = result_hash(before.version, &relu_hash(), &input_hash(&sample_input()), &outputs);
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), stale),
			Error::<Test>::ComputedWithReplacedEngine
		);
		assert_eq!(bond_of(node), bond);
		assert_eq!(assigned_to(id), vec![node]);

		// Computed again with the chain's engine version, the same outputs are confirmed, and
		// the receipt names that version.
		let fresh = result_hash(after.version, &relu_hash(), &input_hash(&sample_input()), &outputs);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, outputs, fresh));
		let receipt = Receipts::<Test>::get(id).expect("a receipt");
		assert_eq!(receipt.engine_version, after.version);
		assert_eq!(bond_of(node), bond);
	});
}

#[test]
fn an_inference_node_whose_engine_fails_sends_no_failure_report() {
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	let node: AccountId = key;
	ext.execute_with(|| {
		register_node(node);
		request_from(alice(), sample_input());
	});
	ext.register_extension(veriml_inference_interface::InferenceExt::new(std::sync::Arc::new(FailingEngine(
		veriml_inference_primitives::LocalFailure::EngineUnavailable,
	))));
	ext.execute_with(|| {
		// The worker's runtime call aborts: it reports nothing others would not see.
		assert!(aborts(|| <Inference as Hooks<u64>>::offchain_worker(1)));
		assert!(sent_transactions().is_empty());
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
			MIN_BOND * 2
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

/// `who` uploads `bytes` to the model registry in one chunk; returns their hash.
fn upload_from(who: AccountId, bytes: &[u8]) -> H256 {
	let hash = veriml_inference_primitives::model_hash(bytes);
	assert_ok!(Models::begin_upload(RuntimeOrigin::signed(who.clone()), hash, bytes.len() as u32));
	assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(who), hash, 0, BoundedVec::truncate_from(bytes.to_vec())));
	hash
}

fn upload_deposit(who: AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Models(pallet_model_registry::HoldReason::ModelStorage), &who)
}

#[test]
fn uploaded_inputs_are_taken_by_hash_and_the_request_completes() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let alice_before = Balances::balance(&alice());
		let hash = upload_from(alice(), &codec::Encode::encode(&sample_input()));
		assert!(upload_deposit(alice()) > 0);

		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request_uploaded(RuntimeOrigin::signed(alice()), relu_hash(), hash, 1_000));
		// The upload became the request's inputs: its chunks are gone, its deposit released.
		assert_eq!(Inputs::<Test>::get(id), Some(sample_input()));
		assert_eq!(Requests::<Test>::get(id).unwrap().input_hash, input_hash(&sample_input()));
		assert!(!pallet_model_registry::Uploads::<Test>::contains_key(hash));
		assert_eq!(pallet_model_registry::UploadChunks::<Test>::iter_prefix(hash).count(), 0);
		assert_eq!(upload_deposit(alice()), 0);
		System::assert_has_event(
			pallet_model_registry::Event::UploadTaken { content_hash: hash, uploader: alice(), deposit: upload_deposit_for(&sample_input()) }
				.into(),
		);
		assert_eq!(escrowed(alice()), relu_fee().total());
		// Verifying it reserves weight for reading and hashing the inputs, besides the fuel.
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.input_bytes as usize, codec::Encode::encode(&sample_input()).len());
		let fuel_only = <Test as crate::Config>::Models::fuel_weight(request.fuel_limit);
		assert!(Inference::verification_weight(id, Weight::zero()).ref_time() > fuel_only.ref_time());

		submit_honest_result(node, id);
		assert!(!Requests::<Test>::contains_key(id));
		assert_eq!(Balances::balance(&alice()), alice_before - relu_fee().total());
	});
}

fn upload_deposit_for(inputs: &[Tensor]) -> u64 {
	Models::deposit_for(codec::Encode::encode(&inputs.to_vec()).len() as u32)
}

#[test]
fn bad_uploaded_inputs_are_refused_and_the_upload_is_kept() {
	run_test(|| {
		register_node(account(10));
		let request = |who: AccountId, hash| Inference::request_uploaded(RuntimeOrigin::signed(who), relu_hash(), hash, 1_000);

		// Nothing uploaded under this hash.
		assert_noop!(request(alice(), H256::repeat_byte(3)), pallet_model_registry::Error::<Test>::UnknownUpload);
		// Someone else's upload.
		let alices = upload_from(alice(), &codec::Encode::encode(&sample_input()));
		assert_noop!(request(bob(), alices), pallet_model_registry::Error::<Test>::NotUploader);
		// Chunks missing.
		let incomplete = H256::repeat_byte(4);
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(alice()), incomplete, 100));
		assert_noop!(request(alice(), incomplete), pallet_model_registry::Error::<Test>::UploadIncomplete);
		// Not tensors.
		let garbage = upload_from(alice(), &[0xff; 40]);
		assert_noop!(request(alice(), garbage), Error::<Test>::UndecodableInputs);
		// Tensors the model does not take.
		let wrong_shape = upload_from(alice(), &codec::Encode::encode(&vec![Tensor::from_f32(&[WIDTH, 1], &[1.0; 8])]));
		assert_noop!(request(alice(), wrong_shape), Error::<Test>::InputDoesNotMatchModel);
		// Larger than MaxUploadedInputBytes (16 KiB in the mock).
		let huge = upload_from(alice(), &codec::Encode::encode(&vec![Tensor::from_f32(&[1, 5000], &[1.0; 5000])]));
		assert_noop!(request(alice(), huge), pallet_model_registry::Error::<Test>::UploadTooLarge);
		// A fee above the maximum.
		assert_noop!(
			Inference::request_uploaded(RuntimeOrigin::signed(alice()), relu_hash(), alices, relu_fee().total() - 1),
			Error::<Test>::FeeAboveMax
		);

		// Every refused upload is still there, deposit held, ready for a corrected request.
		for hash in [alices, garbage, wrong_shape, huge] {
			assert!(pallet_model_registry::Uploads::<Test>::contains_key(hash));
		}
		assert_eq!(crate::NextRequestId::<Test>::get(), 0);
		assert_eq!(escrowed(alice()), 0);
		assert_ok!(request(alice(), alices));
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

/// Optimistic models: results proposed, challenged, decided by re-execution or settled
/// unchallenged.
mod optimistic {
	use super::*;
	use crate::{ChallengeWindows, Disputes, ProposedOutputs, Proposals};
	use pallet_verification::VerifiedBy;

	/// A test externalities whose Relu model is registered as optimistic.
	fn optimistic_ext() -> sp_io::TestExternalities {
		OptimisticAboveFuel::set(0);
		let mut ext = new_test_ext();
		ext.execute_with(|| {
			assert_eq!(
				pallet_model_registry::Models::<Test>::get(relu_hash()).unwrap().verification,
				pallet_model_registry::Verification::Optimistic
			);
		});
		ext
	}

	/// Registers `node`, operated by `operator`, serving `model`.
	fn register_node_of(operator: AccountId, node: AccountId, model: H256) {
		assert_ok!(Nodes::register(
			RuntimeOrigin::signed(operator),
			node,
			BoundedVec::truncate_from(vec![model]),
			MIN_BOND * 2
		));
	}

	/// Wrong outputs with a result hash that commits to them: only re-execution shows it.
	fn wrong_but_consistent() -> (Vec<Tensor>, H256) {
		let outputs = vec![Tensor::from_f32(&[1, WIDTH], &[1.0; WIDTH as usize])];
		let hash = honest_hash(&sample_input(), &outputs);
		(outputs, hash)
	}

	fn status(id: u64) -> RequestStatus {
		Requests::<Test>::get(id).unwrap().status
	}

	#[test]
	fn an_unchallenged_result_settles_when_its_window_ends_without_re_execution() {
		optimistic_ext().execute_with(|| {
			let node = account(10);
			register_node(node);
			let id = request_from(alice(), sample_input());
			let fee = relu_fee();
			let outputs = sample_output();
			let hash = honest_hash(&sample_input(), &outputs);

			// A hash that does not commit to the outputs is refused outright.
			assert_noop!(
				Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), H256::repeat_byte(1)),
				Error::<Test>::ResultHashMismatch
			);
			let post = Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), hash).unwrap();
			assert_eq!(post.pays_fee, frame_support::dispatch::Pays::No);
			let until = 1 + CHALLENGE_PERIOD;
			let outcome = Outcome::Outputs { output_hash: output_hash(&outputs), result_hash: hash };
			System::assert_has_event(
				Event::ResultProposed { request: id, node, outcome, challenge_until: until }.into(),
			);
			assert_eq!(status(id), RequestStatus::Proposed);
			assert!(!Assignments::<Test>::contains_key(node, id));
			assert_eq!(Deadlines::<Test>::iter().count(), 0, "a proposal does not expire");
			assert!(ChallengeWindows::<Test>::contains_key(until, id));
			assert_eq!(escrowed(alice()), fee.total(), "nothing is paid before the window ends");
			assert!(Receipts::<Test>::get(id).is_none());
			// Submitting again is refused.
			assert_noop!(
				Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), hash),
				Error::<Test>::NotAssigned
			);

			let operator_before = Balances::balance(&operator());
			run_to_block(until - 1);
			assert_eq!(status(id), RequestStatus::Proposed);
			run_to_block(until + TIMEOUT);
			System::assert_has_event(Event::Completed { request: id, node, result_hash: hash, fee }.into());
			System::assert_has_event(
				pallet_verification::Event::ResultAccepted { request: id, executor: node, outcome }.into(),
			);
			let receipt = Receipts::<Test>::get(id).unwrap();
			assert_eq!(receipt.verified_by, VerifiedBy::Unchallenged);
			assert_eq!(receipt.verified_at, until);
			assert_eq!(pallet_verification::Outputs::<Test>::get(id), Some(outputs));
			assert_eq!(Balances::balance(&operator()), operator_before + fee.execution);
			assert_eq!(escrowed(alice()), 0);
			assert!(!Requests::<Test>::contains_key(id));
			assert!(!Proposals::<Test>::contains_key(id));
			assert!(!ProposedOutputs::<Test>::contains_key(id));
			assert_eq!(ChallengeWindows::<Test>::iter().count(), 0);
		});
	}

	#[test]
	fn a_wrong_result_is_challenged_and_its_node_slashed_to_pay_the_challenger() {
		optimistic_ext().execute_with(|| {
			let liar = account(10);
			register_node(liar);
			let id = request_from(alice(), sample_input());
			assert_eq!(assigned_to(id), vec![liar]);
			// Bob operates a node that serves the model too; it re-executes and challenges.
			let challenger = account(11);
			register_node_of(bob(), challenger, relu_hash());
			let (wrong, wrong_hash) = wrong_but_consistent();
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), id, wrong, wrong_hash));

			// Who may challenge, and when.
			assert_noop!(Inference::challenge(RuntimeOrigin::signed(alice()), id), Error::<Test>::NotANode);
			assert_noop!(Inference::challenge(RuntimeOrigin::signed(liar), id), Error::<Test>::OwnResult);
			assert_noop!(Inference::challenge(RuntimeOrigin::signed(challenger), 99), Error::<Test>::UnknownRequest);
			assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), id));
			System::assert_has_event(Event::Challenged { request: id, node: liar, challenger }.into());
			assert_eq!(status(id), RequestStatus::Disputed);
			assert_eq!(Disputes::<Test>::get().into_inner(), vec![id]);
			assert_eq!(ChallengeWindows::<Test>::iter().count(), 0, "a disputed result does not settle");
			assert_noop!(
				Inference::challenge(RuntimeOrigin::signed(challenger), id),
				Error::<Test>::AlreadyChallenged
			);

			let bob_before = Balances::balance(&bob());
			let treasury_before = Balances::balance(&Treasury::get());
			run_to_block(2);
			// 50% of the liar's 2000 bond: 20% of it to the challenger's operator.
			System::assert_has_event(Event::ResultRejected { request: id, node: liar, slashed: 1_000 }.into());
			System::assert_has_event(
				Event::ChallengeUpheld { request: id, node: liar, challenger, slashed: 1_000 }.into(),
			);
			assert_eq!(bond_of(liar), 1_000);
			assert_eq!(bond_of(challenger), MIN_BOND * 2);
			assert_eq!(Balances::balance(&bob()), bob_before + 200);
			assert_eq!(Balances::balance(&Treasury::get()), treasury_before + 800);
			assert!(Disputes::<Test>::get().is_empty());
			assert!(!Proposals::<Test>::contains_key(id));
			assert!(Receipts::<Test>::get(id).is_none());
			// The request went to the honest node, with a fresh deadline; the escrow is intact.
			assert_eq!(assigned_to(id), vec![challenger]);
			assert_eq!(status(id), RequestStatus::Assigned);
			assert_eq!(Requests::<Test>::get(id).unwrap().deadline, 2 + TIMEOUT);
			assert_eq!(escrowed(alice()), relu_fee().total());

			let outputs = sample_output();
			let hash = honest_hash(&sample_input(), &outputs);
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(challenger), id, outputs, hash));
			run_to_block(2 + CHALLENGE_PERIOD);
			System::assert_has_event(
				Event::Completed { request: id, node: challenger, result_hash: hash, fee: relu_fee() }.into(),
			);
		});
	}

	#[test]
	fn a_wrong_challenge_is_slashed_and_the_result_settles_verified_by_re_execution() {
		optimistic_ext().execute_with(|| {
			let node = account(10);
			register_node(node);
			let id = request_from(alice(), sample_input());
			let troll = account(11);
			register_node_of(bob(), troll, relu_hash());
			let outputs = sample_output();
			let hash = honest_hash(&sample_input(), &outputs);
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, outputs, hash));
			assert_ok!(Inference::challenge(RuntimeOrigin::signed(troll), id));

			let operator_before = Balances::balance(&operator());
			run_to_block(2);
			System::assert_has_event(
				Event::ChallengeRejected { request: id, node, challenger: troll, slashed: 1_000 }.into(),
			);
			assert_eq!(bond_of(troll), 1_000);
			assert_eq!(bond_of(node), MIN_BOND * 2);
			// The node's operator gets 20% of the slash and the execution fee.
			assert_eq!(Balances::balance(&operator()), operator_before + 200 + relu_fee().execution);
			System::assert_has_event(Event::Completed { request: id, node, result_hash: hash, fee: relu_fee() }.into());
			assert_eq!(Receipts::<Test>::get(id).unwrap().verified_by, VerifiedBy::ReExecution);
			assert!(!Requests::<Test>::contains_key(id));
			assert!(Disputes::<Test>::get().is_empty());

			// The window is over: nothing left to challenge.
			assert_noop!(Inference::challenge(RuntimeOrigin::signed(troll), id), Error::<Test>::RequestClosed);
		});
	}

	#[test]
	fn disputes_are_decided_one_per_block_and_their_queue_is_bounded() {
		optimistic_ext().execute_with(|| {
			let liar = account(10);
			register_node(liar);
			let ids: Vec<u64> = (0..3).map(|_| request_from(alice(), sample_input())).collect();
			let challenger = account(11);
			register_node_of(bob(), challenger, register_unary("Abs"));
			let (wrong, wrong_hash) = wrong_but_consistent();
			for id in &ids {
				assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), *id, wrong.clone(), wrong_hash));
			}
			assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), ids[0]));
			assert_ok!(Inference::challenge(RuntimeOrigin::signed(challenger), ids[1]));
			assert_noop!(
				Inference::challenge(RuntimeOrigin::signed(challenger), ids[2]),
				Error::<Test>::TooManyDisputes
			);
			run_to_block(2);
			assert_eq!(Disputes::<Test>::get().into_inner(), vec![ids[1]]);
			assert_eq!(status(ids[1]), RequestStatus::Disputed);
			run_to_block(3);
			assert!(Disputes::<Test>::get().is_empty());
			// Both refuted; no other node serves Relu, so they wait for one.
			for id in &ids[..2] {
				assert_eq!(status(*id), RequestStatus::Pending);
			}
		});
	}

	#[test]
	fn a_node_re_executes_proposals_in_its_offchain_worker_and_challenges_the_wrong_one() {
		OptimisticAboveFuel::set(0);
		let (mut ext, key, sent_transactions) = offchain_ext("//watcher");

		ext.execute_with(|| {
			let (liar, honest) = (account(10), account(12));
			register_node(liar);
			let wrong_id = request_from(alice(), sample_input());
			register_node_of(bob(), honest, relu_hash());
			// The watching node serves another model: it is never assigned these.
			let watcher: AccountId = key;
			register_node_of(bob(), watcher, register_unary("Abs"));
			let (wrong, wrong_hash) = wrong_but_consistent();
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), wrong_id, wrong, wrong_hash));
			let right_id = request_from(bob(), sample_input());
			let right_node = assigned_to(right_id)[0];
			submit_honest_result(right_node, right_id);

			<Inference as Hooks<u64>>::offchain_worker(1);
			let sent = sent_transactions();
			assert_eq!(sent.len(), 1, "only the wrong result is challenged");
			// Checked once: the next run sends nothing.
			<Inference as Hooks<u64>>::offchain_worker(2);
			assert!(sent_transactions().is_empty());

			let xt = sent.into_iter().next().unwrap();
			let sp_runtime::generic::Preamble::Signed(who, _, ()) = xt.preamble else { panic!("unsigned") };
			assert_eq!(who, watcher);
			let RuntimeCall::Inference(crate::Call::challenge { request }) = xt.function else {
				panic!("not a challenge")
			};
			assert_eq!(request, wrong_id);
			assert_ok!(Inference::challenge(RuntimeOrigin::signed(watcher), request));
			run_to_block(2);
			System::assert_has_event(
				Event::ChallengeUpheld { request: wrong_id, node: liar, challenger: watcher, slashed: 1_000 }.into(),
			);
		});
	}
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
		assert!(reserved.ref_time() >= preparation.ref_time() + <Test as crate::Config>::Models::fuel_weight(terms.fuel_per_run).ref_time());

		let submit = |id| {
			let outputs = sample_output();
			Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), honest_hash(&sample_input(), &outputs))
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

/// The invariants every test block is checked against catch state that breaks them: here a
/// request whose inputs are lost, a node whose bond is not all held, an escrow that holds
/// more than recorded, and outputs kept after their receipt is gone.
#[test]
fn the_pallets_invariants_catch_broken_state() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		check_invariants();

		let inputs = Inputs::<Test>::take(id).unwrap();
		assert!(Inference::do_try_state().is_err());
		Inputs::<Test>::insert(id, inputs);

		pallet_inference_nodes::Nodes::<Test>::mutate(node, |record| record.as_mut().unwrap().bond += 1);
		assert!(Nodes::do_try_state().is_err());
		pallet_inference_nodes::Nodes::<Test>::mutate(node, |record| record.as_mut().unwrap().bond -= 1);

		pallet_escrow::Escrows::<Test>::mutate(id, |escrow| escrow.as_mut().unwrap().amount += 1);
		assert!(Escrow::do_try_state().is_err());
		pallet_escrow::Escrows::<Test>::mutate(id, |escrow| escrow.as_mut().unwrap().amount -= 1);

		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, outputs, hash));
		check_invariants();
		let receipt = Receipts::<Test>::take(id).unwrap();
		assert!(Verification::do_try_state().is_err());
		Receipts::<Test>::insert(id, receipt);
	});
}
