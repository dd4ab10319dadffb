//! `AffineGrid` (opset 20): the sampling grid of a batch of affine transforms, 2D ([N, 2, 3]
//! matrices, a grid [N, H, W, 2]) or 3D ([N, 3, 4], [N, D, H, W, 3]), as the ONNX reference
//! computes it: each base coordinate in f64 (`-1 + i · 2 / (S - 1)` with `align_corners`,
//! `-1 + 1 / S + i · 2 / S` without), each grid value the f64 sum, left to right, of the
//! matrix row's f32 entries times (x, y[, z], 1), rounded to f32 once: the same bits on every
//! node. Its `size` ([N, C, H, W] or [N, C, D, H, W]) must be a constant of the model (an
//! initializer, or an input pinned with `veriml-node infer --pin`): it decides the grid's shape.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{checked_count, constant_input, f32_shapes, inferred_shape, known_dims};

/// `AffineGrid`'s attribute as the node gives it.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct AffineGridAttributes {
	align_corners: bool,
}

/// `AffineGrid` of a fixed size: the typed op.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct AffineGrid {
	/// The spatial sizes, outermost first: [H, W] or [D, H, W].
	spatial: Vec<usize>,
	align_corners: bool,
}

/// Builds the op for an ONNX `AffineGrid` node.
pub fn affine_grid(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let align_corners = node.get_attr_opt::<i64>("align_corners")?.unwrap_or(0) != 0;
	Ok((expand(AffineGridAttributes { align_corners }), vec![]))
}

impl AffineGridAttributes {
	/// The typed op for a `size` tensor.
	fn op(&self, size: &Tensor) -> TractResult<AffineGrid> {
		let size = size.cast_to::<i64>()?;
		let size = size.try_as_plain_ram()?.as_slice::<i64>()?;
		if size.len() != 4 && size.len() != 5 {
			bail!("AffineGrid takes a size of 4 or 5 values, got {}", size.len())
		}
		let spatial = size[2..]
			.iter()
			.map(|&s| usize::try_from(s).map_err(|_| format_err!("AffineGrid: a negative size {s}")))
			.collect::<TractResult<Vec<_>>>()?;
		Ok(AffineGrid { spatial, align_corners: self.align_corners })
	}
}

impl AffineGrid {
	/// The grid's shape for matrices of `shape` ([N, k, k + 1], k the spatial axes).
	fn output_shape(&self, shape: &[usize]) -> TractResult<Vec<usize>> {
		let k = self.spatial.len();
		if shape.len() != 3 || shape[1] != k || shape[2] != k + 1 {
			bail!("AffineGrid of {k} spatial axes takes [N, {k}, {}] matrices, got {shape:?}", k + 1)
		}
		let output = [&[shape[0]][..], &self.spatial, &[k]].concat();
		checked_count(&output, "AffineGrid")?;
		Ok(output)
	}

	/// The base coordinate of index `i` on an axis of `size` points.
	fn coordinate(&self, i: usize, size: usize) -> f64 {
		if self.align_corners {
			if size == 1 {
				return -1.0;
			}
			-1.0 + i as f64 * (2.0 / (size - 1) as f64)
		} else {
			let step = 2.0 / size as f64;
			-1.0 + step / 2.0 + i as f64 * step
		}
	}

	fn eval_one(&self, theta: &Tensor) -> TractResult<Tensor> {
		let shape = self.output_shape(theta.shape())?;
		let theta = theta.try_as_plain_ram()?.as_slice::<f32>()?;
		let k = self.spatial.len();
		let points: usize = self.spatial.iter().product();
		let mut grid = Vec::with_capacity(shape.iter().product());
		// (x, y[, z], 1): x runs along the innermost axis.
		let mut homogeneous = vec![1f64; k + 1];
		let mut index = vec![0usize; k];
		for matrix in theta.chunks_exact(k * (k + 1)) {
			for point in 0..points {
				let mut rest = point;
				for axis in (0..k).rev() {
					index[axis] = rest % self.spatial[axis];
					rest /= self.spatial[axis];
				}
				for (coordinate, axis) in (0..k).rev().enumerate() {
					homogeneous[coordinate] = self.coordinate(index[axis], self.spatial[axis]);
				}
				for row in matrix.chunks_exact(k + 1) {
					let mut sum = 0f64;
					for (entry, value) in row.iter().zip(&homogeneous) {
						sum += f64::from(*entry) * value;
					}
					grid.push(sum as f32);
				}
			}
		}
		Tensor::from_shape(&shape, &grid)
	}
}

impl Expansion for AffineGridAttributes {
	fn name(&self) -> StaticName {
		"AffineGrid".into()
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		check_input_arity(inputs, 2)?;
		check_output_arity(outputs, 1)?;
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.equals(&inputs[0].rank, 3)?;
		s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, size| {
			let output = self.op(&size)?.output_shape(&known_dims(&shape, "AffineGrid")?)?;
			s.equals(&outputs[0].shape, inferred_shape(&output))
		})
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		let size = constant_input(model, inputs[1], "AffineGrid's size")?;
		let op = self.op(&size)?;
		model.wire_node(prefix, op, &inputs[..1])
	}
}

one_input_op!(AffineGrid, "AffineGrid");

impl TypedOp for AffineGrid {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "AffineGrid")?;
		Ok(tvec!(f32::fact(&self.output_shape(shapes[0])?)))
	}
}
