//! Receipt deposits: a request holds, from its requester, what keeping its receipt and
//! outputs in state costs, until the receipt is pruned or the request ends without one.

use super::*;
use crate::{HoldReason, ReceiptDeposits};

/// Relu's outputs, one `[1, WIDTH]` float tensor, SCALE-encoded.
const RELU_OUTPUT_BYTES: u64 = 1 + 1 + 1 + 2 * 4 + 1 + 4 * WIDTH as u64;
const BASE: u64 = 5;
/// Base and one unit a byte of outputs.
const DEPOSIT: u64 = BASE + RELU_OUTPUT_BYTES;

fn with_deposits(test: impl FnOnce()) {
	ReceiptDepositBase::set(BASE);
	ReceiptDepositPerByte::set(1);
	run_test(test);
}

fn receipt_held(who: AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Inference(HoldReason::ReceiptDeposit), &who)
}

#[test]
fn a_receipt_deposit_is_held_from_the_request_until_its_receipt_is_pruned() {
	with_deposits(|| {
		assert_eq!(codec::Encode::encoded_size(&sample_output()) as u64, RELU_OUTPUT_BYTES);
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		System::assert_has_event(
			Event::Requested {
				request: id,
				requester: alice(),
				model: relu_hash(),
				input_hash: input_hash(&sample_input()),
				fee: relu_fee(),
				receipt_deposit: DEPOSIT,
				deadline: 1 + TIMEOUT,
			}
			.into(),
		);
		assert_eq!(receipt_held(alice()), DEPOSIT);
		assert_eq!(ReceiptDeposits::<Test>::get(id), Some((alice(), DEPOSIT)));

		// Completed: the fee is paid out, the deposit stays with the receipt.
		submit_honest_result(node, id);
		assert_eq!(Balances::balance(&alice()), ENDOWMENT - relu_fee().total() - DEPOSIT);
		assert_eq!(receipt_held(alice()), DEPOSIT);
		run_to_block(1 + RETENTION - 1);
		assert!(Receipts::<Test>::contains_key(id));
		assert_eq!(receipt_held(alice()), DEPOSIT);

		// Pruned with its receipt and outputs: released.
		run_to_block(1 + RETENTION);
		assert!(!Receipts::<Test>::contains_key(id));
		assert_eq!(receipt_held(alice()), 0);
		assert!(!ReceiptDeposits::<Test>::contains_key(id));
		assert_eq!(Balances::balance(&alice()), ENDOWMENT - relu_fee().total());
	});
}

#[test]
fn a_request_that_ends_without_a_receipt_releases_its_deposit() {
	with_deposits(|| {
		// Cancelled while waiting for a node.
		let waiting = request_from(alice(), sample_input());
		assert_eq!(receipt_held(alice()), DEPOSIT);
		assert_ok!(Inference::cancel(RuntimeOrigin::signed(alice()), waiting));
		assert_eq!(receipt_held(alice()), 0);
		assert_eq!(Balances::balance(&alice()), ENDOWMENT);

		// Expired unanswered.
		let node = account(10);
		register_node(node);
		let id = request_from(bob(), sample_input());
		assert_eq!(receipt_held(bob()), DEPOSIT);
		run_to_block(1 + TIMEOUT);
		System::assert_has_event(Event::Expired { request: id, refunded: relu_fee().total() }.into());
		assert_eq!(receipt_held(bob()), 0);
		assert_eq!(Balances::balance(&bob()), ENDOWMENT);
		assert_eq!(ReceiptDeposits::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_requester_who_cannot_hold_the_receipt_deposit_is_refused_and_nothing_is_held() {
	with_deposits(|| {
		let node = account(10);
		register_node(node);
		let requester = account(30);
		// Enough for the fee (and to exist), not for the deposit too.
		let existential = <Balances as Inspect<AccountId>>::minimum_balance();
		assert_ok!(Balances::transfer_keep_alive(
			RuntimeOrigin::signed(bob()),
			requester,
			relu_fee().total() + existential + DEPOSIT - 1
		));
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(requester), relu_hash(), sample_input(), 1_000),
			Error::<Test>::InsufficientBalance
		);
		assert_eq!(escrowed(requester), 0);
		assert_eq!(receipt_held(requester), 0);
	});
}

#[test]
fn the_invariants_catch_a_receipt_deposit_that_is_not_held_or_outlives_its_receipt() {
	with_deposits(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		ReceiptDeposits::<Test>::insert(id, (alice(), DEPOSIT + 1));
		assert!(Inference::do_try_state().is_err());
		ReceiptDeposits::<Test>::insert(id, (alice(), DEPOSIT));
		submit_honest_result(node, id);
		check_invariants();
		let receipt = Receipts::<Test>::take(id).unwrap();
		assert!(Inference::do_try_state().is_err());
		Receipts::<Test>::insert(id, receipt);
		check_invariants();
	});
}
