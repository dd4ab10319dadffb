//! Profiling a model (`Engine::profile_model`, for scripts/profile-engine.sh) runs it as the
//! chain does: the same fuel and outputs, each run timed by phase; node times only from a guest
//! built to profile. Needs the test models: scripts/models/make-test-models.sh.

mod common;

use common::*;
use veriml_inference_primitives::{model_hash, EngineError, LocalFailure, RunError};

#[test]
fn profiling_times_each_run_of_the_chains_engine_without_changing_it() {
	let engine = new_engine().with_profiling();
	let linear = model("pytorch_Linear");
	let fuel = engine.limits().max_fuel_per_run;
	let run = engine.run_model(&linear.bytes, &linear.inputs, fuel).unwrap();

	let profile = engine.profile_model(veriml_engine::guest_hash(), &linear.bytes, &linear.inputs, 3).unwrap();
	assert_eq!(profile.runs.len(), 3);
	assert_eq!(profile.fuel_per_run, run.fuel_used, "a profiled run is the chain's run");
	assert!(profile.fuel_to_prepare > 0 && profile.snapshot_bytes > 0);
	assert!(profile.prepare > std::time::Duration::ZERO);
	for times in &profile.runs {
		assert!(times.run > std::time::Duration::ZERO && times.instantiate > std::time::Duration::ZERO);
		assert_eq!(times.total(), times.fixed() + times.run);
	}
	assert!(profile.nodes.iter().all(Vec::is_empty), "the node's guest reports no nodes");

	// Refusals are the engine's, as for a run.
	let unknown = model_hash(b"no such guest");
	assert_eq!(
		engine.profile_model(unknown, &linear.bytes, &linear.inputs, 1).unwrap_err(),
		RunError::Local(LocalFailure::OtherGuest)
	);
	assert_eq!(
		engine.profile_model(veriml_engine::guest_hash(), b"not onnx", &linear.inputs, 1).unwrap_err(),
		RunError::Verdict(EngineError::MalformedModel)
	);
}
