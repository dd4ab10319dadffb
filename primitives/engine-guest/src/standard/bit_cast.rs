//! `BitCast` (opset 26): a tensor's bits read as another type of the same width, element by
//! element (little endian, as wasm is), the shape unchanged. Booleans only to booleans: another
//! type's bits are no boolean.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use crate::expansion::{Expanded, Rules};

/// `BitCast` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitCast {
	to: DatumType,
}

/// Builds the op for an ONNX `BitCast` node.
pub fn bit_cast(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let to = node.get_attr::<DatumType>("to")?;
	if !to.is_number() && to != DatumType::Bool {
		bail!("BitCast to {to:?} is not implemented")
	}
	Ok((expand(Expanded(BitCast { to })), vec![]))
}

impl BitCast {
	fn check(&self, from: DatumType) -> TractResult<()> {
		let from = crate::convert::value_type(from);
		if (!from.is_number() && from != DatumType::Bool)
			|| from.size_of() != self.to.size_of()
			|| (self.to == DatumType::Bool && from != DatumType::Bool)
		{
			bail!("BitCast from {from:?} to {:?} is not implemented", self.to)
		}
		Ok(())
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = crate::convert::without_dims(input)?;
		self.check(input.datum_type())?;
		let bytes = input.try_as_plain_ram()?.as_bytes();
		// Same width, and never bits that are no boolean into one (checked above).
		unsafe { Tensor::from_raw_dt(self.to, input.shape(), bytes) }
	}
}

impl Rules for BitCast {
	fn arity(&self) -> (usize, usize) {
		(1, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&outputs[0].datum_type, self.to)?;
		s.equals(&inputs[0].shape, &outputs[0].shape)
	}
}

one_input_op!(BitCast, "BitCast");

impl TypedOp for BitCast {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		self.check(inputs[0].datum_type)?;
		Ok(tvec!(self.to.fact(inputs[0].shape.clone())))
	}
}
