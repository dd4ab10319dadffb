//! The deterministic inference engine: tract-onnx compiled to a wasm32 module.
//!
//! veriml nodes run this module under wasmtime with NaN canonicalisation and without relaxed
//! SIMD, so every float operation has one IEEE result: the same model and input give the same
//! output bits on every machine, whatever its CPU. Native tract, by contrast, picks matrix
//! kernels (AVX2, FMA, AVX-512) at run time, and those round differently.
//!
//! The host drives it through these exports:
//! - `veriml_alloc(len) -> ptr`: a buffer the host writes arguments into;
//! - `veriml_load(model_ptr, model_len, specs_ptr, specs_len) -> packed`: checks, types and
//!   optimises a model for the SCALE-encoded `Vec<TensorSpec>`; answers
//!   `Result<ModelInfo, EngineError>`;
//! - `veriml_run(inputs_ptr, inputs_len) -> packed`: runs the loaded model on a SCALE-encoded
//!   `Vec<Tensor>`; answers `Result<Vec<Tensor>, EngineError>`;
//! - `veriml_describe_unsupported(model_ptr, model_len) -> packed`: what in a model the engine
//!   does not implement, in words (`Option<String>`), for `veriml-node infer`'s messages;
//! - `veriml_pin_inputs(model_ptr, model_len, values_ptr, values_len) -> packed`: the model
//!   with the inputs given in the SCALE-encoded `Vec<Option<Tensor>>` pinned as initializers
//!   (`Result<Vec<u8>, EngineError>`, see [`pin_inputs`]), for `veriml-node infer --pin`;
//! - `veriml_operators() -> packed`: the operators it implements (`Vec<String>`), for
//!   `veriml-node engine-guest --operators` and the docs.
//!
//! `packed` is `(ptr << 32) | len` of the SCALE-encoded answer in guest memory.
//!
//! Its imports are the host's tile kernel, whole matrix products, LRN, max pool, depthwise
//! convolution, element-wise chain and im2col (`veriml.run_tile_program`, `veriml.run_mat_mul`,
//! `veriml.run_lrn`, `veriml.run_max_pool`, `veriml.run_depthwise`, `veriml.run_bin_chain`,
//! `veriml.run_im2col`),
//! `veriml.meter_moved` and `veriml.meter_grown`, which the stand-ins for the bulk memory
//! instructions call (`metering.rs`). Built with the feature `profile` (never
//! for a node), it also imports `veriml.profile_node` (`profile.rs`).
//!
//! Built natively (as an rlib), [`load`] and [`run`] are the very same code on native tract:
//! what the engine's comparison and benchmark measure against.

/// `Op` and `EvalOp` of a typed op of the guest's own: `$name` names it (`$op` is the op), and
/// `$eval` computes its outputs from its inputs (`$inputs: &[TValue]`) alone, so tract may also
/// evaluate it out of a plan (folding constants).
macro_rules! eval_op {
	($type:ty, |$op:ident| $name:expr, |$this:ident, $inputs:ident| $eval:expr) => {
		impl Op for $type {
			fn name(&self) -> StaticName {
				let $op = self;
				$name.into()
			}

			op_as_typed_op!();
		}

		impl EvalOp for $type {
			fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
				let ($this, $inputs) = (self, &inputs[..]);
				let outputs: TractResult<TVec<TValue>> = $eval;
				outputs
			}

			fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
				let ($this, $inputs) = (self, &inputs[..]);
				let outputs: TractResult<TVec<TValue>> = $eval;
				Ok(Some(outputs?))
			}
		}
	};
}

/// `Op` and `EvalOp` of a typed op of one input whose `eval_one(&Tensor)` computes its
/// [`expansion::Outputs`] (one tensor, or a classifier's labels and scores).
macro_rules! one_input_op {
	($op:ty, $name:literal) => {
		eval_op!($op, |_op| $name, |op, inputs| {
			let [input] = inputs else { bail!("{} takes one input, got {}", $name, inputs.len()) };
			Ok($crate::expansion::Outputs::into_values(op.eval_one(input)?))
		});
	};
}

