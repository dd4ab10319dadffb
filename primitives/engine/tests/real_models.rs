//! The engine on real models: correct outputs, the same bits every time, and hostile files
//! refused with the right reason.

mod common;

use codec::Encode;
use common::{compare, hostile, model, new_engine, new_engine_with, real_models};
use veriml_engine::ENGINE_VERSION;
use veriml_inference_primitives::{input_hash, model_hash, result_hash, EngineError, Tensor, TensorSpec};

const FUEL: u64 = 200_000_000_000;

#[test]
fn real_models_match_their_reference_outputs() {
	let engine = new_engine();
	let mut failures = Vec::new();
	for m in real_models() {
		let outcome = engine.run_model(&m.bytes, &m.inputs, FUEL);
		let checked = outcome.map_err(|e| format!("{e:?}")).and_then(|execution| {
			compare(&execution.outputs, &m.reference, m.rtol, m.atol)?;
			if let Some(onnxruntime) = &m.onnxruntime {
				compare(&execution.outputs, onnxruntime, m.rtol, m.atol.max(1e-5))
					.map_err(|e| format!("against onnxruntime: {e}"))?;
			}
			Ok(())
		});
		if let Err(error) = checked {
			failures.push(format!("{}: {error}", m.name));
		}
	}
	assert!(failures.is_empty(), "models off their reference:\n{}", failures.join("\n"));
}

#[test]
fn the_same_inference_gives_the_same_bits_and_fuel_every_time() {
	for name in [
		"light_squeezenet",
		"pytorch_Conv2d",
		"sklearn_random_forest_classifier",
		"sklearn_gradient_boosting_regressor",
		"sklearn_gradient_boosting_classifier_binary",
	] {
		let m = model(name);
		let first_engine = new_engine();
		let first = first_engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		// From the cache of prepared models, then from a fresh engine.
		let cached = first_engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		let fresh = new_engine().run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		assert_eq!(first, cached, "{name}: cached run differs");
		assert_eq!(first, fresh, "{name}: fresh engine differs");
		assert!(first.fuel_used > 0);
	}
}

/// A node may split a run's large matrix products between threads (`--engine-threads`): the
/// CNNs, whose products are large, give the bits and the fuel of one thread, on two threads and
/// on more threads than this machine has cores.
#[test]
fn a_run_on_several_threads_gives_the_bits_and_fuel_of_one_thread() {
	for name in ["light_squeezenet", "light_resnet50", "light_shufflenet"] {
		let m = model(name);
		let one = new_engine().run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		for threads in [2, 5] {
			let engine = new_engine_with(veriml_engine::Limits { threads, ..Default::default() });
			for _ in 0..2 {
				assert_eq!(engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap(), one, "{name} on {threads} threads");
			}
		}
	}
}

/// Statistics a model computes from constants (the model zoo's light CNNs make them with
/// `ConstantOfShape`) are constants as much as initializers are: the same folded
/// `BatchNormalization` of tract's (`x·slope + intercept`), not the guest's op for run-time
/// statistics (`scale·(x − mean)/√(var + ε) + bias`, which gives other last bits for 12 of these
/// 48 elements), so the same bits.
#[test]
fn batch_normalization_of_computed_constants_is_folded_as_of_initializers() {
	let engine = new_engine();
	let [initializers, computed] = ["onnx_batch_norm_initializers", "onnx_batch_norm_constant_of_shape"].map(|name| {
		let m = model(name);
		engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap()
	});
	assert_eq!(initializers.outputs, computed.outputs, "computed statistics are not folded as constants");
}

