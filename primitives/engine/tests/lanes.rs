//! Block import keeps engine stacks of its own: work on the off-chain lane (off-chain workers,
//! RPC calls) queues behind itself, never in front of a block. Needs the test models:
//! scripts/models/make-test-models.sh.

mod common;

use common::*;
use std::sync::{
	atomic::{AtomicUsize, Ordering},
	Arc,
};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{model_hash, LocalFailure, RunError, Tensor, TensorSpec};

const FUEL: u64 = 200_000_000_000;

fn run_in(engine: &veriml_engine::Engine, lane: Lane, bytes: &[u8], inputs: &[Tensor]) {
	let specs: Vec<TensorSpec> = inputs.iter().map(|t| t.spec().unwrap()).collect();
	engine
		.run(
			lane,
			veriml_engine::guest_hash(),
			model_hash(bytes),
			&mut || Some(bytes.to_vec()),
			&specs,
			inputs,
			FUEL,
			None,
		)
		.unwrap();
}

#[test]
fn off_chain_work_never_takes_the_engine_from_block_import() {
	let engine = Arc::new(new_engine());
	let heavy = Arc::new(model("light_resnet50"));
	let light = model("pytorch_Linear");
	// Prepared (and the guest compiled) before anything is timed against anything else.
	run_in(&engine, Lane::Consensus, &heavy.bytes, &heavy.inputs);
	run_in(&engine, Lane::Consensus, &light.bytes, &light.inputs);

	// More heavy off-chain runs than the engine has threads in all, started first...
	let finished = Arc::new(AtomicUsize::new(0));
	let offchain: Vec<_> = (0..8)
		.map(|_| {
			let (engine, heavy, finished) = (engine.clone(), heavy.clone(), finished.clone());
			std::thread::spawn(move || {
				run_in(&engine, Lane::Offchain, &heavy.bytes, &heavy.inputs);
				finished.fetch_add(1, Ordering::SeqCst);
			})
		})
		.collect();
	std::thread::sleep(std::time::Duration::from_millis(100));
	// ...and a block's inference still runs at once, before the first of them is done.
	run_in(&engine, Lane::Consensus, &light.bytes, &light.inputs);
	assert_eq!(finished.load(Ordering::SeqCst), 0, "block import waited for off-chain work");
	for thread in offchain {
		thread.join().unwrap();
	}
	assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn a_flood_of_off_chain_calls_is_refused_beyond_a_bounded_queue() {
	let engine = Arc::new(new_engine());
	let heavy = Arc::new(model("light_resnet50"));
	let light = Arc::new(model("pytorch_Linear"));
	run_in(&engine, Lane::Consensus, &heavy.bytes, &heavy.inputs);
	run_in(&engine, Lane::Consensus, &light.bytes, &light.inputs);

	// One heavy call holds the off-chain stack for a few seconds...
	let holder = {
		let (engine, heavy) = (engine.clone(), heavy.clone());
		std::thread::spawn(move || run_in(&engine, Lane::Offchain, &heavy.bytes, &heavy.inputs))
	};
	std::thread::sleep(std::time::Duration::from_millis(100));
	// ...while far more calls arrive than the lane queues: the excess is refused as a local
	// failure (the runtime call that asked is aborted), never run or queued.
	let calls = 48;
	let refused = Arc::new(AtomicUsize::new(0));
	let threads: Vec<_> = (0..calls)
		.map(|_| {
			let (engine, light, refused) = (engine.clone(), light.clone(), refused.clone());
			std::thread::spawn(move || {
				let specs: Vec<TensorSpec> = light.inputs.iter().map(|t| t.spec().unwrap()).collect();
				let bytes = light.bytes.clone();
				let hash = model_hash(&bytes);
				match engine.run(
					Lane::Offchain,
					veriml_engine::guest_hash(),
					hash,
					&mut || Some(bytes.clone()),
					&specs,
					&light.inputs,
					FUEL,
					None,
				) {
					Ok(_) => {},
					Err(RunError::Local(LocalFailure::OffchainLaneFull)) => {
						refused.fetch_add(1, Ordering::SeqCst);
					},
					Err(error) => panic!("{error:?}"),
				}
			})
		})
		.collect();
	for thread in threads {
		thread.join().unwrap();
	}
	// Block import is not affected.
	run_in(&engine, Lane::Consensus, &light.bytes, &light.inputs);
	holder.join().unwrap();
	// The holder and 15 others fill the queue of 16.
	assert_eq!(refused.load(Ordering::SeqCst), calls - 15);
}
