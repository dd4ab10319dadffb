//! Configuration of each pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
	PalletId,
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{
	traits::{AccountIdConversion, One},
	Perbill,
};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Babe, Balance, Balances, Block, BlockNumber, ContentStore, DataNodes, Escrow, Feeds, Hash, Inference,
	InferenceNodes, Models, Nonce, PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, StorageNodes, System, Verification, EXISTENTIAL_DEPOSIT,
	MILLISECS_PER_BLOCK, SLOT_DURATION, VERSION,
};
use veriml_primitives::{
	currency::{MICRO_UNIT, MILLI_UNIT, UNIT},
	time::{DAYS, MINUTES},
};

/// Share of a block's weight and length that ordinary (non-operational) transactions may fill.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// Two seconds of compute per 6 second block: the rest of the slot is for propagation and
	/// import, which includes re-executing every submitted inference.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// 5 MiB blocks: room for model chunks uploaded to the registry.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * *max)
		.build();
	pub const SS58Prefix: u16 = veriml_primitives::SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores its state in ParityDB.
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

parameter_types! {
	/// Slots of an epoch: one hour. The authority set is the genesis one for good (no session
	/// pallet), so an epoch only renews BABE's randomness.
	pub const EpochDuration: u64 = crate::EPOCH_DURATION_IN_SLOTS;
	pub const ExpectedBlockTime: u64 = MILLISECS_PER_BLOCK;
}

/// Block authoring by BABE: each slot's author proves its right with a VRF output, which also
/// gives every block randomness no one can choose (inference requests are assigned from it).
impl pallet_babe::Config for Runtime {
	type EpochDuration = EpochDuration;
	type ExpectedBlockTime = ExpectedBlockTime;
	type EpochChangeTrigger = pallet_babe::SameAuthoritiesForever;
	type DisabledValidators = ();
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	// No session pallet: equivocation reports are not accepted, so the proof type is empty.
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	// No session pallet: equivocation reports are not accepted, so the proof type is empty.
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the unix epoch.
	type Moment = u64;
	type OnTimestampSet = Babe;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
	/// Fee per byte of an extrinsic: 1 micro VML, so a 1 MiB model chunk costs about 1 VML to
	/// include on top of its storage deposit.
	pub const TransactionByteFee: Balance = veriml_primitives::currency::MICRO_UNIT;
}

/// Length fee: `TransactionByteFee` per byte.
pub type LengthToFee = frame_support::weights::ConstantMultiplier<Balance, TransactionByteFee>;

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	/// One planck per picosecond of reference-machine compute: a full block's 2 s of weight costs
	/// 2 VML.
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = LengthToFee;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

/// Skips the fee of a transaction whose call is `feeless_if` for its origin: nodes' answers
/// and feed values that pass their dispatch's checks (`Inference::answers_without_fee`,
/// `Feeds::submits_without_fee`).
impl pallet_skip_feeless_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Held per model (or upload) whatever its size: 1 VML.
	pub const ModelDepositPerModel: Balance = UNIT;
	/// Held per byte of model kept in state: 10 micro VML, so 1 MiB holds about 10.5 VML.
	pub const ModelDepositPerByte: Balance = 10 * MICRO_UNIT;
	/// Engine fuel registration may spend preparing a model, and again on its trial run:
	/// together at most 1 s at `EnginePicosecondsPerFuel`, so the worst-case registration
	/// (with `MaxModelBytes` of bytes, 0.24 s measured) fits in one ordinary transaction. A SqueezeNet at 224×224 runs
	/// in about 1.03·10^9.
	pub const RegistrationFuelLimit: u64 = 1_250_000_000;
	/// Compute time of one unit of engine fuel for engine versions up to 14 and any version
	/// this runtime has no measurement of: `scripts/bench-engine.sh` measured 264–355 ps on
	/// the light CNNs of version 1 (where fuel dominates; a run's fixed cost is in the
	/// benchmarked weight of the call), rounded up with a margin. Versions up to 14 keep it:
	/// they compute with IEEE subnormals, which Intel CPUs take 35–40 ns an operation for
	/// (`bin_chain_subnormal_64mib` ran at 5.5 times its weight under version 14).
	pub const EnginePicosecondsPerFuel: u64 = 400;
	/// Compute time of one unit of fuel of engine version 15, which flushes subnormals: its
	/// adversarial calibration set (`scripts/bench-engine-adversarial.sh`, 37 hostile and real
	/// models) measured at most 175 ps a unit on this project's Intel machine (an im2col of
	/// columns 16 floats apart, missing the cache; 77 on the AMD machine), 150 the next. 350
	/// keeps twice the worst as a margin (one machine's speed has varied by up to 1.8 times
	/// between sessions) and verifies 14 % more fuel per block than 400.
	pub const EngineV15PicosecondsPerFuel: u64 = 350;
	/// Models above 50 ms per run (at `EnginePicosecondsPerFuel`) are verified optimistically:
	/// re-executing every result of such a model would take a block's verification room for
	/// a handful of results (1.5 s of ordinary weight per block).
	pub const OptimisticAboveFuel: u64 = 125_000_000;
}

