//! A runtime with balances, the model registry, escrow, inference nodes, verification and
//! requests, whose engine is the real deterministic one (registered as an externalities
//! extension, as the node registers it).

use crate as pallet_inference_requests;
use frame_support::{derive_impl, parameter_types, traits::ConstU32, BoundedVec};
use sp_core::{sr25519, H256};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	BuildStorage, Perbill,
};
use std::sync::{Arc, LazyLock};
use veriml_inference_interface::InferenceExt;
use veriml_inference_primitives::{model_hash, onnx_builder, EngineError, Execution, ModelHash, Tensor, TensorSpec};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Signature = sr25519::Signature;
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<AccountId, RuntimeCall, Signature, ()>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Models: pallet_model_registry,
		Escrow: pallet_escrow,
		Nodes: pallet_bonded_nodes,
		Verification: pallet_verification,
		Inference: pallet_inference_requests,
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

parameter_types! {
	/// Tests that need optimistic models lower it before registering one.
	pub static OptimisticAboveFuel: u64 = u64::MAX;
	/// As long as a request's timeout, so no assignment lapses before its deadline: tests
	/// of silence lower it.
	pub static AnswerWithin: u64 = TIMEOUT;
	pub const RegistrationFuelLimit: u64 = 200_000_000;
	pub const PicosecondsPerFuel: u64 = 1_000;
	/// Engine versions from this one are charged `DEARER_PICOSECONDS_PER_FUEL` (none unless a
	/// test lowers it).
	pub static DearerVersionsFrom: u32 = u32::MAX;
	pub Treasury: AccountId = sr25519::Public::from_raw([0xee; 32]);
}

/// What a dearer engine version is charged a unit of fuel: 0.1 ms.
pub const DEARER_PICOSECONDS_PER_FUEL: u64 = 100_000_000;

/// `PicosecondsPerFuel` a unit of fuel, and `DEARER_PICOSECONDS_PER_FUEL` from
/// `DearerVersionsFrom`.
pub struct MockFuelPrice;

impl pallet_model_registry::FuelPrice for MockFuelPrice {
	fn picoseconds(version: u32) -> u64 {
		if version >= DearerVersionsFrom::get() {
			DEARER_PICOSECONDS_PER_FUEL
		} else {
			PicosecondsPerFuel::get()
		}
	}

	fn most() -> u64 {
		if DearerVersionsFrom::get() == u32::MAX {
			PicosecondsPerFuel::get()
		} else {
			DEARER_PICOSECONDS_PER_FUEL
		}
	}
}

impl pallet_model_registry::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inspector = pallet_model_registry::HostEngine;
	type ModelsInUse = Inference;
	type DepositPerModel = frame_support::traits::ConstU64<100>;
	type DepositPerByte = frame_support::traits::ConstU64<1>;
	type MaxModelBytes = ConstU32<{ 64 * 1024 }>;
	type Content = ();
	type MaxStoredModelBytes = ConstU32<{ 64 * 1024 }>;
	type ContentLoadPicosecondsPerByte = frame_support::traits::ConstU64<10_000>;
	type MaxChunkBytes = ConstU32<{ 64 * 1024 }>;
	type MaxNameLength = ConstU32<32>;
	/// A decoder of one layer takes five inputs.
	type MaxTensors = ConstU32<8>;
	type MaxVersions = ConstU32<4>;
	type MaxOutputBytes = ConstU32<1024>;
	type RegistrationFuelLimit = RegistrationFuelLimit;
	type PicosecondsPerFuel = MockFuelPrice;
	type OptimisticAboveFuel = OptimisticAboveFuel;
	type MaxContextLength = frame_support::traits::ConstU32<64>;
	type EngineGuestDelay = frame_support::traits::ConstU64<ENGINE_GUEST_DELAY>;
	type WeightInfo = ();
}

impl pallet_escrow::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type EscrowId = u64;
}

pub const MIN_BOND: u64 = 1_000;
pub const CHALLENGE_PERIOD: u64 = 4;

impl pallet_bonded_nodes::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = ModelHash;
	type Services = pallet_model_registry::ActiveModels<Test>;
	type Admission = ();
	type NodeSignature = Signature;
	type MinBond = frame_support::traits::ConstU64<MIN_BOND>;
	type UnbondingDelay = frame_support::traits::ConstU64<10>;
	type MaxStrikes = ConstU32<1>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = SlashRewardShare;
	type SlashDestination = Treasury;
	type MaxServicesPerNode = ConstU32<4>;
	type MaxNodesPerService = ConstU32<8>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::benchmark_helpers::RegistryAndBondedNodes<Test>;
}

