//! The inference node's off-chain worker: it computes its assignments, once.

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
			let crate::Call::submit_result { request, outputs, result_hash } = call else { panic!("not a result") };
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