/// The price of engine fuel by engine version: what each version's adversarial calibration
/// measured (above). A version this runtime does not name is charged the highest price, so a
/// guest set after it is never charged below what its measurement would give.
pub struct EngineFuelPrice;

impl pallet_model_registry::FuelPrice for EngineFuelPrice {
	fn picoseconds(version: veriml_inference_primitives::EngineVersion) -> u64 {
		match version {
			15 => EngineV15PicosecondsPerFuel::get(),
			_ => EnginePicosecondsPerFuel::get(),
		}
	}

	fn most() -> u64 {
		EnginePicosecondsPerFuel::get().max(EngineV15PicosecondsPerFuel::get())
	}
}

parameter_types! {
	/// 64 KiB of outputs a result may carry: 16k floats. Registration refuses models whose
	/// outputs are larger, and requests refuse models registered before it did.
	pub const MaxOutputBytes: u32 = 64 * 1024;
}

impl pallet_model_registry::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inspector = pallet_model_registry::HostEngine;
	/// A model with open inference requests cannot be removed.
	type ModelsInUse = Inference;
	type DepositPerModel = ModelDepositPerModel;
	type DepositPerByte = ModelDepositPerByte;
	/// 8 MiB models (and uploaded request inputs): registering one costs 0.24 s of weight
	/// besides the engine's fuel (benchmarked 28 ns per byte), so the worst case with
	/// `RegistrationFuelLimit` still fits in one transaction (checked by `integrity_test`).
	type MaxModelBytes = ConstU32<{ 8 * 1024 * 1024 }>;
	/// Larger models come from the content store (the owner stores the bytes there, then
	/// registers the item: `registerStoredModel`).
	type Content = ContentStore;
	/// 104 MiB: 100 MiB of weights and room for their graph. Loading it takes 0.44 s at
	/// `ContentLoadPicosecondsPerByte`, which leaves its registration 1.06·10^9 fuel for each
	/// of the preparation and the trial run inside one transaction (1.3 s), and a request of
	/// it is taken when its re-execution with reading its bytes fits one too (both checked:
	/// `integrity_test`, `inference.ModelTooCostlyToVerify`). Engine version 7 prepares a model
	/// for 6–7.5 fuel a byte and restores it for each run for 6–7 (version 6 took 12–15), so a
	/// dense layer of 100 MiB registers and its results are verified. The node's engine takes
	/// models up to 128 MiB (`veriml_engine::Limits`): this must not exceed it.
	type MaxStoredModelBytes = ConstU32<{ 104 * 1024 * 1024 }>;
	/// 4 ns a byte: reading a 1 MiB chunk from the database, hashing it and the whole model
	/// (blake2-256, 1.1 ns a byte each on the reference machine), joining the chunks (0.5 ns)
	/// and copying them into the engine's memory: about 3 ns a byte measured (1.9 ns for reading
	/// and checking the chunks of a 36 MiB model), with a margin for a cold page cache.
	/// The engine's parsing and preparing is in its fuel (a 100 MiB model: see docs/engine.md).
	type ContentLoadPicosecondsPerByte = ConstU64<4_000>;
	/// 1 MiB chunks: well inside a block's 3.75 MiB for ordinary transactions.
	type MaxChunkBytes = ConstU32<{ 1024 * 1024 }>;
	type MaxNameLength = ConstU32<64>;
	type MaxTensors = ConstU32<8>;
	type MaxVersions = ConstU32<32>;
	type MaxOutputBytes = MaxOutputBytes;
	type RegistrationFuelLimit = RegistrationFuelLimit;
	type PicosecondsPerFuel = EngineFuelPrice;
	type OptimisticAboveFuel = OptimisticAboveFuel;
	/// Two minutes: a node compiles a new engine guest in well under one (about 40 s on two
	/// cores, or a moment from its compiled-code cache) after applying the call that stores it.
	/// A decoder is measured at its context's first and last steps; `RegistrationFuelLimit`
	/// bounds what they may cost (half of it each), this the cache's length (4,096 tokens:
	/// Llama 2's context).
	type MaxContextLength = ConstU32<4096>;
	type EngineGuestDelay = ConstU32<{ 2 * MINUTES }>;
	type WeightInfo = pallet_model_registry::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The protocol's account: receives the protocol share of inference fees and of slashes.
	pub const ProtocolPalletId: PalletId = PalletId(*b"vml/prot");
	pub ProtocolAccount: AccountId = ProtocolPalletId::get().into_account_truncating();
}