#[cfg(target_arch = "wasm32")]
mod bin_chain;
mod check;
mod convert;
#[cfg(target_arch = "wasm32")]
mod depthwise;
mod expansion;
#[cfg(target_arch = "wasm32")]
mod im2col;
#[cfg(target_arch = "wasm32")]
mod lrn;
#[cfg(target_arch = "wasm32")]
mod mat_mul;
#[cfg(target_arch = "wasm32")]
mod max_pool;
#[cfg(target_arch = "wasm32")]
mod host_kernel;
#[cfg(target_arch = "wasm32")]
mod metering;
mod ml;
mod pin;
#[cfg(all(target_arch = "wasm32", feature = "profile"))]
mod profile;
mod standard;

#[cfg(target_arch = "wasm32")]
use codec::{Decode, Encode};
#[cfg(target_arch = "wasm32")]
use std::cell::RefCell;
use tract_onnx::prelude::*;
pub use pin::pin_inputs;
use veriml_inference_primitives::{EngineError, ModelInfo, Tensor, TensorSpec};

/// A model checked, typed and optimised for its inputs.
pub type Plan = Arc<TypedRunnableModel>;

#[cfg(target_arch = "wasm32")]
struct LoadedModel {
	plan: Plan,
	inputs: Vec<TensorSpec>,
}

#[cfg(target_arch = "wasm32")]
thread_local! {
	static LOADED: RefCell<Option<LoadedModel>> = const { RefCell::new(None) };
}

/// The ONNX parser with the engine's operators registered.
fn onnx() -> tract_onnx::Onnx {
	let mut onnx = tract_onnx::onnx();
	// In the guest only: native builds stay plain tract, the baseline the benchmark compares.
	#[cfg(target_arch = "wasm32")]
	onnx.op_register.insert("LRN", lrn::lrn);
	// Everywhere: ONNX-ML operators as onnxruntime computes them (tract lacks most of them).
	ml::register(&mut onnx.op_register);
	// Everywhere: standard operators tract lacks.
	standard::register(&mut onnx.op_register);
	onnx
}

/// The operators the engine implements (ONNX op types of the standard and ONNX-ML domains),
/// sorted: tract-onnx's and the guest's own, but the random ones it refuses.
pub fn operators() -> Vec<String> {
	let mut names: Vec<String> = onnx()
		.op_register
		.0
		.keys()
		.filter(|name| !check::NON_DETERMINISTIC_OPERATORS.contains(&name.as_str()))
		.cloned()
		.collect();
	names.sort();
	names
}

/// What in `model` the engine does not implement, in words (see [`check::describe_unsupported`]);
/// `None` if it implements every operator or the file is no ONNX model.
pub fn describe_unsupported(model: &[u8]) -> Option<String> {
	let proto = decode(model).ok()?;
	check::describe_unsupported(&proto, &onnx())
}

/// The ONNX protobuf message of `model`, decoded from the bytes in place (its tensors' data
/// copied once, into the message).
fn decode(model: &[u8]) -> Result<tract_onnx::pb::ModelProto, EngineError> {
	use prost::Message;
	tract_onnx::pb::ModelProto::decode(model).map_err(|_| EngineError::MalformedModel)
}

/// Checks, types and optimises `model` for `inputs`.
pub fn load(model: &[u8], inputs: Vec<TensorSpec>) -> Result<(Plan, ModelInfo), EngineError> {
	load_proto(decode(model)?, inputs)
}

