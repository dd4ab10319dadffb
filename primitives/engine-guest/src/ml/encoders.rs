//! Categorical encoders of ai.onnx.ml on numbers, as scikit-learn's `OneHotEncoder` and
//! `OrdinalEncoder` export them: `OneHotEncoder` (1) and `LabelEncoder` (2 and 4, integer and
//! float keys and values; string ones are no dtype of the engine's).

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{Expanded, Signature, Signed};

/// `OneHotEncoder`: X of any shape → X's shape + [categories], f32; 1 where X is the category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneHotEncoder {
	categories: Vec<i64>,
	/// Whether a value of no category gives zeros (else the run fails).
	zeros: bool,
}

/// Builds the op for an ONNX `OneHotEncoder` node (integer categories).
pub fn one_hot_encoder(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.get_attr_opt_tvec::<&str>("cats_strings")?.is_some() {
		bail!("string categories: the engine's inputs are numbers (encode the categories as integers)")
	}
	let categories = node.get_attr_slice::<i64>("cats_int64s")?.to_vec();
	node.expect_attr("cats_int64s", !categories.is_empty(), "at least one category")?;
	let zeros = node.get_attr_opt::<i64>("zeros")?.unwrap_or(1) != 0;
	Ok((expand(Expanded(OneHotEncoder { categories, zeros })), vec![]))
}

impl Signed for OneHotEncoder {
	fn signature(&self) -> Signature {
		Signature::FloatsWithAxis { len: self.categories.len() }
	}
}

impl OneHotEncoder {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = &*crate::convert::without_dims(input)?;
		let plain = input.try_as_plain_ram()?;
		// onnxruntime truncates a float to an integer before looking it up.
		let values: Vec<i64> = match input.datum_type() {
			DatumType::I64 => plain.as_slice::<i64>()?.to_vec(),
			DatumType::I32 => plain.as_slice::<i32>()?.iter().map(|v| i64::from(*v)).collect(),
			DatumType::F32 => plain.as_slice::<f32>()?.iter().map(|v| *v as i64).collect(),
			other => bail!("OneHotEncoder takes numbers, got {other:?}"),
		};
		let count = self.categories.len();
		let mut output = vec![0f32; values.len() * count];
		for (value, row) in values.iter().zip(output.chunks_exact_mut(count)) {
			match self.categories.iter().position(|c| c == value) {
				Some(category) => row[category] = 1.0,
				None if self.zeros => {},
				None => bail!("{value} is no category, and zeros is 0"),
			}
		}
		let mut shape = input.shape().to_vec();
		shape.push(count);
		Tensor::from_shape(&shape, &output)
	}
}

one_input_op!(OneHotEncoder, "OneHotEncoder");

impl TypedOp for OneHotEncoder {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let mut shape = inputs[0].shape.to_tvec();
		shape.push(self.categories.len().to_dim());
		Ok(tvec!(f32::fact(shape)))
	}
}

/// A number of a `LabelEncoder`'s keys or values: an integer, or f32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
	Int(i64),
	Float(u32),
}

impl Number {
	fn matches(&self, other: &Number) -> bool {
		match (self, other) {
			(Number::Int(a), Number::Int(b)) => a == b,
			(Number::Float(a), Number::Float(b)) => {
				let (a, b) = (f32::from_bits(*a), f32::from_bits(*b));
				a == b || (a.is_nan() && b.is_nan())
			},
			_ => false,
		}
	}
}

/// `LabelEncoder`: each element that equals a key becomes its value, any other the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEncoder {
	keys: Vec<Number>,
	values: Vec<Number>,
	default: Number,
	key_type: DatumType,
	value_type: DatumType,
}

