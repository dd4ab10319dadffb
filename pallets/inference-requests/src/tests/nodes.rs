//! Inference nodes as requests see them: bonding, unbonding, suspension and rejoining.

use super::*;

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
