//! A runtime with balances and the registry, whose inspector is the real deterministic engine
//! (registered as an externalities extension).

use crate as pallet_model_registry;
use frame_support::{derive_impl, parameter_types, traits::Contains};
use sp_runtime::BuildStorage;
use std::{
	cell::RefCell,
	collections::{BTreeMap, BTreeSet, HashMap},
	sync::{Arc, LazyLock, Mutex},
};
use veriml_inference_interface::{ChunkSource, ChunkSourceExt, InferenceExt};
use veriml_inference_primitives::ModelHash;
use veriml_primitives::content::{chunk_hash, chunk_root, ChunkHash, ContentRoot, StoredContent, StoredItem};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Models: pallet_model_registry,
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

pub const CHUNK: u32 = 256;

parameter_types! {
	/// Tests that need optimistic models lower it before registering one.
	pub static OptimisticAboveFuel: u64 = u64::MAX;
	pub const DepositPerModel: u64 = 100;
	pub const DepositPerByte: u64 = 1;
	pub const MaxModelBytes: u32 = 64 * 1024;
	/// Larger than a state upload, as the runtime's.
	pub const MaxStoredModelBytes: u32 = 1024 * 1024;
	/// Largest outputs a result may carry.
	pub static MaxOutputBytes: u32 = 1024;
	pub const MaxChunkBytes: u32 = CHUNK;
	pub const MaxNameLength: u32 = 32;
	pub const MaxTensors: u32 = 8;
	pub const MaxVersions: u32 = 3;
	pub const RegistrationFuelLimit: u64 = 200_000_000;
	pub const PicosecondsPerFuel: u64 = 1_000;
}

thread_local! {
	static IN_USE: RefCell<BTreeSet<ModelHash>> = const { RefCell::new(BTreeSet::new()) };
}

/// Marks a model as having open requests (or not).
pub fn set_in_use(model: ModelHash, in_use: bool) {
	IN_USE.with(|set| {
		if in_use {
			set.borrow_mut().insert(model);
		} else {
			set.borrow_mut().remove(&model);
		}
	});
}

pub struct InUse;
impl Contains<ModelHash> for InUse {
	fn contains(model: &ModelHash) -> bool {
		IN_USE.with(|set| set.borrow().contains(model))
	}
}

/// A content item's chunks are this long (the store's are 1 MiB).
pub const CONTENT_CHUNK: usize = 4096;

/// The chunks this test's node keeps (what its database holds as indexed transactions).
#[derive(Default)]
pub struct KeptChunks(Mutex<HashMap<ChunkHash, Vec<u8>>>);

impl ChunkSource for KeptChunks {
	fn chunk(&self, hash: &sp_core::H256) -> Option<Vec<u8>> {
		self.0.lock().unwrap().get(hash).cloned()
	}
}

thread_local! {
	static KEPT: Arc<KeptChunks> = Arc::new(KeptChunks::default());
	static ITEMS: RefCell<BTreeMap<ContentRoot, StoredItem<u64, u64>>> = const { RefCell::new(BTreeMap::new()) };
}

/// The content store of these tests: items in a table, their chunk lists in state (where the
/// engine's host function reads them), their chunks kept by this test's node.
pub struct Content;

impl StoredContent<u64, u64> for Content {
	fn item(root: &ContentRoot) -> Option<StoredItem<u64, u64>> {
		ITEMS.with(|items| items.borrow().get(root).cloned())
	}

	fn chunk_list_key(root: &ContentRoot) -> Vec<u8> {
		[&b"mock-content:"[..], root.as_bytes()].concat()
	}

	fn chunks(root: &ContentRoot) -> Option<Vec<ChunkHash>> {
		frame_support::storage::unhashed::get(&Content::chunk_list_key(root))
	}
}

/// Stores `bytes` as `owner`'s item, as the content store completes one, in the block before
/// this one: its chunk list in state, its chunks kept by the node. Returns its root and its
/// chunks' hashes.
pub fn store_content(owner: u64, bytes: &[u8]) -> (ContentRoot, Vec<ChunkHash>) {
	store_content_at(owner, bytes, System::block_number().saturating_sub(1))
}