/// What an escrow holds funds for: the escrow pallet's ids.
#[derive(
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	codec::MaxEncodedLen,
	scale_info::TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum EscrowPurpose {
	/// The fee of an inference request.
	Request(pallet_inference_requests::RequestId),
	/// The prepaid budget of a workflow.
	Workflow(pallet_workflows::WorkflowId),
}

impl sp_runtime::traits::Convert<pallet_inference_requests::RequestId, EscrowPurpose> for EscrowPurpose {
	fn convert(request: pallet_inference_requests::RequestId) -> Self {
		Self::Request(request)
	}
}

impl sp_runtime::traits::Convert<pallet_workflows::WorkflowId, EscrowPurpose> for EscrowPurpose {
	fn convert(workflow: pallet_workflows::WorkflowId) -> Self {
		Self::Workflow(workflow)
	}
}

/// The escrows of one purpose (requests' fees, workflows' budgets), keyed by its own ids.
pub type EscrowFor = pallet_escrow::EscrowOf<Escrow, EscrowPurpose, EscrowPurpose>;

impl pallet_escrow::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type EscrowId = EscrowPurpose;
}

parameter_types! {
	/// Smallest bond of an inference node: 100 VML.
	pub const MinNodeBond: Balance = 100 * UNIT;
	/// A node's bond stays slashable for a day after it stops taking work.
	pub const NodeUnbondingDelay: BlockNumber = DAYS;
	/// A wrong result costs a tenth of the bond...
	pub const NodeSlashFraction: Perbill = Perbill::from_percent(10);
	/// ...half of which goes to the wronged requester, the rest to the protocol.
	pub const NodeSlashRewardShare: Perbill = Perbill::from_percent(50);
}

/// Inference nodes: `infr` keys serving models.
pub type InferenceNodesInstance = pallet_bonded_nodes::Instance1;

