//! `LpPool` (opsets 2, 11, 18): over each window of the spatial axes of [N, C, D1, …, Dk],
//! `(Σ |x|^p)^(1/p)` of the window's elements inside the input (padding adds nothing), as
//! onnxruntime computes it: f32, elements in window order (the first spatial axis outermost),
//! `powf` of the guest's libm. Windows as in the other pools: `kernel_shape`, `strides`,
//! `dilations`, explicit `pads` or `auto_pad` (`SAME_UPPER`, `SAME_LOWER`, `VALID`), `ceil_mode`.

use tract_onnx::{model::ParsingContext, pb::NodeProto, tract_hir::internal::*};

use super::f32_shapes;
use crate::expansion::{Expanded, Rules};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Padding {
	/// Begins of every spatial axis, then ends.
	Explicit(Vec<usize>),
	SameUpper,
	SameLower,
	Valid,
}

/// `LpPool` with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LpPool {
	kernel: Vec<usize>,
	strides: Vec<usize>,
	dilations: Vec<usize>,
	padding: Padding,
	ceil_mode: bool,
	p: i64,
}

/// Builds the op for an ONNX `LpPool` node.
pub fn lp_pool(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
	let positive = |name: &str, values: Vec<i64>| -> TractResult<Vec<usize>> {
		values
			.into_iter()
			.map(|v| usize::try_from(v).ok().filter(|v| *v > 0).with_context(|| format!("{name} must be positive")))
			.collect()
	};
	let kernel = positive("kernel_shape", node.get_attr_vec::<i64>("kernel_shape")?)?;
	let k = kernel.len();
	let ones = || vec![1i64; k];
	let strides = positive("strides", node.get_attr_opt_vec::<i64>("strides")?.unwrap_or_else(ones))?;
	let dilations = positive("dilations", node.get_attr_opt_vec::<i64>("dilations")?.unwrap_or_else(ones))?;
	let padding = match node.get_attr_opt::<&str>("auto_pad")?.unwrap_or("NOTSET") {
		"NOTSET" => {
			let pads = node.get_attr_opt_vec::<i64>("pads")?.unwrap_or_else(|| vec![0; 2 * k]);
			let pads = pads
				.into_iter()
				.map(|v| usize::try_from(v).context("pads must not be negative"))
				.collect::<TractResult<Vec<_>>>()?;
			Padding::Explicit(pads)
		},
		"SAME_UPPER" => Padding::SameUpper,
		"SAME_LOWER" => Padding::SameLower,
		"VALID" => Padding::Valid,
		other => bail!("unknown auto_pad {other}"),
	};
	if strides.len() != k || dilations.len() != k || matches!(&padding, Padding::Explicit(p) if p.len() != 2 * k) {
		bail!("strides, dilations and pads do not fit a kernel of {k} axes")
	}
	let p = node.get_attr_opt::<i64>("p")?.unwrap_or(2);
	if p < 1 {
		bail!("LpPool's p must be positive, got {p}")
	}
	let ceil_mode = node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) != 0;
	kernel.iter().try_fold(1usize, |size, k| size.checked_mul(*k)).context("the kernel's window overflows")?;
	Ok((expand(Expanded(LpPool { kernel, strides, dilations, padding, ceil_mode, p })), vec![]))
}

impl LpPool {
	/// For each spatial axis of `spatial` sizes: (output size, padding before).
	fn geometry(&self, spatial: &[usize]) -> TractResult<Vec<(usize, usize)>> {
		if spatial.len() != self.kernel.len() {
			bail!("a kernel of {} axes over {} spatial axes", self.kernel.len(), spatial.len())
		}
		(0..spatial.len())
			.map(|i| {
				let (len, stride) = (spatial[i], self.strides[i]);
				let window = (self.kernel[i] - 1)
					.checked_mul(self.dilations[i])
					.and_then(|w| w.checked_add(1))
					.context("the window overflows")?;
				Ok(match &self.padding {
					Padding::Explicit(pads) => {
						let (before, after) = (pads[i], pads[spatial.len() + i]);
						let total =
							len.checked_add(before).and_then(|t| t.checked_add(after)).context("pads overflow")?;
						let span = total.checked_sub(window).context("the window is larger than the padded input")?;
						let mut out = if self.ceil_mode { span.div_ceil(stride) } else { span / stride } + 1;
						// A last window starting in the end padding is dropped, as onnxruntime does.
						if self.ceil_mode && (out - 1).checked_mul(stride).is_some_and(|start| start >= len + before) {
							out -= 1;
						}
						(out, before)
					},
					Padding::SameUpper | Padding::SameLower => {
						let out = len.div_ceil(stride);
						let reach = (out.max(1) - 1)
							.checked_mul(stride)
							.and_then(|start| start.checked_add(window))
							.context("the window overflows")?;
						let total = reach.saturating_sub(len);
						let before = if self.padding == Padding::SameUpper { total / 2 } else { total - total / 2 };
						(out, before)
					},
					Padding::Valid => {
						(len.checked_sub(window).context("the window is larger than the input")? / stride + 1, 0)
					},
				})
			})
			.collect()
	}

