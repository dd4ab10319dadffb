//! Local engine failures: never a verdict, never a slash; results of a replaced engine.

use super::*;

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
		_: Option<u64>,
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
		ext.register_extension(veriml_inference_interface::InferenceExt::new(std::sync::Arc::new(FailingEngine(
			failure,
		))));
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
			let sigmoid = veriml_inference_primitives::model_hash(
				&veriml_inference_primitives::onnx_builder::unary_model("Sigmoid", WIDTH, 0),
			);
			assert!(
				aborts(|| {
					register_unary("Sigmoid");
				}),
				"{failure:?}: register_model"
			);
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
		assert!(aborts(|| {
			register_unary("Sigmoid");
		}));
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
		// The chain has switched engines after this node computed its result with the one before.
		let (before, after) = switch_to_next_engine_version();
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