parameter_types! {
	pub const SlashFraction: Perbill = Perbill::from_percent(50);
	pub const SlashRewardShare: Perbill = Perbill::from_percent(20);
	pub const ProtocolShare: Perbill = Perbill::from_percent(10);
}

/// The registry's models, run by the real engine.
pub struct RegistryRunner;
impl pallet_verification::InferenceRunner for RegistryRunner {
	fn engine_version() -> u32 {
		Models::engine_guest().version
	}

	fn run(
		model: &ModelHash,
		specs: &[TensorSpec],
		inputs: &[Tensor],
		fuel: u64,
		preparation: Option<u64>,
	) -> Result<Execution, EngineError> {
		Models::run(model, specs, inputs, fuel, preparation)
	}
}

pub const RETENTION: u64 = 20;
/// What a challenge holds from the challenging node's key.
pub const CHALLENGE_DEPOSIT: u64 = 100;

impl pallet_verification::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type JobId = u64;
	type Balance = u64;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ChallengeDeposit = frame_support::traits::ConstU64<CHALLENGE_DEPOSIT>;
	type Runner = RegistryRunner;
	type Nodes = Nodes;
	type Jobs = Inference;
	type AuthorityId = crate::crypto::InferenceNodeId;
	type ChallengePeriod = frame_support::traits::ConstU64<CHALLENGE_PERIOD>;
	type MaxDisputes = ConstU32<2>;
	type DecisionWeight = pallet_verification::MaxExtrinsicWeight<Test>;
	type ResubmitAfter = frame_support::traits::ConstU64<3>;
	type ReceiptRetention = frame_support::traits::ConstU64<RETENTION>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::benchmark_helpers::RegistryAndBondedNodes<Test>;
}

pub const TIMEOUT: u64 = 5;

parameter_types! {
	/// No receipt deposit unless a test sets one, so balances elsewhere are the fee's alone.
	pub static ReceiptDepositBase: u64 = 0;
	pub static ReceiptDepositPerByte: u64 = 0;
}

/// The block's randomness in the tests: the hash of the subject, the parent hash and a salt a
/// test may change (standing in for the VRF output of the block's author).
pub struct TestRandomness;

parameter_types! {
	pub static RandomnessSalt: u64 = 0;
}

impl frame_support::traits::Randomness<Option<H256>, u64> for TestRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, u64) {
		let hash = sp_io::hashing::blake2_256(&codec::Encode::encode(&(
			subject,
			System::parent_hash(),
			RandomnessSalt::get(),
		)));
		(Some(H256(hash)), System::block_number())
	}
}

impl pallet_inference_requests::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ReceiptDepositBase = ReceiptDepositBase;
	type ReceiptDepositPerByte = ReceiptDepositPerByte;
	type Models = Models;
	type Uploads = Models;
	type Nodes = Nodes;
	type Escrow = Escrow;
	type Randomness = TestRandomness;
	type Verifier = Verification;
	type AuthorityId = crate::crypto::InferenceNodeId;
	type ProtocolAccount = Treasury;
	type ProtocolShare = ProtocolShare;
	type ExecutionBaseFee = frame_support::traits::ConstU64<50>;
	type ExecutionFeePerFuel = frame_support::traits::ConstU64<0>;
	type FuelMargin = ConstU32<50>;
	type MaxVerificationFuel = frame_support::traits::ConstU64<100_000_000>;
	type MaxInputBytes = ConstU32<1024>;
	type MaxUploadedInputBytes = ConstU32<16_384>;
	type MaxOutputBytes = ConstU32<1024>;
	type Replication = ConstU32<1>;
	type MaxRefutedNodes = ConstU32<2>;
	type RequestTimeout = frame_support::traits::ConstU64<TIMEOUT>;
	type AnswerWithin = AnswerWithin;
	type MaxPending = ConstU32<2>;
	type ResubmitAfter = frame_support::traits::ConstU64<3>;
	type MaxGenerationTokens = ConstU32<32>;
	type MaxStopTokens = ConstU32<4>;
	type GenerationChallengePeriod = frame_support::traits::ConstU64<GENERATION_CHALLENGE_PERIOD>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = crate::benchmark_helpers::RegistryAndBondedNodes<Test>;
}

/// Blocks a generation's answer may be challenged.
pub const GENERATION_CHALLENGE_PERIOD: u64 = 3;

veriml_offchain::impl_mock_signed_transactions!(
	Test,
	extrinsic = Extrinsic,
	public = <Signature as Verify>::Signer,
	signature = Signature,
);

/// Account `seed`: the public key of an sr25519 pair made from it, so a node account can sign
/// its registration ([`node_proof`]).
pub fn account(seed: u8) -> AccountId {
	use sp_core::Pair;
	sr25519::Pair::from_seed(&[seed; 32]).public()
}

