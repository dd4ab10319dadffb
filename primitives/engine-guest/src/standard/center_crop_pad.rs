//! `CenterCropPad` (opset 18): crops or pads each listed axis of its input around the centre to
//! the size its `shape` input gives, as the ONNX reference does: a crop keeps
//! `[(dim - size) / 2, … + size)`, a pad puts `(size - dim) / 2` zeros before and the rest after.
//! Its `shape` must be a constant of the model (an initializer, or an input pinned with
//! `veriml-node infer --pin`): it decides the output's shape. Wired as tract's `Slice` and `Pad`:
//! data movement alone, the same bits everywhere.

use tract_onnx::{
	model::ParsingContext,
	pb::NodeProto,
	tract_core::ops::array::{Pad, PadMode, Slice},
	tract_hir::internal::*,
};

use super::{checked_count, constant_input, known_dims};

/// `CenterCropPad` with its `axes` attribute (all axes when absent).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct CenterCropPad {
	axes: Option<Vec<i64>>,
}

/// Builds the op for an ONNX `CenterCropPad` node.
pub fn center_crop_pad(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let axes = node.get_attr_opt_tvec::<i64>("axes")?.map(|axes| axes.into_vec());
	Ok((expand(CenterCropPad { axes }), vec![]))
}

impl CenterCropPad {
	/// Each listed axis with its size: the axes in `[-rank, rank)`, one size each.
	fn sizes(&self, rank: usize, shape: &Tensor) -> TractResult<Vec<(usize, usize)>> {
		let sizes = shape.cast_to::<i64>()?;
		let sizes = sizes.try_as_plain_ram()?.as_slice::<i64>()?.to_vec();
		let axes: Vec<i64> = self.axes.clone().unwrap_or_else(|| (0..rank as i64).collect());
		if axes.len() != sizes.len() {
			bail!("CenterCropPad has {} axes and {} sizes", axes.len(), sizes.len())
		}
		axes.iter()
			.zip(sizes)
			.map(|(&axis, size)| {
				let axis = if axis < 0 { axis + rank as i64 } else { axis };
				match usize::try_from(size) {
					Ok(size) if (0..rank as i64).contains(&axis) => Ok((axis as usize, size)),
					_ => bail!("CenterCropPad: axis {axis} of rank {rank}, size {size}"),
				}
			})
			.collect()
	}
}

impl Expansion for CenterCropPad {
	fn name(&self) -> StaticName {
		"CenterCropPad".into()
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
		s.equals(&inputs[0].rank, &outputs[0].rank)?;
		s.equals(&inputs[1].rank, 1)?;
		s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, sizes| {
			let mut output = shape.clone();
			for (axis, size) in self.sizes(shape.len(), &sizes)? {
				output[axis] = size.to_dim();
			}
			s.equals(&outputs[0].shape, output)
		})
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		let sizes = constant_input(model, inputs[1], "CenterCropPad's shape")?;
		let fact = model.outlet_fact(inputs[0])?.clone();
		let shape = known_dims(&fact.shape, "CenterCropPad")?;
		let sizes = self.sizes(shape.len(), &sizes)?;
		let mut output = shape.clone();
		for &(axis, size) in &sizes {
			output[axis] = size;
		}
		checked_count(&output, "CenterCropPad")?;
		let mut wire = inputs[0];
		let mut pads = vec![(0, 0); shape.len()];
		for (axis, size) in sizes {
			let dim = shape[axis];
			if dim > size {
				let start = (dim - size) / 2;
				wire =
					model.wire_node(format!("{prefix}.crop_{axis}"), Slice::new(axis, start, start + size), &[wire])?
						[0];
			} else if dim < size {
				let before = (size - dim) / 2;
				pads[axis] = (before, size - dim - before);
			}
		}
		if pads.iter().any(|&(before, after)| before + after > 0) {
			let zero = Tensor::zero_scalar_dt(fact.datum_type)?.into_arc_tensor();
			wire = model.wire_node(format!("{prefix}.pad"), Pad::new(pads, PadMode::Constant(zero)), &[wire])?[0];
		}
		Ok(tvec!(wire))
	}
}
