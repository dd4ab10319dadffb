//! A runtime with balances and this pallet only, where every model exists: enough to run the
//! benchmarks of bonding and unbonding (the pallet's behaviour with real models and requests
//! is tested in `pallet-inference-requests`).

use crate as pallet_inference_nodes;
use frame_support::{derive_impl, parameter_types, traits::{ConstU32, ConstU64, Everything}};
use sp_runtime::{BuildStorage, Perbill};
use veriml_inference_primitives::ModelHash;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Nodes: pallet_inference_nodes,
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

parameter_types! {
	pub const SlashFraction: Perbill = Perbill::from_percent(10);
	pub const SlashRewardShare: Perbill = Perbill::from_percent(50);
	pub const Treasury: u64 = 999;
}

impl pallet_inference_nodes::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Models = Everything;
	type MinBond = ConstU64<1_000>;
	type UnbondingDelay = ConstU64<10>;
	type SlashFraction = SlashFraction;
	type SlashRewardShare = SlashRewardShare;
	type SlashDestination = Treasury;
	type MaxModelsPerNode = ConstU32<4>;
	type MaxNodesPerModel = ConstU32<8>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = AnyModel;
}

/// Every hash is a model here, so the benchmarks' models are plain distinct hashes.
#[cfg(feature = "runtime-benchmarks")]
pub struct AnyModel;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for AnyModel {
	fn model(index: u32) -> ModelHash {
		ModelHash::from_low_u64_be(index as u64)
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
