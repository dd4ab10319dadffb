//! tract's `OptBinChain` run by the host, with tract's bits.
//!
//! tract folds a run of element-wise binary operations on one tensor (a batch normalisation's
//! multiply and add, a ReLU's max, a residual add) into one `OptBinChain`, which walks the
//! accumulator once in wasm: 30 % of ShuffleNet's run and 46 % of DenseNet-121's
//! (`scripts/profile-engine.sh`). After tract has optimised a model, [`on_host`] replaces each
//! `OptBinChain` of f32 tensors by [`HostBinChain`], which hands the whole chain to the host
//! (`veriml.run_bin_chain`, one call for every sixteen steps: tract's optimiser lets a chain
//! grow past sixteen, one step a pass), where the engine's `bin_chain_f32` gives every element
//! the same operations in the same order. tract's paths agree with the host (its chunked pass,
//! the steps one at a time, the short-period broadcast, the wasm `pmax` and `pmin` of a `max`
//! or `min` by a scalar) but where tract computes a `min` or `max` by the scalar `f32::min` or
//! `f32::max` (its operand moving with the accumulator, or a tensor not in tract's natural
//! strides) and where a `min` or `max` step's operand holds a NaN: such a chain stays tract's.
//! [`check`] runs random chains through tract's `OptBinChain` in wasm and through the host and
//! counts the differences; the node runs it at start-up.

use tract_linalg::{multithread::BShare, BinOp};
use tract_onnx::{
	prelude::*,
	tract_core::ops::{binary::OptBinChain, math},
	tract_hir::internal::*,
};
use veriml_inference_primitives::bin_chain::{BinChainCall, ChainOp, ChainStep, Share, MAX_CHAIN_STEPS};

#[link(wasm_import_module = "veriml")]
extern "C" {
	/// Runs the [`BinChainCall`] whose words are at `call`. Charges its fuel first and traps
	/// when the fuel runs out, the call is malformed or an address lies outside memory.
	fn run_bin_chain(call: *const u32);
}

/// tract's `OptBinChain` of f32 tensors, run by the host where it can take the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBinChain {
	/// tract's own operation: what runs where the host does not take the inputs.
	tract: OptBinChain,
	/// Each step's operation and how its operand meets the accumulator.
	steps: Vec<(ChainOp, Share)>,
}

impl HostBinChain {
	/// tract's chain `tract` run by the host; `None` for a chain of no step or with a `min` or
	/// `max` whose operand moves with the accumulator (tract's `Lockstep`, which it computes with
	/// the scalar `f32::max` and `f32::min`: the start-up check found their bits apart from the
	/// host's on some inputs, where every other step agrees).
	fn new(tract: &OptBinChain) -> Option<Self> {
		if tract.steps.is_empty() {
			return None;
		}
		tract
			.steps
			.iter()
			.map(|step| {
				let op = match step.linalg_op {
					BinOp::Min => ChainOp::Min,
					BinOp::Max => ChainOp::Max,
					BinOp::Add => ChainOp::Add,
					BinOp::Mul => ChainOp::Mul,
					BinOp::Sub => ChainOp::Sub,
					BinOp::SubF => ChainOp::SubF,
				};
				let share = match step.share {
					BShare::Lockstep => Share::Lockstep,
					BShare::PerBlock => Share::PerBlock,
				};
				(!matches!((op, share), (ChainOp::Min | ChainOp::Max, Share::Lockstep))).then_some((op, share))
			})
			.collect::<Option<Vec<_>>>()
			.map(|steps| Self { tract: tract.clone(), steps })
	}

