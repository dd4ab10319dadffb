//! tract's `DepthWise` convolution run by the host, with tract's bits.
//!
//! Depthwise convolutions in wasm took 39 % of ShuffleNet's run (`scripts/profile-engine.sh`):
//! rows of 7 to 56 points, many of them strided, so tract's vectorised row kernel rarely runs and
//! handing the host a row at a time gained nothing. After tract has optimised a model,
//! [`on_host`] replaces each `DepthWise` of a 2-D channels-first f32 convolution by
//! [`HostDepthwise`], which hands the whole convolution (every plane and row) to the host in one
//! call (`veriml.run_depthwise`), where the engine's `depthwise_f32` computes every element from
//! the same taps, in the same order, with the same IEEE operations as tract's walk. tract keeps
//! `DepthWise` and its geometry private: the geometry is worked out again from the `Conv` the
//! optimiser turned into it (found by the node's name in the decluttered model, [`convolutions`])
//! as tract's codegen works it out, and taken only where it describes that very operation.
//! [`check`] runs random convolutions through tract's `DepthWise` in wasm and through the host
//! and counts the differences; the node runs it at start-up.

use std::collections::HashMap;
use tract_onnx::{
	prelude::*,
	tract_core::ops::{
		cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec},
		nn::DataFormat,
	},
	tract_hir::internal::*,
};
use veriml_inference_primitives::depthwise::DepthwiseCall;

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`DepthwiseCall`] whose eighteen words are at `call`. Charges its fuel first and
	/// traps when the fuel runs out, the call is malformed or an address lies outside memory.
	fn run_depthwise(call: *const u32);
}

/// tract's name of its depthwise convolution (the type itself is private to tract).
const DEPTHWISE_OP: &str = "DepthWiseConv";

/// tract's `DepthWise`, run by the host where it can take the convolution.
#[derive(Debug, Clone, PartialEq)]
pub struct HostDepthwise {
	/// tract's own operation: what runs where the host does not take the inputs.
	tract: Box<dyn TypedOp>,
	/// The convolution's geometry, without its addresses.
	call: DepthwiseCall,
	/// The input's shape and the output's, `N × C × H × W`.
	input_shape: TVec<usize>,
	output_shape: TVec<usize>,
}

// tract's operations compare as their values do (`dyn_eq`): equality is an equivalence.
impl Eq for HostDepthwise {}

/// The pool specs of the decluttered model's `Conv`s that tract's codegen may turn into a
/// `DepthWise` (as many groups as channels, floats, channels first), by node name.
pub fn convolutions(model: &TypedModel) -> HashMap<String, PoolSpec> {
	model
		.nodes
		.iter()
		.filter_map(|node| {
			let conv = node.op_as::<Conv>()?;
			let spec = &conv.pool_spec;
			(conv.q_params.is_none() &&
				spec.data_format == DataFormat::NCHW &&
				conv.group > 1 && conv.group == spec.input_channels &&
				conv.group == spec.output_channels)
				.then(|| (node.name.clone(), spec.clone()))
		})
		.collect()
}

/// The host's call for tract's `DepthWise` of `spec` over an input of `input_shape`, with the
/// operation's own description `info` (tract prints its patch: input, kernel, strides, dilations,
/// padding); `None` unless the geometry worked out again is the operation's, its tensors are
/// contiguous planes, or a size does not fit the call.
fn call_for(spec: &PoolSpec, input_shape: &[usize], info: &str) -> Option<(DepthwiseCall, TVec<usize>)> {
	let dims: TVec<TDim> = input_shape.iter().map(|d| d.to_dim()).collect();
	let geo = spec.compute_geo(&dims).ok()?.to_concrete(input_shape).ok()?.into_owned();
	let patch = &geo.patch;
	if format!("{patch:?}") != info || patch.rank() != 2 || spec.data_format != DataFormat::NCHW {
		return None;
	}
	let (ish, osh) = (&geo.input_shape, &geo.output_shape);
	let (h, w, c, n) = (ish.hw_dims()[0], ish.hw_dims()[1], *ish.c(), *ish.n()?);
	let (oh, ow) = (patch.output_shape[0], patch.output_shape[1]);
	if !crate::max_pool::plain_planes(ish, c, h, w) ||
		!crate::max_pool::plain_planes(osh, c, oh, ow) ||
		*osh.n()? != n
	{
		return None;
	}
	let window = crate::max_pool::window_of(patch, n.checked_mul(c)?, h, w)?;
	let call = DepthwiseCall { channels: u32::try_from(c).ok()?, window, ..Default::default() };
	call.is_well_formed().then(|| (call, osh.shape.clone()))
}