/// [`load`] of a decoded model. The message is dropped as soon as tract has built its model
/// from it, so a model's weights are held at most twice at once (as message and as tensors),
/// which bounds the guest's memory, and with it the fuel of restoring it for every run.
fn load_proto(proto: tract_onnx::pb::ModelProto, inputs: Vec<TensorSpec>) -> Result<(Plan, ModelInfo), EngineError> {
	let onnx = onnx();
	let node_count = check::check_model(&proto, &onnx)?;

	let mut inference =
		onnx.model_for_proto_model(&proto).map_err(|_| EngineError::ModelPreparationFailed)?;
	drop(proto);
	if inference.inputs.len() != inputs.len() {
		return Err(EngineError::InputMismatch)
	}
	for (index, spec) in inputs.iter().enumerate() {
		let declared = inference.input_fact(index).map_err(|_| EngineError::InputMismatch)?;
		if !convert::fits_declared(declared, spec) {
			return Err(EngineError::InputMismatch)
		}
		inference = inference
			.with_input_fact(index, convert::fact_of(spec).into())
			.map_err(|_| EngineError::InputMismatch)?;
	}
	// tract's `into_optimized`, in its two steps: the depthwise convolutions' geometry is read
	// from the decluttered model, before the optimiser hides it in its own operation.
	let mut typed = inference.into_typed().map_err(|_| EngineError::ModelPreparationFailed)?;
	typed.declutter().map_err(|_| EngineError::ModelPreparationFailed)?;
	#[cfg(target_arch = "wasm32")]
	let depthwise_convolutions = depthwise::convolutions(&typed);
	typed.optimize().map_err(|_| EngineError::ModelPreparationFailed)?;
	// In the guest only, as the LRN: native builds stay plain tract.
	#[cfg(target_arch = "wasm32")]
	{
		max_pool::on_host(&mut typed);
		depthwise::on_host(&mut typed, &depthwise_convolutions);
		bin_chain::on_host(&mut typed);
		im2col::on_host(&mut typed);
	}
	let outputs = (0..typed.outputs.len())
		.map(|index| {
			let fact = typed.output_fact(index).map_err(|_| EngineError::ModelPreparationFailed)?;
			convert::spec_of(fact)
		})
		.collect::<Result<Vec<_>, _>>()?;
	let plan = typed.into_runnable().map_err(|_| EngineError::ModelPreparationFailed)?;
	Ok((plan, ModelInfo { inputs, outputs, fuel_per_run: 0, fuel_to_prepare: 0, node_count }))
}

/// Runs `plan` on `inputs`, which the caller has checked against the model's specs.
pub fn run(plan: &Plan, inputs: &[Tensor]) -> Result<Vec<Tensor>, EngineError> {
	let values = inputs
		.iter()
		.map(|t| convert::to_tract(t).map(TValue::from))
		.collect::<Result<TVec<_>, _>>()?;
	#[cfg(not(all(target_arch = "wasm32", feature = "profile")))]
	let outputs = plan.run(values).map_err(|_| EngineError::ExecutionFailed)?;
	#[cfg(all(target_arch = "wasm32", feature = "profile"))]
	let outputs = profile::run(plan, values).map_err(|_| EngineError::ExecutionFailed)?;
	outputs.iter().map(|t| convert::from_tract(t)).collect()
}

/// Loads the model in `model`, the buffer the host wrote it into. Decoded as `Bytes`, the
/// message's tensor data is copied once out of the buffer, which is freed when decoding ends.
#[cfg(target_arch = "wasm32")]
fn load_into_slot(model: Vec<u8>, specs: &[u8]) -> Result<ModelInfo, EngineError> {
	use prost::Message;
	let specs = Vec::<TensorSpec>::decode(&mut &specs[..]).map_err(|_| EngineError::InputMismatch)?;
	let proto = tract_onnx::pb::ModelProto::decode(prost::bytes::Bytes::from(model))
		.map_err(|_| EngineError::MalformedModel)?;
	let (plan, info) = load_proto(proto, specs)?;
	LOADED.with(|slot| {
		*slot.borrow_mut() = Some(LoadedModel { plan, inputs: info.inputs.clone() });
	});
	Ok(info)
}

#[cfg(target_arch = "wasm32")]
fn run_loaded(inputs: &[u8]) -> Result<Vec<Tensor>, EngineError> {
	let inputs = Vec::<Tensor>::decode(&mut &inputs[..]).map_err(|_| EngineError::MalformedTensor)?;
	LOADED.with(|slot| {
		let slot = slot.borrow();
		let loaded = slot.as_ref().ok_or(EngineError::ModelUnavailable)?;
		veriml_inference_primitives::check_inputs(&inputs, &loaded.inputs)?;
		run(&loaded.plan, &inputs)
	})
}

/// Leaks `bytes` to the host: `(ptr << 32) | len`. Each call's instance is thrown away after
/// the host has read the answer, so nothing accumulates.
#[cfg(target_arch = "wasm32")]
fn hand_over(bytes: Vec<u8>) -> u64 {
	let bytes = bytes.into_boxed_slice();
	let len = bytes.len() as u64;
	let ptr = Box::into_raw(bytes) as *mut u8 as usize as u64;
	(ptr << 32) | len
}