/// Runs restore only the blocks of a prepared model's memory that differ from a fresh instance,
/// into instance slots other runs used before: nothing a run wrote may reach a later one.
#[test]
fn a_run_leaves_nothing_behind_for_the_next() {
	let (linear, conv) = (model("pytorch_Linear"), model("pytorch_Conv2d"));
	let engine = new_engine();
	let first = engine.run_model(&linear.bytes, &linear.inputs, FUEL).unwrap();
	let mut other_inputs = linear.inputs.clone();
	for byte in other_inputs[0].data.iter_mut().skip(3).step_by(4) {
		// Flips the sign of every f32 (little-endian: the sign is in each fourth byte).
		*byte ^= 0x80;
	}
	let other = engine.run_model(&linear.bytes, &other_inputs, FUEL).unwrap();
	assert_ne!(first.outputs, other.outputs, "the changed input changed no output");
	engine.run_model(&conv.bytes, &conv.inputs, FUEL).unwrap();
	for _ in 0..INSTANCE_SLOTS_AND_ONE {
		assert_eq!(engine.run_model(&linear.bytes, &linear.inputs, FUEL).unwrap(), first);
	}
	assert_eq!(new_engine().run_model(&linear.bytes, &other_inputs, FUEL).unwrap(), other);
}

/// Callers beyond the engine's instance slots wait for one instead of failing.
#[test]
fn more_concurrent_runs_than_instance_slots_all_succeed() {
	let linear = model("pytorch_Linear");
	let engine = new_engine();
	let expected = engine.run_model(&linear.bytes, &linear.inputs, FUEL).unwrap();
	std::thread::scope(|scope| {
		let runs: Vec<_> = (0..2 * INSTANCE_SLOTS_AND_ONE)
			.map(|_| scope.spawn(|| engine.run_model(&linear.bytes, &linear.inputs, FUEL)))
			.collect();
		for run in runs {
			assert_eq!(run.join().unwrap().unwrap(), expected);
		}
	});
}

/// More runs than the engine has instance slots, so that every slot is reused.
const INSTANCE_SLOTS_AND_ONE: usize = 5;

#[test]
fn inspect_reports_specs_nodes_and_cost() {
	let m = model("light_squeezenet");
	let specs: Vec<TensorSpec> = m.inputs.iter().map(|t| t.spec().unwrap()).collect();
	let info = new_engine().inspect_model(&m.bytes, &specs, FUEL).unwrap();
	assert_eq!(info.inputs, specs);
	assert_eq!(info.outputs.len(), 1);
	assert_eq!(info.outputs[0].element_count(), Some(1000));
	assert!(info.node_count > 10);
	assert!(info.fuel_per_run > 1_000_000);
	// Inspecting again, in a new engine, measures the same cost.
	assert_eq!(new_engine().inspect_model(&m.bytes, &specs, FUEL).unwrap(), info);
}

/// The result hash of `pytorch_Linear` (bytes and input shipped in the `onnx` package), engine
/// version 15 (version 2's outputs, hashed with the new version).
const PINNED_PYTORCH_LINEAR_RESULT_HASH: &str = "0x1e46cc4e4b0312c03430d3726bbda267c7a5caf8f9fd2f15f2ea870f639cc3c1";

#[test]
fn result_hash_is_pinned_for_a_real_model() {
	let m = model("pytorch_Linear");
	let execution = new_engine().run_model(&m.bytes, &m.inputs, FUEL).unwrap();
	let hash = result_hash(ENGINE_VERSION, &model_hash(&m.bytes), &input_hash(&m.inputs), &execution.outputs);
	// Any change of this value is a consensus change: it needs a new ENGINE_VERSION.
	println!("pytorch_Linear result hash: {hash:?}");
	assert_eq!(format!("{hash:?}"), PINNED_PYTORCH_LINEAR_RESULT_HASH);
}

/// `blake2_256(SCALE(outputs))` of models whose matrix products and convolutions go through the
/// native tile kernel, or whose LRN goes through the guest's own, as engine version 1 computed
/// them entirely with tract's code in wasm.
const OUTPUTS_OF_THE_WASM_ONLY_ENGINE: [(&str, &str); 5] = [
	("onnx_lrn", "0x40dd02b0609f2c612fc40e060e3e25676a28d70fd44c4fab8b405cbc8d3bb97c"),
	("light_squeezenet", "0x25756a3628c6c5e3a8960e712cdb9a722f4881e782a6a02966ca649cea01f203"),
	("pytorch_Conv2d", "0xa4c06aa0775e8f5353cc99373e7bd5da76263b2d63026ad7b86755ef7ca98bc6"),
	("pytorch_ConvTranspose2d", "0xd58e7bd81f1c7548a68b7a85a70c3f7beb9418210548ae3a94047e939d28a175"),
	("pytorch_Linear", "0xfe208c57a9883034f2a01efa2ec34eb0f373c1bacc5b885f442131d5a904eaf0"),
];