impl HostDepthwise {
	/// tract's `DepthWise` `tract` of `spec` over an input of `input_shape`, run by the host;
	/// `None` where [`call_for`] answers none.
	fn new(tract: Box<dyn TypedOp>, spec: &PoolSpec, input_shape: &[usize]) -> Option<Self> {
		let info = tract.info().ok()?;
		let (call, output_shape) = call_for(spec, input_shape, info.first()?)?;
		Some(Self { tract, call, input_shape: input_shape.into(), output_shape })
	}

	/// The convolution by the host; `None` where the inputs are not the f32 tensors, laid out
	/// as tract lays them out for the operation, that the call describes.
	fn eval_on_host(&self, x: &Tensor, kernel: &Tensor, bias: &Tensor) -> TractResult<Option<Tensor>> {
		let f32_type = f32::datum_type();
		if [x, kernel, bias].iter().any(|t| t.datum_type() != f32_type) || x.shape() != &self.input_shape[..] {
			return Ok(None);
		}
		let (channels, taps) = (self.call.channels as usize, self.call.window.taps() as usize);
		// tract's kernel for a channels-first depthwise convolution: groups × 1 × taps, channel
		// `c`'s tap `t` at `c · taps + t`; its bias, one per channel.
		if kernel.shape() != [channels, 1, taps] || bias.len() != channels {
			return Ok(None);
		}
		let plain = |t: &Tensor| -> TractResult<*const f32> { Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.as_ptr()) };
		let (x_at, kernel_at, bias_at) = (plain(x)?, plain(kernel)?, plain(bias)?);
		// The host writes every element (or traps, and the tensor is never read).
		let mut output = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
		let mut out_plain = output.try_as_plain_ram_mut()?;
		let out = out_plain.as_slice_mut::<f32>()?;
		let address = |at: *const f32| at as usize as u32;
		let call = DepthwiseCall {
			x: address(x_at),
			kernel: address(kernel_at),
			bias: address(bias_at),
			y: address(out.as_ptr()),
			..self.call
		};
		if call.window.output_elements() != Some(out.len() as u64) || call.window.input_elements() != Some(x.len() as u64) {
			return Ok(None);
		}
		unsafe { run_depthwise(call.to_words().as_ptr()) };
		drop(out_plain);
		Ok(Some(output))
	}
}

/// `model` with every tract `DepthWise` that [`convolutions`] names in `convs` and whose
/// geometry the host can take run by the host ([`HostDepthwise`]). The ops' outputs and facts
/// are unchanged.
pub fn on_host(model: &mut TypedModel, convs: &HashMap<String, PoolSpec>) {
	for id in 0..model.nodes.len() {
		let node = &model.nodes[id];
		if node.op.name() != DEPTHWISE_OP {
			continue;
		}
		let Some(spec) = convs.get(&node.name) else { continue };
		let Some(input) = node.inputs.first() else { continue };
		let Ok(fact) = model.outlet_fact(*input) else { continue };
		let Some(shape) = fact.shape.as_concrete() else { continue };
		let Some(on_host) = HostDepthwise::new(node.op.clone(), spec, shape) else { continue };
		// The operation's own output, as tract typed it, is the call's.
		let output = node.outputs.first().and_then(|output| output.fact.shape.as_concrete());
		if output == Some(&on_host.output_shape[..]) {
			model.nodes[id].op = Box::new(on_host);
		}
	}
}

