//! From engine version 15 a run flushes subnormal floats (DAZ and FTZ on x86-64), in the
//! guest's wasm and in the host kernels, on the run's thread and on its pool's: a CPU that takes
//! a slow path for subnormals (Intel's microcode assists) never meets one. Guests of version 14
//! and earlier compute IEEE subnormals, as the results already on chain did. Needs the test
//! models: scripts/models/make-test-models.sh.
#![cfg(target_arch = "x86_64")]

mod common;

use common::*;
use veriml_engine::{metering, Limits, GUEST_WASM};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{model_hash, Execution, Tensor};

const FUEL: u64 = 200_000_000_000;

/// The only element of a run's one output, as f32 bits.
fn only_output(execution: &Execution) -> u32 {
	let [output] = &execution.outputs[..] else { panic!("one output") };
	assert_eq!(output.data.len(), 4, "one f32");
	u32::from_le_bytes(output.data[..].try_into().unwrap())
}

/// The fuel of two runs of one model in the two modes moves by a few instructions at most: the
/// guest's code branches on a few values (here the final reduction's), which the mode changes.
fn assert_same_work(flushed: &Execution, ieee: &Execution) {
	assert!(flushed.fuel_used.abs_diff(ieee.fuel_used) < 16, "{} and {}", flushed.fuel_used, ieee.fuel_used);
}

/// `model` on `inputs` with the built-in guest (version 15 or later) and with the same guest
/// declaring version 14, on an engine of `threads`.
fn flushed_and_ieee(name: &str, threads: usize) -> (Execution, Execution) {
	let engine = new_engine_with(Limits { threads, ..Limits::default() });
	let (model, inputs): (Vec<u8>, Vec<Tensor>) = adversarial(name);
	let flushed = engine.run_model(&model, &inputs, FUEL).unwrap();
	let version_14 = engine.add_guest(&metering::declare_version(GUEST_WASM, 14).unwrap()).unwrap();
	let specs: Vec<_> = inputs.iter().map(|t| t.spec().unwrap()).collect();
	let ieee = InferenceEngine::run(
		&engine,
		Lane::Consensus,
		version_14.hash,
		model_hash(&model),
		&mut || Some(model.clone()),
		&specs,
		&inputs,
		FUEL,
		None,
	)
	.unwrap();
	(flushed, ieee)
}

#[test]
fn a_product_by_subnormal_weights_is_zero_from_version_15_on_one_thread_and_on_a_pool() {
	// 1,024 products of 1 by 1e-39 (a subnormal), summed: about 1.024e-36 under IEEE.
	for threads in [1, 3] {
		let (flushed, ieee) = flushed_and_ieee("matmul_subnormal_weights", threads);
		assert_eq!(only_output(&flushed), 0, "{threads} threads: every weight read as +0");
		let sum = f32::from_bits(only_output(&ieee));
		assert!((1.0e-36..1.05e-36).contains(&sum), "{threads} threads: {sum:e}");
		assert_same_work(&flushed, &ieee);
	}
}

#[test]
fn wasm_arithmetic_reads_a_subnormal_as_zero_from_version_15() {
	// tract's own square root, in the guest's wasm, of 1e-39: about 3.16e-20 under IEEE.
	let (flushed, ieee) = flushed_and_ieee("sqrt_subnormal_64mib", 1);
	assert_eq!(only_output(&flushed), 0);
	let root = f32::from_bits(only_output(&ieee));
	assert!((3.1e-20..3.2e-20).contains(&root), "{root:e}");
	assert_same_work(&flushed, &ieee);
}

#[test]
fn the_callers_float_mode_is_its_own_again_after_a_run() {
	let engine = new_engine();
	let (model, inputs) = adversarial("matmul_subnormal_weights");
	let run = engine.run_model(&model, &inputs, FUEL);
	assert_eq!(engine.unavailable_reason(), None);
	run.unwrap();
	// This thread computes IEEE subnormals still.
	let subnormal = std::hint::black_box(f32::from_bits(0x0000_1234));
	assert_eq!((subnormal * std::hint::black_box(1.0f32)).to_bits(), 0x0000_1234);
}

#[test]
fn every_real_model_computes_the_same_outputs_flushed() {
	// Honest models never meet a subnormal where it would change an output: every real model's
	// output bits (and fuel, to a few units) are version 14's.
	let engine = new_engine();
	let version_14 = engine.add_guest(&metering::declare_version(GUEST_WASM, 14).unwrap()).unwrap();
	let mut differing = Vec::new();
	for m in real_models() {
		let flushed = engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		let specs: Vec<_> = m.inputs.iter().map(|t| t.spec().unwrap()).collect();
		let ieee = InferenceEngine::run(
			&engine,
			Lane::Consensus,
			version_14.hash,
			model_hash(&m.bytes),
			&mut || Some(m.bytes.clone()),
			&specs,
			&m.inputs,
			FUEL,
			None,
		)
		.unwrap();
		if flushed.outputs != ieee.outputs {
			differing.push(m.name.clone());
		}
		assert_same_work(&flushed, &ieee);
	}
	assert_eq!(differing, Vec::<String>::new());
}
