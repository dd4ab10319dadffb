//! tract's `Im2col` run by the host, with tract's bits.
//!
//! tract's eager im2col (the convolutions whose window is smaller than six taps and whose
//! matrix is under 1 MiB: 1×1 convolutions of groups, small windows) copies the input into the
//! matrix product's packed panels one value at a time in wasm: 17 % of ShuffleNet's run, half
//! of a small convolution's operators (`scripts/profile-engine.sh`). After tract has optimised
//! a model, [`on_host`] replaces each `Im2col` of a 2-D channels-first f32 input without a
//! padding value (the padding is `+0`) and with tract's `PackedFormat` by [`HostIm2col`],
//! which lays out each batch's and group's panels as tract does and hands their filling to the
//! host (`veriml.run_im2col`), where the engine's `im2col_f32` copies every element of the
//! matrix to the place tract's packing writer gives it. Others stay tract's. [`check`] runs
//! random convolutions' im2col through tract's code in wasm and through the host and counts
//! the differences; the node runs it at start-up.

use tract_linalg::{
	mmm::{EagerPackedInput, MMMInputValue, MatMatMul, PackedExoticFact, PackedMatrixStorage},
	pack::PackedFormat,
};
use tract_onnx::{
	prelude::*,
	tract_core::ops::{
		cnn::{conv::Im2Col, pools::ConcretePoolGeometry, PaddingSpec},
		nn::DataFormat,
	},
	tract_hir::internal::*,
};
use veriml_inference_primitives::im2col::Im2colCall;

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`Im2colCall`] whose seventeen words are at `call`. Charges its fuel first and
	/// traps when the fuel runs out, the call is malformed or an address lies outside memory.
	fn run_im2col(call: *const u32);
}

/// tract's `Im2col`, run by the host where it can take it: the op, the packing of its output
/// and the rows of its matrix (both from its output's fact), and its geometry for the input
/// shape it was optimised for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIm2col {
	pub im2col: Im2Col,
	format: PackedFormat,
	k: usize,
	geometry: ConcretePoolGeometry,
}

impl HostIm2col {
	/// The host's version of `im2col`, whose output fact is `fact`, for inputs of `shape`;
	/// `None` where the host does not take it.
	fn new(im2col: &Im2Col, fact: &TypedFact, shape: &[usize]) -> Option<Self> {
		let spec = &im2col.pool_spec;
		if spec.data_format != DataFormat::NCHW || spec.kernel_shape.len() != 2 || im2col.group == 0 {
			return None;
		}
		let packed = fact.exotic_fact()?.downcast_ref::<PackedExoticFact>()?;
		let format = packed.format.downcast_ref::<PackedFormat>()?.clone();
		if format.dt != f32::datum_type() || format.r == 0 {
			return None;
		}
		let dims: TVec<TDim> = shape.iter().map(|d| d.to_dim()).collect();
		let geometry = spec.compute_geo(&dims).ok()?.to_concrete(shape).ok()?.into_owned();
		// tract's patcher for an unpadded input reads every tap without a bound: where a window
		// reaches past the input (a ceil-mode geometry), it reads what lies beyond, which the
		// host does not. Those stay tract's.
		let patch = &geometry.patch;
		let reaches_past = (0..2).any(|axis| {
			let last_tap = patch.output_shape[axis].saturating_sub(1).checked_mul(patch.spec.strides[axis]).and_then(|start| {
				patch.spec.kernel_shape[axis].saturating_sub(1).checked_mul(patch.spec.dilations[axis])?.checked_add(start)
			});
			last_tap.is_none_or(|last| last >= geometry.input_shape.hw_dims()[axis])
		});
		// tract's own code takes an output of no element (it packs nothing), which it counts by
		// every axis of the output, its channels included.
		if (!patch.padded && reaches_past) || geometry.output_shape.shape.contains(&0) {
			return None;
		}
		let host = HostIm2col { im2col: im2col.clone(), format, k: packed.k, geometry };
		// The matrix's rows are the group's channels times the window's taps.
		(host.k == host.channels_per_group() * host.geometry.patch.spec.kernel_shape.iter().product::<usize>())
			.then_some(host)
	}

