//! A runtime with balances and the store, with small chunks so tests can hold whole items.

use crate as pallet_content_store;
use frame_support::{derive_impl, parameter_types, traits::Contains, PalletId};
use sp_runtime::BuildStorage;
use veriml_primitives::content::{chunk_hash, chunk_root, ChunkHash, ContentRoot};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		ContentStore: pallet_content_store,
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
	/// Above the smallest fee, so that paying one into an account that does not exist fails.
	type ExistentialDeposit = frame_support::traits::ConstU64<10>;
}

pub const CHUNK: u32 = 64;
pub const MAX_CHUNKS: u32 = 16;
pub const DEPOSIT_PER_ITEM: u64 = 100;
pub const DEPOSIT_PER_CHUNK: u64 = 10;
pub const FEE_PER_CHUNK_BLOCK: u64 = 1;
pub const MIN_RETENTION: u64 = 5;
pub const MAX_RETENTION: u64 = 1_000;
pub const UPLOAD_PERIOD: u64 = 20;

parameter_types! {
	pub const StorePalletId: PalletId = PalletId(*b"vml/stor");
	/// Tests of expiry backlogs lower it.
	pub static MaxExpiriesPerBlock: u32 = 8;
	pub static InUseRoots: Vec<ContentRoot> = Vec::new();
	pub static PinnedRoots: Vec<ContentRoot> = Vec::new();
}

/// Items work in flight reads (what `ContentPinned` says).
pub struct Pinned;
impl Contains<ContentRoot> for Pinned {
	fn contains(root: &ContentRoot) -> bool {
		PinnedRoots::get().contains(root)
	}
}

/// Marks an item as read by work in flight (or not).
pub fn set_pinned(root: ContentRoot, pinned: bool) {
	PinnedRoots::mutate(|roots| {
		roots.retain(|used| *used != root);
		if pinned {
			roots.push(root);
		}
	});
}

pub const PINNED_RETENTION: u64 = 3;

/// Items used on chain (what `ContentInUse` says).
pub struct InUse;
impl Contains<ContentRoot> for InUse {
	fn contains(root: &ContentRoot) -> bool {
		InUseRoots::get().contains(root)
	}
}

/// Marks an item as used on chain (or not).
pub fn set_in_use(root: ContentRoot, in_use: bool) {
	InUseRoots::mutate(|roots| {
		roots.retain(|used| *used != root);
		if in_use {
			roots.push(root);
		}
	});
}

impl pallet_content_store::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type PalletId = StorePalletId;
	type ContentInUse = InUse;
	type ContentPinned = Pinned;
	type PinnedRetention = frame_support::traits::ConstU64<PINNED_RETENTION>;
	type ChunkBytes = frame_support::traits::ConstU32<CHUNK>;
	type MaxChunks = frame_support::traits::ConstU32<MAX_CHUNKS>;
	type DepositPerItem = frame_support::traits::ConstU64<DEPOSIT_PER_ITEM>;
	type DepositPerChunk = frame_support::traits::ConstU64<DEPOSIT_PER_CHUNK>;
	type FeePerChunkBlock = frame_support::traits::ConstU64<FEE_PER_CHUNK_BLOCK>;
	type MinRetention = frame_support::traits::ConstU64<MIN_RETENTION>;
	type MaxRetention = frame_support::traits::ConstU64<MAX_RETENTION>;
	type UploadPeriod = frame_support::traits::ConstU64<UPLOAD_PERIOD>;
	type MaxExpiriesPerBlock = MaxExpiriesPerBlock;
	type WeightInfo = ();
}

pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
/// Has less than any deposit.
pub const POOR: u64 = 3;
pub const ENDOWMENT: u64 = 1_000_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, ENDOWMENT), (BOB, ENDOWMENT), (POOR, 50)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_content_store::GenesisConfig::<Test>::default().assimilate_storage(&mut storage).unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		// Calls run as the first transaction of the block, as a node applies them.
		System::set_extrinsic_index(0);
	});
	ext
}

/// Runs `test` and checks the store's invariants after it.
pub fn test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		ContentStore::do_try_state().expect("invariants hold");
	});
}

/// Moves to block `n`, running the store's block start (expiry) on the way, and checks the
/// invariants after each block.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		ContentStore::on_initialize(next);
		System::set_extrinsic_index(0);
		ContentStore::do_try_state().expect("invariants hold after every block");
	}
}

/// `len` bytes that differ from item to item (by `seed`).
pub fn bytes(len: u32, seed: u8) -> Vec<u8> {
	(0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// An item's chunks, their hashes and its root.
pub fn split(data: &[u8]) -> (Vec<Vec<u8>>, Vec<ChunkHash>, ContentRoot) {
	let chunks: Vec<Vec<u8>> = data.chunks(CHUNK as usize).map(<[u8]>::to_vec).collect();
	let hashes: Vec<ChunkHash> = chunks.iter().map(|chunk| chunk_hash(chunk)).collect();
	let root = chunk_root(&hashes);
	(chunks, hashes, root)
}
