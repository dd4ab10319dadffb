//! The guest module under wasmtime: preparing a model once, then running every inference from
//! a snapshot of the prepared state.

use crate::{limits::Limits, LOG_TARGET};
use codec::{Decode, Encode};
use veriml_inference_primitives::{EngineError, Execution, ModelInfo, Tensor, TensorSpec};
use wasmtime::{Cache, CacheConfig, Config, Instance, Memory, Module, OptLevel, ResourceLimiter, Store, Trap};

const PAGE: usize = 64 * 1024;

/// Native stack of the thread the guest runs on: well above wasmtime's `max_wasm_stack`, so the
/// wasm stack limit (a clean trap) is always hit before the native stack runs out. The calling
/// thread (a tokio worker inside the runtime's own wasm call) has far less.
const GUEST_THREAD_STACK: usize = 64 * 1024 * 1024;

/// Runs `work` on a fresh thread with [`GUEST_THREAD_STACK`] of stack.
fn on_guest_thread<R: Send>(work: impl FnOnce() -> Result<R, EngineError> + Send) -> Result<R, EngineError> {
	std::thread::scope(|scope| {
		std::thread::Builder::new()
			.name("veriml-engine".into())
			.stack_size(GUEST_THREAD_STACK)
			.spawn_scoped(scope, work)
			.map_err(|_| EngineError::EngineUnavailable)?
			.join()
			.map_err(|_| EngineError::ExecutionFailed)?
	})
}

/// A model checked and optimised inside the guest, as the guest's memory right after.
pub struct Prepared {
	snapshot: Vec<u8>,
	/// What the guest reported about the model (its `fuel_per_run` is filled by `inspect`).
	pub info: ModelInfo,
}

impl Prepared {
	/// Bytes the snapshot holds.
	pub fn snapshot_bytes(&self) -> usize {
		self.snapshot.len()
	}
}

/// Where compiled guest code is kept between processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CompiledCache {
	/// Compile in every process.
	#[default]
	None,
	/// wasmtime's per-user cache directory (`~/.cache/wasmtime` on Linux).
	UserDefault,
	/// This directory (absolute).
	Directory(std::path::PathBuf),
}

/// The compiled guest module.
pub struct Guest {
	engine: wasmtime::Engine,
	module: Module,
	limits: Limits,
}

/// Per-instance state: memory accounting.
struct InstanceState {
	limiter: MemoryLimiter,
}

/// Grants linear memory up to a fixed size and remembers a refusal, so an allocation failure
/// is reported as `OutOfMemory` rather than as a generic trap.
struct MemoryLimiter {
	max_bytes: usize,
	refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
	fn memory_growing(
		&mut self,
		_current: usize,
		desired: usize,
		_maximum: Option<usize>,
	) -> wasmtime::Result<bool> {
		let allowed = desired <= self.max_bytes;
		self.refused |= !allowed;
		Ok(allowed)
	}

	fn table_growing(
		&mut self,
		_current: usize,
		desired: usize,
		_maximum: Option<usize>,
	) -> wasmtime::Result<bool> {
		Ok(desired <= 100_000)
	}
}

impl Guest {
	/// Compiles the guest with the deterministic configuration.
	pub fn compile(wasm: &[u8], limits: &Limits, cache: &CompiledCache) -> wasmtime::Result<Self> {
		let mut config = Config::new();
		// The deterministic subset of wasm: one IEEE result per float op, no NaN payload
		// differences, no relaxed SIMD (whose results may depend on the CPU), no threads.
		config
			.cranelift_nan_canonicalization(true)
			.wasm_simd(true)
			.wasm_relaxed_simd(false)
			.relaxed_simd_deterministic(true)
			.wasm_threads(false)
			.wasm_multi_memory(false)
			.wasm_memory64(false)
			// Fuel counts executed instructions: the deterministic measure of work and the
			// only limit applied while running.
			.consume_fuel(true)
			// Generous, so the native stack (whose frame sizes may vary with the host's
			// instruction set) is never the limit that stops a model.
			.max_wasm_stack(8 * 1024 * 1024)
			.cranelift_opt_level(OptLevel::Speed);
		let cache = match cache {
			CompiledCache::None => None,
			CompiledCache::UserDefault => Some(CacheConfig::new()),
			CompiledCache::Directory(directory) => {
				let mut settings = CacheConfig::new();
				settings.with_directory(directory);
				Some(settings)
			},
		};
		if let Some(settings) = cache {
			// A cache that cannot be set up costs time, never correctness: compile without it.
			match Cache::new(settings) {
				Ok(cache) => {
					config.cache(Some(cache));
				},
				Err(error) => log::warn!(
					target: LOG_TARGET,
					"no cache for the engine's compiled code ({error}); compiling in this process"
				),
			}
		}
		let engine = wasmtime::Engine::new(&config)?;
		let module = Module::from_binary(&engine, wasm)?;
		if module.imports().len() != 0 {
			return Err(wasmtime::Error::msg(
				"the engine guest imports host functions; it must be self-contained",
			))
		}
		Ok(Self { engine, module, limits: limits.clone() })
	}

	fn new_store(&self, fuel: u64) -> Result<Store<InstanceState>, EngineError> {
		let limiter = MemoryLimiter { max_bytes: self.limits.max_memory_bytes, refused: false };
		let mut store = Store::new(&self.engine, InstanceState { limiter });
		store.limiter(|state| &mut state.limiter);
		store.set_fuel(fuel).map_err(|_| EngineError::EngineUnavailable)?;
		Ok(store)
	}

