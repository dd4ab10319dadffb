//! ONNX `LRN` (local response normalisation) on flat memory, run by the host, with the bits of
//! tract-onnx-opl's `Lrn`.
//!
//! tract's `Lrn` reaches every element and each of its channel neighbours through ndarray's
//! dynamic indexing, which under wasm took about a third of Inception v1's run; computed on
//! flat memory in wasm it still took 60 % (a software `powf` per element). This op hands the
//! tensor to the host (`veriml.run_lrn`), which computes the same expression for each element,
//! in the same order, with the same `powf`: `veriml_inference_primitives::lrn::lrn_f32`, which
//! the guest also compiles and runs against the host's at start-up ([`check`]). Tensors of other
//! float types go to tract's `Lrn`.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};
use tract_onnx_opl::lrn::Lrn;
use veriml_inference_primitives::lrn::{lrn_f32, LrnCall};

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`LrnCall`] whose nine words are at `call`. Charges its fuel first and traps
	/// when the fuel runs out or an address lies outside memory.
	fn run_lrn(call: *const u32);
}

/// Builds the op for an ONNX `LRN` node, with the attributes and defaults tract-onnx reads.
pub fn lrn(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let alpha = node.get_attr_opt("alpha")?.unwrap_or(0.0001);
	let beta = node.get_attr_opt("beta")?.unwrap_or(0.75);
	let bias = node.get_attr_opt("bias")?.unwrap_or(1.);
	let size = node.get_attr("size")?;
	Ok((inference_wrap(FlatLrn(Lrn { alpha, beta, bias, size }), 1, rules), vec![]))
}

fn rules<'p>(_op: &dyn Op, s: &mut Solver, inputs: &'p [TensorProxy], outputs: &'p [TensorProxy]) -> InferenceResult {
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
	/// The call for `input`, whose output goes to `output`; an error for a shape LRN cannot take.
	fn call(&self, x: &[f32], output: &mut [f32], shape: &[usize]) -> TractResult<LrnCall> {
		let Lrn { alpha, beta, bias, size } = self.0;
		if shape.len() < 2 || size == 0 {
			bail!("LRN needs a tensor of rank 2 or more and a size of 1 or more")
		}
		let word = |value: usize| u32::try_from(value).map_err(|_| format_err!("LRN size out of range"));
		Ok(LrnCall {
			x: x.as_ptr() as usize as u32,
			y: output.as_mut_ptr() as usize as u32,
			batches: word(shape[0])?,
			channels: word(shape[1])?,
			inner: word(shape[2..].iter().product())?,
			size: word(size)?,
			alpha: alpha.to_bits(),
			beta: beta.to_bits(),
			bias: bias.to_bits(),
		})
	}

	fn eval_f32(&self, input: &Tensor) -> TractResult<Tensor> {
		let plain = input.try_as_plain_ram()?;
		let x = plain.as_slice::<f32>()?;
		let mut output = vec![0f32; x.len()];
		let call = self.call(x, &mut output, input.shape())?;
		unsafe { run_lrn(call.to_words().as_ptr()) };
		Tensor::from_shape(input.shape(), &output)
	}
}

/// Runs `problems` random LRNs (shapes, windows, parameters and values where float rules
/// differ) in wasm and on the host; answers how many gave a different bit.
pub(crate) fn check(rng: &mut crate::host_kernel::Lcg, problems: u32) -> u32 {
	let mut differing = 0;
	for _ in 0..problems {
		let shape = [1 + rng.below(2) as usize, 1 + rng.below(9) as usize, 1 + rng.below(12) as usize];
		let pick = |rng: &mut crate::host_kernel::Lcg, usual: &[f32]| match rng.below(usual.len() as u32 + 2) {
			n if (n as usize) < usual.len() => usual[n as usize],
			_ => rng.value(),
		};
		let op = FlatLrn(Lrn {
			alpha: pick(rng, &[1e-4, 2e-5, 1.0]),
			beta: pick(rng, &[0.75, 0.5, 1.0, 2.0, 0.0, -0.75]),
			bias: pick(rng, &[1.0, 2.0, 0.0]),
			size: 1 + rng.below(7) as usize,
		});
		let x: Vec<f32> = (0..shape.iter().product()).map(|_| pick(rng, &[1.0, 0.5, -3.0])).collect();
		let (mut in_wasm, mut on_host) = (vec![0f32; x.len()], vec![0f32; x.len()]);
		let call = op.call(&x, &mut on_host, &shape).expect("a shape LRN takes");
		lrn_f32(&x, &mut in_wasm, &call);
		unsafe { run_lrn(call.to_words().as_ptr()) };
		if in_wasm.iter().map(|v| v.to_bits()).ne(on_host.iter().map(|v| v.to_bits())) {
			differing += 1;
		}
	}
	differing
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
			return Ok(tvec!(output.into_tvalue()));
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
