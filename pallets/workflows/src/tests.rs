//! Workflows from registration to their end: runs, skips, budget draws and refunds, and every
//! refusal, by their effect on storage, balances and events.

use crate::{
	feed_tensor, mock::*, EndReason, Error, Event, FeedInput, Schedule, SkipReason, WorkflowCount, Workflows as Records,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use veriml_inference_primitives::{DType, Tensor, TensorSpec};
use veriml_primitives::requests::QuoteError;

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Escrow(pallet_escrow::HoldReason::Escrow), &who)
}

fn inputs(parts: &[(u32, u32)]) -> BoundedVec<FeedInput, frame_support::traits::ConstU32<2>> {
	BoundedVec::truncate_from(parts.iter().map(|&(feed, values)| FeedInput { feed, values }).collect())
}

/// Alice's workflow: the last 3 BTC values every 3 blocks, at most `FEE` a run, `budget`.
fn register(budget: u64) -> u32 {
	let id = crate::NextWorkflowId::<Test>::get();
	assert_ok!(Workflows::register(RuntimeOrigin::signed(ALICE), model(), inputs(&[(BTC, 3)]), 3, FEE, budget));
	id
}

fn budget_left(id: u32) -> u64 {
	use pallet_escrow::Escrow as _;
	Escrow::locked(id).map_or(0, |(_, amount)| amount)
}

fn f32s(tensor: &Tensor) -> Vec<f32> {
	tensor.data.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

#[test]
fn a_workflow_requests_an_inference_on_feed_values_every_period_drawing_its_budget() {
	run_test(|| {
		set_feed(BTC, 2, &[6_400_000, 6_512_345, 6_498_801, -150]);
		let id = register(350);
		System::assert_last_event(
			Event::Registered {
				workflow: id,
				owner: ALICE,
				model: model(),
				every: 3,
				first_run: 2,
				budget: 350,
				deposit: DEPOSIT,
			}
			.into(),
		);
		assert_eq!(held(ALICE), 350);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - 350 - DEPOSIT);
		assert!(Schedule::<Test>::contains_key(2, id));
		assert_eq!(WorkflowCount::<Test>::get(), 1);

		run_to_block(2);
		let made = made_requests();
		assert_eq!(made.len(), 1);
		assert_eq!(made[0].requester, ALICE);
		assert_eq!(made[0].model, model());
		assert_eq!(made[0].max_fee, FEE);
		// The last three values, oldest first, divided by 10^2.
		assert_eq!(made[0].inputs.len(), 1);
		assert_eq!(made[0].inputs[0].shape, vec![1, 3]);
		assert_eq!(f32s(&made[0].inputs[0]), vec![65_123.45, 64_988.01, -1.5]);
		System::assert_last_event(Event::Ran { workflow: id, run: 1, request: 0, fee: FEE, budget_left: 250 }.into());
		// The fee moved from the budget's escrow to the request's: still Alice's, still held.
		assert_eq!(budget_left(id), 250);
		assert_eq!(held(ALICE), 350);
		let workflow = Records::<Test>::get(id).unwrap();
		assert_eq!((workflow.runs, workflow.last_request, workflow.next_run), (1, Some(0), 5));
		assert!(!Schedule::<Test>::contains_key(2, id));
		assert!(Schedule::<Test>::contains_key(5, id));

		// Nothing between runs; then every 3 blocks.
		run_to_block(4);
		assert_eq!(made_requests().len(), 1);
		set_feed(BTC, 2, &[1, 2, 3, 4]);
		run_to_block(5);
		assert_eq!(f32s(&made_requests()[1].inputs[0]), vec![0.02, 0.03, 0.04]);
		run_to_block(8);
		assert_eq!(made_requests().len(), 3);
		assert_eq!(budget_left(id), 50);

		// 50 left cannot pay a run of 100: the workflow ends and refunds it.
		run_to_block(11);
		assert_eq!(made_requests().len(), 3);
		System::assert_last_event(Event::Ended { workflow: id, reason: EndReason::BudgetSpent, refunded: 50 }.into());
		assert!(Records::<Test>::get(id).is_none());
		assert_eq!(Schedule::<Test>::iter().count(), 0);
		assert_eq!(WorkflowCount::<Test>::get(), 0);
		// Alice paid three fees (held by their requests), nothing else.
		assert_eq!(held(ALICE), 3 * FEE);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - 3 * FEE);
	});
}

