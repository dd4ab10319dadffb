//! Where one model's runs spend their time in the chain's engine: preparation, then every
//! phase of a run (a fresh instance, the snapshot restored, the inputs written, the model run,
//! the outputs read, the instance released), and with a guest built to profile, every operator. Prints JSON for
//! `scripts/profile-engine.sh`, which builds that guest and prints the tables.
//!
//! `cargo run --release -p veriml-engine --example profile -- MODEL.onnx INPUT.json RUNS [PROFILING_GUEST.wasm]`
//!
//! The phases are timed with the built-in guest, the node's own. The operators are timed with
//! the guest given (the same sources built with the feature `profile`, metered here as the
//! engine's build meters the built-in one). Its fuel per run is printed beside the built-in
//! guest's: the difference is the reports' own instructions and its other snapshot. The given
//! guest's run and whole call are timed too (`given_guest_us`): given another build of the
//! guest (an earlier commit's, built without `profile`), the output is an A/B of two engines
//! in one process, with both fuels. The given guest is declared of this engine's version, or of
//! `VERIML_GIVEN_GUEST_VERSION` where that is set: an earlier version's build is then prepared
//! and run as a node prepares and runs that version.

use std::{collections::BTreeMap, time::Duration};
use veriml_engine::{guest_hash, json::parse_inputs, metering, Engine, RunTimes, ENGINE_VERSION};

fn median(mut samples: Vec<f64>) -> f64 {
	samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN durations"));
	samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

fn us(duration: Duration) -> f64 {
	duration.as_secs_f64() * 1e6
}

fn median_us(runs: &[RunTimes], phase: impl Fn(&RunTimes) -> Duration) -> f64 {
	median(runs.iter().map(|run| us(phase(run))).collect())
}

fn main() {
	let args: Vec<String> = std::env::args().collect();
	if args.len() < 4 {
		eprintln!("usage: profile MODEL.onnx INPUT.json RUNS [PROFILING_GUEST.wasm]");
		std::process::exit(2);
	}
	let model = std::fs::read(&args[1]).expect("model file");
	let inputs =
		parse_inputs(&std::fs::read_to_string(&args[2]).expect("input file")).unwrap_or_else(|e| panic!("input: {e}"));
	let runs: usize = args[3].parse().expect("RUNS is a number");

	let engine = Engine::default().with_compiled_cache(veriml_engine::CompiledCache::UserDefault).with_profiling();
	// One run more than timed: the first touches the instance slot's pages, and is left out.
	let chain = engine.profile_model(guest_hash(), &model, &inputs, runs + 1).expect("the engine runs the model");
	let runs_of_chain = &chain.runs[1..];

	let (mut operators, mut profiling_fuel, mut given_guest_us) =
		(serde_json::Value::Null, None, serde_json::Value::Null);
	if let Some(path) = args.get(4) {
		let wasm = std::fs::read(path).expect("profiling guest file");
		let given_version = std::env::var("VERIML_GIVEN_GUEST_VERSION")
			.map_or(ENGINE_VERSION, |version| version.parse().expect("VERIML_GIVEN_GUEST_VERSION is a number"));
		let metered = metering::meter(&wasm)
			.and_then(|metered| metering::declare_version(&metered, given_version))
			.expect("the profiling guest can be metered");
		let guest = engine.add_guest(&metered).expect("the profiling guest is an engine guest");
		let profiled = engine.profile_model(guest.hash, &model, &inputs, runs + 1).expect("the profiling guest runs");
		profiling_fuel = Some(profiled.fuel_per_run);
		// The given guest's run and whole call too: with another build of the guest (an earlier
		// commit's, say) in place of a profiling one, an A/B of two engines in one process.
		let runs_of_given = &profiled.runs[1..];
		given_guest_us = serde_json::json!({
			"run": median_us(runs_of_given, |r| r.run),
			"total": median_us(runs_of_given, RunTimes::total),
		});
		// Per operator: its nodes' time summed within each run, the median over runs; its fuel.
		let mut by_op: BTreeMap<String, (usize, Vec<f64>, u64)> = BTreeMap::new();
		for (index, nodes) in profiled.nodes.iter().skip(1).enumerate() {
			for node in nodes {
				let entry = by_op.entry(node.op.clone()).or_insert_with(|| (0, vec![0.0; runs], 0));
				entry.1[index] += us(node.time);
				if index == 0 {
					entry.0 += 1;
					entry.2 += node.fuel;
				}
			}
		}
		operators = by_op
			.into_iter()
			.map(|(op, (nodes, times, fuel))| {
				let time_us = median(times);
				serde_json::json!({
					"op": op,
					"nodes": nodes,
					"time_us": time_us,
					"fuel": fuel,
					"ps_per_fuel": if fuel > 0 { time_us * 1e6 / fuel as f64 } else { 0.0 },
				})
			})
			.collect();
	}

	println!(
		"{}",
		serde_json::json!({
			"prepare_ms": chain.prepare.as_secs_f64() * 1e3,
			"fuel_to_prepare": chain.fuel_to_prepare,
			"snapshot_bytes": chain.snapshot_bytes,
			"fuel_per_run": chain.fuel_per_run,
			"fuel_per_run_profiling": profiling_fuel,
			"given_guest_us": given_guest_us,
			"phases_us": {
				"instantiate": median_us(runs_of_chain, |r| r.instantiate),
				"restore": median_us(runs_of_chain, |r| r.restore),
				"inputs": median_us(runs_of_chain, |r| r.inputs),
				"run": median_us(runs_of_chain, |r| r.run),
				"outputs": median_us(runs_of_chain, |r| r.outputs),
				"release": median_us(runs_of_chain, |r| r.release),
				"fixed": median_us(runs_of_chain, RunTimes::fixed),
				"total": median_us(runs_of_chain, RunTimes::total),
			},
			"operators": operators,
		})
	);
}
