//! A runtime with balances, storage nodes whose keys sign like a node's, and a content store
//! that holds its items' bytes (the tests' stand-in for `pallet-content-store`, whose own tests
//! cover the segment roots it keeps).

use crate as pallet_storage_proofs;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, Everything},
};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	BuildStorage, Perbill,
};
use std::cell::RefCell;
use veriml_primitives::content::{
	chunk_hash, chunk_root, segment_root, ContentRoot, ProvableChunk, ProvableContent, StorageService,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Signature = sr25519::Signature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, Signature, ()>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		StorageNodes: pallet_bonded_nodes,
		StorageProofs: pallet_storage_proofs,
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
	type ExistentialDeposit = frame_support::traits::ConstU64<5>;
}

pub const MIN_BOND: u64 = 1_000;
pub const MAX_STRIKES: u32 = 2;
pub const PERIOD: u64 = 5;
pub const REWARD: u64 = 7;
/// Chunks of the stand-in store: 1 000 bytes, four segments (the last 232 bytes).
pub const CHUNK: usize = 1_000;

parameter_types! {
	pub Protocol: AccountId = sr25519::Public::from_raw([0xee; 32]);
	pub Pot: AccountId = sr25519::Public::from_raw([0xdd; 32]);
	pub const SlashFraction: Perbill = Perbill::from_percent(10);
	pub const NoReward: Perbill = Perbill::zero();
}

impl pallet_bonded_nodes::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = StorageService;
	type Services = Everything;
	type Admission = ();
	type NodeSignature = Signature;
	type MinBond = frame_support::traits::ConstU64<MIN_BOND>;
	type UnbondingDelay = frame_support::traits::ConstU64<10>;
	type MaxStrikes = ConstU32<MAX_STRIKES>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = NoReward;
	type SlashDestination = Protocol;
	type MaxServicesPerNode = ConstU32<1>;
	type MaxNodesPerService = ConstU32<4>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchmarkNodes;
}

/// Storage nodes for the bonded-nodes pallet's benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub struct BenchmarkNodes;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_bonded_nodes::BenchmarkHelper<StorageService, AccountId, Signature> for BenchmarkNodes {
	fn service(_index: u32) -> StorageService {
		StorageService::AllItems
	}
	fn signed_by_node(index: u32, message: &[u8]) -> (AccountId, Signature) {
		pallet_bonded_nodes::benchmarking::sr25519_node(index, message)
	}
}

thread_local! {
	/// The stand-in store's items: root and chunks' bytes.
	static ITEMS: RefCell<Vec<(ContentRoot, Vec<Vec<u8>>)>> = const { RefCell::new(Vec::new()) };
	/// Randomness of the block, when set.
	static RANDOM: RefCell<Option<H256>> = const { RefCell::new(Some(H256::repeat_byte(7))) };
}

/// Stores `data` in the stand-in store, in chunks of [`CHUNK`]; returns its root.
pub fn store(data: &[u8]) -> ContentRoot {
	let chunks: Vec<Vec<u8>> = data.chunks(CHUNK).map(<[u8]>::to_vec).collect();
	let root = chunk_root(&chunks.iter().map(|c| chunk_hash(c)).collect::<Vec<_>>());
	ITEMS.with(|items| items.borrow_mut().push((root, chunks)));
	root
}

/// Removes an item from the stand-in store.
pub fn remove(root: ContentRoot) {
	ITEMS.with(|items| items.borrow_mut().retain(|(r, _)| *r != root));
}

/// The bytes of chunk `index` of `root`.
pub fn chunk_bytes(root: ContentRoot, index: u32) -> Vec<u8> {
	ITEMS.with(|items| {
		items.borrow().iter().find(|(r, _)| *r == root).map(|(_, chunks)| chunks[index as usize].clone()).unwrap()
	})
}

/// Every chunk the stand-in store holds, by hash.
pub fn all_chunks() -> Vec<(H256, Vec<u8>)> {
	ITEMS.with(|items| {
		items.borrow().iter().flat_map(|(_, chunks)| chunks.iter().map(|c| (chunk_hash(c), c.clone()))).collect()
	})
}

