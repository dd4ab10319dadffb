//! Element-wise preprocessing of ai.onnx.ml 1, as scikit-learn's `SimpleImputer` and
//! `Binarizer` export it: `Imputer` and `Binarizer`. Outputs keep the input's type and shape.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{input_rows, Expanded, Signature, Signed};

/// `Imputer`: each element equal to `replaced` (or NaN, where `replaced` is NaN) becomes its
/// feature's imputed value; f32 inputs with the float attributes, int64 inputs with the int64 ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imputer {
	/// f32 bits, one for every feature or one per feature; and the value replaced.
	floats: Vec<u32>,
	replaced_float: u32,
	ints: Vec<i64>,
	replaced_int: i64,
}

/// Builds the op for an ONNX `Imputer` node.
pub fn imputer(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let floats = node.get_attr_opt_vec::<f32>("imputed_value_floats")?.unwrap_or_default();
	let ints = node.get_attr_opt_slice::<i64>("imputed_value_int64s")?.map(<[i64]>::to_vec).unwrap_or_default();
	node.expect(floats.is_empty() != ints.is_empty(), "imputed_value_floats or imputed_value_int64s, one of them")?;
	let op = Imputer {
		floats: floats.into_iter().map(f32::to_bits).collect(),
		replaced_float: node.get_attr_opt::<f32>("replaced_value_float")?.unwrap_or(0.0).to_bits(),
		ints,
		replaced_int: node.get_attr_opt::<i64>("replaced_value_int64")?.unwrap_or(0),
	};
	Ok((expand(Expanded(op)), vec![]))
}

impl Signed for Imputer {
	fn signature(&self) -> Signature {
		Signature::SameAsInput
	}
}

/// The value for feature `feature` of a list of one value for every feature or one per feature.
fn per_feature<T: Copy>(values: &[T], feature: usize, features: usize) -> TractResult<T> {
	match values.len() {
		1 => Ok(values[0]),
		n if n == features => Ok(values[feature]),
		n => bail!("{n} values for {features} features"),
	}
}

impl Imputer {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = &*crate::convert::without_dims(input)?;
		let (_, features) = input_rows(input)?;
		let mut output = input.clone();
		match input.datum_type() {
			DatumType::F32 if !self.floats.is_empty() => {
				let replaced = f32::from_bits(self.replaced_float);
				for (i, x) in output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?.iter_mut().enumerate() {
					if if replaced.is_nan() { x.is_nan() } else { *x == replaced } {
						*x = f32::from_bits(per_feature(&self.floats, i % features, features)?);
					}
				}
			},
			DatumType::I64 if !self.ints.is_empty() => {
				for (i, x) in output.try_as_plain_ram_mut()?.as_slice_mut::<i64>()?.iter_mut().enumerate() {
					if *x == self.replaced_int {
						*x = per_feature(&self.ints, i % features, features)?;
					}
				}
			},
			other => bail!("Imputer: an input of {other:?} with imputed values of the other type"),
		}
		Ok(output)
	}
}

/// `Binarizer`: 1 where an element is above `threshold`, else 0 (NaN stays NaN); any shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binarizer {
	/// f32 bits.
	threshold: u32,
}

/// Builds the op for an ONNX `Binarizer` node.
pub fn binarizer(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let threshold = node.get_attr_opt::<f32>("threshold")?.unwrap_or(0.0);
	Ok((expand(Expanded(Binarizer { threshold: threshold.to_bits() })), vec![]))
}

impl Signed for Binarizer {
	fn signature(&self) -> Signature {
		Signature::SameAsInput
	}
}

impl Binarizer {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = &*crate::convert::without_dims(input)?;
		let threshold = f32::from_bits(self.threshold);
		let mut output = input.clone();
		let mut plain = output.try_as_plain_ram_mut()?;
		match input.datum_type() {
			DatumType::F32 => plain.as_slice_mut::<f32>()?.iter_mut().for_each(|x| {
				if !x.is_nan() {
					*x = if *x > threshold { 1.0 } else { 0.0 }
				}
			}),
			DatumType::I64 => {
				plain.as_slice_mut::<i64>()?.iter_mut().for_each(|x| *x = i64::from((*x as f32) > threshold))
			},
			DatumType::I32 => {
				plain.as_slice_mut::<i32>()?.iter_mut().for_each(|x| *x = i32::from((*x as f32) > threshold))
			},
			other => bail!("Binarizer takes numbers, got {other:?}"),
		}
		Ok(output)
	}
}

one_input_op!(Imputer, "Imputer");
one_input_op!(Binarizer, "Binarizer");

impl TypedOp for Imputer {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		same_fact(inputs[0], "Imputer")
	}
}

impl TypedOp for Binarizer {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		// Element by element: any shape.
		Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
	}
}

/// The fact of an op's output that has its input's type and shape, one row or a batch of them.
fn same_fact(input: &TypedFact, name: &str) -> TractResult<TVec<TypedFact>> {
	if !matches!(input.rank(), 1 | 2) {
		bail!("{name} takes an input of rank 1 or 2, got rank {}", input.rank())
	}
	Ok(tvec!(input.datum_type.fact(input.shape.clone())))
}