	fn channels_per_group(&self) -> usize {
		*self.geometry.input_shape.c() / self.im2col.group
	}

	/// The im2col of `input` by the host; `None` where the input is not the one the geometry
	/// was made for, or a size does not fit the call.
	fn eval_on_host(&self, input: &Tensor) -> TractResult<Option<Tensor>> {
		let geo = &self.geometry;
		let ish = &geo.input_shape;
		if input.datum_type() != f32::datum_type() || input.shape() != &*ish.shape {
			return Ok(None);
		}
		let (h, w, c, batches) = (ish.hw_dims()[0], ish.hw_dims()[1], *ish.c(), *ish.n().unwrap_or(&1));
		let group = self.im2col.group;
		let planes = self.channels_per_group();
		let n: usize = geo.patch.output_shape.iter().product();
		// Channels of `h × w` pixels one after the other, batch after batch; a matrix with a
		// column at least (tract's own code takes an empty output).
		if !crate::max_pool::plain_planes(ish, c, h, w) || c % group != 0 || n == 0 {
			return Ok(None);
		}
		let Some(window) = crate::max_pool::window_of(&geo.patch, planes, h, w) else { return Ok(None) };
		let (r, panel_len) = (self.format.r, self.format.single_panel_len(self.k));
		let (Ok(panel_width), Ok(panel_words)) = (u32::try_from(r), u32::try_from(panel_len)) else { return Ok(None) };
		let plain = input.try_as_plain_ram()?;
		let x = plain.as_slice::<f32>()?;
		let panel_bytes = panel_len * 4;
		let mut values: TVec<Box<dyn MMMInputValue>> = TVec::with_capacity(batches * group);
		for batch in 0..batches {
			for g in 0..group {
				// tract's buffer, aligned as its packing asks, the last panel's unused columns
				// zeroed as tract zeroes them; the host writes every other place tract writes.
				let mut data =
					unsafe { Tensor::uninitialized_aligned_dt(f32::datum_type(), &[n.div_ceil(r) * panel_len], self.format.alignment())? };
				if n % r != 0 {
					data.as_bytes_mut()[(n / r) * panel_bytes..].fill(0);
				}
				let group_x = &x[(batch * c + g * planes) * h * w..][..planes * h * w];
				let call = Im2colCall {
					x: group_x.as_ptr() as usize as u32,
					y: data.as_bytes_mut().as_mut_ptr() as usize as u32,
					panel_width,
					panel_len: panel_words,
					window,
				};
				if !call.is_well_formed() || call.output_elements() != Some(data.len() as u64) {
					return Ok(None);
				}
				unsafe { run_im2col(call.to_words().as_ptr()) };
				values.push(Box::new(EagerPackedInput {
					fact: PackedExoticFact { format: Box::new(self.format.clone()), k: self.k, mn: n.to_dim() },
					packed: data.into_blob()?.into(),
					panel_bytes,
					mn: n,
				}));
			}
		}
		Ok(Some(PackedMatrixStorage::new_batched(&[batches, group], values).into_tensor(f32::datum_type())))
	}
}

/// `model` with every `Im2col` the host takes ([`HostIm2col::new`]) run by the host. The ops'
/// outputs and facts are unchanged.
pub fn on_host(model: &mut TypedModel) {
	for id in 0..model.nodes.len() {
		let node = &model.nodes[id];
		let Some(im2col) = node.op_as::<Im2Col>() else { continue };
		// An `Im2col` with a padding value other than zero keeps it as a second input.
		if node.inputs.len() != 1 {
			continue;
		}
		let (Ok(input), Ok(output)) = (model.outlet_fact(node.inputs[0]), model.outlet_fact(OutletId::new(id, 0))) else {
			continue;
		};
		let Some(shape) = input.shape.as_concrete() else { continue };
		if let Some(host) = HostIm2col::new(im2col, output, shape) {
			model.nodes[id].op = Box::new(host);
		}
	}
}

