//! The invariants (`try_state`) every test block is checked against.

use super::*;

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

		pallet_bonded_nodes::Nodes::<Test>::mutate(node, |record| record.as_mut().unwrap().bond += 1);
		assert!(Nodes::do_try_state().is_err());
		pallet_bonded_nodes::Nodes::<Test>::mutate(node, |record| record.as_mut().unwrap().bond -= 1);

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
