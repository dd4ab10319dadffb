//! Registering, bonding, striking, suspending and leaving, as an operator sees them: storage,
//! balances, events. The invariants (`do_try_state`) run after every test.

use crate::{mock::*, BondedNodes, Error, Event, HoldReason, NodeStatus, Nodes as NodesMap, NodesByService};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use sp_core::Pair;

fn services(list: &[u32]) -> BoundedVec<u32, frame_support::traits::ConstU32<4>> {
	BoundedVec::truncate_from(list.to_vec())
}

fn register(index: u8, list: &[u32]) -> AccountId {
	let node = node(index);
	assert_ok!(Nodes::register(
		RuntimeOrigin::signed(operator()),
		node,
		services(list),
		MIN_BOND,
		proof(index, &operator())
	));
	node
}

fn held(who: &AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Nodes(HoldReason::NodeBond), who)
}

#[test]
fn a_node_registers_with_its_keys_consent_and_a_bond() {
	run_test(|| {
		let node = register(7, &[1, 2]);
		assert_eq!(held(&operator()), MIN_BOND);
		let record = NodesMap::<Test>::get(node).unwrap();
		assert_eq!((record.operator, record.bond, record.status), (operator(), MIN_BOND, NodeStatus::Active));
		assert_eq!(NodesByService::<Test>::get(1).into_inner(), vec![node]);
		assert_eq!(NodesByService::<Test>::get(2).into_inner(), vec![node]);
		System::assert_has_event(
			Event::<Test>::Registered { node, operator: operator(), services: services(&[1, 2]), bond: MIN_BOND }
				.into(),
		);
		assert_eq!(<Nodes as BondedNodes<_, _, _>>::operator(&node), Some(operator()));
		assert!(<Nodes as BondedNodes<_, _, _>>::serves(&node, &1));
		assert!(!<Nodes as BondedNodes<_, _, _>>::serves(&node, &3));
	});
}

#[test]
fn nobody_registers_a_node_key_they_do_not_hold() {
	run_test(|| {
		let thief = account(3);
		let try_register = |who: AccountId, node: AccountId, proof| {
			Nodes::register(RuntimeOrigin::signed(who), node, services(&[1]), MIN_BOND, proof)
		};
		// The node's consent names its operator: a copy of it does not serve another.
		assert_noop!(try_register(thief, node(7), proof(7, &operator())), Error::<Test>::InvalidNodeProof);
		// Another key's signature is no consent.
		assert_noop!(try_register(thief, node(7), proof(8, &thief)), Error::<Test>::InvalidNodeProof);
		// Consent to one role is no consent to another.
		let for_other_role = node_key(7).sign(&crate::registration_message("OtherNodes", &operator()));
		assert_noop!(try_register(operator(), node(7), for_other_role), Error::<Test>::InvalidNodeProof);
		assert_ok!(OtherNodes::register(
			RuntimeOrigin::signed(operator()),
			node(7),
			services(&[1]),
			MIN_BOND,
			for_other_role
		));
		assert!(NodesMap::<Test>::get(node(7)).is_none());
		assert_eq!(held(&thief), 0);
	});
}

#[test]
fn a_bad_registration_is_refused_and_holds_nothing() {
	run_test(|| {
		let try_register = |who: AccountId, index: u8, list: &[u32], bond: u64| {
			Nodes::register(RuntimeOrigin::signed(who), node(index), services(list), bond, proof(index, &who))
		};
		assert_noop!(try_register(operator(), 7, &[1], MIN_BOND - 1), Error::<Test>::BondTooLow);
		assert_noop!(try_register(operator(), 7, &[], MIN_BOND), Error::<Test>::NoServices);
		assert_noop!(try_register(operator(), 7, &[1, 1], MIN_BOND), Error::<Test>::DuplicateService);
		assert_noop!(try_register(operator(), 7, &[1, 100], MIN_BOND), Error::<Test>::UnknownService);
		assert_noop!(try_register(poor(), 7, &[1], MIN_BOND), Error::<Test>::InsufficientBalance);
		register(7, &[1]);
		assert_noop!(try_register(operator(), 7, &[2], MIN_BOND), Error::<Test>::AlreadyRegistered);
		register(8, &[1]);
		register(9, &[1]);
		// Service 1 has its three nodes: a fourth is refused without touching service 2.
		assert_noop!(try_register(operator(), 10, &[2, 1], MIN_BOND), Error::<Test>::TooManyNodesForService);
		assert!(NodesByService::<Test>::get(2).is_empty());
	});
}

