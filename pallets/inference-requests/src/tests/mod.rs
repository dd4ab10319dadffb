//! Requests from start to settlement, with the real engine: every lifecycle path and every
//! refusal, by its effect on storage, balances and events.

use crate::{
	mock::*, Assignments, Deadlines, Error, Event, Fee, Inputs, OpenRequests, PendingQueue, RequestStatus, Requests,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::{
		fungible::{Inspect, InspectHold},
		Hooks,
	},
	weights::Weight,
	BoundedVec,
};
use pallet_verification::{Outcome, Receipts};
use veriml_inference_primitives::{
	input_hash, output_hash, result_hash, DType, EngineError, Tensor, ENGINE_VERSION, H256,
};

fn input(values: [f32; WIDTH as usize]) -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, WIDTH], &values)]
}

fn sample_input() -> Vec<Tensor> {
	input([-2.0, -1.0, -0.0, 0.5, 1.0, 2.0, -3.5, 4.0])
}

/// What Relu gives for `sample_input`.
fn sample_output() -> Vec<Tensor> {
	vec![Tensor::from_f32(&[1, WIDTH], &[0.0, 0.0, 0.0, 0.5, 1.0, 2.0, 0.0, 4.0])]
}

fn honest_hash(inputs: &[Tensor], outputs: &[Tensor]) -> H256 {
	result_hash(ENGINE_VERSION, &relu_hash(), &input_hash(inputs), outputs)
}

/// `node` submits the right result of request `id` on `sample_input()`; it must be accepted.
fn submit_honest_result(node: AccountId, id: u64) {
	let outputs = sample_output();
	assert_ok!(Inference::submit_result(
		RuntimeOrigin::signed(node),
		id,
		outputs.clone(),
		honest_hash(&sample_input(), &outputs)
	));
}

/// The fee of a Relu request in the mock: price 70, execution 50, protocol 10% of 120.
fn relu_fee() -> Fee<u64> {
	Fee { model_price: PRICE, execution: 50, protocol: 12 }
}

fn escrowed(who: AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Escrow(pallet_escrow::HoldReason::Escrow), &who)
}

fn bond_of(node: AccountId) -> u64 {
	pallet_bonded_nodes::Nodes::<Test>::get(node).unwrap().bond
}

/// `who` requests Relu of `inputs`, and the block ends (drawing the request's node).
fn request_from(who: AccountId, inputs: Vec<Tensor>) -> u64 {
	let id = crate::NextRequestId::<Test>::get();
	assert_ok!(Inference::request(RuntimeOrigin::signed(who), relu_hash(), inputs, 1_000));
	end_block();
	id
}

/// Switches the chain to a guest of the next engine version (the same code here), the one
/// before becoming the replaced guest; returns both.
fn switch_to_next_engine_version(
) -> (veriml_inference_primitives::EngineGuest, veriml_inference_primitives::EngineGuest) {
	let before = pallet_model_registry::EngineGuest::<Test>::get();
	let after = veriml_inference_primitives::EngineGuest { version: before.version + 1, ..before };
	pallet_model_registry::EngineGuest::<Test>::put(after);
	pallet_model_registry::ReplacedEngineGuest::<Test>::put(before);
	(before, after)
}

/// Registers `node`, operated by `operator`, serving `model`.
fn register_node_of(operator: AccountId, node: AccountId, model: H256) {
	assert_ok!(Nodes::register(
		RuntimeOrigin::signed(operator),
		node,
		BoundedVec::truncate_from(vec![model]),
		MIN_BOND * 2,
		node_proof(&node, &operator),
	));
}

fn assigned_to(id: u64) -> Vec<AccountId> {
	Requests::<Test>::get(id).unwrap().assigned.into_inner()
}

/// A test externalities with an off-chain worker, a transaction pool and a keystore holding
/// one `infr` key made from `seed`; the key's account; and a function that takes the
/// transactions sent to the pool so far.
fn offchain_ext(seed: &str) -> (sp_io::TestExternalities, AccountId, impl Fn() -> Vec<Extrinsic>) {
	use codec::Decode;
	use sp_core::offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use std::sync::Arc;

	let mut ext = new_test_ext();
	let keystore = MemoryKeystore::new();
	let key = keystore.sr25519_generate_new(crate::KEY_TYPE, Some(seed)).unwrap();
	let (offchain, _) = testing::TestOffchainExt::new();
	let (pool, pool_state) = testing::TestTransactionPoolExt::new();
	ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
	ext.register_extension(OffchainDbExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt(Arc::new(keystore)));
	let sent =
		move || pool_state.write().transactions.drain(..).map(|tx| Extrinsic::decode(&mut &tx[..]).unwrap()).collect();
	(ext, key, sent)
}

mod deposits;
mod engine_failures;
mod fees;
mod generations;
mod invariants;
mod migrations;
mod nodes;
mod offchain_worker;
mod optimistic;
mod preparation;
mod requests;
mod uploads;
