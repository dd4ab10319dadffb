//! tract's `OptMaxPool` run by the host, with tract's bits.
//!
//! Max pooling in wasm took 17 % of SqueezeNet's run and 12 % of Inception v1's
//! (`scripts/profile-engine.sh`): a load, a comparison and a select per tap, four lanes at a
//! time at best. After tract has optimised a model, [`on_host`] replaces each `OptMaxPool` of a
//! 2-D channels-first pool without an index output by [`HostMaxPool`], which hands an f32 input
//! to the host (`veriml.run_max_pool`), where the engine's `max_pool_f32` computes every element
//! from the same taps, in the same order, with the same comparison as tract's "row spans" walk. Pools tract
//! walks otherwise (2×2 undilated, which take tract's own 2×2 path; other layouts; other types)
//! stay tract's. [`check`] runs random pools through tract's code in wasm and through the host
//! and counts the differences; the node runs it at start-up.

use tract_onnx::{
	prelude::*,
	tract_core::ops::{
		cnn::{pools::ConcretePoolGeometry, MaxPool, OptMaxPool, PaddingSpec, Patch, PoolSpec},
		nn::{DataFormat, DataShape},
	},
	tract_hir::internal::*,
};
use veriml_inference_primitives::{max_pool::MaxPoolCall, window::Window};

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`MaxPoolCall`] whose fifteen words are at `call`. Charges its fuel first and
	/// traps when the fuel runs out, the call is malformed or an address lies outside memory.
	fn run_max_pool(call: *const u32);
}

/// tract's `OptMaxPool`, run by the host where it can take the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMaxPool(pub OptMaxPool);

/// The host's call for a pool of `geo`, from `x` to `y`; `None` where tract's `OptMaxPool`
/// would not take its row-spans walk, or a size does not fit the call.
fn call_for(spec: &PoolSpec, geo: &ConcretePoolGeometry, x: *const f32, y: *mut f32) -> Option<MaxPoolCall> {
	let patch = &geo.patch;
	let (ish, osh) = (&geo.input_shape, &geo.output_shape);
	if spec.data_format != DataFormat::NCHW || patch.rank() != 2 {
		return None;
	}
	// tract's 2×2 path (`try_nchw_2x2_f32`) folds with `f32::max`: it stays in wasm.
	if patch.spec.kernel_shape[..] == [2, 2] && patch.spec.dilations[..] == [1, 1] {
		return None;
	}
	let (h, w, c, n) = (ish.hw_dims()[0], ish.hw_dims()[1], *ish.c(), *ish.n()?);
	let (oh, ow) = (patch.output_shape[0], patch.output_shape[1]);
	// Planes of contiguous pixels, in and out: what the row-spans walk requires and assumes.
	if !plain_planes(ish, c, h, w) || !plain_planes(osh, c, oh, ow) {
		return None;
	}
	let window = window_of(patch, n.checked_mul(c)?, h, w)?;
	let call = MaxPoolCall { x: x as usize as u32, y: y as usize as u32, window };
	call.is_well_formed().then_some(call)
}

/// The host's window for tract's 2-D `patch` over `planes` planes of `h × w`; `None` if a size
/// does not fit a word.
pub(crate) fn window_of(patch: &Patch, planes: usize, h: usize, w: usize) -> Option<Window> {
	let word = |value: usize| u32::try_from(value).ok();
	Some(Window {
		planes: word(planes)?,
		height: word(h)?,
		width: word(w)?,
		out_height: word(patch.output_shape[0])?,
		out_width: word(patch.output_shape[1])?,
		kernel_height: word(patch.spec.kernel_shape[0])?,
		kernel_width: word(patch.spec.kernel_shape[1])?,
		stride_height: word(patch.spec.strides[0])?,
		stride_width: word(patch.spec.strides[1])?,
		dilation_height: word(patch.spec.dilations[0])?,
		dilation_width: word(patch.spec.dilations[1])?,
		pad_top: word(patch.pad_before[0])?,
		pad_left: word(patch.pad_before[1])?,
	})
}

/// Whether `shape` lays out `c` planes of `h × w` pixels (of each batch) one after the other,
/// each row after row: what the host's pools and depthwise convolutions read and write.
pub(crate) fn plain_planes(shape: &DataShape, c: usize, h: usize, w: usize) -> bool {
	*shape.w_stride() == 1 &&
		*shape.h_stride() == w &&
		*shape.c_stride() == h * w &&
		shape.n_stride() == Some(&(c * h * w)) &&
		*shape.c() == c &&
		shape.hw_dims()[..] == [h, w]
}