	/// The output's shape for an input of `shape`, and the spatial axes' [`Self::geometry`].
	fn layout(&self, shape: &[usize]) -> TractResult<(TVec<usize>, Vec<(usize, usize)>)> {
		if shape.len() < 3 {
			bail!("LpPool takes [N, C, D1, …], got rank {}", shape.len())
		}
		let geometry = self.geometry(&shape[2..])?;
		let mut output: TVec<usize> = shape[..2].into();
		for (out, before) in &geometry {
			// A window's positions, `before` padding and all, must be addressable too.
			before.checked_add(*out).context("LpPool's output overflows")?;
			output.push(*out);
		}
		output.iter().try_fold(1usize, |size, dim| size.checked_mul(*dim)).context("LpPool's output overflows")?;
		Ok((output, geometry))
	}

	fn eval_one(&self, input: &Tensor) -> TractResult<Tensor> {
		let shape = input.shape();
		let (output_shape, geometry) = self.layout(shape)?;
		let spatial = &shape[2..];
		let values = input.try_as_plain_ram()?.as_slice::<f32>()?;
		let (plane, out_plane) = (spatial.iter().product::<usize>(), output_shape[2..].iter().product::<usize>());
		let window: usize = self.kernel.iter().product();
		let (p, root) = (self.p as f32, 1.0 / self.p as f32);
		let mut output = Vec::with_capacity(shape[0] * shape[1] * out_plane);
		let (mut at, mut offset) = (vec![0usize; spatial.len()], vec![0usize; spatial.len()]);
		for channel in values.chunks_exact(plane.max(1)).take(shape[0] * shape[1]) {
			for o in 0..out_plane {
				// This output's position on each spatial axis, the last fastest.
				let mut rest = o;
				for axis in (0..spatial.len()).rev() {
					at[axis] = rest % geometry[axis].0;
					rest /= geometry[axis].0;
				}
				let mut sum = 0f32;
				for w in 0..window {
					let mut rest = w;
					for axis in (0..spatial.len()).rev() {
						offset[axis] = rest % self.kernel[axis];
						rest /= self.kernel[axis];
					}
					let mut index = 0usize;
					let mut inside = true;
					for axis in 0..spatial.len() {
						let position = (at[axis] * self.strides[axis] + offset[axis] * self.dilations[axis])
							.checked_sub(geometry[axis].1)
							.filter(|position| *position < spatial[axis]);
						match position {
							Some(position) => index = index * spatial[axis] + position,
							None => inside = false,
						}
					}
					if inside {
						sum += channel[index].abs().powf(p);
					}
				}
				output.push(sum.powf(root));
			}
		}
		Tensor::from_shape(&output_shape, &output)
	}
}

impl Rules for LpPool {
	fn arity(&self) -> (usize, usize) {
		(1, 1)
	}

	fn rules<'r, 'p: 'r, 's: 'r>(
		&'s self,
		s: &mut Solver<'r>,
		inputs: &'p [TensorProxy],
		outputs: &'p [TensorProxy],
	) -> InferenceResult {
		s.equals(&inputs[0].datum_type, f32::datum_type())?;
		s.equals(&outputs[0].datum_type, f32::datum_type())?;
		s.given(&inputs[0].shape, move |s, shape| {
			let shape = shape.iter().map(|d| Ok(d.to_usize()?)).collect::<TractResult<Vec<usize>>>()?;
			let (output, _) = self.layout(&shape)?;
			s.equals(&outputs[0].shape, output.iter().map(|d| d.to_dim()).collect::<TVec<_>>())
		})
	}
}

one_input_op!(LpPool, "LpPool");

impl TypedOp for LpPool {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		let shapes = f32_shapes(inputs, "LpPool")?;
		Ok(tvec!(f32::fact(&self.layout(shapes[0])?.0)))
	}
}