#[test]
fn the_native_tile_kernel_and_the_guests_lrn_change_no_output_bit() {
	let engine = new_engine();
	for (name, expected) in OUTPUTS_OF_THE_WASM_ONLY_ENGINE {
		let m = model(name);
		let execution = engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap();
		assert_eq!(format!("{:?}", model_hash(&execution.outputs.encode())), expected, "{name}");
	}
	// And random tile programs, with NaNs, infinities, signed zeros and subnormals, give the
	// same bits through tract's wasm kernel and the native one.
	for seed in 0..4 {
		assert_eq!(engine.check_host_kernel(seed, 2_000), Ok(0), "seed {seed}");
	}
}

#[test]
fn fuel_charged_by_the_native_kernel_is_counted_and_limited() {
	let m = model("light_squeezenet");
	let engine = new_engine();
	let used = engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap().fuel_used;
	// Exactly the fuel it needs is enough, and it is counted the same.
	assert_eq!(engine.run_model(&m.bytes, &m.inputs, used).unwrap().fuel_used, used);
	// Most of the fuel goes to the tile kernel, so a limit short of it stops the run there.
	assert_eq!(engine.run_model(&m.bytes, &m.inputs, used * 9 / 10), Err(EngineError::FuelExhausted.into()));
}

#[test]
fn fuel_charged_by_the_host_lrn_is_counted_and_limited() {
	// Inception v1's LRNs: most of their fuel is charged by the host, before each runs.
	let m = model("light_inception_v1");
	let engine = new_engine();
	let used = engine.run_model(&m.bytes, &m.inputs, FUEL).unwrap().fuel_used;
	assert_eq!(engine.run_model(&m.bytes, &m.inputs, used).unwrap().fuel_used, used);
	assert_eq!(engine.run_model(&m.bytes, &m.inputs, used * 9 / 10), Err(EngineError::FuelExhausted.into()));
	// The host's share: 320 per element and 4 per channel of the window, for 64·56·56 and
	// 192·56·56 elements with windows of 5 channels (fewer at the edges, charged as 5).
	let lrn_fuel = (64 + 192) * 56 * 56 * (veriml_inference_primitives::lrn::LRN_FUEL_PER_ELEMENT + 5 * 4);
	assert!(used > lrn_fuel, "{used} fuel in all, {lrn_fuel} for the LRNs");
}

fn specs_of(inputs: &[Tensor]) -> Vec<TensorSpec> {
	inputs.iter().map(|t| t.spec().unwrap()).collect()
}