impl pallet_bonded_nodes::Config<InferenceNodesInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = veriml_inference_primitives::ModelHash;
	type Services = pallet_model_registry::ActiveModels<Runtime>;
	/// Any operator's nodes may serve any registered model: every result is verified.
	type Admission = ();
	type NodeSignature = veriml_primitives::Signature;
	type MinBond = MinNodeBond;
	type UnbondingDelay = NodeUnbondingDelay;
	/// Every wrong result is slashed.
	type MaxStrikes = ConstU32<1>;
	type SlashFraction = NodeSlashFraction;
	type SlashRewardShare = NodeSlashRewardShare;
	type SlashDestination = ProtocolAccount;
	type MaxServicesPerNode = ConstU32<16>;
	type MaxNodesPerService = ConstU32<64>;
	type WeightInfo = crate::weights::pallet_bonded_nodes_inference_nodes::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper =
		pallet_inference_requests::benchmark_helpers::RegistryAndBondedNodes<Runtime, InferenceNodesInstance>;
}

/// The registry's models, run by the node's deterministic engine through its host functions.
pub struct RegistryEngine;

impl pallet_verification::InferenceRunner for RegistryEngine {
	fn engine_version() -> veriml_inference_primitives::EngineVersion {
		Models::engine_guest().version
	}

	fn run(
		model: &veriml_inference_primitives::ModelHash,
		input_specs: &[veriml_inference_primitives::TensorSpec],
		inputs: &[veriml_inference_primitives::Tensor],
		fuel_limit: veriml_primitives::Fuel,
		preparation_limit: Option<veriml_primitives::Fuel>,
	) -> Result<veriml_inference_primitives::Execution, veriml_inference_primitives::EngineError> {
		Models::run(model, input_specs, inputs, fuel_limit, preparation_limit)
	}
}

parameter_types! {
	/// Receipts and outputs stay a week in state: time to fetch them with a storage proof;
	/// after that a receipt is proven from the node's archive against the Merkle Mountain
	/// Range root of a header (`InferenceApi::archived_receipt`). A storage parameter (raw key
	/// `twox_128(":ReceiptRetention:")`, SCALE `u32`) so that a test network can shorten it;
	/// pruning follows a change (it waits for a longer retention and catches up with a shorter
	/// one) and takes it as at least 2 blocks.
	pub storage ReceiptRetention: BlockNumber = 7 * DAYS;
}

impl pallet_verification::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type JobId = pallet_inference_requests::RequestId;
	type Balance = Balance;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// A tenth of `MinNodeBond`, what a wrong challenge also loses in its slash: 64 waiting
	/// challenges hold 640 VML of their own, whatever bond stands behind them.
	type ChallengeDeposit = ConstU128<{ 10 * UNIT }>;
	type Runner = RegistryEngine;
	type Nodes = InferenceNodes;
	type Jobs = Inference;
	type AuthorityId = pallet_inference_requests::crypto::InferenceNodeId;
	/// One minute for any bonded node to re-execute an optimistic result and challenge it.
	type ChallengePeriod = ConstU32<{ MINUTES }>;
	type MaxDisputes = ConstU32<64>;
	/// Decisions take at most what one transaction may at the start of a block: room for one
	/// re-execution at `MaxVerificationFuel` (0.76 s), or for many of cheaper models.
	type DecisionWeight = pallet_verification::MaxExtrinsicWeight<Runtime>;
	type ResubmitAfter = ConstU32<5>;
	type ReceiptRetention = ReceiptRetention;
	type WeightInfo = pallet_verification::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper =
		pallet_inference_requests::benchmark_helpers::RegistryAndBondedNodes<Runtime, InferenceNodesInstance>;
}

