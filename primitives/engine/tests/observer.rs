//! The engine reports its work to an observer (the node's Prometheus metrics): each call with
//! its work, lane, model, outcome and fuel; each prepared-model cache lookup; each guest load.
//! Needs the test models: scripts/models/make-test-models.sh.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use veriml_engine::observer::{Call, Work};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{model_hash, EngineError, EngineGuest, ModelHash, RunError, TensorSpec};

const FUEL: u64 = 200_000_000_000;

type CallRecord = (Work, Lane, ModelHash, Result<u64, String>);

#[derive(Default)]
struct Recorder {
	calls: Mutex<Vec<CallRecord>>,
	cache: Mutex<Vec<(Lane, bool)>>,
	loads: Mutex<Vec<(EngineGuest, bool)>>,
}

impl veriml_engine::Observer for Recorder {
	fn call(&self, call: &Call<'_>) {
		assert!(call.seconds >= 0.0);
		let outcome = call.outcome.map_err(|error| format!("{error:?}"));
		self.calls.lock().unwrap().push((call.work, call.lane, call.model, outcome));
	}

	fn prepared_cache(&self, lane: Lane, hit: bool) {
		self.cache.lock().unwrap().push((lane, hit));
	}

	fn guest_loaded(&self, guest: &EngineGuest, _from_compiled_cache: bool, ready: bool, seconds: f64) {
		assert!(seconds > 0.0);
		self.loads.lock().unwrap().push((*guest, ready));
	}
}

#[test]
fn the_engine_reports_every_call_cache_lookup_and_guest_load_to_its_observer() {
	let engine = new_engine();
	let recorder = Arc::new(Recorder::default());
	assert!(engine.set_observer(recorder.clone()));
	assert!(!engine.set_observer(Arc::new(Recorder::default())), "one observer per engine");

	let linear = model("pytorch_Linear");
	let hash = model_hash(&linear.bytes);
	let specs: Vec<TensorSpec> = linear.inputs.iter().map(|t| t.spec().unwrap()).collect();
	let guest = veriml_engine::guest_hash();
	let run = |lane, fuel| {
		engine.run(lane, guest, hash, &mut || Some(linear.bytes.clone()), &specs, &linear.inputs, fuel, None)
	};

	let info = engine.inspect(Lane::Consensus, guest, &linear.bytes, &specs, FUEL).unwrap();
	let own = run(Lane::Offchain, FUEL).unwrap();
	let verified = run(Lane::Consensus, FUEL).unwrap();
	let stopped = run(Lane::Consensus, 1).unwrap_err();
	assert_eq!(stopped, RunError::Verdict(EngineError::FuelExhausted));

	let exhausted = format!("{stopped:?}");
	assert_eq!(
		*recorder.calls.lock().unwrap(),
		vec![
			(Work::Inspect, Lane::Consensus, hash, Ok(info.fuel_per_run)),
			(Work::Run, Lane::Offchain, hash, Ok(own.fuel_used)),
			(Work::Run, Lane::Consensus, hash, Ok(verified.fuel_used)),
			(Work::Run, Lane::Consensus, hash, Err(exhausted)),
		]
	);
	// An inspection prepares without the cache; the first run prepares, the others find it.
	assert_eq!(
		*recorder.cache.lock().unwrap(),
		vec![(Lane::Offchain, false), (Lane::Consensus, true), (Lane::Consensus, true)]
	);
	// The built-in guest, loaded by the first call that needed it.
	assert_eq!(*recorder.loads.lock().unwrap(), vec![(veriml_engine::built_in_guest(), true)]);
}
