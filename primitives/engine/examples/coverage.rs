//! Runs every case of a directory written by `scripts/models/node_cases.py write` (the ONNX
//! backend node tests onnxruntime passes) through the chain's engine and prints one JSON
//! verdict per case: `pass`, `wrong` (outputs off the expected ones beyond the case's
//! tolerance) or `refused` (the engine's error).
//!
//! A case the engine refuses with `ModelPreparationFailed` runs again with its parameter inputs
//! (those of rank 0 or 1 after the first, and integer ones of rank 0 or 1 anywhere: axes, a
//! target shape, sizes, k, pads) pinned into the
//! model, as `veriml-node infer --pin` pins them for registration, the chain preparing a model
//! for fixed shapes: verdict `pinned` if it then passes (the other verdict's `pinned` field
//! says what happened otherwise).
//!
//! `cargo run --release -p veriml-engine --example coverage -- DIR > DIR/verdicts.jsonl`
//!
//! `scripts/coverage-report.sh` runs it and summarises the verdicts.

use veriml_engine::{json::parse_inputs, Engine};
use veriml_inference_primitives::{DType, RunError, Tensor};

/// Why `actual` is not `expected` within `rtol`/`atol` (floats; NaN matches NaN), or nothing.
fn mismatch(actual: &[Tensor], expected: &[Tensor], rtol: f64, atol: f64) -> Option<String> {
	if actual.len() != expected.len() {
		return Some(format!("{} outputs, expected {}", actual.len(), expected.len()));
	}
	for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
		if a.dtype != e.dtype || a.shape != e.shape {
			return Some(format!("output {index}: {:?}{:?}, expected {:?}{:?}", a.dtype, a.shape, e.dtype, e.shape));
		}
		if a.dtype == DType::F32 {
			let (a, e) = (a.to_f32()?, e.to_f32()?);
			for (i, (x, y)) in a.iter().zip(&e).enumerate() {
				let (x, y) = (f64::from(*x), f64::from(*y));
				let close = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs();
				if !close {
					return Some(format!("output {index}[{i}]: {x}, expected {y}"));
				}
			}
		} else if a.data != e.data {
			return Some(format!("output {index}: values differ"));
		}
	}
	None
}

fn main() {
	let dir = std::env::args().nth(1).unwrap_or_else(|| {
		eprintln!("usage: coverage DIR");
		std::process::exit(2)
	});
	let engine = Engine::default().with_compiled_cache(veriml_engine::CompiledCache::UserDefault);
	let fuel = engine.limits().max_fuel_per_run;
	let mut cases: Vec<_> = std::fs::read_dir(&dir)
		.expect("the cases' directory")
		.filter_map(|entry| entry.ok().map(|e| e.path()))
		.filter(|path| path.join("model.onnx").exists())
		.collect();
	cases.sort();
	for case in cases {
		let read = |name: &str| std::fs::read_to_string(case.join(name)).expect("a case's files");
		let name = case.file_name().expect("a case's name").to_string_lossy().into_owned();
		let meta: serde_json::Value = serde_json::from_str(&read("meta.json")).expect("meta.json");
		let tolerance = |key: &str| meta[key].as_f64().unwrap_or(0.0);
		let model = std::fs::read(case.join("model.onnx")).expect("model.onnx");
		let (inputs, expected) = match (parse_inputs(&read("input.json")), parse_inputs(&read("expected.json"))) {
			(Ok(inputs), Ok(expected)) => (inputs, expected),
			(Err(e), _) | (_, Err(e)) => {
				println!("{}", serde_json::json!({ "case": name, "verdict": "unreadable", "detail": e }));
				continue;
			},
		};
		let verdict_of = |model: &[u8], inputs: &[Tensor]| match engine.run_model(model, inputs, fuel) {
			Ok(execution) => match mismatch(&execution.outputs, &expected, tolerance("rtol"), tolerance("atol")) {
				None => ("pass", String::new()),
				Some(why) => ("wrong", why),
			},
			Err(RunError::Verdict(error)) => ("refused", format!("{error:?}")),
			Err(RunError::Local(failure)) => ("failed here", format!("{failure:?}")),
		};
		let (verdict, detail) = verdict_of(&model, &inputs);
		if detail != "ModelPreparationFailed" {
			println!("{}", serde_json::json!({ "case": name, "verdict": verdict, "detail": detail }));
			continue;
		}
		let parameters: Vec<usize> = (0..inputs.len())
			.filter(|&index| {
				let input = &inputs[index];
				let integer = matches!(input.dtype, DType::I64 | DType::I32);
				input.shape.len() <= 1 && (index > 0 || integer)
			})
			.collect();
		let values: Vec<Option<Tensor>> =
			(0..inputs.len()).map(|index| parameters.contains(&index).then(|| inputs[index].clone())).collect();
		let rest: Vec<Tensor> =
			(0..inputs.len()).filter(|index| !parameters.contains(index)).map(|index| inputs[index].clone()).collect();
		let pinned = match (parameters.is_empty(), engine.pin_inputs(&model, &values)) {
			(true, _) => "no parameter inputs to pin".to_string(),
			(false, Err(error)) => format!("pinning refused: {error:?}"),
			(false, Ok(pinned)) => match verdict_of(&pinned, &rest) {
				("pass", _) => {
					let detail = format!("inputs {parameters:?} pinned");
					println!("{}", serde_json::json!({ "case": name, "verdict": "pinned", "detail": detail }));
					continue;
				},
				(verdict, detail) => format!("inputs {parameters:?} pinned: {verdict} {detail}"),
			},
		};
		println!("{}", serde_json::json!({ "case": name, "verdict": verdict, "detail": detail, "pinned": pinned }));
	}
}
