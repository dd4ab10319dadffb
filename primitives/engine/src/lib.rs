//! veriml's deterministic ONNX engine.
//!
//! tract-onnx, compiled to a wasm32 module (`primitives/engine-guest`), runs under wasmtime
//! configured for deterministic execution: NaN canonicalisation on, relaxed SIMD off, threads
//! off. The guest's float arithmetic is then fixed by the wasm specification, not by the CPU,
//! so every node computes the same output bits and the same result hash.
//!
//! The exceptions to "all in wasm" are the host kernels: the guest hands matrix products (tile
//! programs, or a whole product), LRNs, max pools, depthwise convolutions and element-wise
//! chains to the host (`host_kernel`, `lrn`, `max_pool`, `depthwise`, `bin_chain`), which runs them
//! natively with exactly the bits the
//! guest's wasm would give (one rounding per multiply and per add, in order, wasm's min/max and
//! canonical NaN). The engine checks that equality on random programs and operations before it
//! reports ready, and refuses to run otherwise.
//!
//! Every inference starts from the same state: a model is prepared once (checked, typed and
//! optimised inside the guest) and the guest's memory after preparation is kept as a snapshot;
//! each run instantiates the module afresh and restores that snapshot. Fuel use is then a pure
//! function of model and input, so fuel limits, and the costs charged from them, are
//! consensus-safe.
//!
//! Every limit that can stop a model is counted in wasm terms, the same on every CPU: fuel,
//! memory pages, and the call stack, which the guest counts itself in slots of wasm values
//! (`stack_limit`: the engine's build adds the counting, and the engine refuses a guest
//! without it). wasmtime's native stack limit sits far above, and reaching it is a local
//! failure, never a verdict.

mod bin_chain;
mod depthwise;
mod float_mode;
mod generate;
mod guest_stack;
mod host_kernel;
mod im2col;
mod limits;
mod lrn;
mod max_pool;
pub mod metering;
pub mod observer;
pub mod profile;
mod snapshot;
mod stack_limit;
pub mod tokenizer;
mod written_pages;

pub use generate::{GenerateError, Generation, GenerationRequest, Stop};
pub use limits::Limits;
pub use observer::Observer;
pub use profile::{NodeTime, Profile, RunTimes};
pub use snapshot::CompiledCache;

use codec::Encode;
use snapshot::{Guest, Prepared};
use std::{
	collections::{HashMap, VecDeque},
	sync::{Arc, Mutex, OnceLock},
};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{
	check_inputs, guest as guest_consts, metering as names, model_hash, EngineError, EngineGuest, Execution,
	LocalFailure, ModelHash, ModelInfo, RunError, Tensor, TensorSpec,
};

pub use veriml_inference_primitives::{json, ENGINE_VERSION};

/// Log target of the engine.
pub const LOG_TARGET: &str = "veriml::engine";

/// Random tile programs the engine runs both ways at start-up (a few milliseconds).
const HOST_KERNEL_CHECKS: u32 = 512;

/// The guest module this engine is built with: tract-onnx compiled to wasm32, its bulk memory
/// instructions metered ([`metering`]), declaring [`ENGINE_VERSION`].
pub const GUEST_WASM: &[u8] = include_bytes!(env!("VERIML_ENGINE_GUEST_WASM"));

/// blake2-256 of [`GUEST_WASM`]: nodes whose engines share this hash compute identical results.
/// Hashed once per process.
pub fn guest_hash() -> ModelHash {
	built_in_guest().hash
}

/// The guest this engine is built with, as the chain names it: [`GUEST_WASM`]'s hash and the
/// engine version it declares.
pub fn built_in_guest() -> EngineGuest {
	static GUEST: OnceLock<EngineGuest> = OnceLock::new();
	*GUEST.get_or_init(|| EngineGuest {
		hash: model_hash(GUEST_WASM),
		version: metering::declared_version(GUEST_WASM).unwrap_or(ENGINE_VERSION),
	})
}

/// What a guest's bytes as the chain stores them (zstd-compressed as the runtime's code is, or
/// plain wasm) are: its identity and its wasm, or why it cannot be an engine guest. A pure
/// function of the bytes, so every node reaches the same answer.
pub fn identify_guest(code: &[u8]) -> Result<(EngineGuest, Vec<u8>), String> {
	let wasm = sp_maybe_compressed_blob::decompress(code, guest_consts::MAX_GUEST_BYTES)
		.map_err(|e| format!("the guest does not decompress: {e}"))?
		.into_owned();
	metering::check_metered(&wasm)?;
	let version = metering::declared_version(&wasm).ok_or_else(|| {
		format!("the guest declares no engine version (custom section `{}`)", guest_consts::VERSION_SECTION)
	})?;
	Ok((EngineGuest { hash: model_hash(&wasm), version }, wasm))
}

