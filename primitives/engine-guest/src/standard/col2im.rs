//! `Col2Im` (opset 18): rearranges the columns of sliding blocks back into an image of any
//! number of spatial axes, summing overlaps, as the ONNX reference does (PyTorch's `fold`). Its
//! `image_shape` and `block_shape` must be constants of the model (initializers, or inputs
//! pinned with `veriml-node infer --pin`): they decide the output's shape. f32; each image
//! element sums its contributions in f32 from 0, in the reference's order (block offsets in
//! row-major order, then block positions): the same bits on every node.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{checked_count, constant_input, f32_shapes, inferred_shape, known_dims};

/// `Col2Im`'s attributes as the node gives them (one per spatial axis; pads begin then end).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct Col2ImAttributes {
	dilations: Option<Vec<i64>>,
	pads: Option<Vec<i64>>,
	strides: Option<Vec<i64>>,
}

/// `Col2Im` of fixed image and block shapes: the typed op.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct Col2Im {
	image: Vec<usize>,
	block: Vec<usize>,
	dilations: Vec<usize>,
	pads_begin: Vec<usize>,
	strides: Vec<usize>,
	/// Block positions along each spatial axis.
	positions: Vec<usize>,
	/// Elements of a block, and block positions, in all.
	elements: usize,
	position_count: usize,
}

/// Builds the op for an ONNX `Col2Im` node.
pub fn col2im(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let read = |name: &str| -> TractResult<Option<Vec<i64>>> {
		Ok(node.get_attr_opt_tvec::<i64>(name)?.map(|v| v.into_vec()))
	};
	let attributes = Col2ImAttributes { dilations: read("dilations")?, pads: read("pads")?, strides: read("strides")? };
	Ok((expand(attributes), vec![]))
}

/// Non-negative sizes from an integer tensor.
fn sizes(tensor: &Tensor, what: &str) -> TractResult<Vec<usize>> {
	let values = tensor.cast_to::<i64>()?;
	values
		.try_as_plain_ram()?
		.as_slice::<i64>()?
		.iter()
		.map(|&v| usize::try_from(v).map_err(|_| format_err!("Col2Im: negative {what} {v}")))
		.collect()
}

impl Col2ImAttributes {
	/// The typed op for these image and block shapes.
	fn op(&self, image: &Tensor, block: &Tensor) -> TractResult<Col2Im> {
		let (image, block) = (sizes(image, "image size")?, sizes(block, "block size")?);
		let axes = image.len();
		if axes == 0 || block.len() != axes || block.contains(&0) {
			bail!("Col2Im: image shape {image:?} and block shape {block:?}")
		}
		let attribute =
			|values: &Option<Vec<i64>>, count: usize, default: i64, what: &str| -> TractResult<Vec<usize>> {
				let values = values.clone().unwrap_or_else(|| vec![default; count]);
				if values.len() != count {
					bail!("Col2Im: {} {what} for {axes} spatial axes", values.len())
				}
				sizes(&tensor1(&values), what)
			};
		let dilations = attribute(&self.dilations, axes, 1, "dilations")?;
		let pads = attribute(&self.pads, 2 * axes, 0, "pads")?;
		let strides = attribute(&self.strides, axes, 1, "strides")?;
		if dilations.contains(&0) || strides.contains(&0) {
			bail!("Col2Im: a dilation or stride of 0")
		}
		let positions = (0..axes)
			.map(|d| {
				let span = dilations[d].checked_mul(block[d] - 1).and_then(|s| s.checked_add(1));
				let padded = image[d].checked_add(pads[d]).and_then(|p| p.checked_add(pads[axes + d]));
				let (Some(span), Some(padded)) = (span, padded) else { bail!("Col2Im: sizes overflow on axis {d}") };
				if padded < span {
					bail!("Col2Im: the block does not fit the padded image on axis {d}")
				}
				Ok((padded - span) / strides[d] + 1)
			})
			.collect::<TractResult<Vec<_>>>()?;
		let product = |sizes: &[usize]| sizes.iter().try_fold(1usize, |all, size| all.checked_mul(*size));
		let (Some(elements), Some(position_count), Some(_pixels)) =
			(product(&block), product(&positions), product(&image))
		else {
			bail!("Col2Im: sizes overflow")
		};
		Ok(Col2Im {
			image,
			block,
			dilations,
			pads_begin: pads[..axes].to_vec(),
			strides,
			positions,
			elements,
			position_count,
		})
	}
}

impl Col2Im {
	/// The output's shape for an input of `shape`: [N, C, image…], where the input is
	/// [N, C · blocks elements, block positions].
	fn output_shape(&self, shape: &[usize]) -> TractResult<Vec<usize>> {
		let (elements, positions) = (self.elements, self.position_count);
		if shape.len() != 3 || !shape[1].is_multiple_of(elements) || shape[2] != positions {
			bail!("Col2Im takes [N, C·{elements}, {positions}], got {shape:?}")
		}
		let output = [&[shape[0], shape[1] / elements][..], &self.image].concat();
		checked_count(&output, "Col2Im")?;
		Ok(output)
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let shape = self.output_shape(input.shape())?;
		let columns = input.try_as_plain_ram()?.as_slice::<f32>()?;
		let (elements, positions) = (self.elements, self.position_count);
		let pixels: usize = self.image.iter().product();
		let axes = self.image.len();
		let mut image = vec![0f32; shape.iter().product()];
		let (mut offset, mut position) = (vec![0usize; axes], vec![0usize; axes]);
		for plane in 0..shape[0] * shape[1] {
			let (out, cols) = (plane * pixels, plane * elements * positions);
			for element in 0..elements {
				unravel(element, &self.block, &mut offset);
				for at in 0..positions {
					unravel(at, &self.positions, &mut position);
					let mut pixel = 0usize;
					let mut inside = true;
					for d in 0..axes {
						let coordinate = (position[d] * self.strides[d] + offset[d] * self.dilations[d]) as isize
							- self.pads_begin[d] as isize;
						if coordinate < 0 || coordinate as usize >= self.image[d] {
							inside = false;
							break;
						}
						pixel = pixel * self.image[d] + coordinate as usize;
					}
					if inside {
						image[out + pixel] += columns[cols + element * positions + at];
					}
				}
			}
		}
		Tensor::from_shape(&shape, &image)
	}
}

/// The row-major multi-index of `index` in `dims`.
fn unravel(mut index: usize, dims: &[usize], into: &mut [usize]) {
	for d in (0..dims.len()).rev() {
		into[d] = index % dims[d];
		index /= dims[d];
	}
}

impl Expansion for Col2ImAttributes {
	fn name(&self) -> StaticName {
		"Col2Im".into()
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		check_input_arity(inputs, 3)?;
		check_output_arity(outputs, 1)?;
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.equals(&inputs[0].rank, 3)?;
		s.given_3(&inputs[0].shape, &inputs[1].value, &inputs[2].value, move |s, shape, image, block| {
			let output = self.op(&image, &block)?.output_shape(&known_dims(&shape, "Col2Im")?)?;
			s.equals(&outputs[0].shape, inferred_shape(&output))
		})
	}

	fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
		let image = constant_input(model, inputs[1], "Col2Im's image_shape")?;
		let block = constant_input(model, inputs[2], "Col2Im's block_shape")?;
		let op = self.op(&image, &block)?;
		model.wire_node(prefix, op, &inputs[..1])
	}
}

one_input_op!(Col2Im, "Col2Im");

impl TypedOp for Col2Im {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "Col2Im")?;
		Ok(tvec!(f32::fact(&self.output_shape(shapes[0])?)))
	}
}
