//! A runtime with this pallet alone and stand-ins for what it uses:
//!
//! - the engine: model `FAILING` is refused with `FuelExhausted`, every other model returns
//!   its inputs, using `FUEL` fuel;
//! - the bonded nodes: [`register`]ed nodes with their operators; a strike slashes `SLASH`
//!   and is recorded ([`struck`]);
//! - the job owner: [`open_job`]s, whose decisions are recorded ([`decisions`]).
//!
//! The real engine and pallets are tested together through the requests pallet's tests; here
//! the subject is the pallet's judging, its challenge game and its receipts.

use crate as pallet_verification;
use core::cell::RefCell;
use frame_support::{derive_impl, traits::ConstU64, weights::Weight};
use sp_runtime::{
	testing::{TestSignature, UintAuthorityId},
	BuildStorage,
};
use std::collections::BTreeMap;
#[cfg(feature = "runtime-benchmarks")]
use veriml_inference_primitives::input_hash;
use veriml_inference_primitives::{EngineError, EngineVersion, Execution, ModelHash, Tensor, TensorSpec, H256};
use veriml_primitives::{
	nodes::BondedNodes,
	verification::{Job, Outcome, VerifiedJobs},
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Extrinsic = sp_runtime::generic::UncheckedExtrinsic<u64, RuntimeCall, TestSignature, ()>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Verification: pallet_verification,
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

/// Blocks a receipt is kept.
pub const RETENTION: u64 = 5;

frame_support::parameter_types! {
	/// The retention, `RETENTION` unless a test changes it (as a runtime's storage parameter may).
	pub static RetentionBlocks: u64 = RETENTION;
}
/// Blocks a proposal can be challenged.
pub const CHALLENGE_PERIOD: u64 = 3;
/// Most disputes waiting.
pub const MAX_DISPUTES: u32 = 2;
/// Fuel a run of the stand-in uses.
pub const FUEL: u64 = 100;
/// What one strike slashes.
pub const SLASH: u64 = 10;
/// The weight of settling a job with the stand-in job owner (a run of a job's fuel limit
/// weighs that limit; the databases weigh nothing).
pub const ACCEPTANCE: u64 = 10;

frame_support::parameter_types! {
	/// What decisions may take at the start of a block: by default, room for one dispute at
	/// the tests' usual fuel limit (1 000) and a few settlements, not for two disputes.
	pub static DecisionWeight: Weight = Weight::from_parts(1_050, 0);
}

/// What a challenge holds.
pub const DEPOSIT: u64 = 7;
/// What every account numbered below 100 starts with.
pub const ENDOWMENT: u64 = 1_000;
/// The engine version of the stand-in.
pub const ENGINE_VERSION: EngineVersion = 4;
/// The model the stand-in refuses.
pub const FAILING: ModelHash = H256([0xfa; 32]);

pub struct StandIn;
impl crate::InferenceRunner for StandIn {
	fn engine_version() -> EngineVersion {
		ENGINE_VERSION
	}
	fn run(
		model: &ModelHash,
		_: &[TensorSpec],
		inputs: &[Tensor],
		_: u64,
		_: Option<u64>,
	) -> Result<Execution, EngineError> {
		if *model == FAILING {
			return Err(EngineError::FuelExhausted);
		}
		Ok(Execution { outputs: inputs.to_vec(), fuel_used: FUEL })
	}
}

/// A decision the job owner heard.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decision {
	Confirmed { id: u64, executor: u64, outcome: Outcome },
	Refuted { id: u64, executor: u64, wronged: u64 },
}