/// A guest this engine knows: the built-in one, or one the chain stores. It is compiled once,
/// on first use or in the background as soon as it is known.
struct KnownGuest {
	id: EngineGuest,
	wasm: std::borrow::Cow<'static, [u8]>,
	compiled: OnceLock<Result<Guest, String>>,
}

impl KnownGuest {
	/// The compiled guest, compiling it now unless another thread has (or is doing so, which
	/// this waits for).
	fn compiled(
		&self,
		limits: &Limits,
		cache: &CompiledCache,
		profiling: bool,
		observer: Option<&Arc<dyn Observer>>,
	) -> Result<&Guest, RunError> {
		self.compiled
			.get_or_init(|| compile_guest(&self.id, &self.wasm, limits, cache, profiling, observer))
			.as_ref()
			.map_err(|_| LocalFailure::EngineUnavailable.into())
	}
}

/// Compiles a guest and checks the native tile kernel against its wasm kernel on this machine.
fn compile_guest(
	id: &EngineGuest,
	wasm: &[u8],
	limits: &Limits,
	cache: &CompiledCache,
	profiling: bool,
	observer: Option<&Arc<dyn Observer>>,
) -> Result<Guest, String> {
	log::info!(
		target: LOG_TARGET,
		"loading engine guest {:?} (engine version {}, {} KiB of wasm; compiled now unless the compiled-code cache has it)",
		id.hash,
		id.version,
		wasm.len() / 1024
	);
	let started = std::time::Instant::now();
	let mut from_compiled_cache = false;
	// Compiled in IEEE mode whatever the thread's: cranelift folds float constants with the
	// compiling thread's arithmetic, and the machine code must be the same on every node.
	let ieee = float_mode::Flushing::set(false);
	let compiled = Guest::compile(wasm, limits, cache, profiling);
	drop(ieee);
	let guest = compiled
		.inspect(|guest| from_compiled_cache = guest.loaded_from_compiled_cache())
		// With its causes: which CPU feature is missing, for instance.
		.map_err(|e| format!("{e:#}"))
		.and_then(|guest| {
			// The native tile kernel must give the wasm kernel's bits on this machine, or this
			// node would disagree with the others: no engine then.
			match guest.check_host_kernel(0, HOST_KERNEL_CHECKS) {
				Ok(0) => Ok(guest),
				Ok(differing) => Err(format!(
					"the node's native kernels differ from the guest's wasm on {differing} of {HOST_KERNEL_CHECKS} tile programs, {HOST_KERNEL_CHECKS} LRNs, {HOST_KERNEL_CHECKS} max pools, {HOST_KERNEL_CHECKS} matrix products, {HOST_KERNEL_CHECKS} depthwise convolutions and {HOST_KERNEL_CHECKS} element-wise chains"
				)),
				Err(error) => Err(format!("the tile kernel check failed: {error:?}")),
			}
		});
	match &guest {
		Ok(_) => log::info!(
			target: LOG_TARGET,
			"inference engine ready in {:.1} s (engine version {}, guest {:?})",
			started.elapsed().as_secs_f64(),
			id.version,
			id.hash
		),
		Err(error) => log::error!(
			target: LOG_TARGET,
			"engine guest {:?} failed to compile on this node: {error}",
			id.hash
		),
	}
	if let Some(observer) = observer {
		observer.guest_loaded(id, from_compiled_cache, guest.is_ok(), started.elapsed().as_secs_f64());
	}
	guest
}

/// The deterministic engine: the guests it knows, by hash, and its cache of prepared models.
pub struct Engine {
	limits: Limits,
	compiled_cache: CompiledCache,
	guests: Mutex<HashMap<ModelHash, Arc<KnownGuest>>>,
	cache: Mutex<PreparedCache>,
	observer: OnceLock<Arc<dyn Observer>>,
	/// Whether guests may report their nodes ([`profile`]): for profiling only, never a node's.
	profiling: bool,
}

