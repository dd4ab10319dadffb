//! `ArrayFeatureExtractor` (ai.onnx.ml 1) with onnxruntime's shapes: X [..., C] and indices of
//! any shape give [..., k], k the number of indices (X of rank 1: [1, k]). tract's own keeps the
//! indices' shape, so a scalar index dropped the axis that scikit-learn's exported SVC and label
//! paths concatenate on. Wired as tract's `Gather` on the last axis of the flattened indices.

use tract_onnx::tract_core::ops::{array::Gather, change_axes::AxisOp};
use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

/// Builds the op for an ONNX `ArrayFeatureExtractor` node.
pub fn array_feature_extractor(
	_ctx: &ParsingContext,
	_node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	Ok((expand(ArrayFeatureExtractor), vec![]))
}

#[derive(Debug, Clone)]
pub struct ArrayFeatureExtractor;

/// The output shape for an input of `x` and indices of `indices`.
fn output_shape(x: &[TDim], indices: &[TDim]) -> TVec<TDim> {
	let count = indices.iter().fold(TDim::from(1), |count, d| count * d);
	let mut shape: TVec<TDim> = if x.len() <= 1 { tvec!(1.into()) } else { x[..x.len() - 1].into() };
	shape.push(count);
	shape
}

impl Expansion for ArrayFeatureExtractor {
	fn name(&self) -> StaticName {
		"ArrayFeatureExtractor".into()
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		let (mut x, mut indices) = (inputs[0], inputs[1]);
		let x_fact = model.outlet_fact(x)?.clone();
		if x_fact.rank() == 0 {
			bail!("ArrayFeatureExtractor needs an input of rank 1 or more")
		}
		if x_fact.rank() == 1 {
			x = model.wire_node(format!("{prefix}.add_row_axis"), AxisOp::Add(0), &[x])?[0];
		}
		let index_shape: TVec<TDim> = model.outlet_fact(indices)?.shape.to_tvec();
		if index_shape.len() != 1 {
			let count = output_shape(&[], &index_shape).pop().unwrap_or_else(|| 1.into());
			indices = model.wire_node(
				format!("{prefix}.flatten_indices"),
				AxisOp::Reshape(0, index_shape, tvec!(count)),
				&[indices],
			)?[0];
		}
		let axis = model.outlet_fact(x)?.rank() - 1;
		model.wire_node(prefix, Gather { axis, output_type: None }, &[x, indices])
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		check_input_arity(inputs, 2)?;
		check_output_arity(outputs, 1)?;
		s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
		s.equals(&inputs[1].datum_type, i64::datum_type())?;
		s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, indices| {
			s.equals(&outputs[0].shape, output_shape(&x, &indices))
		})
	}
}
