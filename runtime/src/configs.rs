//! Configuration of each pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass, parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, Nothing, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{traits::One, Perbill};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin, RuntimeTask,
	System, EXISTENTIAL_DEPOSIT, SLOT_DURATION, VERSION,
};
use veriml_primitives::currency::{MICRO_UNIT, UNIT};

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

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
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
	type OnTimestampSet = Aura;
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
	/// (with 16 MiB of bytes) fits in one ordinary transaction. A SqueezeNet at 224×224 runs
	/// in about 1.03·10^9.
	pub const RegistrationFuelLimit: u64 = 1_250_000_000;
	/// Compute time of one unit of engine fuel: `scripts/bench-engine.sh` measured 264–355 ps
	/// on the light CNNs (where fuel dominates; a run's fixed ~2 ms of instantiation is in the
	/// benchmarked weight of the call), rounded up with a margin.
	pub const EnginePicosecondsPerFuel: u64 = 400;
}

impl pallet_model_registry::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inspector = pallet_model_registry::HostEngine;
	// Nothing uses models yet; the requests pallet (issue 4) will refuse removing those with
	// open requests.
	type ModelsInUse = Nothing;
	type DepositPerModel = ModelDepositPerModel;
	type DepositPerByte = ModelDepositPerByte;
	/// 16 MiB models.
	type MaxModelBytes = ConstU32<{ 16 * 1024 * 1024 }>;
	/// 1 MiB chunks: well inside a block's 3.75 MiB for ordinary transactions.
	type MaxChunkBytes = ConstU32<{ 1024 * 1024 }>;
	type MaxNameLength = ConstU32<64>;
	type MaxTensors = ConstU32<8>;
	type MaxVersions = ConstU32<32>;
	type RegistrationFuelLimit = RegistrationFuelLimit;
	type PicosecondsPerFuel = EnginePicosecondsPerFuel;
	type WeightInfo = pallet_model_registry::weights::SubstrateWeight<Runtime>;
}