	/// The host's calls for the chain over `inputs` (sixteen steps a call), without the
	/// accumulator's address; `None` where the accumulator is empty, the inputs are not
	/// contiguous f32 tensors whose operands fit their steps, or a
	/// `min` or `max` step would take tract's scalar path (its operand, or as the first step the
	/// accumulator, not in tract's natural layout) or its operand holds a NaN.
	fn call_for(&self, inputs: &[TValue]) -> TractResult<Option<Vec<BinChainCall>>> {
		let f32_type = f32::datum_type();
		// Every element where the natural layout has it; tract calls a tensor natural only
		// where the strides of its axes of one element are too (an axis inserted into a
		// per-channel operand leaves another: BatchNormalization's in DenseNet-121).
		let contiguous = |t: &Tensor| {
			let natural = Tensor::natural_strides(t.shape());
			t.datum_type() == f32_type &&
				t.len() == t.shape().iter().product::<usize>() &&
				t.shape().iter().zip(t.strides()).zip(&natural).all(|((dim, stride), natural)| *dim == 1 || stride == natural)
		};
		let natural = |t: &Tensor| t.strides() == &*Tensor::natural_strides(t.shape());
		let [a, operands @ ..] = inputs else { return Ok(None) };
		if operands.len() != self.steps.len() || !inputs.iter().all(|t| contiguous(t)) {
			return Ok(None);
		}
		// Where a tensor is not natural, tract runs the chain a step at a time, a step whose
		// accumulator or operand is not natural by its generic (scalar) operation, in place
		// (an accumulator not natural stays so through every step): for a min or a max,
		// `f32::min` and `f32::max`.
		if self.steps.iter().zip(operands).any(|((op, _), b)| {
			matches!(op, ChainOp::Min | ChainOp::Max) && !(natural(a) && natural(b))
		}) {
			return Ok(None);
		}
		// An empty accumulator is tract's: it has nothing to do.
		let Ok(elements @ 1..) = u32::try_from(a.len()) else { return Ok(None) };
		let mut steps = Vec::with_capacity(self.steps.len());
		for ((op, share), b) in self.steps.iter().zip(operands) {
			let values = b.try_as_plain_ram()?.as_slice::<f32>()?;
			if matches!(op, ChainOp::Min | ChainOp::Max) && values.iter().any(|v| v.is_nan()) {
				return Ok(None);
			}
			let b_elements = u32::try_from(b.len()).unwrap_or(0);
			steps.push(ChainStep { op: *op as u32, b: values.as_ptr() as usize as u32, b_elements, share: *share as u32 });
		}
		// Sixteen steps a call, one call after the other over the same accumulator.
		let calls: Vec<BinChainCall> = steps
			.chunks(MAX_CHAIN_STEPS)
			.map(|chunk| {
				let mut call = BinChainCall { elements, count: chunk.len() as u32, ..Default::default() };
				call.steps[..chunk.len()].copy_from_slice(chunk);
				call
			})
			.collect();
		Ok(calls.iter().all(|call| call.is_well_formed()).then_some(calls))
	}

	/// The chain over `inputs`, by the host where [`call_for`](Self::call_for) answers calls,
	/// by tract otherwise.
	fn eval_with(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		let Some(calls) = self.call_for(&inputs)? else { return self.tract.eval(ctx, inputs) };
		let mut inputs = inputs.into_iter();
		// tract's chain writes over its accumulator, taken whole (copied when shared); the
		// operands, whose addresses the call holds, live on in `operands`.
		let mut a = inputs.next().expect("an accumulator").into_tensor();
		let operands: Vec<TValue> = inputs.collect();
		let mut plain = a.try_as_plain_ram_mut()?;
		let at = plain.as_slice_mut::<f32>()?.as_ptr() as usize as u32;
		for call in calls {
			let call = BinChainCall { x: at, y: at, ..call };
			unsafe { run_bin_chain(call.to_words().as_ptr()) };
		}
		drop((plain, operands));
		Ok(tvec!(a.into_tvalue()))
	}
}

/// `model` with every tract `OptBinChain` of f32 tensors run by the host ([`HostBinChain`]).
/// The ops' outputs and facts are unchanged.
pub fn on_host(model: &mut TypedModel) {
	for id in 0..model.nodes.len() {
		let node = &model.nodes[id];
		let Some(chain) = node.op_as::<OptBinChain>() else { continue };
		let f32_inputs = node
			.inputs
			.iter()
			.all(|input| model.outlet_fact(*input).is_ok_and(|fact| fact.datum_type == f32::datum_type()));
		if !f32_inputs {
			continue;
		}
		if let Some(on_host) = HostBinChain::new(chain) {
			model.nodes[id].op = Box::new(on_host);
		}
	}
}