/// # Safety
/// The host passes (ptr, len) pairs it got from `veriml_alloc` and filled.
#[cfg(target_arch = "wasm32")]
unsafe fn host_bytes<'a>(ptr: u32, len: u32) -> &'a [u8] {
	if len == 0 {
		return &[]
	}
	unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
}

/// # Safety
/// The host passes a (ptr, len) pair it got from `veriml_alloc(len)` and filled, and uses the
/// buffer no more: the guest owns it.
#[cfg(target_arch = "wasm32")]
unsafe fn host_buffer(ptr: u32, len: u32) -> Vec<u8> {
	if len == 0 {
		return Vec::new()
	}
	unsafe { Vec::from_raw_parts(ptr as usize as *mut u8, len as usize, allocated_len(len)) }
}

/// Runs the module's static constructors once. The host calls this right after instantiating;
/// an explicit call also stops the linker from re-running them at the start of every export.
/// First it takes the memory's size as the guest's own (`metering::start`: a node may give a
/// run room beyond it).
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn _initialize() {
	extern "C" {
		fn __wasm_call_ctors();
	}
	metering::start();
	unsafe { __wasm_call_ctors() }
}

/// The bytes `veriml_alloc(len)` allocates: `len`, and for a buffer of 1 MiB or more (a model's,
/// or a large input's) room beyond it, so that when `veriml_load` frees a model's buffer the
/// tensors tract then makes of its weights (each aligned, so a little larger than its bytes in
/// the file) are made where the file was rather than past the end of the memory.
#[cfg(target_arch = "wasm32")]
fn allocated_len(len: u32) -> usize {
	const ROOM_FROM: usize = 1 << 20;
	let len = len as usize;
	if len < ROOM_FROM { len } else { len + len / 512 + (64 << 10) }
}

/// A buffer of `len` bytes (at least) for the host to write arguments into. Not zeroed: the
/// host writes all `len` bytes before the guest reads any.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_alloc(len: u32) -> u32 {
	// `with_capacity` allocates exactly this many bytes, as `host_buffer` frees them.
	let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(allocated_len(len)));
	let ptr = buffer.as_mut_ptr() as usize as u32;
	metering::flush();
	ptr
}

/// Loads a model: see the crate docs.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_load(model_ptr: u32, model_len: u32, specs_ptr: u32, specs_len: u32) -> u64 {
	let (model, specs) = unsafe { (host_buffer(model_ptr, model_len), host_bytes(specs_ptr, specs_len)) };
	let answer = hand_over(load_into_slot(model, specs).encode());
	metering::flush();
	answer
}

/// Describes what in a model the engine does not implement: SCALE `Option<String>`, for
/// `veriml-node infer`'s message (never part of a verdict).
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_describe_unsupported(model_ptr: u32, model_len: u32) -> u64 {
	let model = unsafe { host_bytes(model_ptr, model_len) };
	let answer = hand_over(describe_unsupported(model).encode());
	metering::flush();
	answer
}

/// Pins inputs into a model: see the crate docs (never part of a verdict).
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_pin_inputs(model_ptr: u32, model_len: u32, values_ptr: u32, values_len: u32) -> u64 {
	let (model, values) = unsafe { (host_bytes(model_ptr, model_len), host_bytes(values_ptr, values_len)) };
	let pinned = Vec::<Option<Tensor>>::decode(&mut &values[..])
		.map_err(|_| EngineError::MalformedTensor)
		.and_then(|values| pin_inputs(model, values));
	let answer = hand_over(pinned.encode());
	metering::flush();
	answer
}

/// The operators the engine implements: SCALE `Vec<String>`, sorted (see [`operators`]).
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_operators() -> u64 {
	let answer = hand_over(operators().encode());
	metering::flush();
	answer
}

/// Runs the loaded model: see the crate docs.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
pub extern "C" fn veriml_run(inputs_ptr: u32, inputs_len: u32) -> u64 {
	let inputs = unsafe { host_bytes(inputs_ptr, inputs_len) };
	let answer = hand_over(run_loaded(inputs).encode());
	metering::flush();
	answer
}