/// [`store_content`], completed in block `stored_at`.
pub fn store_content_at(owner: u64, bytes: &[u8], stored_at: u64) -> (ContentRoot, Vec<ChunkHash>) {
	let chunks: Vec<&[u8]> = bytes.chunks(CONTENT_CHUNK).collect();
	let hashes: Vec<ChunkHash> = chunks.iter().map(|chunk| chunk_hash(chunk)).collect();
	let root = chunk_root(&hashes);
	frame_support::storage::unhashed::put(&Content::chunk_list_key(&root), &hashes);
	KEPT.with(|kept| {
		let mut kept = kept.0.lock().unwrap();
		for (hash, chunk) in hashes.iter().zip(&chunks) {
			kept.insert(*hash, chunk.to_vec());
		}
	});
	let item = StoredItem { owner, byte_len: bytes.len() as u32, chunk_count: hashes.len() as u32, stored_at };
	ITEMS.with(|items| items.borrow_mut().insert(root, item));
	(root, hashes)
}

/// The item leaves the store (its retention ended): its records leave state; the node still
/// keeps its chunks.
pub fn expire_content(root: ContentRoot) {
	frame_support::storage::unhashed::kill(&Content::chunk_list_key(&root));
	ITEMS.with(|items| items.borrow_mut().remove(&root));
}

/// This node loses chunk `hash` (or, with `bytes`, keeps other bytes under it).
pub fn lose_chunk(hash: ChunkHash, bytes: Option<Vec<u8>>) {
	KEPT.with(|kept| {
		let mut kept = kept.0.lock().unwrap();
		match bytes {
			Some(bytes) => kept.insert(hash, bytes),
			None => kept.remove(&hash),
		}
	});
}

impl pallet_model_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inspector = pallet_model_registry::HostEngine;
	type ModelsInUse = InUse;
	type DepositPerModel = DepositPerModel;
	type DepositPerByte = DepositPerByte;
	type MaxModelBytes = MaxModelBytes;
	type Content = Content;
	type MaxStoredModelBytes = MaxStoredModelBytes;
	type ContentLoadPicosecondsPerByte = frame_support::traits::ConstU64<5_000>;
	type MaxChunkBytes = MaxChunkBytes;
	type MaxNameLength = MaxNameLength;
	type MaxTensors = MaxTensors;
	type MaxVersions = MaxVersions;
	type MaxOutputBytes = MaxOutputBytes;
	type RegistrationFuelLimit = RegistrationFuelLimit;
	type PicosecondsPerFuel = PicosecondsPerFuel;
	type OptimisticAboveFuel = OptimisticAboveFuel;
	type MaxContextLength = frame_support::traits::ConstU32<64>;
	type EngineGuestDelay = frame_support::traits::ConstU64<ENGINE_GUEST_DELAY>;
	type WeightInfo = ();
}

pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
/// Has less than any deposit.
pub const POOR: u64 = 3;
pub const ENDOWMENT: u64 = 1_000_000;

/// One engine for all tests of this binary, its compiled code cached like a node's.
static ENGINE: LazyLock<Arc<veriml_engine::Engine>> = LazyLock::new(|| {
	Arc::new(veriml_engine::Engine::default().with_compiled_cache(veriml_engine::CompiledCache::UserDefault))
});

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, ENDOWMENT), (BOB, ENDOWMENT), (POOR, 50)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	// The chain names the guest the engine runs, as the runtime's genesis does.
	pallet_model_registry::GenesisConfig::<Test> {
		engine_guest: veriml_engine::guest_hash(),
		engine_version: veriml_engine::built_in_guest().version,
		// Its bytes too, as the chain specs store them (plain wasm here, which the chain accepts
		// as well as compressed).
		engine_guest_code: veriml_engine::GUEST_WASM.to_vec(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.register_extension(InferenceExt::new(ENGINE.clone()));
	ext.register_extension(ChunkSourceExt::new(KEPT.with(|kept| kept.clone())));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Blocks between a call that replaces the engine guest and its first use.
pub const ENGINE_GUEST_DELAY: u64 = 3;

/// The registry's invariants (its `try_state`), which must hold after every block.
pub fn check_invariants() {
	Models::do_try_state().expect("the model registry's invariants");
}

/// Runs `test` in a fresh test state, then checks the registry's invariants.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}