#[test]
fn inputs_from_several_feeds_are_concatenated_in_order() {
	run_test(|| {
		set_feed(BTC, 2, &[100, 250]);
		set_feed(COUNT, 0, &[7, 8, 9]);
		assert_ok!(Workflows::register(
			RuntimeOrigin::signed(ALICE),
			model(),
			inputs(&[(COUNT, 1), (BTC, 2)]),
			MIN_PERIOD,
			FEE,
			FEE
		));
		run_to_block(2);
		assert_eq!(f32s(&made_requests()[0].inputs[0]), vec![9.0, 1.0, 2.5]);
	});
}

#[test]
fn a_run_without_enough_feed_values_or_above_its_max_fee_is_skipped_and_charges_nothing() {
	run_test(|| {
		set_feed(BTC, 2, &[1, 2]);
		let id = register(1_000);
		run_to_block(2);
		System::assert_last_event(
			Event::Skipped { workflow: id, reason: SkipReason::NotEnoughFeedValues, next_run: 5 }.into(),
		);
		assert!(made_requests().is_empty());
		assert_eq!(budget_left(id), 1_000);

		set_feed(BTC, 2, &[1, 2, 3]);
		set_quote(Ok(FEE + 1));
		run_to_block(5);
		System::assert_last_event(Event::Skipped { workflow: id, reason: SkipReason::FeeAboveMax, next_run: 8 }.into());
		assert_eq!(budget_left(id), 1_000);

		set_quote(Ok(FEE));
		run_to_block(8);
		assert_eq!(made_requests().len(), 1);
		assert_eq!(budget_left(id), 900);
	});
}

#[test]
fn a_refused_request_rolls_back_the_draw_from_the_budget() {
	run_test(|| {
		set_feed(BTC, 2, &[1, 2, 3]);
		let id = register(1_000);
		refuse_requests(true);
		run_to_block(2);
		System::assert_last_event(
			Event::Skipped { workflow: id, reason: SkipReason::RequestRefused, next_run: 5 }.into(),
		);
		assert_eq!(budget_left(id), 1_000);
		assert_eq!(held(ALICE), 1_000);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - 1_000 - DEPOSIT);
		refuse_requests(false);
		run_to_block(5);
		assert_eq!(made_requests().len(), 1);
	});
}

#[test]
fn cancelling_refunds_the_rest_and_only_the_owner_may() {
	run_test(|| {
		set_feed(BTC, 2, &[1, 2, 3]);
		let id = register(1_000);
		run_to_block(2);
		assert_noop!(Workflows::cancel(RuntimeOrigin::signed(BOB), id), Error::<Test>::NotOwner);
		assert_noop!(Workflows::cancel(RuntimeOrigin::signed(ALICE), 7), Error::<Test>::UnknownWorkflow);
		assert_ok!(Workflows::cancel(RuntimeOrigin::signed(ALICE), id));
		System::assert_last_event(Event::Ended { workflow: id, reason: EndReason::Cancelled, refunded: 900 }.into());
		assert_eq!(held(ALICE), FEE, "the request already made keeps its fee");
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - FEE);
		assert_eq!(Schedule::<Test>::iter().count(), 0);
		run_to_block(10);
		assert_eq!(made_requests().len(), 1);
		assert_noop!(Workflows::cancel(RuntimeOrigin::signed(ALICE), id), Error::<Test>::UnknownWorkflow);
	});
}

#[test]
fn a_workflow_ends_with_a_refund_when_its_model_or_feed_goes_away() {
	run_test(|| {
		set_feed(BTC, 2, &[1, 2, 3]);
		let first = register(1_000);
		set_quote(Err(QuoteError::ModelDeprecated));
		run_to_block(2);
		System::assert_last_event(
			Event::Ended { workflow: first, reason: EndReason::ModelUnavailable, refunded: 1_000 }.into(),
		);
		set_quote(Ok(FEE));
		let second = register(1_000);
		remove_feed(BTC);
		run_to_block(3);
		System::assert_last_event(
			Event::Ended { workflow: second, reason: EndReason::FeedRemoved, refunded: 1_000 }.into(),
		);
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT);
		assert_eq!(WorkflowCount::<Test>::get(), 0);
	});
}

