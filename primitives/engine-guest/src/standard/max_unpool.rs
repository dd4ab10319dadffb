//! `MaxUnpool` (opsets 9, 11, 22) without `output_shape`: the partial inverse of `MaxPool`, as
//! the ONNX reference computes it. The output, of shape [N, C, (in - 1) · stride - pads + kernel
//! …], is zero but where `I` (the flat indices `MaxPool` handed back) puts an element of `X`,
//! in `X`'s row-major order (a later element wins a shared index). An index outside the output
//! fails the run. f32 values, i64 indices: data movement alone, the same bits everywhere.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{checked_count, inferred_shape, known_dims};
use crate::expansion::{Expanded, Rules};

/// `MaxUnpool` of its attributes (pads begin then end; strides 1 and pads 0 when absent).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct MaxUnpool {
	kernel: Vec<usize>,
	strides: Vec<usize>,
	pads: Vec<usize>,
}

/// Builds the op for an ONNX `MaxUnpool` node.
pub fn max_unpool(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.input.len() > 2 && !node.input[2].is_empty() {
		bail!("MaxUnpool with an output_shape is not implemented")
	}
	let kernel: Vec<usize> = node.get_attr_tvec::<usize>("kernel_shape")?.into_vec();
	let axes = kernel.len();
	let strides = node.get_attr_opt_tvec::<usize>("strides")?.map_or_else(|| vec![1; axes], |s| s.into_vec());
	let pads = node.get_attr_opt_tvec::<usize>("pads")?.map_or_else(|| vec![0; 2 * axes], |p| p.into_vec());
	if axes == 0 || strides.len() != axes || pads.len() != 2 * axes || kernel.contains(&0) || strides.contains(&0) {
		bail!("MaxUnpool: kernel {kernel:?}, strides {strides:?}, pads {pads:?}")
	}
	Ok((expand(Expanded(MaxUnpool { kernel, strides, pads })), vec![]))
}

impl MaxUnpool {
	/// The output's shape for an `X` of `shape`.
	fn output_shape(&self, shape: &[usize]) -> TractResult<Vec<usize>> {
		let axes = self.kernel.len();
		if shape.len() != axes + 2 || shape[2..].contains(&0) {
			bail!("MaxUnpool of {axes} spatial axes takes a rank {} X, got {shape:?}", axes + 2)
		}
		let mut output = shape[..2].to_vec();
		for d in 0..axes {
			let size = (shape[d + 2] - 1)
				.checked_mul(self.strides[d])
				.and_then(|s| s.checked_add(self.kernel[d]))
				.and_then(|s| s.checked_sub(self.pads[d]))
				.and_then(|s| s.checked_sub(self.pads[axes + d]))
				.with_context(|| format!("MaxUnpool: no output size on axis {d}"))?;
			output.push(size);
		}
		checked_count(&output, "MaxUnpool")?;
		Ok(output)
	}
}

impl MaxUnpool {
	fn eval_inputs(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let [x, indices] = inputs else { bail!("MaxUnpool takes X and I, got {} inputs", inputs.len()) };
		if x.shape() != indices.shape() {
			bail!("MaxUnpool: X {:?} and I {:?}", x.shape(), indices.shape())
		}
		let shape = self.output_shape(x.shape())?;
		let mut output = vec![0f32; checked_count(&shape, "MaxUnpool")?];
		let values = x.try_as_plain_ram()?.as_slice::<f32>()?;
		let indices = indices.try_as_plain_ram()?.as_slice::<i64>()?;
		for (value, index) in values.iter().zip(indices) {
			let slot = usize::try_from(*index)
				.ok()
				.and_then(|index| output.get_mut(index))
				.with_context(|| format!("MaxUnpool: index {index} outside an output of {shape:?}"))?;
			*slot = *value;
		}
		Ok(tvec!(Tensor::from_shape(&shape, &output)?.into_tvalue()))
	}
}

impl Rules for MaxUnpool {
	fn arity(&self) -> (usize, usize) {
		(2, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		s.equals(&inputs[1].datum_type, i64::datum_type())?;
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.equals(&inputs[0].shape, &inputs[1].shape)?;
		s.given(&inputs[0].shape, move |s, shape| {
			let output = self.output_shape(&known_dims(&shape, "MaxUnpool")?)?;
			s.equals(&outputs[0].shape, inferred_shape(&output))
		})
	}
}

eval_op!(MaxUnpool, |_op| "MaxUnpool", |op, inputs| op.eval_inputs(inputs));

impl TypedOp for MaxUnpool {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let [x, indices] = inputs else { bail!("MaxUnpool takes X and I") };
		if x.datum_type != f32::datum_type() || indices.datum_type != i64::datum_type() {
			bail!("MaxUnpool is implemented for f32 values and i64 indices")
		}
		let shape = x.shape.as_concrete().context("MaxUnpool needs known shapes")?;
		Ok(tvec!(f32::fact(&self.output_shape(shape)?)))
	}
}