/// Runs `problems` random chains (shapes; multiplies, adds, subtractions either way, mins and
/// maxes by a scalar, per channel and by a whole plane; values where float arithmetic differs:
/// NaNs with payloads, ±0, ±∞, subnormals, `f32::MAX`) through tract's `OptBinChain` in wasm (as
/// tract's optimiser makes it) and through the host; answers how many gave a different bit (and
/// how many of the `problems` the host did not take in four times as many draws).
pub(crate) fn check(rng: &mut crate::host_kernel::Lcg, problems: u32) -> u32 {
	crate::host_kernel::count_differing(rng, problems, |rng| {
		// Planes of up to 8 rows, one draw in eight of 64 (past the host's tile of 8,192).
		let rows = if rng.below(8) == 0 { 64 } else { 1 + rng.below(8) as usize };
		let shape = [1 + rng.below(2) as usize, 1 + rng.below(16) as usize, rows, 4 * (1 + rng.below(6) as usize)];
		let (op, operands) = optimised(rng, &shape)?;
		let host = HostBinChain::new(&op)?;
		let a: Vec<f32> = (0..shape.iter().product()).map(|_| rng.value()).collect();
		// Tensors laid out naturally but not in tract's natural strides, half the time: an
		// accumulator of one image, and per-channel operands, each with axes inserted.
		let inserted = |t: &Tensor, shape: &[usize], axes: &[usize]| {
			let mut inserted = t.clone().into_shape(shape).ok()?;
			axes.iter().try_for_each(|axis| inserted.insert_axis(*axis)).ok().map(|_| inserted)
		};
		let mut a = Tensor::from_shape(&shape, &a).ok()?;
		if shape[0] == 1 && rng.below(2) == 0 {
			a = inserted(&a, &shape[1..], &[0]).unwrap_or(a);
		}
		let operands: Vec<Tensor> = operands
			.into_iter()
			.map(|b| match *b.shape() {
				[1, c, 1, 1] if rng.below(2) == 0 => inserted(&b, &[c], &[0, 2, 3]).unwrap_or(b),
				_ => b,
			})
			.collect();
		let inputs: TVec<TValue> = std::iter::once(a).chain(operands).map(|t| t.into_tvalue()).collect();
		// A chain the host does not take is drawn again.
		host.call_for(&inputs).ok()??;
		let mut on_host = host.eval_with(&EvalContext::out_of_plan(), inputs.clone()).ok()?;
		let mut by_tract = op.eval(&EvalContext::out_of_plan(), inputs).ok()?;
		Some((on_host.remove(0).into_tensor(), by_tract.remove(0).into_tensor()))
	})
}

/// tract's optimised `OptBinChain` for a random chain of two to twenty element-wise operations on
/// an f32 tensor of `shape` (`N × C × H × W`) and constant operands, with its operands as the
/// optimiser hands them to it; `None` where tract makes something else of it.
fn optimised(rng: &mut crate::host_kernel::Lcg, shape: &[usize; 4]) -> Option<(OptBinChain, Vec<Tensor>)> {
	let mut model = TypedModel::default();
	let mut wire = model.add_source("a", f32::datum_type().fact(shape)).ok()?;
	// Two to six steps; one chain in sixteen of 17 to 20, more than one call takes.
	let steps = if rng.below(16) == 0 { 17 + rng.below(4) } else { 2 + rng.below(5) };
	for index in 0..steps {
		let kind = rng.below(6);
		// A scalar, one per channel, one per plane element or one per element (a min or max:
		// a scalar or one per channel, the steps the host takes).
		let b_shape = match rng.below(if kind < 2 { 2 } else { 4 }) {
			0 => [1, 1, 1, 1],
			1 => [1, shape[1], 1, 1],
			2 => [1, 1, shape[2], shape[3]],
			_ => [1, shape[1], shape[2], shape[3]],
		};
		// A min or max's operand holds a NaN once in eight chains: the host must refuse it.
		let values: Vec<f32> = (0..b_shape.iter().product())
			.map(|_| loop {
				let v = rng.value();
				if kind < 2 && v.is_nan() && rng.below(8) != 0 {
					continue;
				}
				break v;
			})
			.collect();
		let b = model.add_const(format!("b{index}"), Tensor::from_shape(&b_shape, &values).ok()?).ok()?;
		let (op, inputs) = match kind {
			0 => (math::min(), [wire, b]),
			1 => (math::max(), [wire, b]),
			2 => (math::add(), [wire, b]),
			3 => (math::mul(), [wire, b]),
			4 => (math::sub(), [wire, b]),
			_ => (math::sub(), [b, wire]),
		};
		wire = model.wire_node(format!("op{index}"), op, &inputs).ok()?[0];
	}
	model.select_output_outlets(&[wire]).ok()?;
	let model = model.into_optimized().ok()?;
	let node = model.nodes.iter().find(|node| node.op_is::<OptBinChain>())?;
	// The operands as the optimiser left them: constants feeding the operation.
	let operands = node.inputs[1..]
		.iter()
		.map(|outlet| model.outlet_fact(*outlet).ok()?.konst.as_ref().map(|t| t.clone().into_tensor()))
		.collect::<Option<Vec<_>>>()?;
	Some((node.op_as::<OptBinChain>()?.clone(), operands))
}

impl Op for HostBinChain {
	fn name(&self) -> StaticName {
		format!("Host{}", self.tract.name()).into()
	}

	op_as_typed_op!();
}

impl EvalOp for HostBinChain {
	fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		self.eval_with(ctx, inputs)
	}

	fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
		Ok(Some(EvalOp::eval(self, &EvalContext::out_of_plan(), inputs)?))
	}
}

impl TypedOp for HostBinChain {
	as_op!();

	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		self.tract.output_facts(inputs)
	}
}
