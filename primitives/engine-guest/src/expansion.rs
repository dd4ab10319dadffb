//! How the guest's own typed ops enter tract's ONNX parser: as an [`Expansion`] whose inference
//! rules are the op's [`Rules`] and which wires the op itself.

use tract_onnx::tract_hir::internal::*;

/// A typed op of the guest's own: its input and output counts and its types and shapes for
/// tract's inference stage.
pub trait Rules: TypedOp + Clone {
	/// (inputs, outputs).
	fn arity(&self) -> (usize, usize);

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult;
}

/// A typed op with its [`Rules`], as tract's ONNX parser takes it: it wires itself.
#[derive(Debug, Clone)]
pub struct Expanded<O>(pub O);

impl<O: Rules> Expansion for Expanded<O> {
	fn name(&self) -> StaticName {
		Op::name(&self.0)
	}

	fn nboutputs(&self) -> TractResult<usize> {
		Ok(self.0.arity().1)
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		model.wire_node(prefix, self.0.clone(), inputs)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		let (input_count, output_count) = self.0.arity();
		check_input_arity(inputs, input_count)?;
		check_output_arity(outputs, output_count)?;
		self.0.rules(s, inputs, outputs)
	}
}

/// What an op's `eval_one` computes: one tensor, or a classifier's labels and scores.
pub trait Outputs {
	fn into_values(self) -> TVec<TValue>;
}

impl Outputs for Tensor {
	fn into_values(self) -> TVec<TValue> {
		tvec!(self.into_tvalue())
	}
}

impl Outputs for (Tensor, Tensor) {
	fn into_values(self) -> TVec<TValue> {
		tvec!(self.0.into_tvalue(), self.1.into_tvalue())
	}
}