#[test]
fn an_operator_changes_its_nodes_services() {
	run_test(|| {
		let node = register(7, &[1, 2]);
		assert_noop!(
			Nodes::set_services(RuntimeOrigin::signed(account(3)), node, services(&[3])),
			Error::<Test>::NotOperator
		);
		System::set_block_number(5);
		assert_ok!(Nodes::set_services(RuntimeOrigin::signed(operator()), node, services(&[2, 3])));
		assert!(NodesByService::<Test>::get(1).is_empty());
		assert_eq!(NodesByService::<Test>::get(3).into_inner(), vec![node]);
		assert_eq!(<Nodes as BondedNodes<_, _, _>>::serving_since(&node), Some(5));
		System::assert_has_event(Event::<Test>::ServicesChanged { node, services: services(&[2, 3]) }.into());
	});
}

#[test]
fn faults_in_a_row_are_slashed_to_the_wronged_and_the_protocol() {
	run_test(|| {
		let wronged = account(3);
		let before = Balances::balance(&wronged);
		let node = node(7);
		assert_ok!(OtherNodes::register(
			RuntimeOrigin::signed(operator()),
			node,
			services(&[1]),
			10 * MIN_BOND,
			node_key(7).sign(&crate::registration_message("OtherNodes", &operator()))
		));
		type Other = OtherNodes;
		// Data-node-like: three strikes in a row; good work in between starts again.
		assert_eq!(<Other as BondedNodes<_, _, _>>::strike(&node, None), 0);
		assert_eq!(<Other as BondedNodes<_, _, _>>::strike(&node, None), 0);
		<Other as BondedNodes<_, _, _>>::clear_strikes(&node);
		assert_eq!(<Other as BondedNodes<_, _, _>>::strike(&node, None), 0);
		assert_eq!(<Other as BondedNodes<_, _, _>>::strike(&node, None), 0);
		// The third in a row: a tenth of the bond, all to the protocol (no one was wronged).
		assert_eq!(<Other as BondedNodes<_, _, _>>::strike(&node, None), MIN_BOND);
		assert_eq!(Balances::balance(&Protocol::get()), MIN_BOND);
		let record = crate::Nodes::<Test, crate::Instance2>::get(node).unwrap();
		assert_eq!((record.bond, record.strikes, record.slash_count), (9 * MIN_BOND, 0, 1));

		// Inference-node-like: every fault slashed, half of it to the wronged requester.
		let node = register(8, &[1]);
		assert_eq!(<Nodes as BondedNodes<_, _, _>>::strike(&node, Some(&wronged)), MIN_BOND / 10);
		assert_eq!(Balances::balance(&wronged), before + MIN_BOND / 20);
		System::assert_has_event(
			Event::<Test>::Slashed {
				node,
				operator: operator(),
				wronged: Some(wronged),
				to_wronged: MIN_BOND / 20,
				to_protocol: MIN_BOND / 20,
				bond: MIN_BOND - MIN_BOND / 10,
			}
			.into(),
		);
		assert_eq!(held(&operator()), MIN_BOND - MIN_BOND / 10);
	});
}

#[test]
fn a_node_below_the_minimum_is_suspended_until_it_bonds_again() {
	run_test(|| {
		let node = register(7, &[1, 2]);
		assert_eq!(<Nodes as BondedNodes<_, _, _>>::strike(&node, None), MIN_BOND / 10);
		System::assert_has_event(Event::<Test>::Suspended { node, bond: MIN_BOND - MIN_BOND / 10 }.into());
		assert_eq!(NodesMap::<Test>::get(node).unwrap().status, NodeStatus::Suspended);
		assert!(!<Nodes as BondedNodes<_, _, _>>::is_active(&node));
		assert!(<Nodes as BondedNodes<_, _, _>>::nodes(&1).is_empty());
		// A suspended node still answers for work in flight, and may change what it offers.
		assert_ok!(Nodes::set_services(RuntimeOrigin::signed(operator()), node, services(&[1, 2, 3])));
		assert!(NodesByService::<Test>::get(3).is_empty());
		// Too little: still suspended.
		assert_ok!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, 1));
		assert_eq!(NodesMap::<Test>::get(node).unwrap().status, NodeStatus::Suspended);
		// Service 2 is removed meanwhile: the node resumes without it.
		remove_service(2);
		System::set_block_number(9);
		assert_ok!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, MIN_BOND));
		let record = NodesMap::<Test>::get(node).unwrap();
		assert_eq!((record.status, record.services.into_inner(), record.since), (NodeStatus::Active, vec![1, 3], 9));
		System::assert_has_event(Event::<Test>::Resumed { node, services: services(&[1, 3]) }.into());
		assert!(NodesByService::<Test>::get(2).is_empty());
		assert_eq!(<Nodes as BondedNodes<_, _, _>>::nodes(&3), vec![node]);
		assert_eq!(held(&operator()), record.bond);
	});
}

#[test]
fn a_node_resumes_only_where_there_is_room() {
	run_test(|| {
		let node = register(7, &[1]);
		<Nodes as BondedNodes<_, _, _>>::strike(&node, None);
		register(8, &[1]);
		register(9, &[1]);
		register(10, &[1]);
		assert_noop!(
			Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, MIN_BOND),
			Error::<Test>::TooManyNodesForService
		);
	});
}

