//! A runtime with this pallet alone and a stand-in for the engine: model `FAILING` is refused
//! with `FuelExhausted`, every other model returns its inputs, using `FUEL` fuel. The real
//! engine is tested in `veriml-engine` and through the requests pallet's tests; here the
//! subject is the pallet's judging and its receipts.

use crate as pallet_verification;
use frame_support::{derive_impl, traits::ConstU64};
use sp_runtime::BuildStorage;
use veriml_inference_primitives::{EngineError, EngineVersion, Execution, ModelHash, Tensor, TensorSpec, H256};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Verification: pallet_verification,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

/// Blocks a receipt is kept.
pub const RETENTION: u64 = 5;
/// Fuel a run of the stand-in uses.
pub const FUEL: u64 = 100;
/// The engine version of the stand-in.
pub const ENGINE_VERSION: EngineVersion = 4;
/// The model the stand-in refuses.
pub const FAILING: ModelHash = H256([0xfa; 32]);

pub struct StandIn;
impl crate::InferenceRunner for StandIn {
	fn engine_version() -> EngineVersion {
		ENGINE_VERSION
	}
	fn run(model: &ModelHash, _: &[TensorSpec], inputs: &[Tensor], _: u64) -> Result<Execution, EngineError> {
		if *model == FAILING {
			return Err(EngineError::FuelExhausted);
		}
		Ok(Execution { outputs: inputs.to_vec(), fuel_used: FUEL })
	}
}

impl pallet_verification::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type JobId = u64;
	type Runner = StandIn;
	type ReceiptRetention = ConstU64<RETENTION>;
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs `test` on a fresh chain and checks the invariants after it.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Verification::do_try_state().expect("verification's invariants");
	});
}

/// Moves to block `n`, running `on_initialize` and checking the invariants after each block.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Verification::on_initialize(next);
		Verification::do_try_state().expect("verification's invariants");
	}
}