parameter_types! {
	/// The protocol's share of an inference: 5% on top of model price and execution fee.
	pub const InferenceProtocolShare: Perbill = Perbill::from_percent(5);
	/// Execution fee per request whatever the model: 1 milli VML.
	pub const ExecutionBaseFee: Balance = MILLI_UNIT;
	/// Execution fee per unit of fuel: what the same compute costs as transaction weight
	/// (1 planck per picosecond at `EnginePicosecondsPerFuel`), so serving pays what verifying
	/// costs at the highest price (engine version 15's fuel is weighed at less and still pays
	/// this). A SqueezeNet (1.03·10^9 fuel, 1.5·10^9 with the margin) pays about 0.6 VML.
	pub const ExecutionFeePerFuel: Balance = EnginePicosecondsPerFuel::get() as Balance;
	/// Most fuel one verification may use, its run's fuel limit and the model's preparation
	/// together (an importing node that has not prepared the model prepares it in the block):
	/// 0.76 s of compute, so that with reading an 8 MiB model and 8 MiB of inputs it fits one
	/// transaction's weight (checked by `integrity_test`).
	pub const MaxVerificationFuel: u64 = 1_900_000_000;
}

parameter_types! {
	/// A receipt's own record (about 256 bytes with its keys) at the models' rate per byte:
	/// 2.56 mVML.
	pub const ReceiptDepositBase: Balance = 256 * ModelDepositPerByte::get();
}

impl pallet_inference_requests::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ReceiptDepositBase = ReceiptDepositBase;
	/// Outputs are kept with their receipt at the models' rate: 10 µVML a byte, 0.66 VML for
	/// the largest (64 KiB).
	type ReceiptDepositPerByte = ModelDepositPerByte;
	type Models = Models;
	type Uploads = Models;
	type Nodes = InferenceNodes;
	type Escrow = EscrowFor;
	/// BABE's VRF output. The requests pallet draws nodes in its `on_finalize`, after pallet
	/// Babe's (declared first) has put this block's output where this reads it: randomness no
	/// one knew when the block's requests were signed (`runtime/tests/randomness.rs`).
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	type Verifier = Verification;
	type AuthorityId = pallet_inference_requests::crypto::InferenceNodeId;
	type ProtocolAccount = ProtocolAccount;
	type ProtocolShare = InferenceProtocolShare;
	type ExecutionBaseFee = ExecutionBaseFee;
	type ExecutionFeePerFuel = ExecutionFeePerFuel;
	/// Input-dependent models (tree ensembles) may use half again their measured fuel.
	type FuelMargin = ConstU32<50>;
	type MaxVerificationFuel = MaxVerificationFuel;
	/// 1 MiB of inputs: a 224×224 RGB image in f32 is 588 KiB.
	type MaxInputBytes = ConstU32<{ 1024 * 1024 }>;
	/// 8 MiB of inputs given as an upload: a batch of eight 224×224 RGB images in f32.
	type MaxUploadedInputBytes = ConstU32<{ 8 * 1024 * 1024 }>;
	type MaxOutputBytes = MaxOutputBytes;
	type Replication = ConstU32<1>;
	/// A request that got 16 wrong results is abandoned and refunded.
	type MaxRefutedNodes = ConstU32<16>;
	/// Two minutes to complete.
	type RequestTimeout = ConstU32<{ 2 * MINUTES }>;
	/// One minute for an assigned node to answer before it is struck and the request goes to
	/// another node, with the minute left.
	type AnswerWithin = ConstU32<{ MINUTES }>;
	type MaxPending = ConstU32<256>;
	type ResubmitAfter = ConstU32<5>;
	/// A generation's prompt and tokens together: the registry's longest context
	/// (`MaxContextLength`), whose 4,096 step hashes (128 KiB) an answer carries.
	type MaxGenerationTokens = ConstU32<4096>;
	type MaxStopTokens = ConstU32<16>;
	/// As long as an optimistic result's window.
	type GenerationChallengePeriod = ConstU32<{ MINUTES }>;
	type WeightInfo = pallet_inference_requests::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper =
		pallet_inference_requests::benchmark_helpers::RegistryAndBondedNodes<Runtime, InferenceNodesInstance>;
}

