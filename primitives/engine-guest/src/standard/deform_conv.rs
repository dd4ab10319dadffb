//! `DeformConv` (opsets 19, 22) over 2D images, as the ONNX reference computes it: each kernel
//! tap of each output position samples its input channel at the tap's position plus a learnt
//! offset, bilinearly (corners outside the image count 0), times an optional mask, then the
//! products with the weights are summed over the group's channels and the taps, plus the bias.
//! All in f64 in a fixed order (channels outermost, then the kernel's rows and columns), rounded
//! to f32 once per output element; a position that is not finite samples NaN.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::{f32_shapes, input_slots};
use crate::expansion::{Expanded, Rules};

/// `DeformConv` with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeformConv {
	/// The kernel's (rows, columns) if given; else the weights' last two axes.
	kernel: Option<[usize; 2]>,
	strides: [usize; 2],
	dilations: [usize; 2],
	/// Top, left, bottom, right.
	pads: [usize; 4],
	group: usize,
	offset_group: usize,
	/// Where the optional bias and mask are among the node's inputs.
	bias: Option<usize>,
	mask: Option<usize>,
	inputs: usize,
}

/// Builds the op for an ONNX `DeformConv` node.
pub fn deform_conv(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let slots = input_slots(node, 3, 5, "DeformConv takes X, W, offset and an optional bias and mask")?;
	let pair = |name: &str, default: i64| -> TractResult<[usize; 2]> {
		let values = node.get_attr_opt_vec::<i64>(name)?.unwrap_or_else(|| vec![default; 2]);
		let values: Vec<usize> = values
			.into_iter()
			.map(|v| usize::try_from(v).ok().filter(|v| *v > 0).with_context(|| format!("{name} must be positive")))
			.collect::<TractResult<_>>()?;
		values.try_into().map_err(|_| format_err!("DeformConv is implemented for 2D images: {name} has two values"))
	};
	let kernel = match node.get_attr_opt_vec::<i64>("kernel_shape")? {
		Some(_) => Some(pair("kernel_shape", 1)?),
		None => None,
	};
	let pads = node.get_attr_opt_vec::<i64>("pads")?.unwrap_or_else(|| vec![0; 4]);
	let pads: Vec<usize> = pads
		.into_iter()
		.map(|v| usize::try_from(v).context("pads must not be negative"))
		.collect::<TractResult<_>>()?;
	let pads: [usize; 4] = pads.try_into().map_err(|_| format_err!("DeformConv's pads has four values (2D)"))?;
	let positive = |name: &str| -> TractResult<usize> {
		usize::try_from(node.get_attr_opt::<i64>(name)?.unwrap_or(1))
			.ok()
			.filter(|v| *v > 0)
			.with_context(|| format!("{name} must be positive"))
	};
	Ok((
		expand(Expanded(DeformConv {
			kernel,
			strides: pair("strides", 1)?,
			dilations: pair("dilations", 1)?,
			pads,
			group: positive("group")?,
			offset_group: positive("offset_group")?,
			bias: slots[3],
			mask: slots[4],
			inputs: node.input.iter().filter(|name| !name.is_empty()).count(),
		})),
		vec![],
	))
}

/// What the shapes of the inputs say, checked against each other.
struct Layout {
	batch: usize,
	channels: usize,
	image: [usize; 2],
	out_channels: usize,
	kernel: [usize; 2],
	out: [usize; 2],
}

impl DeformConv {
	/// Checks the inputs' shapes (`shapes[i]` of input `i`) and returns the geometry.
	fn layout(&self, shapes: &[&[usize]]) -> TractResult<Layout> {
		let (x, w, offset) = (shapes[0], shapes[1], shapes[2]);
		if x.len() != 4 || w.len() != 4 || offset.len() != 4 {
			bail!("DeformConv is implemented for 2D images: X, W and offset of rank 4")
		}
		let (batch, channels, out_channels) = (x[0], x[1], w[0]);
		let kernel = self.kernel.unwrap_or([w[2], w[3]]);
		if kernel != [w[2], w[3]] {
			bail!("kernel_shape {kernel:?} is not the weights' {:?}", &w[2..])
		}
		if w[1].checked_mul(self.group) != Some(channels) || out_channels % self.group != 0 {
			bail!("{channels} input and {out_channels} output channels do not fit {} groups of {}", self.group, w[1])
		}
		if channels % self.offset_group != 0 {
			bail!("{channels} input channels do not fit {} offset groups", self.offset_group)
		}
		let mut out = [0usize; 2];
		for axis in 0..2 {
			let reach = (kernel[axis].max(1) - 1)
				.checked_mul(self.dilations[axis])
				.and_then(|r| r.checked_add(1))
				.context("the kernel's reach overflows")?;
			let padded = x[2 + axis]
				.checked_add(self.pads[axis])
				.and_then(|p| p.checked_add(self.pads[2 + axis]))
				.context("pads overflow")?;
			out[axis] = padded.checked_sub(reach).context("the kernel is larger than the padded image")?
				/ self.strides[axis]
				+ 1;
		}
		let taps = self.offset_group.checked_mul(kernel[0]).and_then(|t| t.checked_mul(kernel[1]));
		let taps = taps.context("the offsets' channels overflow")?;
		if offset != [batch, taps.checked_mul(2).context("the offsets' channels overflow")?, out[0], out[1]] {
			bail!("offset {offset:?} does not fit {batch} images of {out:?} positions, {taps} taps")
		}
		if let Some(bias) = self.bias {
			if shapes[bias] != [out_channels] {
				bail!("a bias of shape {:?} for {out_channels} output channels", shapes[bias])
			}
		}
		if let Some(mask) = self.mask {
			if shapes[mask] != [batch, taps, out[0], out[1]] {
				bail!("mask {:?} does not fit {batch} images of {out:?} positions, {taps} taps", shapes[mask])
			}
		}
		[batch, out_channels, out[0], out[1]]
			.iter()
			.try_fold(1usize, |size, dim| size.checked_mul(*dim))
			.context("DeformConv's output overflows")?;
		Ok(Layout { batch, channels, image: [x[2], x[3]], out_channels, kernel, out })
	}