/// Runs `problems` random depthwise convolutions (shapes, kernels, strides, dilations,
/// paddings, values where float arithmetic differs: NaNs with payloads, ±0, ±∞, subnormals,
/// `f32::MAX`, roundings) through tract's `DepthWise` in wasm (as tract's optimiser makes it
/// from a `Conv`) and through the host; answers how many gave a different bit (and how many of
/// the `problems` the host did not take in four times as many draws).
pub(crate) fn check(rng: &mut crate::host_kernel::Lcg, problems: u32) -> u32 {
	crate::host_kernel::count_differing(rng, problems, |rng| {
		// Up to 16 channels: calls of 8 planes and channels or more take the host's lanes.
		let (n, c, h, w) = (1 + rng.below(2) as usize, 2 + rng.below(15) as usize, 1 + rng.below(12) as usize, 1 + rng.below(40) as usize);
		let pads = |rng: &mut crate::host_kernel::Lcg| tvec![rng.below(4) as usize, rng.below(4) as usize];
		let padding = match rng.below(3) {
			0 => PaddingSpec::Valid,
			1 => PaddingSpec::SameUpper,
			_ => PaddingSpec::Explicit(pads(rng), pads(rng)),
		};
		let spec = crate::max_pool::random_spec(rng, c, padding);
		let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
		let mut values = |count: usize| -> Vec<f32> {
			(0..count).map(|_| if rng.below(4) == 0 { rng.value() } else { rng.value().clamp(-1.0e3, 1.0e3) }).collect()
		};
		let (x, kernel, bias) = (values(n * c * h * w), values(c * kh * kw), values(c));
		let (op, kernel, bias) = optimised(&spec, &[n, c, h, w], &kernel, &bias)?;
		let x = Tensor::from_shape(&[n, c, h, w], &x).ok()?;
		let host = HostDepthwise::new(op.clone(), &spec, x.shape())?;
		let on_host = host.eval_on_host(&x, &kernel, &bias).ok()??;
		let inputs = tvec![x.into_tvalue(), kernel.into_tvalue(), bias.into_tvalue()];
		let mut by_tract = op.eval(&EvalContext::out_of_plan(), inputs).ok()?;
		Some((on_host, by_tract.remove(0).into_tensor()))
	})
}

/// tract's optimised `DepthWise` for a channels-first convolution of `spec` (an `OIHW` kernel of
/// `c × 1 × kh × kw` and a bias of `c`) over an input of `shape`, with the kernel and the bias
/// as tract's optimiser hands them to it; `None` where tract makes something else of it.
fn optimised(spec: &PoolSpec, shape: &[usize], kernel: &[f32], bias: &[f32]) -> Option<(Box<dyn TypedOp>, Tensor, Tensor)> {
	let c = spec.input_channels;
	let mut model = TypedModel::default();
	let x = model.add_source("x", f32::datum_type().fact(shape)).ok()?;
	let k = model.add_const("k", Tensor::from_shape(&[c, 1, spec.kernel_shape[0], spec.kernel_shape[1]], kernel).ok()?).ok()?;
	let b = model.add_const("b", Tensor::from_shape(&[c], bias).ok()?).ok()?;
	let conv = Conv { pool_spec: spec.clone(), kernel_fmt: KernelFormat::OIHW, group: c, q_params: None };
	let out = model.wire_node("dw", conv, &[x, k, b]).ok()?;
	model.select_output_outlets(&out).ok()?;
	let model = model.into_optimized().ok()?;
	let node = model.nodes.iter().find(|node| node.op.name() == DEPTHWISE_OP)?;
	// The kernel and the bias as the optimiser left them: constants feeding the operation.
	let constant = |outlet: OutletId| model.outlet_fact(outlet).ok()?.konst.as_ref().map(|t| t.clone().into_tensor());
	Some((node.op.clone(), constant(node.inputs[1])?, constant(node.inputs[2])?))
}

impl Op for HostDepthwise {
	fn name(&self) -> StaticName {
		"HostDepthwise".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		self.tract.info()
	}

	op_as_typed_op!();
}

impl EvalOp for HostDepthwise {
	fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		if let [x, kernel, bias] = &inputs[..] {
			if let Some(output) = self.eval_on_host(x, kernel, bias)? {
				return Ok(tvec!(output.into_tvalue()));
			}
		}
		self.tract.eval(ctx, inputs)
	}

	fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
		Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
	}
}

impl TypedOp for HostDepthwise {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		self.tract.output_facts(inputs)
	}
}