impl Engine {
	/// An engine with the given limits that knows its built-in guest. A guest is compiled on
	/// first use.
	pub fn new(limits: Limits) -> Self {
		let built_in = built_in_guest();
		let known =
			KnownGuest { id: built_in, wasm: std::borrow::Cow::Borrowed(GUEST_WASM), compiled: OnceLock::new() };
		Self {
			limits,
			compiled_cache: CompiledCache::None,
			guests: Mutex::new(HashMap::from([(built_in.hash, Arc::new(known))])),
			cache: Mutex::new(PreparedCache::default()),
			observer: OnceLock::new(),
			profiling: false,
		}
	}

	/// This engine, its guests linked with the import through which a guest built to profile
	/// (`veriml-engine-guest`'s feature `profile`) reports its nodes, so that
	/// [`profile_model`](Self::profile_model) times them. For `scripts/profile-engine.sh`: a
	/// node's engine never links it, so such a guest cannot run there. Call it before any guest
	/// is compiled (first use or [`warm_up`](Self::warm_up)).
	pub fn with_profiling(mut self) -> Self {
		self.profiling = true;
		self
	}

	/// Reports every call, prepared-model cache lookup and guest load from now on to
	/// `observer` (the node's metrics); `false` if an observer was set already. Set it before
	/// [`warm_up`](Self::warm_up) to see the built-in guest's load.
	pub fn set_observer(&self, observer: Arc<dyn Observer>) -> bool {
		self.observer.set(observer).is_ok()
	}

	/// Reports `call` to the observer, if any, and hands its outcome on.
	fn observed<T>(
		&self,
		work: observer::Work,
		lane: Lane,
		model: impl FnOnce() -> ModelHash,
		fuel: impl FnOnce(&T) -> u64,
		call: impl FnOnce() -> Result<T, RunError>,
	) -> Result<T, RunError> {
		let Some(observer) = self.observer.get() else { return call() };
		let started = std::time::Instant::now();
		let answer = call();
		let seconds = started.elapsed().as_secs_f64();
		let (model, outcome) = (model(), answer.as_ref().map(fuel));
		observer.call(&observer::Call { work, lane, model, outcome, seconds });
		answer
	}

	/// Keeps the guest's machine code on disk, so later processes load it in well under a second
	/// instead of compiling the module again (tens of seconds). The cache is wasmtime's: entries
	/// are keyed by the module, the compiler settings and the wasmtime version.
	pub fn with_compiled_cache(mut self, cache: CompiledCache) -> Self {
		self.compiled_cache = cache;
		self
	}

	/// The engine's limits.
	pub fn limits(&self) -> &Limits {
		&self.limits
	}

	/// Compiles the built-in guest now rather than at the first inference, which may fall in a
	/// block's import or authoring. `false` if it does not compile on this machine.
	pub fn warm_up(&self) -> bool {
		self.built_in().is_ok()
	}

	/// Runs `programs` random tile programs (from `seed`) through tract's wasm kernel and the
	/// native tile kernel; answers how many gave different bits (0 on a sound machine).
	pub fn check_host_kernel(&self, seed: u32, programs: u32) -> Result<u32, RunError> {
		self.with_guest(&guest_hash(), |guest| guest.check_host_kernel(seed, programs))
	}

	/// What in `model` the built-in guest does not implement, in words: the operator with its
	/// domain and opset version, for a person reading an `UnsupportedOperator` refusal. `None`
	/// if it implements every operator (or the guest cannot say). Never part of a verdict.
	pub fn describe_unsupported(&self, model: &[u8]) -> Option<String> {
		self.with_guest(&guest_hash(), |guest| guest.describe_unsupported(model)).ok().flatten()
	}

	/// `model` with the inputs given in `values` pinned as initializers of those values, by the
	/// built-in guest: one entry per input the model takes, `Some(value)` for each input whose
	/// value decides a shape (a Reshape's target, a reduction's axes, TopK's k…) and `None` for
	/// each that stays an input. The chain prepares a model for fixed shapes; such a model is
	/// registered pinned. Never part of a verdict.
	pub fn pin_inputs(&self, model: &[u8], values: &[Option<Tensor>]) -> Result<Vec<u8>, RunError> {
		if model.len() > self.limits.max_model_bytes {
			return Err(EngineError::ModelTooLarge.into());
		}
		self.with_guest(&guest_hash(), |guest| guest.pin_inputs(model, values))
	}

	/// The operators the built-in guest implements (ONNX op types), sorted.
	pub fn operators(&self) -> Result<Vec<String>, RunError> {
		self.with_guest(&guest_hash(), |guest| guest.operators())
	}

