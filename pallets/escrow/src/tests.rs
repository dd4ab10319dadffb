//! The escrow's effect on balances and events, and its refusals.

use crate::{self as pallet_escrow, Error, Escrow, Escrows, Event, HoldReason};
use frame_support::{
	assert_noop, assert_ok, derive_impl,
	traits::fungible::{Inspect, InspectHold},
};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		EscrowPallet: pallet_escrow,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

impl pallet_escrow::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type EscrowId = u64;
}

const PAYER: u64 = 1;
const PAYEE: u64 = 2;

fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> { balances: vec![(PAYER, 1_000), (PAYEE, 10)], ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` in a fresh test state, then checks the escrow's invariant.
fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		crate::Pallet::<Test>::do_try_state().expect("the escrow's invariant");
	});
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::EscrowPallet(HoldReason::Escrow), &who)
}

#[test]
fn locked_funds_are_paid_out_and_the_rest_refunded() {
	run_test(|| {
		assert_ok!(EscrowPallet::lock(7, &PAYER, 300));
		assert_eq!(held(PAYER), 300);
		assert_eq!(Balances::balance(&PAYER), 700);
		assert_eq!(EscrowPallet::locked(7), Some((PAYER, 300)));

		assert_eq!(EscrowPallet::pay(7, &PAYEE, 120), Ok(120));
		assert_eq!(Balances::balance(&PAYEE), 130);
		assert_eq!(held(PAYER), 180);

		assert_eq!(EscrowPallet::refund(7), 180);
		assert_eq!(held(PAYER), 0);
		assert_eq!(Balances::balance(&PAYER), 880);
		assert!(!Escrows::<Test>::contains_key(7));
		System::assert_has_event(Event::Locked { id: 7, payer: PAYER, amount: 300 }.into());
		System::assert_has_event(Event::Paid { id: 7, payee: PAYEE, amount: 120 }.into());
		System::assert_has_event(Event::Refunded { id: 7, payer: PAYER, amount: 180 }.into());
	});
}

#[test]
fn refusals_change_nothing() {
	run_test(|| {
		assert_noop!(EscrowPallet::lock(1, &PAYER, 5_000), Error::<Test>::InsufficientBalance);
		assert_ok!(EscrowPallet::lock(1, &PAYER, 100));
		assert_noop!(EscrowPallet::lock(1, &PAYER, 10), Error::<Test>::AlreadyLocked);
		assert_noop!(EscrowPallet::pay(1, &PAYEE, 101), Error::<Test>::ExceedsEscrow);
		assert_noop!(EscrowPallet::pay(2, &PAYEE, 1), Error::<Test>::UnknownEscrow);
		assert_eq!(EscrowPallet::refund(2), 0);
		assert_eq!(held(PAYER), 100);
		assert_eq!(Balances::total_balance(&PAYEE), 10);
	});
}