#[test]
fn bad_registrations_are_refused_and_hold_nothing() {
	run_test(|| {
		let alice = || RuntimeOrigin::signed(ALICE);
		let refused = |origin, model, parts: &[(u32, u32)], every, max_fee, budget, error: Error<Test>| {
			assert_noop!(Workflows::register(origin, model, inputs(parts), every, max_fee, budget), error);
		};
		refused(alice(), model(), &[(BTC, 3)], MIN_PERIOD - 1, FEE, FEE, Error::PeriodTooShort);
		refused(alice(), model(), &[(BTC, 3)], MAX_PERIOD + 1, FEE, FEE, Error::PeriodTooLong);
		refused(alice(), model(), &[], 3, FEE, FEE, Error::InvalidFeedInput);
		refused(alice(), model(), &[(BTC, 0), (BTC, 3)], 3, FEE, FEE, Error::InvalidFeedInput);
		refused(alice(), model(), &[(BTC, MAX_VALUES + 1)], 3, FEE, FEE, Error::InvalidFeedInput);
		refused(alice(), model(), &[(9, 3)], 3, FEE, FEE, Error::UnknownFeed);
		refused(alice(), model(), &[(BTC, 2)], 3, FEE, FEE, Error::InputDoesNotMatchModel);
		refused(alice(), model(), &[(BTC, 2), (COUNT, 2)], 3, FEE, FEE, Error::InputDoesNotMatchModel);
		refused(alice(), integer_model(), &[(BTC, 3)], 3, FEE, FEE, Error::InputDoesNotMatchModel);
		refused(alice(), sp_core::H256::repeat_byte(1), &[(BTC, 3)], 3, FEE, FEE, Error::UnknownModel);
		refused(alice(), model(), &[(BTC, 3)], 3, FEE - 1, FEE, Error::FeeAboveMax);
		refused(alice(), model(), &[(BTC, 3)], 3, FEE, FEE - 1, Error::BudgetTooSmall);
		refused(RuntimeOrigin::signed(POOR), model(), &[(BTC, 3)], 3, FEE, 200, Error::InsufficientBalance);
		// The budget alone it could hold, not the deposit beside it.
		refused(RuntimeOrigin::signed(POOR), model(), &[(BTC, 3)], 3, FEE, 150 - DEPOSIT, Error::InsufficientBalance);
		set_quote(Err(QuoteError::ModelDeprecated));
		refused(alice(), model(), &[(BTC, 3)], 3, FEE, FEE, Error::ModelNotRequestable);
		set_quote(Ok(FEE));
		for _ in 0..MAX_WORKFLOWS {
			register(FEE);
		}
		refused(alice(), model(), &[(BTC, 3)], 3, FEE, FEE, Error::TooManyWorkflows);
		assert_eq!(held(ALICE), MAX_WORKFLOWS as u64 * FEE);
		assert_eq!(Balances::balance(&POOR), 150);
	});
}

#[test]
fn feed_values_become_the_nearest_f32_of_their_decimal_value() {
	let spec = TensorSpec::new(DType::F32, &[4]).unwrap();
	let tensor = feed_tensor(&spec, &[(6_512_345, 2), (-1, 8), (i128::MAX, 0), (123, 40)]).unwrap();
	assert_eq!(f32s(&tensor), vec![65_123.45, -0.000_000_01, i128::MAX as f32, 1.23e-38]);
	// Wrong dtype or element count: no tensor.
	assert!(feed_tensor(&TensorSpec::new(DType::I64, &[1]).unwrap(), &[(1, 0)]).is_none());
	assert!(feed_tensor(&spec, &[(1, 0)]).is_none());
}

#[test]
fn a_workflow_holds_its_deposit_until_it_ends_however_it_ends() {
	use crate::{Deposits, HoldReason};
	run_test(|| {
		let deposit_of = |who| Balances::balance_on_hold(&HoldReason::WorkflowDeposit.into(), &who);
		set_feed(BTC, 2, &[1, 2, 3]);
		let cancelled = register(1_000);
		let spent = register(FEE);
		assert_eq!(deposit_of(ALICE), 2 * DEPOSIT);
		assert_eq!(Deposits::<Test>::get(cancelled), Some(DEPOSIT));
		assert_ok!(Workflows::cancel(RuntimeOrigin::signed(ALICE), cancelled));
		assert_eq!(deposit_of(ALICE), DEPOSIT);
		// The other pays one run, then cannot pay another and ends.
		run_to_block(5);
		System::assert_has_event(Event::Ended { workflow: spent, reason: EndReason::BudgetSpent, refunded: 0 }.into());
		assert_eq!(deposit_of(ALICE), 0);
		assert_eq!(Deposits::<Test>::iter().count(), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - FEE);
	});
}
