//! The real models `scripts/models/make_test_models.py` writes, with their inputs and
//! reference outputs.

#![allow(dead_code)]

use std::path::PathBuf;
use veriml_engine::json::parse_tensor;
use veriml_inference_primitives::{DType, Tensor};

/// A model with its inputs and references.
pub struct TestModel {
	pub name: String,
	pub bytes: Vec<u8>,
	pub inputs: Vec<Tensor>,
	pub reference: Vec<Tensor>,
	pub onnxruntime: Option<Vec<Tensor>>,
	pub rtol: f32,
	pub atol: f32,
}

/// Where the test models are: `$VERIML_TEST_MODELS`, else `target/test-models`.
pub fn models_dir() -> PathBuf {
	let dir = std::env::var("VERIML_TEST_MODELS")
		.map(PathBuf::from)
		.unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models"));
	assert!(
		dir.join("light_squeezenet").exists(),
		"no test models in {}: run scripts/models/make-test-models.sh first",
		dir.display()
	);
	dir
}

fn tensors(value: &serde_json::Value) -> Vec<Tensor> {
	value.as_array().expect("a list of tensors").iter().map(|t| parse_tensor(t).expect("a tensor")).collect()
}

/// Every real model, sorted by name.
pub fn real_models() -> Vec<TestModel> {
	let dir = models_dir();
	let mut names: Vec<String> = std::fs::read_dir(&dir)
		.unwrap()
		.filter_map(|e| e.ok())
		.map(|e| e.file_name().to_string_lossy().into_owned())
		.filter(|n| !["hostile", "adversarial", "generative"].contains(&n.as_str()))
		.collect();
	names.sort();
	names.into_iter().map(|name| load(&dir, &name)).collect()
}

/// One model by name.
pub fn model(name: &str) -> TestModel {
	load(&models_dir(), name)
}

fn load(dir: &std::path::Path, name: &str) -> TestModel {
	let folder = dir.join(name);
	let read_json = |file: &str| -> serde_json::Value {
		serde_json::from_str(&std::fs::read_to_string(folder.join(file)).unwrap()).unwrap()
	};
	let input = read_json("input.json");
	let expected = read_json("expected.json");
	let meta = read_json("meta.json");
	TestModel {
		name: name.to_string(),
		bytes: std::fs::read(folder.join("model.onnx")).unwrap(),
		inputs: tensors(&input["inputs"]),
		reference: tensors(&expected["reference"]),
		onnxruntime: (!expected["onnxruntime"].is_null()).then(|| tensors(&expected["onnxruntime"])),
		rtol: meta["rtol"].as_f64().unwrap() as f32,
		atol: meta["atol"].as_f64().unwrap() as f32,
	}
}

/// An engine with the default limits, its compiled code cached like a node's.
pub fn new_engine() -> veriml_engine::Engine {
	new_engine_with(veriml_engine::Limits::default())
}

/// An engine with `limits`, its compiled code cached like a node's.
pub fn new_engine_with(limits: veriml_engine::Limits) -> veriml_engine::Engine {
	veriml_engine::Engine::new(limits).with_compiled_cache(veriml_engine::CompiledCache::UserDefault)
}

/// A hostile file by name (`hostile/<name>.onnx`).
pub fn hostile(name: &str) -> Vec<u8> {
	std::fs::read(models_dir().join("hostile").join(format!("{name}.onnx"))).unwrap()
}

/// An adversarial model by name (`adversarial/<name>`): its bytes and inputs.
pub fn adversarial(name: &str) -> (Vec<u8>, Vec<Tensor>) {
	let folder = models_dir().join("adversarial").join(name);
	let input: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(folder.join("input.json")).unwrap()).unwrap();
	(std::fs::read(folder.join("model.onnx")).unwrap(), tensors(&input["inputs"]))
}

/// A generative model by name (`generative/<name>`): its bytes, its `tokenizer.json` and its
/// `generation.json` (a prompt and onnxruntime's greedy tokens).
pub fn generative(name: &str) -> (Vec<u8>, String, serde_json::Value) {
	let folder = models_dir().join("generative").join(name);
	let generation = serde_json::from_str(&std::fs::read_to_string(folder.join("generation.json")).unwrap()).unwrap();
	(
		std::fs::read(folder.join("model.onnx")).unwrap(),
		std::fs::read_to_string(folder.join("tokenizer.json")).unwrap(),
		generation,
	)
}

/// Whether `actual` matches `expected` within tolerance (floats) or exactly (others); the
/// first mismatch explained otherwise.
pub fn compare(actual: &[Tensor], expected: &[Tensor], rtol: f32, atol: f32) -> Result<(), String> {
	if actual.len() != expected.len() {
		return Err(format!("{} outputs, expected {}", actual.len(), expected.len()));
	}
	for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
		let elements = |t: &Tensor| t.shape.iter().map(|d| *d as usize).product::<usize>();
		if elements(a) != elements(e) {
			return Err(format!("output {index}: shape {:?}, expected {:?}", a.shape, e.shape));
		}
		match (a.dtype, e.dtype) {
			(DType::F32, DType::F32) => {
				let (a, e) = (a.to_f32().unwrap(), e.to_f32().unwrap());
				for (i, (x, y)) in a.iter().zip(&e).enumerate() {
					if (x - y).abs() > atol + rtol * y.abs() {
						return Err(format!("output {index}[{i}]: {x}, expected {y}"));
					}
				}
			},
			_ if a.dtype == e.dtype => {
				if a.data != e.data {
					return Err(format!("output {index}: values differ"));
				}
			},
			_ => return Err(format!("output {index}: dtype {:?}, expected {:?}", a.dtype, e.dtype)),
		}
	}
	Ok(())
}