	/// Why the built-in guest cannot run here (it did not compile for this CPU, or the tile
	/// kernel check failed), once it has tried to start; `None` while it works or before.
	pub fn unavailable_reason(&self) -> Option<String> {
		let known = self.known(&guest_hash())?;
		known.compiled.get()?.as_ref().err().cloned()
	}

	/// Adds the guest whose stored bytes are `code` (see [`identify_guest`]) and starts
	/// compiling it in the background, so that the blocks that run it later find it ready.
	///
	/// The answer is [`identify_guest`]'s alone: a failure to keep the guest here (a poisoned
	/// lock) is logged, and a later call naming the guest finds it unknown and aborts as a
	/// local failure, never turning into a refusal of valid bytes.
	pub fn add_guest(&self, code: &[u8]) -> Result<EngineGuest, String> {
		let (id, wasm) = identify_guest(code)?;
		let known = {
			let Ok(mut guests) = self.guests.lock() else {
				log::error!(target: LOG_TARGET, "engine guest {:?} not kept: the engine's guest table is poisoned", id.hash);
				return Ok(id);
			};
			if guests.contains_key(&id.hash) {
				return Ok(id);
			}
			let known = Arc::new(KnownGuest { id, wasm: wasm.into(), compiled: OnceLock::new() });
			guests.insert(id.hash, known.clone());
			known
		};
		let (limits, cache, profiling, observer) =
			(self.limits.clone(), self.compiled_cache.clone(), self.profiling, self.observer.get().cloned());
		let spawned = std::thread::Builder::new().name("veriml-engine-compile".into()).spawn(move || {
			let _ = known.compiled(&limits, &cache, profiling, observer.as_ref());
		});
		if let Err(error) = spawned {
			// It is compiled at its first use instead.
			log::warn!(target: LOG_TARGET, "no thread to compile engine guest {:?} ahead: {error}", id.hash);
		}
		Ok(id)
	}

	fn known(&self, guest: &ModelHash) -> Option<Arc<KnownGuest>> {
		self.guests.lock().ok()?.get(guest).cloned()
	}

	/// Runs `work` with guest `guest`, compiled (now, if it was not yet); a local failure if
	/// this engine does not know the guest or it does not compile here.
	fn with_guest<R>(
		&self,
		guest: &ModelHash,
		work: impl FnOnce(&Guest) -> Result<R, RunError>,
	) -> Result<R, RunError> {
		let known = self.known(guest).ok_or(LocalFailure::OtherGuest)?;
		work(known.compiled(&self.limits, &self.compiled_cache, self.profiling, self.observer.get())?)
	}

	fn built_in(&self) -> Result<(), RunError> {
		self.with_guest(&guest_hash(), |_| Ok(()))
	}

	/// Checks and prepares `model` for `inputs` without touching the cache, and measures the
	/// fuel of preparing it and of one run on all-zero inputs, each within `fuel_limit`.
	pub fn inspect_model(&self, model: &[u8], inputs: &[TensorSpec], fuel_limit: u64) -> Result<ModelInfo, RunError> {
		InferenceEngine::inspect(self, Lane::Consensus, guest_hash(), model, inputs, fuel_limit)
	}

	/// Runs `model` on `inputs` (specs taken from the inputs) with the built-in guest, preparing
	/// it if needed. For the `infer` command and tests; the chain goes through
	/// [`InferenceEngine::run`].
	pub fn run_model(&self, model: &[u8], inputs: &[Tensor], fuel_limit: u64) -> Result<Execution, RunError> {
		self.run_model_hashed(model, model_hash(model), inputs, fuel_limit, None)
	}

	/// [`Engine::run_model`] with the model's hash already known (a generation's steps run one
	/// model many times: it is hashed once).
	fn run_model_hashed(
		&self,
		model: &[u8],
		hash: ModelHash,
		inputs: &[Tensor],
		fuel_limit: u64,
		preparation_limit: Option<u64>,
	) -> Result<Execution, RunError> {
		let specs =
			inputs.iter().map(|t| t.spec().ok_or(EngineError::MalformedTensor)).collect::<Result<Vec<_>, _>>()?;
		let mut load = || Some(model.to_vec());
		self.run_prepared(Lane::Consensus, guest_hash(), hash, &mut load, &specs, inputs, fuel_limit, preparation_limit)
	}