parameter_types! {
	/// Held from a feed's owner while the feed exists: 10 VML.
	pub const FeedDeposit: Balance = 10 * UNIT;
	/// Smallest bond of a data node: 100 VML, as for inference nodes.
	pub const MinDataNodeBond: Balance = 100 * UNIT;
	/// Three outliers or missed rounds in a row...
	pub const DataNodeMaxStrikes: u32 = 3;
	/// Most data nodes serving one feed, and so values in one round.
	pub const MaxNodesPerFeed: u32 = 16;
	/// ...cost a tenth of the bond, to the protocol.
	pub const DataNodeSlashFraction: Perbill = Perbill::from_percent(10);
	/// A data node's fault wrongs no one in particular: its whole slash goes to the protocol.
	pub const DataNodeSlashRewardShare: Perbill = Perbill::zero();
}

/// Data nodes: `feed` keys serving feeds.
pub type DataNodesInstance = pallet_bonded_nodes::Instance2;

impl pallet_bonded_nodes::Config<DataNodesInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Service = pallet_data_feeds::FeedId;
	type Services = pallet_data_feeds::ExistingFeeds<Runtime>;
	/// A feed's owner approves the operators whose nodes serve it (`feeds.approveOperator`).
	type Admission = pallet_data_feeds::ApprovedOperators<Runtime>;
	type NodeSignature = veriml_primitives::Signature;
	type MinBond = MinDataNodeBond;
	type UnbondingDelay = NodeUnbondingDelay;
	type MaxStrikes = DataNodeMaxStrikes;
	type SlashFraction = DataNodeSlashFraction;
	type SlashRewardShare = DataNodeSlashRewardShare;
	type SlashDestination = ProtocolAccount;
	type MaxServicesPerNode = ConstU32<8>;
	type MaxNodesPerService = MaxNodesPerFeed;
	type WeightInfo = crate::weights::pallet_bonded_nodes_data_nodes::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_data_feeds::benchmark_helpers::BondedDataNodes<Runtime, DataNodesInstance>;
}

impl pallet_data_feeds::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type AuthorityId = pallet_data_feeds::crypto::DataNodeId;
	type FeedDeposit = FeedDeposit;
	type Nodes = DataNodes;
	/// Rounds of at least two blocks (12 s): a value submitted after one block's fetch lands
	/// in the same round.
	type MinRoundLength = ConstU32<2>;
	type MaxFeeds = ConstU32<64>;
	type MaxNodesPerFeed = MaxNodesPerFeed;
	/// The last 64 rounds' values.
	type MaxHistory = ConstU32<64>;
	type MaxNameLength = ConstU32<32>;
	type MaxSourceLength = ConstU32<256>;
	type WeightInfo = pallet_data_feeds::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_data_feeds::benchmark_helpers::BondedDataNodes<Runtime, DataNodesInstance>;
}

impl pallet_workflows::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// Filling `MaxWorkflows` holds 2 560 VML, returned as the workflows end.
	type WorkflowDeposit = ConstU128<{ 10 * UNIT }>;
	/// A workflow runs (and pays) at least once a day.
	type MaxPeriod = ConstU32<{ DAYS }>;
	type Models = Models;
	type Feeds = Feeds;
	type Requests = Inference;
	type Escrow = EscrowFor;
	type MaxFeedInputs = ConstU32<8>;
	/// As many as the feeds' history keeps.
	type MaxValuesPerInput = ConstU32<64>;
	/// A run at most every other block.
	type MinPeriod = ConstU32<2>;
	/// Every workflow may be due in the same block: 256 runs of 8 feed inputs are benchmarked
	/// at about 0.25 s (each makes a request).
	type MaxWorkflows = ConstU32<256>;
	type WeightInfo = pallet_workflows::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = pallet_workflows::benchmark_helpers::RegistryNodesAndFeeds<Runtime>;
}

/// The leaf the Merkle Mountain Range gets at the start of each block: the previous block,
/// its hash and its receipt log (`Verification::receipt_log`).
pub struct ReceiptsLeaf;