/// Numbers of a list attribute `{name}_int64s` or `{name}_floats`, or of `{name}_tensor`.
fn numbers(ctx: &ParsingContext, node: &NodeProto, name: &str) -> TractResult<Option<(Vec<Number>, DatumType)>> {
	if node.get_attr_opt_tvec::<&str>(&format!("{name}_strings"))?.is_some() {
		bail!("string {name}: the engine's tensors are numbers")
	}
	if let Some(ints) = node.get_attr_opt_slice::<i64>(&format!("{name}_int64s"))? {
		return Ok(Some((ints.iter().map(|v| Number::Int(*v)).collect(), DatumType::I64)));
	}
	if let Some(floats) = node.get_attr_opt_vec::<f32>(&format!("{name}_floats"))? {
		return Ok(Some((floats.iter().map(|v| Number::Float(v.to_bits())).collect(), DatumType::F32)));
	}
	if let Some(proto) = node.get_attr_opt::<&tract_onnx::pb::TensorProto>(&format!("{name}_tensor"))? {
		let tensor = ctx.load_tensor(proto)?;
		let plain = tensor.try_as_plain_ram()?;
		return Ok(Some(match tensor.datum_type() {
			DatumType::I64 => (plain.as_slice::<i64>()?.iter().map(|v| Number::Int(*v)).collect(), DatumType::I64),
			DatumType::F32 => {
				(plain.as_slice::<f32>()?.iter().map(|v| Number::Float(v.to_bits())).collect(), DatumType::F32)
			},
			other => bail!("{name}_tensor of {other:?}: the engine encodes int64 and float keys and values"),
		}));
	}
	Ok(None)
}

/// Builds the op for an ONNX `LabelEncoder` node (versions 2 and 4, numbers).
pub fn label_encoder(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let (keys, key_type) = numbers(ctx, node, "keys")?.ok_or_else(|| format_err!("LabelEncoder needs keys"))?;
	let (values, value_type) = numbers(ctx, node, "values")?.ok_or_else(|| format_err!("LabelEncoder needs values"))?;
	node.expect_attr("values", keys.len() == values.len(), "as many values as keys")?;
	let default = match numbers(ctx, node, "default")? {
		Some((default, dt)) if default.len() == 1 && dt == value_type => default[0],
		Some(_) => bail!("default_tensor must hold one value of the values' type"),
		None if value_type == DatumType::I64 => Number::Int(node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1)),
		None => Number::Float(node.get_attr_opt::<f32>("default_float")?.unwrap_or(-0.0).to_bits()),
	};
	Ok((expand(Expanded(LabelEncoder { keys, values, default, key_type, value_type })), vec![]))
}

impl Signed for LabelEncoder {
	fn signature(&self) -> Signature {
		Signature::Mapped { from: self.key_type, to: self.value_type }
	}
}

impl LabelEncoder {
	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = &*crate::convert::without_dims(input)?;
		let plain = input.try_as_plain_ram()?;
		let keys: Vec<Number> = match input.datum_type() {
			DatumType::I64 => plain.as_slice::<i64>()?.iter().map(|v| Number::Int(*v)).collect(),
			DatumType::F32 => plain.as_slice::<f32>()?.iter().map(|v| Number::Float(v.to_bits())).collect(),
			other => bail!("LabelEncoder takes int64 or float keys, got {other:?}"),
		};
		let encoded = keys
			.iter()
			.map(|key| self.keys.iter().position(|k| k.matches(key)).map_or(self.default, |index| self.values[index]));
		match self.value_type {
			DatumType::I64 => {
				let values: Vec<i64> = encoded.map(|v| if let Number::Int(v) = v { v } else { 0 }).collect();
				Tensor::from_shape(input.shape(), &values)
			},
			_ => {
				let values: Vec<f32> =
					encoded.map(|v| if let Number::Float(v) = v { f32::from_bits(v) } else { 0.0 }).collect();
				Tensor::from_shape(input.shape(), &values)
			},
		}
	}
}

one_input_op!(LabelEncoder, "LabelEncoder");

impl TypedOp for LabelEncoder {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let given = if inputs[0].datum_type == DatumType::TDim { DatumType::I64 } else { inputs[0].datum_type };
		if given != self.key_type {
			bail!("LabelEncoder with {:?} keys given {:?}", self.key_type, inputs[0].datum_type)
		}
		Ok(tvec!(self.value_type.fact(inputs[0].shape.clone())))
	}
}