	/// Prepares `model` for `inputs` with guest `guest` (the built-in one: [`guest_hash`]) in a
	/// fresh instance, apart from the cache, then runs it `runs` times, timing each phase of
	/// each run and, with a profiling guest in a profiling engine, each node ([`profile`]).
	pub fn profile_model(
		&self,
		guest: ModelHash,
		model: &[u8],
		inputs: &[Tensor],
		runs: usize,
	) -> Result<Profile, RunError> {
		let specs =
			inputs.iter().map(|t| t.spec().ok_or(EngineError::MalformedTensor)).collect::<Result<Vec<_>, _>>()?;
		check_inputs(inputs, &specs)?;
		self.check_input_size(inputs)?;
		// The guest compiled first, so that preparation's time is the model's alone.
		self.with_guest(&guest, |_| Ok(()))?;
		let started = std::time::Instant::now();
		let prepared = self.prepare(Lane::Consensus, guest, model, &specs, self.limits.max_fuel_to_prepare)?;
		let prepare = started.elapsed();
		let mut profile = Profile {
			prepare,
			fuel_to_prepare: prepared.info.fuel_to_prepare,
			snapshot_bytes: prepared.snapshot_bytes(),
			fuel_per_run: 0,
			runs: Vec::with_capacity(runs),
			nodes: Vec::new(),
		};
		self.with_guest(&guest, |engine| {
			for _ in 0..runs {
				let (execution, times, nodes) = engine.run_timed(&prepared, inputs, self.limits.max_fuel_per_run)?;
				profile.fuel_per_run = execution.fuel_used;
				profile.runs.push(times);
				profile.nodes.extend(nodes);
			}
			Ok(())
		})?;
		Ok(profile)
	}

	#[allow(clippy::too_many_arguments)]
	fn run_prepared(
		&self,
		lane: Lane,
		guest: ModelHash,
		hash: ModelHash,
		load_model: &mut dyn FnMut() -> Option<Vec<u8>>,
		specs: &[TensorSpec],
		inputs: &[Tensor],
		fuel_limit: u64,
		preparation_limit: Option<u64>,
	) -> Result<Execution, RunError> {
		check_inputs(inputs, specs)?;
		self.check_input_size(inputs)?;
		// Within a preparation limit, a model is run only where preparing it takes at most that
		// fuel, whether this node prepares it now or prepared it before: the same verdict on
		// every node, whatever its cache holds. (At most one less than the engine's cap, so that
		// a preparation that takes exactly the limit is given one more and ends with fuel left.)
		let within = preparation_limit.map(|limit| limit.min(self.limits.max_fuel_to_prepare.saturating_sub(1)));
		// Prepared state is the guest's memory: it belongs to that guest.
		let key = (guest, hash, specs.encode());
		let cached = self.cache.lock().map_err(|_| LocalFailure::HostResources)?.get(&key);
		let cached = match (cached, within) {
			(Some(prepared), Some(limit)) => match prepared.prepares_within(limit) {
				Some(true) => Some(prepared),
				Some(false) => return Err(EngineError::FuelExhausted.into()),
				// Prepared with all the fuel it was given: its measure cannot tell.
				None => None,
			},
			(cached, _) => cached,
		};
		if let Some(observer) = self.observer.get() {
			observer.prepared_cache(lane, cached.is_some());
		}
		let prepared = match cached {
			Some(prepared) => prepared,
			None => {
				let model = load_model().ok_or(EngineError::ModelUnavailable)?;
				if model_hash(&model) != hash {
					return Err(EngineError::ModelUnavailable.into());
				}
				// A model the chain registered was prepared within the registration's fuel limit;
				// without a preparation limit only the engine's own cap applies, never lower.
				let given = within.map_or(self.limits.max_fuel_to_prepare, |limit| limit + 1);
				let prepared = Arc::new(self.prepare(lane, guest, &model, specs, given)?);
				if within.is_some_and(|limit| prepared.prepares_within(limit) != Some(true)) {
					return Err(EngineError::FuelExhausted.into());
				}
				self.cache.lock().map_err(|_| LocalFailure::HostResources)?.insert(
					key,
					prepared.clone(),
					self.limits.cache_bytes,
				);
				prepared
			},
		};
		self.with_guest(&guest, |engine| {
			engine.run(lane, &prepared, inputs, fuel_limit.min(self.limits.max_fuel_per_run))
		})
	}