#[test]
fn hostile_files_are_refused_with_their_reason() {
	let engine = new_engine();
	let x = vec![TensorSpec::new(veriml_inference_primitives::DType::F32, &[1, 4]).unwrap()];
	for (file, expected) in [
		("non_deterministic_operator", EngineError::NonDeterministicOperator),
		("unsupported_operator", EngineError::UnsupportedOperator),
		("external_data", EngineError::ExternalData),
		("malformed_model", EngineError::MalformedModel),
		("not_onnx", EngineError::MalformedModel),
		("impossible_tensor", EngineError::ModelPreparationFailed),
		("out_of_memory", EngineError::OutOfMemory),
		("output_too_large", EngineError::OutputTooLarge),
		("deeply_nested_shape", EngineError::ExecutionFailed),
		("tree_with_a_cycle", EngineError::ModelPreparationFailed),
		("tree_child_missing", EngineError::ModelPreparationFailed),
		("tree_class_out_of_range", EngineError::ModelPreparationFailed),
		("svm_vector_counts_overflow", EngineError::ModelPreparationFailed),
		("tree_ensemble_with_a_cycle", EngineError::ModelPreparationFailed),
		("tree_ensemble_sharing_a_subtree", EngineError::ModelPreparationFailed),
		("tree_ensemble_member_without_set", EngineError::ModelPreparationFailed),
		("tree_ensemble_root_read_two_ways", EngineError::ModelPreparationFailed),
		("attention_mask_too_long", EngineError::ModelPreparationFailed),
		("rnn_relu_activation", EngineError::ModelPreparationFailed),
		("deform_conv_offsets_misfit", EngineError::ModelPreparationFailed),
		("deform_conv_offsets_of_rank_one", EngineError::ModelPreparationFailed),
		("det_not_square", EngineError::ModelPreparationFailed),
		("col2im_block_misfit", EngineError::ModelPreparationFailed),
		("col2im_size_overflow", EngineError::ModelPreparationFailed),
		("affine_grid_size_of_three", EngineError::ModelPreparationFailed),
		("center_crop_pad_axis_out_of_range", EngineError::ModelPreparationFailed),
		("max_unpool_index_outside", EngineError::ExecutionFailed),
		("upsample_scales_attribute", EngineError::ModelPreparationFailed),
		("pad_wrap_negative", EngineError::ModelPreparationFailed),
	] {
		assert_eq!(engine.inspect_model(&hostile(file), &x, FUEL), Err(expected.into()), "{file}");
	}
	assert_eq!(engine.inspect_model(&[], &x, FUEL), Err(EngineError::MalformedModel.into()));
}

/// `veriml-node infer` names what an `UnsupportedOperator` refusal is about: the operator, its
/// domain and the opset version the model imports.
#[test]
fn an_unsupported_operator_is_named_with_its_domain_and_opset() {
	let engine = new_engine();
	let what = engine.describe_unsupported(&hostile("unsupported_operator")).unwrap();
	assert!(what.contains("com.example.FancyOp (opset 1)"), "{what}");
	assert_eq!(engine.describe_unsupported(&model("sklearn_gradient_boosting_regressor").bytes), None);
}

#[test]
fn inputs_that_do_not_fit_the_model_are_refused() {
	let engine = new_engine();
	let m = model("pytorch_Linear");
	let specs = specs_of(&m.inputs);
	let mut wrong_shape = m.inputs.clone();
	wrong_shape[0].shape.push(1);
	assert_eq!(
		veriml_inference_interface::InferenceEngine::run(
			&engine,
			veriml_inference_interface::Lane::Consensus,
			veriml_engine::guest_hash(),
			model_hash(&m.bytes),
			&mut || Some(m.bytes.clone()),
			&specs,
			&wrong_shape,
			FUEL,
			None
		),
		Err(EngineError::InputMismatch.into())
	);
	// The model prepared for other specs than it takes.
	let other = vec![TensorSpec::new(veriml_inference_primitives::DType::F32, &[7, 7]).unwrap()];
	assert!(engine.inspect_model(&m.bytes, &other, FUEL).is_err());
	// Bytes that do not hash to the model asked for.
	assert_eq!(
		veriml_inference_interface::InferenceEngine::run(
			&engine,
			veriml_inference_interface::Lane::Consensus,
			veriml_engine::guest_hash(),
			model_hash(b"another model"),
			&mut || Some(m.bytes.clone()),
			&specs,
			&m.inputs,
			FUEL,
			None
		),
		Err(EngineError::ModelUnavailable.into())
	);
}

#[test]
fn fuel_and_size_limits_are_enforced() {
	let m = model("light_squeezenet");
	let engine = new_engine();
	assert_eq!(engine.run_model(&m.bytes, &m.inputs, 10_000), Err(EngineError::FuelExhausted.into()));
	let small = new_engine_with(veriml_engine::Limits { max_model_bytes: 1000, ..Default::default() });
	assert_eq!(small.run_model(&m.bytes, &m.inputs, FUEL), Err(EngineError::ModelTooLarge.into()));
	let tiny_inputs = new_engine_with(veriml_engine::Limits { max_input_bytes: 16, ..Default::default() });
	assert_eq!(tiny_inputs.run_model(&m.bytes, &m.inputs, FUEL), Err(EngineError::InputTooLarge.into()));
}
