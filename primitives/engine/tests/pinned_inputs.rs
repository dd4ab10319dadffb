//! Inputs pinned into a model (`Engine::pin_inputs`, `veriml-node infer --pin`): a model whose
//! output shape depends on the value of an input is refused as given, and runs with that input
//! pinned; pinning refuses values that do not fit the model, with the engine's named errors.

mod common;

use common::{hostile, new_engine};
use veriml_inference_primitives::{DType, EngineError, RunError, Tensor};

const FUEL: u64 = 200_000_000_000;

/// `x` of `reduce_sum_runtime_axes`: 0, 1, …, 23 in shape [2, 3, 4].
fn x() -> Tensor {
	Tensor::from_f32(&[2, 3, 4], &(0..24).map(|v| v as f32).collect::<Vec<_>>())
}

fn axes(dtype: DType, values: &[i64]) -> Tensor {
	let data = match dtype {
		DType::I32 => values.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect(),
		_ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
	};
	Tensor { dtype, shape: vec![values.len() as u32], data }
}

/// ReduceSum of `x()` over `axis` without kept dimensions (sums of small integers: exact).
fn reduced(axis: usize) -> Tensor {
	let value = |i: usize, j: usize, k: usize| (i * 12 + j * 4 + k) as f32;
	let (shape, values): (Vec<u32>, Vec<f32>) = match axis {
		1 => (vec![2, 4], (0..2).flat_map(|i| (0..4).map(move |k| (0..3).map(|j| value(i, j, k)).sum())).collect()),
		2 => (vec![2, 3], (0..2).flat_map(|i| (0..3).map(move |j| (0..4).map(|k| value(i, j, k)).sum())).collect()),
		_ => unreachable!(),
	};
	Tensor::from_f32(&shape, &values)
}

#[test]
fn a_model_whose_shapes_depend_on_an_input_runs_with_that_input_pinned() {
	let engine = new_engine();
	let model = hostile("reduce_sum_runtime_axes");
	// As given: the axes are a request's input, so no output shape can be fixed at registration.
	let specs = [x().spec().unwrap(), axes(DType::I64, &[1]).spec().unwrap()];
	assert_eq!(engine.inspect_model(&model, &specs, FUEL), Err(EngineError::ModelPreparationFailed.into()));
	assert_eq!(
		engine.run_model(&model, &[x(), axes(DType::I64, &[1])], FUEL),
		Err(EngineError::ModelPreparationFailed.into())
	);

	for axis in [1, 2] {
		let pinned = engine.pin_inputs(&model, &[None, Some(axes(DType::I64, &[axis as i64]))]).unwrap();
		// The pinned model takes the data alone, and its output shape follows the pinned axes.
		let info = engine.inspect_model(&pinned, &[x().spec().unwrap()], FUEL).unwrap();
		let expected = reduced(axis);
		assert_eq!(info.outputs, vec![expected.spec().unwrap()]);
		let execution = engine.run_model(&pinned, &[x()], FUEL).unwrap();
		assert_eq!(execution.outputs, vec![expected], "axis {axis}");
		// The data input left as it was: asking for the pinned input too is a mismatch.
		assert_eq!(
			engine.run_model(&pinned, &[x(), axes(DType::I64, &[axis as i64])], FUEL),
			Err(EngineError::InputMismatch.into())
		);
	}
	// Nothing pinned: the same model, re-encoded, still refused as given.
	let unchanged = engine.pin_inputs(&model, &[None, None]).unwrap();
	assert_eq!(engine.inspect_model(&unchanged, &specs, FUEL), Err(EngineError::ModelPreparationFailed.into()));
}

#[test]
fn pinning_refuses_values_that_do_not_fit_the_model() {
	let engine = new_engine();
	let model = hostile("reduce_sum_runtime_axes");
	let refused = |values: &[Option<Tensor>]| engine.pin_inputs(&model, values);
	let mismatch: Result<Vec<u8>, RunError> = Err(EngineError::InputMismatch.into());
	// One entry per input, no more, no less.
	assert_eq!(refused(&[Some(axes(DType::I64, &[1]))]), mismatch);
	assert_eq!(refused(&[None, Some(axes(DType::I64, &[1])), None]), mismatch);
	// The declared element type and shape.
	assert_eq!(refused(&[None, Some(axes(DType::I32, &[1]))]), mismatch);
	assert_eq!(refused(&[None, Some(axes(DType::I64, &[1, 2]))]), mismatch);
	assert_eq!(refused(&[Some(Tensor::from_f32(&[2, 3], &[0.0; 6])), None]), mismatch);
	// A value whose bytes do not make its shape.
	let torn = Tensor { dtype: DType::I64, shape: vec![1], data: vec![1, 0, 0] };
	assert_eq!(refused(&[None, Some(torn)]), Err(EngineError::MalformedTensor.into()));
	// No model at all.
	assert_eq!(engine.pin_inputs(b"not an onnx model", &[None, None]), Err(EngineError::MalformedModel.into()));
}
