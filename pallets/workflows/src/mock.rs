//! A runtime with balances, the real escrow and workflows; the model registry, the feeds and
//! the requests pallet are stood in for by small in-memory versions whose state tests set.

use crate as pallet_workflows;
use frame_support::{derive_impl, traits::ConstU32, weights::Weight};
use pallet_data_feeds::{FeedId, FeedValue, FeedValues};
use pallet_inference_requests::{Fee, InferenceRequests, QuoteError, RequestId};
use pallet_model_registry::{ModelCatalog, ModelTerms, Verification};
use sp_runtime::{BuildStorage, DispatchError};
use std::{cell::RefCell, collections::BTreeMap};
use veriml_inference_primitives::{DType, ModelHash, Tensor, TensorSpec, H256};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Escrow: pallet_escrow,
		Workflows: pallet_workflows,
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

impl pallet_escrow::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// Workflow ids; requests use ids from `REQUEST_ESCROWS`.
	type EscrowId = u32;
}

pub const REQUEST_ESCROWS: u32 = 1_000_000;
pub const MIN_PERIOD: u64 = 2;
pub const MAX_WORKFLOWS: u32 = 3;
pub const MAX_VALUES: u32 = 4;
/// What a workflow holds from its owner while it exists.
pub const DEPOSIT: u64 = 20;
/// Most blocks between two runs.
pub const MAX_PERIOD: u64 = 100;

impl pallet_workflows::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type WorkflowDeposit = frame_support::traits::ConstU64<DEPOSIT>;
	type MaxPeriod = frame_support::traits::ConstU64<MAX_PERIOD>;
	type Models = MockModels;
	type Feeds = MockFeeds;
	type Requests = MockRequests;
	type Escrow = Escrow;
	type MaxFeedInputs = ConstU32<2>;
	type MaxValuesPerInput = ConstU32<MAX_VALUES>;
	type MinPeriod = frame_support::traits::ConstU64<MIN_PERIOD>;
	type MaxWorkflows = ConstU32<MAX_WORKFLOWS>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockBenchmarkHelper;
}

/// Models of any width and feeds with any number of values, in the mock's stand-ins.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for MockBenchmarkHelper {
	fn model(width: u32) -> ModelHash {
		MODEL_WIDTH.with(|w| *w.borrow_mut() = width);
		model()
	}

	fn feed(index: u32, values: u32) -> FeedId {
		set_feed(index, 2, &(0..values as FeedValue).collect::<Vec<_>>());
		index
	}

	fn fund(who: &u64) {
		use frame_support::traits::fungible::Mutate;
		Balances::set_balance(who, ENDOWMENT);
	}
}

/// The model every test uses: takes one `[1, 3]` f32 tensor (the benchmarks change its width).
pub fn model() -> ModelHash {
	H256::repeat_byte(0xaa)
}

/// A model taking an `i64` tensor: no workflow can feed it.
pub fn integer_model() -> ModelHash {
	H256::repeat_byte(0xbb)
}

/// Feed 0 (2 decimals) and feed 1 (0 decimals) exist.
pub const BTC: FeedId = 0;
pub const COUNT: FeedId = 1;

/// One request's fee in the mock.
pub const FEE: u64 = 100;

/// A request made through `MockRequests`.
#[derive(Clone, PartialEq, Debug)]
pub struct MadeRequest {
	pub requester: u64,
	pub model: ModelHash,
	pub inputs: Vec<Tensor>,
	pub max_fee: u64,
}

thread_local! {
	static FEEDS: RefCell<BTreeMap<FeedId, (u8, Vec<FeedValue>)>> = const { RefCell::new(BTreeMap::new()) };
	static QUOTE: RefCell<Result<u64, QuoteError>> = const { RefCell::new(Ok(FEE)) };
	static REFUSE_REQUESTS: RefCell<bool> = const { RefCell::new(false) };
	static MADE: RefCell<Vec<MadeRequest>> = const { RefCell::new(Vec::new()) };
	static MODEL_WIDTH: RefCell<u32> = const { RefCell::new(3) };
}

/// Sets the aggregated history of `feed` (oldest first).
pub fn set_feed(feed: FeedId, decimals: u8, values: &[FeedValue]) {
	FEEDS.with(|feeds| feeds.borrow_mut().insert(feed, (decimals, values.to_vec())));
}

pub fn remove_feed(feed: FeedId) {
	FEEDS.with(|feeds| feeds.borrow_mut().remove(&feed));
}

/// What the next quotes answer: a fee, or why the model cannot be requested.
pub fn set_quote(quote: Result<u64, QuoteError>) {
	QUOTE.with(|q| *q.borrow_mut() = quote);
}

