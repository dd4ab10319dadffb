//! ONNX `LRN` (local response normalisation) on flat memory, with the bits of
//! tract-onnx-opl's `Lrn`.
//!
//! tract's `Lrn` reaches every element and each of its channel neighbours through ndarray's
//! dynamic indexing, which under wasm took about a third of Inception v1's run. This op computes
//! the same expression for each element, in the same order, with the same `powi` and `powf`
//! (the guest's own libm), on the tensor's contiguous data: the same bits, faster. Tensors of
//! other float types go to tract's `Lrn`.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};
use tract_onnx_opl::lrn::Lrn;

/// Builds the op for an ONNX `LRN` node, with the attributes and defaults tract-onnx reads.
pub fn lrn(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let alpha = node.get_attr_opt("alpha")?.unwrap_or(0.0001);
	let beta = node.get_attr_opt("beta")?.unwrap_or(0.75);
	let bias = node.get_attr_opt("bias")?.unwrap_or(1.);
	let size = node.get_attr("size")?;
	Ok((inference_wrap(FlatLrn(Lrn { alpha, beta, bias, size }), 1, rules), vec![]))
}

fn rules<'p>(
	_op: &dyn Op,
	s: &mut Solver,
	inputs: &'p [TensorProxy],
	outputs: &'p [TensorProxy],
) -> InferenceResult {
	check_input_arity(inputs, 1)?;
	check_output_arity(outputs, 1)?;
	s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
	s.equals(&inputs[0].shape, &outputs[0].shape)?;
	Ok(())
}

/// tract's `Lrn`, evaluated on flat memory for f32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatLrn(pub Lrn);

impl FlatLrn {
	fn eval_f32(&self, input: &Tensor) -> TractResult<Tensor> {
		let Lrn { alpha, beta, bias, size } = self.0;
		let shape = input.shape();
		if shape.len() < 2 || size == 0 {
			bail!("LRN needs a tensor of rank 2 or more and a size of 1 or more")
		}
		let (batches, channels) = (shape[0], shape[1]);
		let inner: usize = shape[2..].iter().product();
		let plain = input.try_as_plain_ram()?;
		let x = plain.as_slice::<f32>()?;
		let mut output = vec![0f32; x.len()];
		for n in 0..batches {
			let batch = n * channels * inner;
			for c in 0..channels {
				// tract's window: [c - (size-1)/2, c + ceil((size-1)/2)], clipped.
				let c_min = c.saturating_sub((size - 1) / 2);
				let c_max = (c + (size - 1).div_ceil(2)).min(channels - 1);
				for i in 0..inner {
					let at = |channel: usize| batch + channel * inner + i;
					let square_sum: f32 = (c_min..=c_max).map(|channel| x[at(channel)].powi(2)).sum();
					output[at(c)] =
						x[at(c)] / (bias + alpha / size as f32 * square_sum).powf(beta);
				}
			}
		}
		Tensor::from_shape(shape, &output)
	}
}

impl Op for FlatLrn {
	fn name(&self) -> StaticName {
		"Lrn".into()
	}

	op_as_typed_op!();
}

impl EvalOp for FlatLrn {
	fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		if inputs.len() == 1 && inputs[0].datum_type() == f32::datum_type() {
			let output = self.eval_f32(&inputs[0])?;
			return Ok(tvec!(output.into_tvalue()))
		}
		self.0.eval(ctx, inputs)
	}

	fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
		Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
	}
}

impl TypedOp for FlatLrn {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(inputs[0].clone()))
	}
}
