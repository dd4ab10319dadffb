//! Inference nodes as requests see them: a node that leaves or is suspended gets no new
//! requests, and one that bonds back does. (Bonding itself is tested in `pallet-bonded-nodes`.)

use super::*;

#[test]
fn a_leaving_node_gets_no_requests_and_withdraws_after_the_delay() {
	run_test(|| {
		use pallet_bonded_nodes::{Error as NodeError, NodesByService};
		let node = account(10);
		let models = || BoundedVec::truncate_from(vec![relu_hash()]);
		let op = || RuntimeOrigin::signed(operator());
		assert_noop!(
			Nodes::register(
				op(),
				node,
				BoundedVec::truncate_from(vec![H256::repeat_byte(3)]),
				MIN_BOND,
				node_proof(&node, &operator())
			),
			NodeError::<Test>::UnknownService
		);
		assert_ok!(Nodes::register(op(), node, models(), MIN_BOND, node_proof(&node, &operator())));
		let bonded = RuntimeHoldReason::Nodes(pallet_bonded_nodes::HoldReason::NodeBond);
		assert_eq!(Balances::balance_on_hold(&bonded, &operator()), MIN_BOND);

		assert_ok!(Nodes::unbond(op(), node));
		assert!(NodesByService::<Test>::get(relu_hash()).is_empty());
		// No node takes new requests now.
		let id = request_from(alice(), sample_input());
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Pending);
		assert_noop!(Nodes::withdraw(op(), node), NodeError::<Test>::StillUnbonding);
		run_to_block(11);
		assert_ok!(Nodes::withdraw(op(), node));
		assert_eq!(Balances::balance_on_hold(&bonded, &operator()), 0);
		assert_eq!(Balances::balance(&operator()), ENDOWMENT);
		assert!(pallet_bonded_nodes::Nodes::<Test>::get(node).is_none());
	});
}

#[test]
fn a_node_suspended_by_a_wrong_result_rejoins_when_it_bonds_enough() {
	run_test(|| {
		let node = account(10);
		assert_ok!(Nodes::register(
			RuntimeOrigin::signed(operator()),
			node,
			BoundedVec::truncate_from(vec![relu_hash()]),
			MIN_BOND,
			node_proof(&node, &operator())
		));
		let id = request_from(alice(), sample_input());
		let hash = H256::repeat_byte(1);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, sample_output(), hash));
		System::assert_has_event(pallet_bonded_nodes::Event::Suspended { node, bond: MIN_BOND / 2 }.into());
		assert!(pallet_bonded_nodes::NodesByService::<Test>::get(relu_hash()).is_empty());
		assert_ok!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, MIN_BOND / 2));
		assert_eq!(pallet_bonded_nodes::NodesByService::<Test>::get(relu_hash()).into_inner(), vec![node]);
	});
}

