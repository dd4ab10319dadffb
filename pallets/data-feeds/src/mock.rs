//! A runtime with balances and data feeds, and data nodes whose keys sign like a node's.

use crate as pallet_data_feeds;
use frame_support::{derive_impl, parameter_types, traits::ConstU32};
use sp_core::{sr25519, Pair};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	BuildStorage, Perbill,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Signature = sr25519::Signature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, Signature, ()>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Feeds: pallet_data_feeds,
		DataNodes: pallet_bonded_nodes,
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

pub const FEED_DEPOSIT: u64 = 500;
pub const MIN_BOND: u64 = 1_000;
pub const UNBONDING: u64 = 10;
pub const MAX_STRIKES: u32 = 2;
pub const MAX_HISTORY: u32 = 3;

parameter_types! {
	pub Protocol: AccountId = sr25519::Public::from_raw([0xee; 32]);
	pub const SlashFraction: Perbill = Perbill::from_percent(10);
	pub const NoReward: Perbill = Perbill::zero();
}

impl pallet_bonded_nodes::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = crate::FeedId;
	type Services = crate::ExistingFeeds<Test>;
	type Admission = crate::ApprovedOperators<Test>;
	type NodeSignature = Signature;
	type MinBond = frame_support::traits::ConstU64<MIN_BOND>;
	type UnbondingDelay = frame_support::traits::ConstU64<UNBONDING>;
	type MaxStrikes = ConstU32<MAX_STRIKES>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = NoReward;
	type SlashDestination = Protocol;
	type MaxServicesPerNode = ConstU32<2>;
	type MaxNodesPerService = ConstU32<3>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::benchmark_helpers::BondedDataNodes<Test, ()>;
}

impl pallet_data_feeds::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AuthorityId = crate::crypto::DataNodeId;
	type FeedDeposit = frame_support::traits::ConstU64<FEED_DEPOSIT>;
	type Nodes = DataNodes;
	type MinRoundLength = frame_support::traits::ConstU64<2>;
	type MaxFeeds = ConstU32<4>;
	type MaxNodesPerFeed = ConstU32<3>;
	type MaxHistory = ConstU32<MAX_HISTORY>;
	type MaxNameLength = ConstU32<16>;
	type MaxSourceLength = ConstU32<64>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::benchmark_helpers::BondedDataNodes<Test, ()>;
}

veriml_offchain::impl_mock_signed_transactions!(
	Test,
	extrinsic = Extrinsic,
	public = <Signature as Verify>::Signer,
	signature = Signature,
);

pub fn account(seed: u8) -> AccountId {
	sr25519::Public::from_raw([seed; 32])
}
/// Registers feeds.
pub fn owner() -> AccountId {
	account(1)
}
/// Operates the data nodes.
pub fn operator() -> AccountId {
	account(2)
}
/// Has almost nothing.
pub fn poor() -> AccountId {
	account(3)
}
/// Data node `index`'s `feed` key.
pub fn node_key(index: u8) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[10 + index; 32])
}
/// Data node accounts (their `feed` keys).
pub fn node(index: u8) -> AccountId {
	node_key(index).public()
}
/// Data node `index`'s consent to be registered by `operator`.
pub fn node_proof(index: u8, operator: &AccountId) -> Signature {
	node_key(index).sign(&pallet_bonded_nodes::registration_message("DataNodes", operator))
}

pub const ENDOWMENT: u64 = 1_000_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(owner(), ENDOWMENT), (operator(), ENDOWMENT), (poor(), 10), (Protocol::get(), 1)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(sp_keystore::KeystoreExt::new(sp_keystore::testing::MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs blocks up to `n`, with the pallet's `on_initialize`.
pub fn run_to(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Feeds::on_initialize(next);
		check_invariants();
	}
}

/// The pallet's invariants (its `try_state`), which must hold after every block.
pub fn check_invariants() {
	Feeds::do_try_state().expect("the data feeds' invariants");
	DataNodes::do_try_state().expect("the data nodes' invariants");
}

/// Runs `test` in a fresh test state, then checks the invariants.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}

/// This pallet's events so far, oldest first.
/// The data nodes' events so far, oldest first.
pub fn node_events() -> Vec<pallet_bonded_nodes::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::DataNodes(event) => Some(event),
			_ => None,
		})
		.collect()
}

pub fn feed_events() -> Vec<pallet_data_feeds::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::Feeds(event) => Some(event),
			_ => None,
		})
		.collect()
}