	fn instantiate(&self, store: &mut Store<InstanceState>) -> Result<(Instance, Memory), EngineError> {
		let instance = Instance::new(&mut *store, &self.module, &[]).map_err(|error| {
			log::error!(target: LOG_TARGET, "instantiating the engine guest failed: {error}");
			EngineError::EngineUnavailable
		})?;
		let memory =
			instance.get_memory(&mut *store, "memory").ok_or(EngineError::EngineUnavailable)?;
		Ok((instance, memory))
	}

	/// Checks, types and optimises `model` for `inputs` in a fresh instance, and keeps the
	/// instance's memory afterwards as the model's snapshot.
	pub fn prepare(
		&self,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<Prepared, EngineError> {
		on_guest_thread(|| self.prepare_here(model, inputs, fuel_limit))
	}

	fn prepare_here(
		&self,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<Prepared, EngineError> {
		let mut store = self.new_store(fuel_limit)?;
		let (instance, memory) = self.instantiate(&mut store)?;
		let init = instance
			.get_typed_func::<(), ()>(&mut store, "_initialize")
			.map_err(|_| EngineError::EngineUnavailable)?;
		init.call(&mut store, ()).map_err(|e| classify(e, &store))?;

		let model_ptr = write_argument(&instance, &memory, &mut store, model)?;
		let specs = inputs.encode();
		let specs_ptr = write_argument(&instance, &memory, &mut store, &specs)?;
		let load = instance
			.get_typed_func::<(u32, u32, u32, u32), u64>(&mut store, "veriml_load")
			.map_err(|_| EngineError::EngineUnavailable)?;
		let packed = load
			.call(&mut store, (model_ptr, model.len() as u32, specs_ptr, specs.len() as u32))
			.map_err(|e| classify(e, &store))?;
		let answer: Result<ModelInfo, EngineError> =
			read_answer(&memory, &store, packed, self.limits.max_output_bytes)?;
		let mut info = answer?;
		info.fuel_to_prepare = fuel_limit.saturating_sub(store.get_fuel().unwrap_or(0));
		Ok(Prepared { snapshot: memory.data(&store).to_vec(), info })
	}

	/// Runs a prepared model on `inputs` in a fresh instance restored to its snapshot.
	pub fn run(
		&self,
		prepared: &Prepared,
		inputs: &[Tensor],
		fuel_limit: u64,
	) -> Result<Execution, EngineError> {
		on_guest_thread(|| self.run_here(prepared, inputs, fuel_limit))
	}

	fn run_here(
		&self,
		prepared: &Prepared,
		inputs: &[Tensor],
		fuel_limit: u64,
	) -> Result<Execution, EngineError> {
		let mut store = self.new_store(fuel_limit)?;
		let (instance, memory) = self.instantiate(&mut store)?;
		let pages = prepared.snapshot.len() / PAGE;
		let current = memory.size(&store) as usize;
		if pages > current {
			memory.grow(&mut store, (pages - current) as u64).map_err(|_| EngineError::OutOfMemory)?;
		}
		memory.data_mut(&mut store)[..prepared.snapshot.len()].copy_from_slice(&prepared.snapshot);

		let encoded = inputs.encode();
		let inputs_ptr = write_argument(&instance, &memory, &mut store, &encoded)?;
		let run = instance
			.get_typed_func::<(u32, u32), u64>(&mut store, "veriml_run")
			.map_err(|_| EngineError::EngineUnavailable)?;
		let packed = run
			.call(&mut store, (inputs_ptr, encoded.len() as u32))
			.map_err(|e| classify(e, &store))?;
		let answer: Result<Vec<Tensor>, EngineError> =
			read_answer(&memory, &store, packed, self.limits.max_output_bytes)?;
		let outputs = answer?;
		let fuel_used = fuel_limit.saturating_sub(store.get_fuel().unwrap_or(0));
		Ok(Execution { outputs, fuel_used })
	}
}

/// Copies `bytes` into a buffer the guest allocates; answers its address.
fn write_argument(
	instance: &Instance,
	memory: &Memory,
	store: &mut Store<InstanceState>,
	bytes: &[u8],
) -> Result<u32, EngineError> {
	let len = u32::try_from(bytes.len()).map_err(|_| EngineError::InputTooLarge)?;
	let alloc = instance
		.get_typed_func::<u32, u32>(&mut *store, "veriml_alloc")
		.map_err(|_| EngineError::EngineUnavailable)?;
	let ptr = alloc.call(&mut *store, len).map_err(|e| classify(e, store))?;
	memory.write(&mut *store, ptr as usize, bytes).map_err(|_| EngineError::OutOfMemory)?;
	Ok(ptr)
}

/// Reads and decodes the answer at `packed` = `(ptr << 32) | len`.
fn read_answer<T: Decode>(
	memory: &Memory,
	store: &Store<InstanceState>,
	packed: u64,
	max_len: usize,
) -> Result<T, EngineError> {
	let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
	if len > max_len {
		return Err(EngineError::OutputTooLarge)
	}
	let bytes = memory
		.data(store)
		.get(ptr..ptr.saturating_add(len))
		.ok_or(EngineError::ExecutionFailed)?;
	T::decode(&mut &bytes[..]).map_err(|_| EngineError::ExecutionFailed)
}

/// What a trap in the guest means for the caller.
fn classify(error: wasmtime::Error, store: &Store<InstanceState>) -> EngineError {
	if store.data().limiter.refused {
		return EngineError::OutOfMemory
	}
	match error.downcast_ref::<Trap>() {
		Some(Trap::OutOfFuel) => EngineError::FuelExhausted,
		_ => {
			log::debug!(target: LOG_TARGET, "the model trapped: {error}");
			EngineError::ExecutionFailed
		},
	}
}