/// The bits tract defines of an im2col's output: for each batch and group, the rows of the
/// matrix in each panel (tract leaves the panels' padding rows unwritten), and the packed
/// value's columns, rows and panel bytes.
fn defined_bits(output: &Tensor, k: usize) -> Option<Tensor> {
	let storage = output.storage_as::<PackedMatrixStorage>()?;
	let mut bits = Vec::new();
	for value in storage.values() {
		let eager = value.downcast_ref::<EagerPackedInput>()?;
		let r = eager.fact.format.r();
		bits.extend([eager.mn, eager.fact.k, eager.panel_bytes].map(|v| f32::from_bits(v as u32)));
		if eager.mn == 0 {
			continue;
		}
		let floats: Vec<f32> =
			eager.packed.as_bytes().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
		for panel in floats.chunks(eager.panel_bytes / 4).take(eager.mn.div_ceil(r)) {
			bits.extend_from_slice(panel.get(..k * r)?);
		}
	}
	Tensor::from_shape(&[bits.len()], &bits).ok()
}

/// Runs `problems` random im2cols (batches, groups, channels, shapes, windows, strides,
/// dilations and paddings; values with NaN payloads, signed zeros and infinities) through
/// tract's `Im2col` in wasm and through the host; answers how many gave a different bit (and
/// how many of the `problems` the host did not take in four times as many draws).
pub(crate) fn check(rng: &mut crate::host_kernel::Lcg, problems: u32) -> u32 {
	crate::host_kernel::count_differing(rng, problems, |rng| {
		let (n, group) = (1 + rng.below(2) as usize, 1 + rng.below(3) as usize);
		let c = group * (1 + rng.below(3) as usize);
		let (h, w) = (1 + rng.below(9) as usize, 1 + rng.below(12) as usize);
		let pads = |rng: &mut crate::host_kernel::Lcg| tvec![rng.below(3) as usize, rng.below(3) as usize];
		let padding = match rng.below(4) {
			0 => PaddingSpec::Valid,
			1 => PaddingSpec::SameUpper,
			_ => PaddingSpec::ExplicitOnnxPool(pads(rng), pads(rng), rng.below(2) == 1),
		};
		let spec = crate::max_pool::random_spec(rng, c, padding);
		let k = c / group * spec.kernel_shape.iter().product::<usize>();
		let values: Vec<f32> = (0..n * c * h * w).map(|_| rng.value()).collect();
		let input = Tensor::from_shape(&[n, c, h, w], &values).ok()?;
		let shape = f32::fact(input.shape());
		let mmm: Box<dyn MatMatMul> = Box::new(crate::mat_mul::HostMatMul::new(crate::host_kernel::make_kernel()));
		let im2col = Im2Col::new(spec, group, k, &shape.shape, mmm, 0).ok()?;
		let fact = im2col.output_facts(&[&shape]).ok()?.remove(0);
		let host = HostIm2col::new(&im2col, &fact, input.shape())?;
		let on_host = host.eval_on_host(&input).ok()??;
		let mut by_tract = EvalOp::eval(&im2col, &EvalContext::out_of_plan(), tvec![input.into_tvalue()]).ok()?;
		Some((defined_bits(&on_host, k)?, defined_bits(&by_tract.remove(0).into_tensor(), k)?))
	})
}

impl Op for HostIm2col {
	fn name(&self) -> StaticName {
		"HostIm2col".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		self.im2col.info()
	}

	op_as_typed_op!();
}

impl EvalOp for HostIm2col {
	fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		if let [input] = &inputs[..] {
			if let Some(output) = self.eval_on_host(input)? {
				return Ok(tvec!(output.into_tvalue()));
			}
		}
		self.im2col.eval(ctx, inputs)
	}

	fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
		Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
	}
}

impl TypedOp for HostIm2col {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		self.im2col.output_facts(inputs)
	}
}