/// `node`'s consent to be registered by `operator`: signed with the pair of an [`account`],
/// or with the node's `infr` key in the test's keystore.
pub fn node_proof(node: &AccountId, operator: &AccountId) -> Signature {
	use sp_core::Pair;
	let message = pallet_bonded_nodes::registration_message("Nodes", operator);
	(0..=u8::MAX)
		.map(|seed| sr25519::Pair::from_seed(&[seed; 32]))
		.find(|pair| pair.public() == *node)
		.map(|pair| pair.sign(&message))
		.or_else(|| sp_io::crypto::sr25519_sign(crate::KEY_TYPE, node, &message))
		.expect("the node is an account() or its key is in the keystore")
}

pub fn alice() -> AccountId {
	account(1)
}
pub fn bob() -> AccountId {
	account(2)
}
/// Model owner.
pub fn owner() -> AccountId {
	account(3)
}
/// Operator of the inference nodes.
pub fn operator() -> AccountId {
	account(4)
}
/// Has almost nothing.
pub fn poor() -> AccountId {
	account(5)
}
pub const ENDOWMENT: u64 = 1_000_000;

pub const WIDTH: u32 = 8;

/// The Relu model every test uses, registered by `owner()` at price 7.
pub fn relu_model() -> Vec<u8> {
	onnx_builder::unary_model("Relu", WIDTH, 0)
}

pub fn relu_hash() -> H256 {
	model_hash(&relu_model())
}

pub const PRICE: u64 = 70;

pub(crate) static ENGINE: LazyLock<Arc<veriml_engine::Engine>> = LazyLock::new(|| {
	Arc::new(veriml_engine::Engine::default().with_compiled_cache(veriml_engine::CompiledCache::UserDefault))
});

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(alice(), ENDOWMENT),
			(bob(), ENDOWMENT),
			(owner(), ENDOWMENT),
			(operator(), ENDOWMENT),
			(poor(), 10),
			(Treasury::get(), 1),
		],
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
	// Benchmarks make node keys here (the off-chain worker's tests put in their own keystore).
	ext.register_extension(sp_keystore::KeystoreExt::new(sp_keystore::testing::MemoryKeystore::new()));
	ext.execute_with(|| {
		System::set_block_number(1);
		register_relu();
	});
	ext
}

/// Uploads and registers the Relu model from `owner()`.
pub fn register_relu() {
	register_unary("Relu");
}

/// Uploads and registers `y = op(x)` over `[1, WIDTH]` floats from `owner()`, at `PRICE`.
pub fn register_unary(op: &str) -> H256 {
	let bytes = onnx_builder::unary_model(op, WIDTH, 0);
	let hash = model_hash(&bytes);
	let who = RuntimeOrigin::signed(owner());
	Models::begin_upload(who.clone(), hash, bytes.len() as u32).unwrap();
	Models::upload_chunk(who.clone(), hash, 0, BoundedVec::truncate_from(bytes)).unwrap();
	Models::register_model(
		who,
		hash,
		BoundedVec::truncate_from(op.as_bytes().to_vec()),
		1,
		BoundedVec::truncate_from(vec![onnx_builder::unary_model_input(WIDTH)]),
		PRICE,
	)
	.unwrap();
	hash
}

/// Registers `node` (operated by `operator()`) serving the Relu model.
pub fn register_node(node: AccountId) {
	Nodes::register(
		RuntimeOrigin::signed(operator()),
		node,
		BoundedVec::truncate_from(vec![relu_hash()]),
		MIN_BOND * 2,
		node_proof(&node, &operator()),
	)
	.unwrap();
}

/// Ends the current block: the requests made or left short of nodes in it are drawn their
/// nodes (the requests pallet's `on_finalize`).
pub fn end_block() {
	use frame_support::traits::Hooks;
	Inference::on_finalize(System::block_number());
}

/// Ends the current block and goes to block `n`, running the pallets' `on_initialize` and
/// the requests pallet's `on_finalize` of each block before `n`.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		end_block();
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Models::on_initialize(next);
		Verification::on_initialize(next);
		Inference::on_initialize(next);
		check_invariants();
	}
}

/// Every pallet's invariants (their `try_state`), which must hold after every block.
pub fn check_invariants() {
	Models::do_try_state().expect("the model registry's invariants");
	Escrow::do_try_state().expect("the escrow's invariants");
	Nodes::do_try_state().expect("the inference nodes' invariants");
	Verification::do_try_state().expect("verification's invariants");
	Inference::do_try_state().expect("the requests' invariants");
}

/// Runs `test` in a fresh test state, then checks every pallet's invariants.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}

/// Blocks between a call that replaces the engine guest and its first use.
pub const ENGINE_GUEST_DELAY: u64 = 3;