#[test]
fn a_node_that_lets_its_assignment_lapse_is_struck_and_the_request_goes_to_another_before_its_deadline() {
	AnswerWithin::set(2);
	run_test(|| {
		let (silent, other) = (account(10), account(11));
		register_node(silent);
		let id = request_from(alice(), sample_input());
		assert_eq!(assigned_to(id), vec![silent]);
		register_node(other);
		assert!(crate::Lapses::<Test>::contains_key(3, (id, silent)));
		run_to_block(2);
		assert_eq!(assigned_to(id), vec![silent], "not before AnswerWithin blocks");
		run_to_block(3);
		// Half its bond (2 000), half of that to the requester kept waiting.
		System::assert_has_event(Event::AssignmentLapsed { request: id, node: silent, slashed: MIN_BOND }.into());
		assert_eq!(bond_of(silent), MIN_BOND);
		// Another node is drawn at the end of the block.
		end_block();
		assert_eq!(assigned_to(id), vec![other]);
		assert_eq!(Requests::<Test>::get(id).unwrap().refuted.into_inner(), vec![silent]);
		assert!(!Assignments::<Test>::contains_key(silent, id));
		// The deadline is left as it was; the other node has `AnswerWithin` blocks too.
		assert_eq!(Requests::<Test>::get(id).unwrap().deadline, 1 + TIMEOUT);
		assert_eq!(crate::Lapses::<Test>::iter_keys().collect::<Vec<_>>(), vec![(5, (id, other))]);
		submit_honest_result(other, id);
		let result_hash = honest_hash(&sample_input(), &sample_output());
		System::assert_has_event(Event::Completed { request: id, node: other, result_hash, fee: relu_fee() }.into());
		// It answered: its lapse passes without effect.
		run_to_block(5);
		assert_eq!(bond_of(other), 2 * MIN_BOND);
		assert_eq!(crate::Lapses::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_node_that_answers_in_time_is_not_struck_and_repeated_silence_suspends_a_node() {
	AnswerWithin::set(2);
	run_test(|| {
		let node = account(10);
		register_node(node);
		let answered = request_from(alice(), sample_input());
		submit_honest_result(node, answered);
		let ignored = request_from(alice(), sample_input());
		run_to_block(3);
		assert_eq!(bond_of(node), MIN_BOND, "struck for the request it ignored only");
		System::assert_has_event(Event::AssignmentLapsed { request: ignored, node, slashed: MIN_BOND }.into());
		// No other node: the request waits for one.
		assert_eq!(Requests::<Test>::get(ignored).unwrap().status, RequestStatus::Pending);
		let again = request_from(alice(), sample_input());
		run_to_block(5);
		System::assert_has_event(Event::AssignmentLapsed { request: again, node, slashed: MIN_BOND / 2 }.into());
		System::assert_has_event(pallet_bonded_nodes::Event::<Test>::Suspended { node, bond: MIN_BOND / 2 }.into());
		assert!(!<Nodes as veriml_primitives::nodes::BondedNodes<_, _, _>>::is_active(&node));
	});
}

/// Where the requests of one block go, made by `requesters` in this order, with eight nodes
/// serving the model; the block's randomness is the same whatever the order.
fn assignments_in_order(requesters: &[AccountId]) -> Vec<(AccountId, AccountId)> {
	let mut assigned = Vec::new();
	new_test_ext().execute_with(|| {
		for i in 0..8 {
			register_node(account(40 + i));
		}
		for requester in requesters {
			let id = request_from(*requester, sample_input());
			assigned.push((*requester, assigned_to(id)[0]));
		}
		check_invariants();
	});
	assigned.sort();
	assigned
}

#[test]
fn a_requests_node_comes_from_the_blocks_randomness_not_from_its_place_in_the_block() {
	let requesters = [alice(), bob(), owner(), operator()];
	let forward = assignments_in_order(&requesters);
	// The block's author orders its transactions: the same requests in another order (so with
	// other request ids) go to the same nodes.
	let mut reversed = requesters;
	reversed.reverse();
	assert_eq!(assignments_in_order(&reversed), forward);
	let rotated = [requesters[2], requesters[0], requesters[3], requesters[1]];
	assert_eq!(assignments_in_order(&rotated), forward);
	// Other randomness (another author's VRF output), other nodes.
	RandomnessSalt::set(1);
	assert_ne!(assignments_in_order(&requesters), forward);
}

/// The node drawn for Alice's request, made while the block's randomness is `at_signing` (what
/// the requester sees when it signs: the parent's VRF output) and drawn at the end of the
/// block, whose own randomness is `at_end` (its VRF output, revealed in its `on_finalize`).
fn node_drawn(at_signing: u64, at_end: u64) -> AccountId {
	let mut drawn = None;
	new_test_ext().execute_with(|| {
		for i in 0..8 {
			register_node(account(40 + i));
		}
		RandomnessSalt::set(at_signing);
		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request(RuntimeOrigin::signed(alice()), relu_hash(), sample_input(), 1_000));
		// Nothing is drawn while the block is built.
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!((request.status, request.assigned.len()), (RequestStatus::Pending, 0));
		assert!(crate::Undrawn::<Test>::contains_key(id));
		assert!(!System::events().iter().any(|r| matches!(r.event, RuntimeEvent::Inference(Event::Assigned { .. }))));
		check_invariants();
		RandomnessSalt::set(at_end);
		end_block();
		let node = assigned_to(id)[0];
		System::assert_last_event(Event::Assigned { request: id, nodes: vec![node] }.into());
		assert_eq!(crate::Undrawn::<Test>::iter().count(), 0);
		check_invariants();
		drawn = Some(node);
	});
	drawn.unwrap()
}

#[test]
fn a_requests_node_is_drawn_at_the_end_of_its_block_from_randomness_no_one_knew_when_it_was_signed() {
	let known = node_drawn(0, 0);
	// Another VRF output at the end of the block draws another node (one of the first
	// outputs tried does, with eight nodes)...
	let other = (1..32).find(|salt| node_drawn(*salt, *salt) != known).expect("another randomness, another node");
	// ...whatever the requester saw when it signed: trying nonces or inputs against the
	// parent's randomness tells it nothing.
	assert_eq!(node_drawn(0, other), node_drawn(other, other));
	assert_eq!(node_drawn(other, 0), known);
}

#[test]
fn a_refuted_node_does_not_know_who_takes_its_request_next() {
	run_test(|| {
		let (liar, other) = (account(10), account(11));
		register_node(liar);
		let id = request_from(alice(), sample_input());
		register_node(other);
		System::reset_events();
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), id, sample_output(), H256::repeat_byte(1)));
		// Refuted: no node until the end of the block, drawn then from its randomness.
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!((request.status, request.assigned.len()), (RequestStatus::Pending, 0));
		assert!(!System::events().iter().any(|r| matches!(r.event, RuntimeEvent::Inference(Event::Assigned { .. }))));
		check_invariants();
		end_block();
		assert_eq!(assigned_to(id), vec![other]);
		System::assert_last_event(Event::Assigned { request: id, nodes: vec![other] }.into());
	});
}

#[test]
fn identical_requests_of_one_requester_in_one_block_are_drawn_apart() {
	run_test(|| {
		for i in 0..8 {
			register_node(account(40 + i));
		}
		// Eight transactions of Alice in one block, each with its own nonce (what the
		// transaction's signature fixes; the block's author cannot change it).
		let ids: Vec<u64> = (0..8)
			.map(|_| {
				let id = crate::NextRequestId::<Test>::get();
				assert_ok!(Inference::request(RuntimeOrigin::signed(alice()), relu_hash(), sample_input(), 1_000));
				System::inc_account_nonce(alice());
				id
			})
			.collect();
		end_block();
		let mut nodes: Vec<AccountId> = ids.iter().map(|id| assigned_to(*id)[0]).collect();
		nodes.sort();
		nodes.dedup();
		assert!(nodes.len() > 1, "a batch of identical requests all went to one node");
	});
}