impl HostMaxPool {
	/// The pool of `input` by the host; `None` where [`call_for`] answers none.
	fn eval_on_host(&self, input: &Tensor) -> TractResult<Option<Tensor>> {
		if self.0.with_index_outputs.is_some() || input.datum_type() != f32::datum_type() {
			return Ok(None);
		}
		let geo = self.0.geometry.to_concrete(input.shape())?;
		let plain = input.try_as_plain_ram()?;
		let x = plain.as_slice::<f32>()?;
		// The host writes every element (or traps, and the tensor is never read): neither zeroed
		// first nor copied after.
		let mut output = unsafe { Tensor::uninitialized::<f32>(&geo.output_shape.shape)? };
		let mut out_plain = output.try_as_plain_ram_mut()?;
		let out = out_plain.as_slice_mut::<f32>()?;
		let Some(call) = call_for(&self.0.pool_spec, &geo, x.as_ptr(), out.as_mut_ptr()) else {
			return Ok(None);
		};
		if call.window.input_elements() != Some(x.len() as u64) || call.window.output_elements() != Some(out.len() as u64) {
			return Ok(None);
		}
		unsafe { run_max_pool(call.to_words().as_ptr()) };
		drop(out_plain);
		Ok(Some(output))
	}
}

/// `model` with every `OptMaxPool` of a channels-first pool without an index output run by the
/// host where it can ([`HostMaxPool`]). The ops' outputs and facts are unchanged.
pub fn on_host(model: &mut TypedModel) {
	for node in &mut model.nodes {
		let on_host = node
			.op_as::<OptMaxPool>()
			.filter(|pool| pool.with_index_outputs.is_none() && pool.pool_spec.data_format == DataFormat::NCHW)
			.map(|pool| HostMaxPool(pool.clone()));
		if let Some(on_host) = on_host {
			node.op = Box::new(on_host);
		}
	}
}

/// A channels-first 2-D pool spec of `c` channels with `padding` and, on each axis, a random
/// window of 1–4, stride of 1–3 and dilation of 1–2: the geometry of the host's start-up checks.
pub(crate) fn random_spec(rng: &mut crate::host_kernel::Lcg, c: usize, padding: PaddingSpec) -> PoolSpec {
	let axis = |rng: &mut crate::host_kernel::Lcg| (1 + rng.below(4) as usize, 1 + rng.below(3) as usize, 1 + rng.below(2) as usize);
	let ((kh, sh, dh), (kw, sw, dw)) = (axis(rng), axis(rng));
	PoolSpec {
		data_format: DataFormat::NCHW,
		kernel_shape: tvec![kh, kw],
		padding,
		dilations: Some(tvec![dh, dw]),
		strides: Some(tvec![sh, sw]),
		input_channels: c,
		output_channels: c,
	}
}

/// Runs `problems` random pools (shapes, windows, strides, dilations, paddings and ceil modes,
/// values where float comparisons differ: NaNs, ±0, ±∞, `f32::MIN`) through tract's
/// `MaxPool` in wasm and through the host; answers how many gave a different bit (and how many
/// of the `problems` the host did not take in four times as many draws).
pub(crate) fn check(rng: &mut crate::host_kernel::Lcg, problems: u32) -> u32 {
	// Draws that tract refuses or the host does not take (2×2 undilated windows) are drawn again.
	crate::host_kernel::count_differing(rng, problems, |rng| {
		let (n, c, h, w) = (1 + rng.below(2) as usize, 1 + rng.below(3) as usize, 1 + rng.below(9) as usize, 1 + rng.below(9) as usize);
		let pads = |rng: &mut crate::host_kernel::Lcg| tvec![rng.below(3) as usize, rng.below(3) as usize];
		let padding = match rng.below(4) {
			0 => PaddingSpec::Valid,
			1 => PaddingSpec::SameUpper,
			_ => PaddingSpec::ExplicitOnnxPool(pads(rng), pads(rng), rng.below(2) == 1),
		};
		let spec = random_spec(rng, c, padding);
		let values: Vec<f32> = (0..n * c * h * w)
			.map(|_| match rng.below(6) {
				0 => f32::MIN,
				1 => -1.0,
				_ => rng.value(),
			})
			.collect();
		let input = Tensor::from_shape(&[n, c, h, w], &values).ok()?;
		let shape: TVec<TDim> = input.shape().iter().map(|d| d.to_dim()).collect();
		let geometry = spec.compute_geo(&shape).ok()?;
		let host = HostMaxPool(OptMaxPool { pool_spec: spec.clone(), with_index_outputs: None, geometry });
		let on_host = host.eval_on_host(&input).ok()??;
		// tract's walk panics on an empty output (the host writes nothing).
		if on_host.len() == 0 {
			return None;
		}
		let mut by_tract = EvalOp::eval(&MaxPool::new(spec, None), &EvalContext::out_of_plan(), tvec![input.into_tvalue()]).ok()?;
		Some((on_host, by_tract.remove(0).into_tensor()))
	})
}

impl Op for HostMaxPool {
	fn name(&self) -> StaticName {
		"HostMaxPool".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		self.0.info()
	}

	op_as_typed_op!();
}

impl EvalOp for HostMaxPool {
	fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		if let [input] = &inputs[..] {
			if let Some(output) = self.eval_on_host(input)? {
				return Ok(tvec!(output.into_tvalue()));
			}
		}
		self.0.eval(ctx, inputs)
	}

	fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
		Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
	}
}

impl TypedOp for HostMaxPool {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		self.0.output_facts(inputs)
	}
}