/// Sets the block's randomness (`None`: the chain has none).
pub fn set_random(random: Option<H256>) {
	RANDOM.with(|r| *r.borrow_mut() = random);
}

pub struct Content;
impl ProvableContent for Content {
	fn provable_count() -> u32 {
		ITEMS.with(|items| items.borrow().len() as u32)
	}
	fn provable(n: u32) -> Option<(ContentRoot, u32)> {
		ITEMS.with(|items| items.borrow().get(n as usize).map(|(root, chunks)| (*root, chunks.len() as u32)))
	}
	fn is_provable(root: &ContentRoot) -> bool {
		ITEMS.with(|items| items.borrow().iter().any(|(r, _)| r == root))
	}
	fn chunk(root: &ContentRoot, index: u32) -> Option<ProvableChunk> {
		ITEMS.with(|items| {
			let items = items.borrow();
			let (_, chunks) = items.iter().find(|(r, _)| r == root)?;
			let bytes = chunks.get(index as usize)?;
			Some(ProvableChunk { hash: chunk_hash(bytes), segment_root: segment_root(bytes), len: bytes.len() as u32 })
		})
	}
}

pub struct TestRandomness;
impl frame_support::traits::Randomness<Option<H256>, u64> for TestRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, u64) {
		let random = RANDOM.with(|r| *r.borrow());
		(random.map(|r| H256(sp_io::hashing::blake2_256(&[r.as_bytes(), subject].concat()))), System::block_number())
	}
}

impl pallet_storage_proofs::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Content = Content;
	type Nodes = StorageNodes;
	type AuthorityId = crate::crypto::StorageNodeId;
	type Randomness = TestRandomness;
	type ChallengePeriod = frame_support::traits::ConstU64<PERIOD>;
	type ProofReward = frame_support::traits::ConstU64<REWARD>;
	type RewardPot = Pot;
	type MaxNodes = ConstU32<4>;
	type WeightInfo = ();
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
/// Operates the storage nodes.
pub fn operator() -> AccountId {
	account(2)
}
/// Storage node `index`'s `stor` key.
pub fn node_key(index: u8) -> sr25519::Pair {
	sr25519::Pair::from_seed(&[10 + index; 32])
}
/// Storage node accounts (their `stor` keys).
pub fn node(index: u8) -> AccountId {
	node_key(index).public()
}

/// Registers storage node `index`, operated by [`operator`].
pub fn register(index: u8) {
	let proof = node_key(index).sign(&pallet_bonded_nodes::registration_message("StorageNodes", &operator()));
	frame_support::assert_ok!(StorageNodes::register(
		RuntimeOrigin::signed(operator()),
		node(index),
		vec![StorageService::AllItems].try_into().unwrap(),
		MIN_BOND,
		proof,
	));
}

pub const ENDOWMENT: u64 = 1_000_000;
pub const POT: u64 = 100;

pub fn new_test_ext() -> sp_io::TestExternalities {
	ITEMS.with(|items| items.borrow_mut().clear());
	set_random(Some(H256::repeat_byte(7)));
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(operator(), ENDOWMENT), (Protocol::get(), 5), (Pot::get(), POT)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(sp_keystore::KeystoreExt::new(sp_keystore::testing::MemoryKeystore::new()));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs blocks up to `n`, with the pallet's `on_initialize`, checking the invariants after each.
pub fn run_to(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		StorageProofs::on_initialize(next);
		check_invariants();
	}
}

/// The invariants of the proofs and of the storage nodes.
pub fn check_invariants() {
	StorageProofs::do_try_state().expect("the storage proofs' invariants");
	StorageNodes::do_try_state().expect("the storage nodes' invariants");
}

/// Runs `test` in a fresh test state, then checks the invariants.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}

/// This pallet's events so far, oldest first.
pub fn events() -> Vec<pallet_storage_proofs::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::StorageProofs(event) => Some(event),
			_ => None,
		})
		.collect()
}

/// The storage nodes' events so far, oldest first.
pub fn node_events() -> Vec<pallet_bonded_nodes::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|record| match record.event {
			RuntimeEvent::StorageNodes(event) => Some(event),
			_ => None,
		})
		.collect()
}
