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
