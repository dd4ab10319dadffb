//! `Scaler` (ai.onnx.ml 1): `y = (x - offset[c]) * scale[c]` per feature `c`, as f32; what
//! scikit-learn's `StandardScaler`, `MinMaxScaler` and `RobustScaler` export.
//!
//! As onnxruntime computes it: f32 arithmetic on f32 and integer inputs (an integer converted to
//! f32 first), f64 arithmetic on f64 inputs, the result rounded to f32.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{input_rows, Expanded, Signature, Signed};

/// `Scaler`: an input of rank 1 or 2 (features last) → the same shape, f32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaler {
	/// `offset` and `scale` as bits: one value for every feature, or one per feature.
	offset: Vec<u32>,
	scale: Vec<u32>,
}

/// Builds the op for an ONNX `Scaler` node.
pub fn scaler(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let offset = node.get_attr_opt_vec::<f32>("offset")?.unwrap_or_else(|| vec![0.0]);
	let scale = node.get_attr_opt_vec::<f32>("scale")?.unwrap_or_else(|| vec![1.0]);
	node.expect_attr("offset", !offset.is_empty(), "at least one value")?;
	node.expect_attr("scale", !scale.is_empty(), "at least one value")?;
	let bits = |values: Vec<f32>| values.into_iter().map(f32::to_bits).collect();
	Ok((expand(Expanded(Scaler { offset: bits(offset), scale: bits(scale) })), vec![]))
}

impl Signed for Scaler {
	fn signature(&self) -> Signature {
		Signature::FloatsOfInputShape
	}
}

impl Scaler {
	fn check_features(&self, features: usize) -> TractResult<()> {
		for (name, values) in [("offset", &self.offset), ("scale", &self.scale)] {
			if values.len() != 1 && values.len() != features {
				bail!("{name} has {} values for {features} features", values.len())
			}
		}
		Ok(())
	}

	fn at(values: &[u32], feature: usize) -> f32 {
		f32::from_bits(if values.len() == 1 { values[0] } else { values[feature] })
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let input = &*crate::convert::without_dims(input)?;
		let (_, features) = input_rows(input)?;
		self.check_features(features)?;
		let plain = input.try_as_plain_ram()?;
		let scaled = |feature: usize, x: f32| (x - Self::at(&self.offset, feature)) * Self::at(&self.scale, feature);
		let output: Vec<f32> = match input.datum_type() {
			DatumType::F32 => {
				plain.as_slice::<f32>()?.iter().enumerate().map(|(i, x)| scaled(i % features, *x)).collect()
			},
			DatumType::I64 => {
				plain.as_slice::<i64>()?.iter().enumerate().map(|(i, x)| scaled(i % features, *x as f32)).collect()
			},
			DatumType::I32 => {
				plain.as_slice::<i32>()?.iter().enumerate().map(|(i, x)| scaled(i % features, *x as f32)).collect()
			},
			DatumType::F64 => plain
				.as_slice::<f64>()?
				.iter()
				.enumerate()
				.map(|(i, x)| {
					let (offset, scale) = (Self::at(&self.offset, i % features), Self::at(&self.scale, i % features));
					((x - f64::from(offset)) * f64::from(scale)) as f32
				})
				.collect(),
			other => bail!("Scaler takes numbers, got {other:?}"),
		};
		Tensor::from_shape(input.shape(), &output)
	}
}

one_input_op!(Scaler, "Scaler");

impl TypedOp for Scaler {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		if !matches!(inputs[0].rank(), 1 | 2) {
			bail!("Scaler takes an input of rank 1 or 2, got rank {}", inputs[0].rank())
		}
		if let Some(features) = inputs[0].shape.last().and_then(|d| d.to_usize().ok()) {
			self.check_features(features)?;
		}
		Ok(tvec!(f32::fact(inputs[0].shape.clone())))
	}
}
