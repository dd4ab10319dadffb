//! Two roles of bonded nodes side by side, as the runtime has them: `Nodes` (the default instance, which the benchmarks use) and
//! `OtherNodes` (instance 2), offering numbered services, with sr25519 node keys.

use crate as pallet_bonded_nodes;
use core::cell::RefCell;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, Contains, Hooks},
};
use sp_core::{sr25519, Pair};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	BuildStorage, Perbill,
};

pub type Signature = sr25519::Signature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Nodes: pallet_bonded_nodes,
		OtherNodes: pallet_bonded_nodes::<Instance2>,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

pub const MIN_BOND: u64 = 1_000;

parameter_types! {
	pub const SlashFraction: Perbill = Perbill::from_percent(10);
	pub const SlashRewardShare: Perbill = Perbill::from_percent(50);
	pub Protocol: AccountId = sr25519::Public::from_raw([0xee; 32]);
}

thread_local! {
	static REMOVED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
	static CLOSED: RefCell<Vec<(u32, AccountId)>> = const { RefCell::new(Vec::new()) };
}

/// Services admit every operator but those [`close`]d to them (as a feed's owner admits the
/// operators it approved).
pub struct Admitted;
impl veriml_primitives::nodes::Admission<AccountId, u32> for Admitted {
	fn admits(service: &u32, operator: &AccountId) -> bool {
		!CLOSED.with(|closed| closed.borrow().contains(&(*service, *operator)))
	}
}

/// `service` no longer admits nodes of `operator`.
pub fn close(service: u32, operator: AccountId) {
	CLOSED.with(|closed| closed.borrow_mut().push((service, operator)));
}

/// Services 0..100 exist, less those removed with [`remove_service`].
pub struct Existing;
impl Contains<u32> for Existing {
	fn contains(service: &u32) -> bool {
		*service < 100 && !REMOVED.with(|removed| removed.borrow().contains(service))
	}
}

pub fn remove_service(service: u32) {
	REMOVED.with(|removed| removed.borrow_mut().push(service));
}

impl pallet_bonded_nodes::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = u32;
	type Services = Existing;
	type Admission = Admitted;
	type NodeSignature = Signature;
	type MinBond = ConstU64<MIN_BOND>;
	type UnbondingDelay = ConstU64<10>;
	/// Every fault is slashed, as for inference nodes.
	type MaxStrikes = ConstU32<1>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = SlashRewardShare;
	type SlashDestination = Protocol;
	type MaxServicesPerNode = ConstU32<4>;
	type MaxNodesPerService = ConstU32<3>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Helper;
}

impl pallet_bonded_nodes::Config<pallet_bonded_nodes::Instance2> for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = u32;
	type Services = Existing;
	type Admission = ();
	type NodeSignature = Signature;
	type MinBond = ConstU64<MIN_BOND>;
	type UnbondingDelay = ConstU64<10>;
	/// Three faults in a row are slashed, as for data nodes.
	type MaxStrikes = ConstU32<3>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = SlashRewardShare;
	type SlashDestination = Protocol;
	type MaxServicesPerNode = ConstU32<4>;
	type MaxNodesPerService = ConstU32<3>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Helper;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct Helper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u32, AccountId, Signature> for Helper {
	fn service(index: u32) -> u32 {
		index
	}
	fn signed_by_node(index: u32, message: &[u8]) -> (AccountId, Signature) {
		crate::benchmarking::sr25519_node(index, message)
	}
}

/// The key pair of node `index`.
pub fn node_key(index: u8) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[index; 32])
}

pub fn node(index: u8) -> AccountId {
	node_key(index).public()
}

pub fn account(seed: u8) -> AccountId {
	sr25519::Public::from_raw([seed; 32])
}

pub fn operator() -> AccountId {
	account(1)
}

pub fn poor() -> AccountId {
	account(2)
}

/// Node `index`'s consent to be registered by `operator` in `Nodes`.
pub fn proof(index: u8, operator: &AccountId) -> Signature {
	node_key(index).sign(&crate::registration_message("Nodes", operator))
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(operator(), 100 * MIN_BOND), (account(3), 100 * MIN_BOND), (poor(), MIN_BOND / 2)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(KeystoreExt::new(MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` on a fresh chain and checks both instances' invariants after it.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}

pub fn check_invariants() {
	Nodes::do_try_state().expect("the nodes' invariants");
	OtherNodes::do_try_state().expect("the other nodes' invariants");
}

/// Moves to block `n`, checking the invariants after each block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Nodes::on_initialize(next);
		check_invariants();
	}
}
