//! `CumProd` (opset 26): the running product along an axis given as a run-time scalar input,
//! optionally exclusive (starting from 1) and reversed. Products run in axis order (from the end
//! when reversed), integers wrapping as the reference's numpy does.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use crate::expansion::{Expanded, Rules};

/// `CumProd` with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CumProd {
	exclusive: bool,
	reverse: bool,
}

/// Builds the op for an ONNX `CumProd` node.
pub fn cum_prod(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let exclusive = node.get_attr_opt::<i64>("exclusive")?.unwrap_or(0) != 0;
	let reverse = node.get_attr_opt::<i64>("reverse")?.unwrap_or(0) != 0;
	Ok((expand(Expanded(CumProd { exclusive, reverse })), vec![]))
}

/// Numbers that multiply as the reference multiplies them.
trait Product: Datum + Copy {
	const ONE: Self;
	fn times(self, other: Self) -> Self;
}

macro_rules! wrapping_product {
	($($t:ty),*) => {$(
		impl Product for $t {
			const ONE: Self = 1;
			fn times(self, other: Self) -> Self {
				self.wrapping_mul(other)
			}
		}
	)*};
}
wrapping_product!(i8, u8, i16, u16, i32, u32, i64, u64);

impl Product for f32 {
	const ONE: Self = 1.0;
	fn times(self, other: Self) -> Self {
		self * other
	}
}

impl Product for f64 {
	const ONE: Self = 1.0;
	fn times(self, other: Self) -> Self {
		self * other
	}
}

impl CumProd {
	fn products<T: Product>(&self, input: &Tensor, axis: usize) -> TractResult<Tensor> {
		let shape = input.shape();
		let values = input.try_as_plain_ram()?.as_slice::<T>()?;
		let (outer, len): (usize, usize) = (shape[..axis].iter().product(), shape[axis]);
		let inner: usize = shape[axis + 1..].iter().product();
		let mut output = vec![T::ONE; values.len()];
		for o in 0..outer {
			for i in 0..inner {
				let at = |k: usize| (o * len + k) * inner + i;
				let mut product = T::ONE;
				for step in 0..len {
					let k = if self.reverse { len - 1 - step } else { step };
					if self.exclusive {
						output[at(k)] = product;
						product = product.times(values[at(k)]);
					} else {
						product = product.times(values[at(k)]);
						output[at(k)] = product;
					}
				}
			}
		}
		Tensor::from_shape(shape, &output)
	}

	fn eval_inputs(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let [input, axis] = inputs else { bail!("CumProd takes an input and an axis") };
		let input = crate::convert::without_dims(input)?;
		let axis = crate::convert::without_dims(axis)?;
		if axis.rank() != 0 {
			bail!("CumProd's axis is a scalar, got shape {:?}", axis.shape())
		}
		let rank = input.rank() as i64;
		let axis = axis.cast_to_scalar::<i64>()?;
		let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
			.ok()
			.filter(|axis| *axis < input.rank())
			.context("CumProd's axis is out of range")?;
		let output = match input.datum_type() {
			DatumType::F32 => self.products::<f32>(&input, axis)?,
			DatumType::F64 => self.products::<f64>(&input, axis)?,
			DatumType::I8 => self.products::<i8>(&input, axis)?,
			DatumType::U8 => self.products::<u8>(&input, axis)?,
			DatumType::I16 => self.products::<i16>(&input, axis)?,
			DatumType::U16 => self.products::<u16>(&input, axis)?,
			DatumType::I32 => self.products::<i32>(&input, axis)?,
			DatumType::U32 => self.products::<u32>(&input, axis)?,
			DatumType::I64 => self.products::<i64>(&input, axis)?,
			DatumType::U64 => self.products::<u64>(&input, axis)?,
			other => bail!("CumProd of {other:?} is not implemented"),
		};
		Ok(tvec!(output.into_tvalue()))
	}
}

impl Rules for CumProd {
	fn arity(&self) -> (usize, usize) {
		(2, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
		s.equals(&inputs[0].shape, &outputs[0].shape)
	}
}

eval_op!(CumProd, |_op| "CumProd", |op, inputs| op.eval_inputs(inputs));

impl TypedOp for CumProd {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(crate::convert::value_type(inputs[0].datum_type).fact(inputs[0].shape.clone())))
	}
}
