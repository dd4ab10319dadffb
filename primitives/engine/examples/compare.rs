//! Runs one model with the chain's engine (tract in wasm under wasmtime) and with the same code
//! on native tract, and prints both result hashes and median latencies as JSON.
//!
//! `cargo run --release -p veriml-engine --features native-tract --example compare -- MODEL.onnx INPUT.json [REPEAT]`
//!
//! The chain's engine is timed on the path a node's verification takes
//! ([`InferenceEngine::run`] with the model's hash from the chain, its bytes read only on a
//! prepared-cache miss), not through [`Engine::run_model`], which hashes the model's bytes on
//! every call: 5–35 % of a small model's call, work no node does again once it has prepared it.
//!
//! `VERIML_ENGINE_THREADS=N` gives the chain's engine `N` threads (`Limits::threads`; native
//! tract runs on one whatever it is). `scripts/bench-engine.sh` reads its latencies.
//! (`scripts/determinism.sh` takes native tract's result hash from the guest workspace's
//! `native_result` example, quicker to build.)

use codec::Encode;
use std::time::Instant;
use veriml_engine::{guest_hash, json::parse_inputs, Engine, ENGINE_VERSION};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{input_hash, model_hash, result_hash, Tensor};

fn median_ms(mut samples: Vec<f64>) -> f64 {
	if samples.is_empty() {
		return 0.0;
	}
	samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN durations"));
	samples[samples.len() / 2]
}

/// Median milliseconds of `repeat` calls of each of `a` and `b`, after one warm-up call each,
/// taken in turns so that a busy machine slows both alike.
fn time_both<A, B>(repeat: usize, mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> ((A, f64), (B, f64)) {
	let (mut result_a, mut result_b) = (a(), b());
	let (mut samples_a, mut samples_b) = (Vec::with_capacity(repeat), Vec::with_capacity(repeat));
	for _ in 0..repeat {
		let start = Instant::now();
		result_a = a();
		samples_a.push(start.elapsed().as_secs_f64() * 1000.0);
		let start = Instant::now();
		result_b = b();
		samples_b.push(start.elapsed().as_secs_f64() * 1000.0);
	}
	((result_a, median_ms(samples_a)), (result_b, median_ms(samples_b)))
}

fn main() {
	let args: Vec<String> = std::env::args().collect();
	if args.len() < 3 {
		eprintln!("usage: compare MODEL.onnx INPUT.json [REPEAT]");
		std::process::exit(2);
	}
	let model = std::fs::read(&args[1]).expect("model file");
	let inputs =
		parse_inputs(&std::fs::read_to_string(&args[2]).expect("input file")).unwrap_or_else(|e| panic!("input: {e}"));
	let repeat: usize = args.get(3).map(|r| r.parse().expect("REPEAT is a number")).unwrap_or(5);
	let hash = model_hash(&model);
	let hash_of = |outputs: &[Tensor]| result_hash(ENGINE_VERSION, &hash, &input_hash(&inputs), outputs);

	let threads =
		std::env::var("VERIML_ENGINE_THREADS").map_or(1, |n| n.parse().expect("VERIML_ENGINE_THREADS is a number"));
	let limits = veriml_engine::Limits { threads, ..Default::default() };
	let engine = Engine::new(limits).with_compiled_cache(veriml_engine::CompiledCache::UserDefault);
	let fuel = engine.limits().max_fuel_per_run;
	let specs: Vec<_> = inputs.iter().map(|t| t.spec().expect("rank ≤ 8")).collect();
	let (plan, _) = veriml_engine_guest::load(&model, specs.clone()).expect("native tract loads");
	let ((chain, chain_ms), (native, native_ms)) = time_both(
		repeat,
		|| {
			InferenceEngine::run(
				&engine,
				Lane::Consensus,
				guest_hash(),
				hash,
				&mut || Some(model.clone()),
				&specs,
				&inputs,
				fuel,
				None,
			)
			.expect("chain engine runs")
		},
		|| veriml_engine_guest::run(&plan, &inputs),
	);
	let native = native.map(|outputs| (hash_of(&outputs), outputs));

	let max_abs_diff = native.as_ref().ok().map(|(_, outputs)| {
		chain
			.outputs
			.iter()
			.zip(outputs)
			.filter_map(|(a, b)| Some((a.to_f32()?, b.to_f32()?)))
			.flat_map(|(a, b)| a.into_iter().zip(b).map(|(x, y)| (x - y).abs()).collect::<Vec<_>>())
			.fold(0f32, f32::max)
	});
	println!(
		"{}",
		serde_json::json!({
			"chain": {
				"result_hash": format!("{:?}", hash_of(&chain.outputs)),
				// The outputs' bits alone, whatever the engine version.
				"outputs_hash": format!("{:?}", model_hash(&chain.outputs.encode())),
				"fuel": chain.fuel_used,
				"median_ms": chain_ms,
				"threads": threads,
			},
			"native_tract": match &native {
				Ok((hash, _)) => serde_json::json!({ "result_hash": format!("{hash:?}"), "median_ms": native_ms }),
				Err(e) => serde_json::json!({ "error": format!("{e:?}") }),
			},
			"max_abs_diff": max_abs_diff,
		})
	);
}