	fn eval_inputs(&self, inputs: &[TValue]) -> TractResult<TVec<TValue>> {
		let shapes: Vec<&[usize]> = inputs.iter().map(|input| input.shape()).collect();
		let Layout { batch, channels, image: [height, width], out_channels, kernel: [kh, kw], out: [oh, ow] } =
			self.layout(&shapes)?;
		let floats = |i: usize| -> TractResult<&[f32]> { inputs[i].try_as_plain_ram()?.as_slice::<f32>() };
		let (x, w, offset) = (floats(0)?, floats(1)?, floats(2)?);
		let bias = self.bias.map(floats).transpose()?;
		let mask = self.mask.map(floats).transpose()?;
		let (per_group, out_per_group) = (channels / self.group, out_channels / self.group);
		let per_offset_group = channels / self.offset_group;
		let positions = oh * ow;
		let taps = self.offset_group * kh * kw;
		// The image's value at (row, column), 0 outside it.
		let pixel = |plane: &[f32], row: f64, column: f64| -> f64 {
			if row < 0.0 || column < 0.0 || row >= height as f64 || column >= width as f64 {
				0.0
			} else {
				f64::from(plane[row as usize * width + column as usize])
			}
		};
		let mut output = Vec::with_capacity(batch * out_channels * positions);
		for n in 0..batch {
			for o in 0..out_channels {
				let group = o / out_per_group;
				for position in 0..positions {
					let (i, j) = (position / ow, position % ow);
					let mut sum = bias.map_or(0.0, |b| f64::from(b[o]));
					for c in group * per_group..(group + 1) * per_group {
						let plane = &x[(n * channels + c) * height * width..][..height * width];
						let offset_group = c / per_offset_group;
						for (ki, kj) in (0..kh).flat_map(|ki| (0..kw).map(move |kj| (ki, kj))) {
							let tap = (offset_group * kh + ki) * kw + kj;
							let at = |channel: usize| (n * 2 * taps + channel) * positions + position;
							let row = (i * self.strides[0] + ki * self.dilations[0]) as f64 - self.pads[0] as f64
								+ f64::from(offset[at(2 * tap)]);
							let column = (j * self.strides[1] + kj * self.dilations[1]) as f64 - self.pads[1] as f64
								+ f64::from(offset[at(2 * tap + 1)]);
							let sample = if !row.is_finite() || !column.is_finite() {
								f64::NAN
							} else {
								let (top, left) = (row.floor(), column.floor());
								let (down, right) = (row - top, column - left);
								(1.0 - down)
									* ((1.0 - right) * pixel(plane, top, left) + right * pixel(plane, top, left + 1.0))
									+ down
										* ((1.0 - right) * pixel(plane, top + 1.0, left)
											+ right * pixel(plane, top + 1.0, left + 1.0))
							};
							let weight = f64::from(w[((o * per_group + c - group * per_group) * kh + ki) * kw + kj]);
							let scale = mask.map_or(1.0, |m| f64::from(m[(n * taps + tap) * positions + position]));
							sum += sample * weight * scale;
						}
					}
					output.push(sum as f32);
				}
			}
		}
		Ok(tvec!(Tensor::from_shape(&[batch, out_channels, oh, ow], &output)?.into_tvalue()))
	}
}

impl Rules for DeformConv {
	fn arity(&self) -> (usize, usize) {
		(self.inputs, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		for input in inputs {
			s.equals(&input.datum_type, f32::datum_type())?;
		}
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.equals(&outputs[0].rank, 4)?;
		// The output is [X's images, W's output channels, offset's positions]; any other rank is
		// refused before an axis is read.
		s.given_3(&inputs[0].shape, &inputs[1].shape, &inputs[2].shape, move |s, x, w, offset| {
			if x.len() != 4 || w.len() != 4 || offset.len() != 4 {
				bail!("DeformConv is implemented for 2D images: X, W and offset of rank 4")
			}
			s.equals(&outputs[0].shape, tvec![x[0].clone(), w[0].clone(), offset[2].clone(), offset[3].clone()])
		})
	}
}

eval_op!(DeformConv, |_op| "DeformConv", |op, inputs| op.eval_inputs(inputs));

impl TypedOp for DeformConv {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "DeformConv")?;
		let layout = self.layout(&shapes)?;
		Ok(tvec!(f32::fact([layout.batch, layout.out_channels, layout.out[0], layout.out[1]])))
	}
}