thread_local! {
	static OPERATORS: RefCell<BTreeMap<u64, u64>> = const { RefCell::new(BTreeMap::new()) };
	static SUSPENDED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
	static STRUCK: RefCell<Vec<(u64, Option<u64>)>> = const { RefCell::new(Vec::new()) };
	static JOBS: RefCell<BTreeMap<u64, Job<u64, u64>>> = const { RefCell::new(BTreeMap::new()) };
	static DECISIONS: RefCell<Vec<Decision>> = const { RefCell::new(Vec::new()) };
	static PRUNED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The jobs whose receipts the job owner heard were pruned, in order.
pub fn pruned() -> Vec<u64> {
	PRUNED.with(|pruned| pruned.borrow().clone())
}

/// Registers `node`, operated by `operator`.
pub fn register(node: u64, operator: u64) {
	OPERATORS.with(|nodes| nodes.borrow_mut().insert(node, operator));
}

/// Suspends `node`: it stays registered but is no longer active.
pub fn suspend(node: u64) {
	SUSPENDED.with(|suspended| suspended.borrow_mut().push(node));
}

/// The strikes so far: the node and who its slash went to.
pub fn struck() -> Vec<(u64, Option<u64>)> {
	STRUCK.with(|struck| struck.borrow().clone())
}

/// Opens `job` with the stand-in job owner.
pub fn open_job(job: Job<u64, u64>) {
	JOBS.with(|jobs| jobs.borrow_mut().insert(job.id, job));
}

/// The decisions the job owner heard so far.
pub fn decisions() -> Vec<Decision> {
	DECISIONS.with(|decisions| decisions.borrow().clone())
}

pub struct StandInNodes;
impl BondedNodes<u64, u64, u64> for StandInNodes {
	type Service = ModelHash;
	fn operator(node: &u64) -> Option<u64> {
		OPERATORS.with(|nodes| nodes.borrow().get(node).copied())
	}
	fn is_active(node: &u64) -> bool {
		Self::operator(node).is_some() && !SUSPENDED.with(|suspended| suspended.borrow().contains(node))
	}
	fn serves(node: &u64, _: &ModelHash) -> bool {
		Self::is_active(node)
	}
	fn services(_: &u64) -> Vec<ModelHash> {
		Vec::new()
	}
	fn serving_since(_: &u64) -> Option<u64> {
		Some(0)
	}
	fn nodes(_: &ModelHash) -> Vec<u64> {
		OPERATORS.with(|nodes| nodes.borrow().keys().copied().collect())
	}
	fn assign(_: &ModelHash, _: &[u8; 32], _: u32, _: &[u64]) -> Vec<u64> {
		Vec::new()
	}
	fn strike(node: &u64, wronged: Option<&u64>) -> u64 {
		STRUCK.with(|struck| struck.borrow_mut().push((*node, wronged.copied())));
		SLASH
	}
	fn clear_strikes(_: &u64) {}
}

pub struct StandInJobs;
impl VerifiedJobs<u64, u64, u64> for StandInJobs {
	fn job(id: u64, executor: &u64) -> Option<Job<u64, u64>> {
		JOBS.with(|jobs| jobs.borrow().get(&id).cloned()).map(|job| Job { executor: *executor, ..job })
	}
	fn re_execution_weight(_: &Job<u64, u64>, fuel_used: u64) -> Weight {
		Weight::from_parts(fuel_used, 0)
	}
	fn max_decision_weight(id: u64) -> Weight {
		JOBS.with(|jobs| jobs.borrow().get(&id).map_or(Weight::zero(), |job| Weight::from_parts(job.fuel_limit, 0)))
	}
	fn max_confirmation_weight() -> Weight {
		Weight::from_parts(ACCEPTANCE, 0)
	}
	fn confirmed(id: u64, executor: u64, outcome: Outcome, _: u32) -> Weight {
		JOBS.with(|jobs| jobs.borrow_mut().remove(&id));
		DECISIONS.with(|decisions| decisions.borrow_mut().push(Decision::Confirmed { id, executor, outcome }));
		Weight::from_parts(ACCEPTANCE, 0)
	}
	fn refuted(id: u64, executor: &u64, wronged: &u64, _: u32) -> (u64, Weight) {
		let slashed = StandInNodes::strike(executor, Some(wronged));
		DECISIONS.with(|decisions| {
			decisions.borrow_mut().push(Decision::Refuted { id, executor: *executor, wronged: *wronged })
		});
		(slashed, Weight::zero())
	}
	fn receipt_pruned(id: u64) -> Weight {
		PRUNED.with(|pruned| pruned.borrow_mut().push(id));
		Weight::zero()
	}
}

veriml_offchain::impl_mock_signed_transactions!(
	Test,
	extrinsic = Extrinsic,
	public = UintAuthorityId,
	signature = TestSignature
);

/// The stand-in nodes' key.
pub struct NodeKey;
impl frame_system::offchain::AppCrypto<UintAuthorityId, TestSignature> for NodeKey {
	type RuntimeAppPublic = UintAuthorityId;
	type GenericPublic = UintAuthorityId;
	type GenericSignature = TestSignature;
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64, u64> for StandInJobs {
	fn job(index: u32) -> (Job<u64, u64>, u64) {
		let node = 100 + 2 * u64::from(index);
		register(node, 1);
		register(node + 1, 2);
		let inputs = vec![Tensor::from_f32(&[1, 1], &[1.0])];
		let job = Job {
			id: u64::from(index),
			model: H256::repeat_byte(7),
			input_specs: Vec::new(),
			input_hash: input_hash(&inputs),
			inputs,
			fuel_limit: 1_000,
			preparation_limit: None,
			max_output_bytes: 1_024,
			executor: node,
		};
		open_job(job.clone());
		(job, node + 1)
	}
}

impl pallet_verification::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type JobId = u64;
	type Balance = u64;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ChallengeDeposit = ConstU64<DEPOSIT>;
	type Runner = StandIn;
	type Nodes = StandInNodes;
	type Jobs = StandInJobs;
	type AuthorityId = NodeKey;
	type ChallengePeriod = ConstU64<CHALLENGE_PERIOD>;
	type MaxDisputes = frame_support::traits::ConstU32<MAX_DISPUTES>;
	type DecisionWeight = DecisionWeight;
	type ResubmitAfter = ConstU64<3>;
	type ReceiptRetention = RetentionBlocks;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StandInJobs;
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: (1..100).map(|who| (who, ENDOWMENT)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	RetentionBlocks::set(RETENTION);
	OPERATORS.with(|nodes| nodes.borrow_mut().clear());
	SUSPENDED.with(|suspended| suspended.borrow_mut().clear());
	STRUCK.with(|struck| struck.borrow_mut().clear());
	JOBS.with(|jobs| jobs.borrow_mut().clear());
	DECISIONS.with(|decisions| decisions.borrow_mut().clear());
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