impl pallet_mmr::LeafDataProvider for ReceiptsLeaf {
	type LeafData = veriml_primitives::verification::BlockLeaf<BlockNumber, Hash>;

	fn leaf_data() -> Self::LeafData {
		let block = System::block_number().saturating_sub(1);
		veriml_primitives::verification::BlockLeaf {
			block,
			hash: System::parent_hash(),
			receipts: Verification::receipt_log(block),
		}
	}
}

/// Puts the range's new root in the block's header: a `Consensus` digest item under
/// [`MMR_ROOT_ENGINE_ID`](veriml_primitives::verification::MMR_ROOT_ENGINE_ID), the root's 32
/// bytes, which a client reads from a finalised header to check an archived receipt.
pub struct DepositMmrRoot;

impl pallet_mmr::primitives::OnNewRoot<Hash> for DepositMmrRoot {
	fn on_new_root(root: &Hash) {
		System::deposit_log(sp_runtime::DigestItem::Consensus(
			veriml_primitives::verification::MMR_ROOT_ENGINE_ID,
			root.as_bytes().to_vec(),
		));
	}
}

/// `pallet-mmr`'s own weight of appending a leaf, and what the leaf and the root add to it:
/// reading the block's receipt log and writing the digest item.
pub struct MmrWeight;

impl pallet_mmr::WeightInfo for MmrWeight {
	fn on_initialize(peaks: u32) -> Weight {
		<() as pallet_mmr::WeightInfo>::on_initialize(peaks)
			.saturating_add(<Runtime as frame_system::Config>::DbWeight::get().reads_writes(1, 1))
	}
}

impl pallet_mmr::Config for Runtime {
	const INDEXING_PREFIX: &'static [u8] = sp_mmr_primitives::INDEXING_PREFIX;
	type Hashing = sp_runtime::traits::BlakeTwo256;
	type LeafData = ReceiptsLeaf;
	type OnNewRoot = DepositMmrRoot;
	type BlockHashProvider = pallet_mmr::DefaultBlockHashProvider<Runtime>;
	type WeightInfo = MmrWeight;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ();
}

parameter_types! {
	/// The content store's account: retention fees are paid into it, for those who keep the
	/// bytes.
	pub const ContentStorePalletId: PalletId = PalletId(*b"vml/stor");
	/// Held per upload or stored item, whatever its size.
	pub const ContentDepositPerItem: Balance = UNIT / 10;
	/// Held per chunk: its hash (32 bytes) and bit in state, at about the registry's 10 micro
	/// VML per byte kept.
	pub const ContentDepositPerChunk: Balance = MILLI_UNIT;
	/// Paid per MiB chunk per block kept: 1.44 milli VML per MiB per day, 44 VML for 1 GiB for
	/// 30 days.
	pub const ContentFeePerChunkBlock: Balance = MICRO_UNIT / 10;
}

