//! `Pad` in `wrap` mode (opset 19): each padded axis continues its input periodically, as
//! numpy's `wrap` does (the ONNX reference's): before the data, its last `before mod dim`
//! elements and then `before / dim` whole copies; after it, `after / dim` whole copies and then
//! its first `after mod dim` elements. Wired as tract's `Slice` and `Concat` along each axis:
//! data movement alone, any element type, the same bits everywhere. The pads (and axes) must be
//! constants of the model (initializers, or inputs pinned with `veriml-node infer --pin`). Every
//! other mode is tract's own `Pad`.

use tract_onnx::{
	model::{optional_inputs, ParsingContext},
	pb::NodeProto,
	tract_core::ops::array::{Slice, TypedConcat},
	tract_hir::internal::*,
};

use super::{checked_count, constant_input, inferred_shape, known_dims, tract_builder};

/// `Pad` in `wrap` mode: where its optional `axes` input is.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct WrapPad {
	axes_input: Option<usize>,
	input_count: usize,
}

/// Builds the op for an ONNX `Pad` node: tract's, but in `wrap` mode.
pub fn pad(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	if node.get_attr_opt::<&str>("mode")? != Some("wrap") {
		let tract = tract_builder("Pad").context("tract's Pad")?;
		return tract(ctx, node);
	}
	if ctx.onnx_operator_set_version < 19 {
		bail!("Pad's wrap mode arrives with opset 19")
	}
	let mut optional = optional_inputs(node).skip(3);
	let axes_input = optional.next().flatten();
	let input_count = node.input.iter().filter(|name| !name.is_empty()).count();
	Ok((expand(WrapPad { axes_input, input_count }), vec![]))
}

impl WrapPad {
	/// (before, after) of each axis of an input of `rank`, from the `pads` (and `axes`) values.
	fn pads(&self, rank: usize, pads: &Tensor, axes: Option<&Tensor>) -> TractResult<Vec<(usize, usize)>> {
		let pads = pads.cast_to::<i64>()?;
		let pads = pads.try_as_plain_ram()?.as_slice::<i64>()?;
		let axes: Vec<i64> = match axes {
			Some(axes) => axes.cast_to::<i64>()?.try_as_plain_ram()?.as_slice::<i64>()?.to_vec(),
			None => (0..rank as i64).collect(),
		};
		if pads.len() != 2 * axes.len() {
			bail!("Pad: {} pads for {} axes", pads.len(), axes.len())
		}
		let mut per_axis = vec![(0, 0); rank];
		for (index, &axis) in axes.iter().enumerate() {
			let axis = if axis < 0 { axis + rank as i64 } else { axis };
			let (before, after) = (pads[index], pads[index + axes.len()]);
			match (usize::try_from(before), usize::try_from(after)) {
				(Ok(before), Ok(after)) if (0..rank as i64).contains(&axis) => {
					per_axis[axis as usize] = (before, after)
				},
				_ => bail!("Pad in wrap mode: axis {axis} of rank {rank}, pads {before} and {after}"),
			}
		}
		Ok(per_axis)
	}

	/// The output's shape for an input of `shape`.
	fn output_shape(shape: &[usize], pads: &[(usize, usize)]) -> TractResult<Vec<usize>> {
		let output = shape
			.iter()
			.zip(pads)
			.map(|(dim, (before, after))| dim.checked_add(*before)?.checked_add(*after))
			.collect::<Option<Vec<_>>>()
			.context("Pad: the output's size overflows")?;
		if shape.iter().zip(pads).any(|(dim, (before, after))| *dim == 0 && before + after > 0) {
			bail!("Pad in wrap mode of an empty axis")
		}
		checked_count(&output, "Pad")?;
		Ok(output)
	}
}

impl Expansion for WrapPad {
	fn name(&self) -> StaticName {
		"Pad".into()
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		check_input_arity(inputs, self.input_count)?;
		check_output_arity(outputs, 1)?;
		s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
		s.equals(&inputs[0].rank, &outputs[0].rank)?;
		s.equals(&inputs[1].rank, 1)?;
		let shape_of = move |s: &mut Solver<'r>, shape: TVec<TDim>, pads: Arc<Tensor>, axes: Option<Arc<Tensor>>| {
			let shape = known_dims(&shape, "Pad")?;
			let pads = self.pads(shape.len(), &pads, axes.as_deref())?;
			s.equals(&outputs[0].shape, inferred_shape(&WrapPad::output_shape(&shape, &pads)?))
		};
		match self.axes_input {
			Some(axes) => {
				s.given_3(&inputs[0].shape, &inputs[1].value, &inputs[axes].value, move |s, shape, pads, axes| {
					shape_of(s, shape, pads, Some(axes))
				})
			},
			None => s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, pads| shape_of(s, shape, pads, None)),
		}
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		let pads = constant_input(model, inputs[1], "Pad's pads")?;
		let axes = match self.axes_input {
			Some(axes) => Some(constant_input(model, inputs[axes], "Pad's axes")?),
			None => None,
		};
		let shape = known_dims(&model.outlet_fact(inputs[0])?.shape, "Pad")?;
		let pads = self.pads(shape.len(), &pads, axes.as_deref())?;
		WrapPad::output_shape(&shape, &pads)?;
		let mut wire = inputs[0];
		for (axis, (&dim, &(before, after))) in shape.iter().zip(&pads).enumerate() {
			if before + after == 0 {
				continue;
			}
			let name = |what: &str| format!("{prefix}.wrap_{axis}_{what}");
			let mut pieces = tvec!();
			if before % dim > 0 {
				pieces.push(model.wire_node(name("before"), Slice::new(axis, dim - before % dim, dim), &[wire])?[0]);
			}
			pieces.extend(std::iter::repeat_n(wire, before / dim + 1 + after / dim));
			if after % dim > 0 {
				pieces.push(model.wire_node(name("after"), Slice::new(axis, 0, after % dim), &[wire])?[0]);
			}
			wire = model.wire_node(name("concat"), TypedConcat { axis }, &pieces)?[0];
		}
		Ok(tvec!(wire))
	}
}