#[test]
fn a_leaving_node_stays_slashable_until_it_withdraws() {
	run_test(|| {
		let node = register(7, &[1]);
		assert_noop!(Nodes::withdraw(RuntimeOrigin::signed(operator()), node), Error::<Test>::NotUnbonding);
		assert_ok!(Nodes::unbond(RuntimeOrigin::signed(operator()), node));
		System::assert_has_event(Event::<Test>::UnbondingStarted { node, withdrawable_at: 11 }.into());
		assert!(NodesByService::<Test>::get(1).is_empty());
		assert_noop!(Nodes::unbond(RuntimeOrigin::signed(operator()), node), Error::<Test>::Unbonding);
		assert_noop!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, 1), Error::<Test>::Unbonding);
		assert_noop!(
			Nodes::set_services(RuntimeOrigin::signed(operator()), node, services(&[2])),
			Error::<Test>::Unbonding
		);
		// Work in flight that turns out wrong is still slashed; the node is not "suspended".
		<Nodes as BondedNodes<_, _, _>>::strike(&node, None);
		assert!(matches!(NodesMap::<Test>::get(node).unwrap().status, NodeStatus::Unbonding { .. }));
		run_to_block(10);
		assert_noop!(Nodes::withdraw(RuntimeOrigin::signed(operator()), node), Error::<Test>::StillUnbonding);
		run_to_block(11);
		let free = Balances::balance(&operator());
		assert_ok!(Nodes::withdraw(RuntimeOrigin::signed(operator()), node));
		let left = MIN_BOND - MIN_BOND / 10;
		System::assert_has_event(Event::<Test>::Withdrawn { node, operator: operator(), bond: left }.into());
		assert_eq!(Balances::balance(&operator()), free + left);
		assert_eq!(held(&operator()), 0);
		assert!(NodesMap::<Test>::get(node).is_none());
	});
}

#[test]
fn work_is_assigned_among_the_active_nodes_from_a_seed() {
	run_test(|| {
		let nodes = [register(7, &[1]), register(8, &[1]), register(9, &[1])];
		let assign = |seed: u8, count, exclude: &[AccountId]| {
			<Nodes as BondedNodes<_, _, _>>::assign(&1, &[seed; 32], count, exclude)
		};
		let two = assign(0, 2, &[]);
		assert_eq!(two.len(), 2);
		assert_ne!(two[0], two[1]);
		assert!(!assign(1, 3, &[nodes[0]]).contains(&nodes[0]));
		assert_eq!(assign(2, 5, &[]).len(), 3);
		// Every node comes first for some seed.
		let firsts: Vec<_> = (0..=255u8).map(|seed| assign(seed, 1, &[])[0]).collect();
		assert!(nodes.iter().all(|node| firsts.contains(node)));
		assert!(<Nodes as BondedNodes<_, _, _>>::assign(&2, &[0; 32], 1, &[]).is_empty());
	});
}

#[test]
fn the_invariants_catch_broken_state() {
	new_test_ext().execute_with(|| {
		let node = register(7, &[1]);
		check_invariants();
		NodesMap::<Test>::mutate(node, |record| record.as_mut().unwrap().bond += 1);
		assert!(Nodes::do_try_state().is_err());
		NodesMap::<Test>::mutate(node, |record| record.as_mut().unwrap().bond -= 1);
		NodesByService::<Test>::mutate(2, |nodes| nodes.try_push(node).unwrap());
		assert!(Nodes::do_try_state().is_err());
		NodesByService::<Test>::remove(2);
		NodesMap::<Test>::mutate(node, |record| record.as_mut().unwrap().status = NodeStatus::Suspended);
		assert!(Nodes::do_try_state().is_err());
	});
}

#[test]
fn only_operators_a_service_admits_offer_it_and_a_suspended_node_resumes_without_those_closed() {
	run_test(|| {
		close(7, operator());
		let refused = Nodes::register(
			RuntimeOrigin::signed(operator()),
			node(1),
			services(&[3, 7]),
			MIN_BOND,
			proof(1, &operator()),
		);
		assert_noop!(refused, Error::<Test>::NotAdmitted);
		let node = register(1, &[3, 5]);
		assert_noop!(
			Nodes::set_services(RuntimeOrigin::signed(operator()), node, services(&[3, 7])),
			Error::<Test>::NotAdmitted
		);
		// Suspended by a slash, then closed to service 5: it resumes offering 3 alone.
		<Nodes as BondedNodes<_, _, _>>::strike(&node, None);
		close(5, operator());
		assert_ok!(Nodes::bond_extra(RuntimeOrigin::signed(operator()), node, MIN_BOND));
		assert_eq!(NodesMap::<Test>::get(node).unwrap().services.into_inner(), vec![3]);
		assert!(NodesByService::<Test>::get(5).is_empty());
	});
}