	fn prepare(
		&self,
		lane: Lane,
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<Prepared, RunError> {
		if model.len() > self.limits.max_model_bytes {
			return Err(EngineError::ModelTooLarge.into());
		}
		let prepared = self.with_guest(&guest, |engine| {
			engine.prepare(lane, model, inputs, fuel_limit.min(self.limits.max_fuel_to_prepare))
		})?;
		// Refused now rather than on every run: outputs that could never be handed back.
		let output_bytes =
			prepared.info.outputs.iter().try_fold(0usize, |total, spec| total.checked_add(spec.byte_len()?));
		if output_bytes.is_none_or(|bytes| bytes > self.limits.max_output_bytes) {
			return Err(EngineError::OutputTooLarge.into());
		}
		Ok(prepared)
	}

	fn check_input_size(&self, inputs: &[Tensor]) -> Result<(), RunError> {
		let bytes: usize = inputs.iter().map(|t| t.data.len()).sum();
		if bytes > self.limits.max_input_bytes {
			return Err(EngineError::InputTooLarge.into());
		}
		Ok(())
	}
}

impl Default for Engine {
	fn default() -> Self {
		Self::new(Limits::default())
	}
}

impl InferenceEngine for Engine {
	fn guest_hash(&self) -> ModelHash {
		guest_hash()
	}

	fn has_guest(&self, guest: &ModelHash) -> bool {
		self.known(guest).is_some()
	}

	fn add_guest(&self, code: &[u8]) -> Option<EngineGuest> {
		self.add_guest(code).inspect_err(|error| log::warn!(target: LOG_TARGET, "not an engine guest: {error}")).ok()
	}

	fn inspect(
		&self,
		lane: Lane,
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<ModelInfo, RunError> {
		self.observed(
			observer::Work::Inspect,
			lane,
			|| model_hash(model),
			|info: &ModelInfo| info.fuel_per_run,
			|| {
				let zeros = inputs
					.iter()
					.map(|spec| Tensor::zeros(spec).ok_or(EngineError::InputTooLarge))
					.collect::<Result<Vec<_>, _>>()?;
				self.check_input_size(&zeros)?;
				let prepared = self.prepare(lane, guest, model, inputs, fuel_limit)?.for_one_run();
				let execution = self.with_guest(&guest, |engine| {
					engine.run(lane, &prepared, &zeros, fuel_limit.min(self.limits.max_fuel_per_run))
				})?;
				let mut info = prepared.info.clone();
				info.fuel_per_run = execution.fuel_used;
				Ok(info)
			},
		)
	}

	fn run(
		&self,
		lane: Lane,
		guest: ModelHash,
		model_hash: ModelHash,
		load_model: &mut dyn FnMut() -> Option<Vec<u8>>,
		inputs: &[TensorSpec],
		input_values: &[Tensor],
		fuel_limit: u64,
		preparation_limit: Option<u64>,
	) -> Result<Execution, RunError> {
		self.observed(
			observer::Work::Run,
			lane,
			|| model_hash,
			|execution: &Execution| execution.fuel_used,
			|| {
				self.run_prepared(
					lane,
					guest,
					model_hash,
					load_model,
					inputs,
					input_values,
					fuel_limit,
					preparation_limit,
				)
			},
		)
	}
}

/// Guest, model and the encoded input specs.
type CacheKey = (ModelHash, ModelHash, Vec<u8>);

/// Prepared models; the least recently used are dropped first once their snapshots exceed the
/// budget.
#[derive(Default)]
struct PreparedCache {
	entries: HashMap<CacheKey, Arc<Prepared>>,
	order: VecDeque<CacheKey>,
	bytes: usize,
}

impl PreparedCache {
	fn get(&mut self, key: &CacheKey) -> Option<Arc<Prepared>> {
		let entry = self.entries.get(key)?.clone();
		self.order.retain(|k| k != key);
		self.order.push_back(key.clone());
		Some(entry)
	}

	fn insert(&mut self, key: CacheKey, prepared: Arc<Prepared>, budget: usize) {
		if let Some(old) = self.entries.insert(key.clone(), prepared.clone()) {
			self.bytes -= old.snapshot_bytes();
			self.order.retain(|k| k != &key);
		}
		self.bytes += prepared.snapshot_bytes();
		self.order.push_back(key);
		while self.bytes > budget && self.order.len() > 1 {
			let Some(oldest) = self.order.pop_front() else { break };
			if let Some(old) = self.entries.remove(&oldest) {
				self.bytes -= old.snapshot_bytes();
			}
		}
	}
}