impl pallet_content_store::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type PalletId = ContentStorePalletId;
	/// An item a registered model is read from stays until the model is removed (its
	/// retention still ends: the model is then unavailable).
	type ContentInUse = pallet_model_registry::StoredModelContent<Runtime>;
	/// An item whose model has open requests outlives its retention, a minute at a time, until
	/// they are settled: nodes are judged by re-executing it.
	type ContentPinned = pallet_model_registry::PinnedContent<Runtime>;
	type PinnedRetention = ConstU32<{ MINUTES }>;
	/// 1 MiB chunks, three to a block's 3.75 MiB of ordinary transactions.
	type ChunkBytes = ConstU32<{ 1024 * 1024 }>;
	/// Items up to 1 GiB (a chunk list of 32 KiB in state).
	type MaxChunks = ConstU32<1024>;
	type DepositPerItem = ContentDepositPerItem;
	type DepositPerChunk = ContentDepositPerChunk;
	type FeePerChunkBlock = ContentFeePerChunkBlock;
	/// Ten blocks at least (tests store for a minute); a year at most.
	type MinRetention = ConstU32<10>;
	type MaxRetention = ConstU32<{ 365 * DAYS }>;
	/// A day to complete an upload: 1 GiB takes 342 blocks (34 minutes) at three chunks a block.
	type UploadPeriod = ConstU32<DAYS>;
	type MaxExpiriesPerBlock = ConstU32<32>;
	type WeightInfo = pallet_content_store::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Smallest bond of a storage node: 100 VML, as for the other roles.
	pub const MinStorageNodeBond: Balance = 100 * UNIT;
	/// Three missed proofs in a row (three minutes)...
	pub const StorageNodeMaxStrikes: u32 = 3;
	/// ...cost a tenth of the bond, to the protocol.
	pub const StorageNodeSlashFraction: Perbill = Perbill::from_percent(10);
	/// A missed proof wrongs no one in particular: the whole slash goes to the protocol.
	pub const StorageNodeSlashRewardShare: Perbill = Perbill::zero();
	/// Most storage nodes, and so challenges in a period.
	pub const MaxStorageNodes: u32 = 64;
	/// The store's account, from which storage nodes are paid.
	pub ContentStoreAccount: AccountId = ContentStore::account();
	/// Paid per valid proof, once a period per node: 0.1 milli VML, 144 milli VML a node a
	/// day; 1 GiB kept for a day pays 1.47 VML in retention fees, what ten nodes proving earn.
	pub const StorageProofReward: Balance = MILLI_UNIT / 10;
}

/// Storage nodes: `stor` keys keeping every item of the content store.
pub type StorageNodesInstance = pallet_bonded_nodes::Instance3;

impl pallet_bonded_nodes::Config<StorageNodesInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// A storage node keeps every item: the one service there is.
	type Service = veriml_primitives::content::StorageService;
	type Services = frame_support::traits::Everything;
	/// Anyone may bond a storage node: every node is challenged.
	type Admission = ();
	type NodeSignature = veriml_primitives::Signature;
	type MinBond = MinStorageNodeBond;
	type UnbondingDelay = NodeUnbondingDelay;
	type MaxStrikes = StorageNodeMaxStrikes;
	type SlashFraction = StorageNodeSlashFraction;
	type SlashRewardShare = StorageNodeSlashRewardShare;
	type SlashDestination = ProtocolAccount;
	type MaxServicesPerNode = ConstU32<1>;
	type MaxNodesPerService = MaxStorageNodes;
	type WeightInfo = crate::weights::pallet_bonded_nodes_storage_nodes::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StorageNodesBenchmarks;
}

/// Storage node keys for the bonded-nodes benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub struct StorageNodesBenchmarks;

#[cfg(feature = "runtime-benchmarks")]
impl
	pallet_bonded_nodes::BenchmarkHelper<
		veriml_primitives::content::StorageService,
		AccountId,
		veriml_primitives::Signature,
	> for StorageNodesBenchmarks
{
	fn service(_index: u32) -> veriml_primitives::content::StorageService {
		veriml_primitives::content::StorageService::AllItems
	}

	fn signed_by_node(index: u32, message: &[u8]) -> (AccountId, veriml_primitives::Signature) {
		pallet_bonded_nodes::benchmarking::sr25519_node(index, message)
	}
}

impl pallet_storage_proofs::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type Content = ContentStore;
	type Nodes = StorageNodes;
	type AuthorityId = pallet_storage_proofs::crypto::StorageNodeId;
	/// BABE's VRF output, as for assigning requests.
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	/// A challenge a minute for each storage node.
	type ChallengePeriod = ConstU32<{ MINUTES }>;
	type ProofReward = StorageProofReward;
	type RewardPot = ContentStoreAccount;
	type MaxNodes = MaxStorageNodes;
	type WeightInfo = pallet_storage_proofs::weights::SubstrateWeight<Runtime>;
}