/// Makes the requests pallet refuse requests (as with a full queue).
pub fn refuse_requests(refuse: bool) {
	REFUSE_REQUESTS.with(|r| *r.borrow_mut() = refuse);
}

/// The requests made so far.
pub fn made_requests() -> Vec<MadeRequest> {
	MADE.with(|made| made.borrow().clone())
}

pub struct MockModels;
impl ModelCatalog<u64, u64> for MockModels {
	fn terms(model_hash: &ModelHash) -> Option<ModelTerms<u64, u64>> {
		let dtype = if *model_hash == model() {
			DType::F32
		} else if *model_hash == integer_model() {
			DType::I64
		} else {
			return None;
		};
		Some(ModelTerms {
			owner: 99,
			price_per_inference: 10,
			inputs: vec![TensorSpec::new(dtype, &[1, MODEL_WIDTH.with(|w| *w.borrow())]).unwrap()],
			fuel_per_run: 1_000,
			fuel_to_prepare: 5_000,
			measured_with: veriml_inference_primitives::ENGINE_VERSION,
			byte_len: 100,
			in_content_store: false,
			output_bytes: 40,
			active: true,
			verification: Verification::InBlock,
		})
	}

	fn fuel_weight(_fuel: u64) -> Weight {
		Weight::zero()
	}

	fn most_fuel_weight(_fuel: u64) -> Weight {
		Weight::zero()
	}

	fn preparation_weight(_terms: &ModelTerms<u64, u64>) -> Weight {
		Weight::zero()
	}

	fn max_state_model_read_weight() -> Weight {
		Weight::zero()
	}

	fn engine_versions() -> (u32, Option<u32>) {
		(veriml_inference_primitives::ENGINE_VERSION, None)
	}

	fn decoder(_: &ModelHash) -> Option<veriml_primitives::models::DecoderSpec> {
		None
	}
}

pub struct MockFeeds;
impl FeedValues for MockFeeds {
	fn decimals(feed: FeedId) -> Option<u8> {
		FEEDS.with(|feeds| feeds.borrow().get(&feed).map(|(decimals, _)| *decimals))
	}

	fn latest(feed: FeedId, count: u32) -> Vec<FeedValue> {
		FEEDS.with(|feeds| {
			let feeds = feeds.borrow();
			let Some((_, values)) = feeds.get(&feed) else { return Vec::new() };
			values[values.len().saturating_sub(count as usize)..].to_vec()
		})
	}
}

/// Holds each request's fee in its own escrow, as the requests pallet does.
pub struct MockRequests;
impl InferenceRequests<u64, u64> for MockRequests {
	fn quote(model_hash: &ModelHash) -> Result<Fee<u64>, QuoteError> {
		MockModels::terms(model_hash).ok_or(QuoteError::UnknownModel)?;
		let total = QUOTE.with(|q| *q.borrow())?;
		Ok(Fee { model_price: total, execution: 0, protocol: 0 })
	}

	fn request(
		requester: u64,
		model: ModelHash,
		inputs: Vec<Tensor>,
		max_fee: u64,
	) -> Result<RequestId, DispatchError> {
		use pallet_escrow::Escrow as _;
		if REFUSE_REQUESTS.with(|r| *r.borrow()) {
			return Err(DispatchError::Other("NoNodeAvailable"));
		}
		let fee = Self::quote(&model).map_err(|_| DispatchError::Other("UnknownModel"))?.total();
		if fee > max_fee {
			return Err(DispatchError::Other("FeeAboveMax"));
		}
		let id = MADE.with(|made| made.borrow().len() as u64);
		Escrow::lock(REQUEST_ESCROWS + id as u32, &requester, fee)?;
		MADE.with(|made| made.borrow_mut().push(MadeRequest { requester, model, inputs, max_fee }));
		Ok(id)
	}
}

pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
pub const POOR: u64 = 3;
pub const ENDOWMENT: u64 = 1_000_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![(ALICE, ENDOWMENT), (BOB, ENDOWMENT), (POOR, 150)],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		set_feed(BTC, 2, &[]);
		set_feed(COUNT, 0, &[]);
	});
	ext
}

/// Goes to block `n`, running the workflows' `on_initialize`.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Workflows::on_initialize(next);
		check_invariants();
	}
}

/// The invariants of the workflows and the escrow (their `try_state`), which must hold after
/// every block.
pub fn check_invariants() {
	Workflows::do_try_state().expect("the workflows' invariants");
	Escrow::do_try_state().expect("the escrow's invariants");
}

/// Runs `test` in a fresh test state, then checks the invariants.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		check_invariants();
	});
}
