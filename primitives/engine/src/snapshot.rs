//! The guest module under wasmtime: preparing a model once, then running every inference from
//! a snapshot of the prepared state.

use crate::{
	float_mode,
	guest_stack::Stacks,
	host_kernel,
	limits::Limits,
	metering, names,
	profile::{self, Laps, NodeMark, NodeTime, RunTimes},
	written_pages::WrittenPages,
	LOG_TARGET,
};
use codec::{Decode, Encode};
use std::{ops::Range, time::Instant};
use veriml_inference_interface::Lane;
use veriml_inference_primitives::{
	bin_chain::BIN_CHAIN_IMPORT,
	depthwise::DEPTHWISE_IMPORT,
	guest::{CHECK_FLUSHED_BIT, FLOAT_MODE_IMPORT, ROOM_VERSION},
	host_kernel::{IMPORT_MODULE, IMPORT_NAME, MAT_MUL_IMPORT},
	im2col::IM2COL_IMPORT,
	lrn::LRN_IMPORT,
	max_pool::MAX_POOL_IMPORT,
	EngineError, Execution, LocalFailure, ModelInfo, RunError, Tensor, TensorSpec,
};
use wasmtime::{
	Cache, CacheConfig, Caller, Config, Instance, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
	OptLevel, PoolingAllocationConfig, ResourceLimiter, Store, StoreContextMut, Trap, TypedFunc, WasmParams,
	WasmResults,
};

const PAGE: usize = 64 * 1024;

/// Guest stacks for block import and authoring ([`Lane::Consensus`]): runs of the guest at once.
const CONSENSUS_STACKS: u32 = 4;

/// Guest stacks for everything else ([`Lane::Offchain`]: off-chain workers, RPC calls,
/// transaction validation): however much of that a node is asked to do, block import keeps
/// its own stacks.
const OFFCHAIN_STACKS: u32 = 1;

/// Calls on [`Lane::Offchain`] that may wait for or run on its stack at once; more are refused
/// with [`LocalFailure::OffchainLaneFull`] (the runtime call is aborted: an RPC call answers an
/// error, an off-chain worker tries again at its next block). A flood of RPC calls that run
/// the engine then holds at most this many runs of work, never an unbounded queue.
const OFFCHAIN_QUEUE: usize = 16;

/// Instances that may exist at once: one per guest stack, and as many kept between runs
/// ([`Kept`], [`KEPT_INSTANCES`]), so a caller waits for a stack rather than failing for want
/// of a slot. Each has a slot of wasmtime's pooling allocator, whose memory
/// stays mapped between instances: restoring a snapshot then copies into resident pages instead
/// of faulting in fresh ones, which cost more than the copy itself.
const INSTANCE_SLOTS: u32 = CONSENSUS_STACKS + OFFCHAIN_STACKS + KEPT_INSTANCES as u32;

/// Instances kept between runs, for any run's next call: one per guest stack, each of at most
/// [`KEEP_RESIDENT_BYTES`] (what a released slot keeps resident anyway: with a slot per kept
/// instance, up to twice the resident memory of the slots of the running calls alone).
const KEPT_INSTANCES: usize = (CONSENSUS_STACKS + OFFCHAIN_STACKS) as usize;

/// Bytes of each slot's linear memory kept resident (reset with `memset`) between instances.
const KEEP_RESIDENT_BYTES: usize = 256 * 1024 * 1024;

/// Native stack wasmtime lets the guest use: many times what the guest's own limit in wasm terms
/// (`metering::STACK_LIMIT_SLOTS`, counted by the guest) lets a run hold, so that limit, the same
/// on every CPU, is the one a model meets (`stack_limit.rs` measures the margin).
pub(crate) const MAX_WASM_STACK: usize = 32 * 1024 * 1024;

/// Native stack the guest runs on ([`Stacks`]): well above [`MAX_WASM_STACK`], so wasmtime's
/// limit (a clean trap) is always hit before the native stack runs out. The calling thread (a
/// tokio worker inside the runtime's own wasm call) has far less of its own.
const GUEST_STACK: usize = 64 * 1024 * 1024;

/// Bytes of each slot's table kept resident between instances: the guest's function table
/// (a few thousand entries) is then rewritten in place instead of faulting in fresh pages.
const KEEP_RESIDENT_TABLE_BYTES: usize = 1024 * 1024;

/// Granularity at which a snapshot is compared with a fresh instance's memory: the OS page.
const BLOCK: usize = 4096;

/// A guest memory kept as what differs from a fresh instance's memory: restoring it writes only
/// those bytes (a small model's prepared state is a few blocks of a memory of megabytes).
struct MemorySnapshot {
	/// Which snapshot of this process it is (a kept instance remembers which it holds).
	id: u64,
	/// Bytes of the whole memory.
	len: usize,
	/// Runs of consecutive blocks that differ, with their offsets.
	changed: Vec<(usize, Vec<u8>)>,
}

impl MemorySnapshot {
	/// The blocks of `memory` that differ from `fresh` (read as zero past its end).
	fn of(memory: &[u8], fresh: &[u8]) -> Self {
		let mut changed: Vec<(usize, Vec<u8>)> = Vec::new();
		for (index, block) in memory.chunks(BLOCK).enumerate() {
			let offset = index * BLOCK;
			let same = match fresh.get(offset..offset + block.len()) {
				Some(original) => original == block,
				None => is_zero(block),
			};
			if same {
				continue;
			}
			match changed.last_mut() {
				Some((start, bytes)) if *start + bytes.len() == offset => bytes.extend_from_slice(block),
				_ => changed.push((offset, block.to_vec())),
			}
		}
		static SNAPSHOTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
		Self { id: SNAPSHOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed), len: memory.len(), changed }
	}

	/// The byte ranges where the snapshot differs from a fresh instance's memory.
	fn changed_ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
		self.changed.iter().map(|(offset, bytes)| *offset..offset + bytes.len())
	}

	/// Writes the snapshot over `memory`, which holds a fresh instance's memory grown to `len`.
	fn restore(&self, memory: &mut [u8]) -> Result<(), RunError> {
		for (offset, bytes) in &self.changed {
			memory.get_mut(*offset..offset + bytes.len()).ok_or(LocalFailure::HostResources)?.copy_from_slice(bytes);
		}
		Ok(())
	}

	/// Makes the bytes `range` of `memory` (at least as long as the snapshot, holding what a run
	/// left) equal to what [`restore`](Self::restore) makes of a fresh instance's memory grown
	/// as long: `fresh` (zero past its end) with the snapshot written over it. Every block in the
	/// range is compared with what it must hold and rewritten where it differs. Answers the
	/// bytes rewritten.
	fn reset(&self, memory: &mut [u8], fresh: &[u8], range: Range<usize>) -> Result<usize, RunError> {
		if memory.len() < self.len || range.start % BLOCK != 0 || range.start > range.end || range.end > memory.len() {
			return Err(LocalFailure::HostResources.into());
		}
		// The snapshot's first run of blocks that ends after the range starts.
		let mut run = self.changed.partition_point(|(offset, bytes)| offset + bytes.len() <= range.start);
		let mut rewritten = 0;
		for (index, block) in memory[range.clone()].chunks_mut(BLOCK).enumerate() {
			let offset = range.start + index * BLOCK;
			while self.changed.get(run).is_some_and(|(start, bytes)| start + bytes.len() <= offset) {
				run += 1;
			}
			let wanted = match self.changed.get(run) {
				Some((start, bytes)) if *start <= offset => bytes.get(offset - start..offset - start + block.len()),
				_ => fresh.get(offset..offset + block.len()),
			};
			rewritten += match wanted {
				Some(wanted) => rewrite_differing(block, wanted),
				// Past the fresh memory's end (which, as the snapshot's runs, is whole blocks).
				None if offset >= fresh.len() => zero_nonzero(block),
				None => return Err(LocalFailure::HostResources.into()),
			};
		}
		Ok(rewritten)
	}

	/// The fuel of restoring the snapshot into a fresh instance whose memory has `fresh_len`
	/// bytes: every byte grown (touched, later reset) and every byte written.
	fn restore_fuel(&self, fresh_len: usize) -> u64 {
		names::fuel_for_memory(self.bytes() as u64, self.len.saturating_sub(fresh_len) as u64)
	}

	fn bytes(&self) -> usize {
		self.changed.iter().map(|(_, bytes)| bytes.len()).sum()
	}
}

/// Copies `wanted` over `block` (the same length) if they differ; answers the bytes copied.
fn rewrite_differing(block: &mut [u8], wanted: &[u8]) -> usize {
	if block == wanted {
		return 0;
	}
	block.copy_from_slice(wanted);
	block.len()
}

/// Whether `block` (at most [`BLOCK`] bytes) is all zeros.
fn is_zero(block: &[u8]) -> bool {
	static ZEROS: [u8; BLOCK] = [0; BLOCK];
	ZEROS.get(..block.len()).is_some_and(|zeros| block == zeros)
}

/// Sets `block` (at most [`BLOCK`] bytes) to zeros if it is not; answers the bytes set.
fn zero_nonzero(block: &mut [u8]) -> usize {
	if is_zero(block) {
		return 0;
	}
	block.fill(0);
	block.len()
}

/// An instance kept after a run that returned normally, to run a next model in (on any guest
/// stack) after an exact reset instead of taking a fresh instance: wasmtime's release of an
/// instance (every byte of its memory set to zero, its table reset) and the next instantiation
/// (the guest's data segments copied in) cost more than a small model's whole run.
///
/// The state of a guest instance is its memory, its mutable globals, its table and its data and
/// element segments. The engine refuses a guest that changes its table or segments
/// ([`metering::check_state`]) or has mutable globals other than its stack pointer and its
/// stack counter, which a normal return leaves as it found them (every function restores the
/// stack pointer it moved, the wasm32 C ABI; each call's count is taken back when it returns,
/// `stack_limit.rs`). An instance is kept only after a normal return; after a trap (out of
/// fuel, or any other) it is dropped, and so is one whose memory is larger than the model's
/// runs start in ([`Prepared`]; memory never shrinks). Before the next run its memory is grown
/// to where the next model's runs start and reset to its snapshot ([`MemorySnapshot::reset`]).
/// Where the kernel reports the pages written since the last reset ([`WrittenPages`]), the
/// blocks that may differ from the next snapshot are those pages, the pages it grew by, and,
/// when the next snapshot is another's, the blocks where either snapshot differs from a fresh
/// instance (elsewhere both are the fresh memory); otherwise, every block is compared.
struct Kept {
	/// Dropped first: the instance's release then writes into memory no longer protected.
	written: Option<WrittenPages>,
	/// Whether `written` has protected the memory since it was kept: until then every block is
	/// reset.
	tracking: bool,
	/// The snapshot the memory was last reset to ([`MemorySnapshot::id`]) and the ranges where
	/// it differs from a fresh instance's memory.
	holds: (u64, Vec<Range<usize>>),
	store: Store<InstanceState>,
	instance: Instance,
	memory: Memory,
}

/// A model checked and optimised inside the guest, as the guest's memory right after.
pub struct Prepared {
	snapshot: MemorySnapshot,
	/// What the guest reported about the model (its `fuel_per_run` is filled by `inspect`).
	pub info: ModelInfo,
	/// Bytes of the memory a run of it starts in: the snapshot's, or, for a guest that keeps its
	/// own memory size ([`ROOM_VERSION`]), the most a run of it on this node has grown the
	/// memory to (up to [`KEEP_RESIDENT_BYTES`]), the room beyond the snapshot zero. The guest
	/// takes that room as its code asks for memory, paying each page as if it grew the memory,
	/// so a run's fuel and outputs are those of a run from the snapshot alone; a run that needs
	/// no more leaves an instance that can be kept (memory never shrinks, and an instance whose
	/// memory grew beyond where runs start is dropped: only one of runs at once, since a run's
	/// memory becomes where the next runs start). It differs between nodes (it is what each
	/// node's own runs reached) and only saves time. It assumes the guest's code never reads or
	/// writes past what it asked for: such an access in the room reads zeros or writes there,
	/// where without the room it would trap.
	memory_bytes: std::sync::atomic::AtomicUsize,
	/// Whether its runs take and keep instances kept between runs: [`Reuse::Kept`], but for a
	/// model prepared for one run ([`for_one_run`](Self::for_one_run)).
	reuse: Reuse,
	/// The fuel its preparation was given: where `info.fuel_to_prepare` is less, that is the
	/// exact fuel preparing it takes; where it is all of it, only a lower bound.
	prepared_with: u64,
}

impl Prepared {
	fn new(snapshot: MemorySnapshot, info: ModelInfo, prepared_with: u64) -> Self {
		let memory_bytes = snapshot.len.into();
		Self { snapshot, info, memory_bytes, reuse: Reuse::Kept, prepared_with }
	}

	/// Whether preparing it takes at most `limit` fuel, as preparing it again within `limit`
	/// would find (a run with a preparation limit: [`InferenceEngine::run`]); `None` where its
	/// measure cannot tell, its preparation having used all the fuel it was given.
	pub fn prepares_within(&self, limit: u64) -> Option<bool> {
		(self.info.fuel_to_prepare < self.prepared_with).then_some(self.info.fuel_to_prepare <= limit)
	}

	/// The same, for one run no other follows (an inspection's run on zero inputs: the model is
	/// prepared apart from the cache): that run takes a fresh instance and drops it after, so
	/// no instance kept for the models in use is taken for it or dropped to keep its own, which
	/// no run could reset for less than a fresh one costs (its memory is as large as the run
	/// grows it). The same outputs and fuel.
	pub fn for_one_run(mut self) -> Self {
		self.reuse = Reuse::Fresh;
		self
	}

	/// Bytes of the memory a run of it starts in now.
	fn memory_bytes(&self) -> usize {
		self.memory_bytes.load(std::sync::atomic::Ordering::Relaxed)
	}

	/// Bytes the snapshot holds.
	pub fn snapshot_bytes(&self) -> usize {
		self.snapshot.bytes()
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
	/// The module linked with the host kernel, ready to instantiate.
	instance_pre: InstancePre<InstanceState>,
	/// The memory of a freshly instantiated guest, which snapshots are taken against.
	fresh_memory: Vec<u8>,
	/// The stacks each lane's calls run on, one call per stack at a time (every instance lives
	/// and dies within one such call, so the stacks and the kept instances bound the instances).
	consensus_stacks: Stacks,
	offchain_stacks: Stacks,
	/// Calls on the off-chain lane waiting for or running on its stack.
	offchain_queued: std::sync::atomic::AtomicUsize,
	limits: Limits,
	/// Whether the machine code came from the compiled-code cache rather than the compiler.
	loaded_from_compiled_cache: bool,
	/// Whether the guest may report its nodes ([`profile::PROFILE_NODE_IMPORT`]), and each
	/// instance records them.
	profiling: bool,
	/// Whether the guest keeps its own memory size (declared of [`ROOM_VERSION`] or later, and
	/// its code does: [`metering::keeps_own_memory_size`]): then a model's runs start with the
	/// room its earlier runs grew into ([`Prepared`]).
	gives_room: bool,
	/// Whether the guest's calls flush subnormal floats (declared of
	/// [`float_mode::FLUSH_SUBNORMALS_VERSION`] or later), or compute IEEE subnormals: the float
	/// mode [`in_slot`](Self::in_slot) puts each call's thread in.
	flushes_subnormals: bool,
	/// The threads besides a run's own that its host kernels may split work between
	/// (`Limits::threads` less one; none for one), one pool per lane, shared by the lane's runs:
	/// block import's never wait behind the off-chain lane's work.
	consensus_pool: Option<std::sync::Arc<rayon::ThreadPool>>,
	offchain_pool: Option<std::sync::Arc<rayon::ThreadPool>>,
	/// Instances kept between runs, at most [`KEPT_INSTANCES`].
	kept: std::sync::Mutex<Vec<Kept>>,
}

/// Reports of a profiling guest one run may leave (two per node of its plan; a plan of this
/// many nodes is far beyond any model's).
const MAX_NODE_MARKS: usize = 1 << 20;

/// Per-instance state: memory accounting, the memory the host kernel works on, and a profiling
/// guest's reports.
struct InstanceState {
	limiter: MemoryLimiter,
	memory: Option<Memory>,
	/// Bytes of the memory the guest's code has asked for, for a guest that keeps its own memory
	/// size (`Guest::gives_room`): the snapshot's length, or a fresh instance's, and every page
	/// it reports grown since (`veriml.meter_grown`, which the guest's stand-in for `memory.grow`
	/// calls after taking the pages: the host trusts the guest, chain state, to report only
	/// those). The host kernels, the arguments the host writes and the answers it reads stay
	/// within it ([`own_memory`]). `None` for a guest whose size is the memory's.
	own_bytes: Option<usize>,
	/// The threads besides this one a host kernel may split its work between: its lane's pool
	/// for a run (`Guest::consensus_pool`, `offchain_pool`), none for any other call.
	pool: Option<std::sync::Arc<rayon::ThreadPool>>,
	node_marks: Option<Vec<NodeMark>>,
	/// The exports a run calls, looked up by name and their types checked at the instance's
	/// first run and kept with it (a kept instance's later runs skip both: a few tenths of a
	/// microsecond of a small model's run).
	run_exports: Option<RunExports>,
}

/// The guest's exports that a run of a prepared model calls.
#[derive(Clone)]
struct RunExports {
	alloc: TypedFunc<u32, u32>,
	run: TypedFunc<(u32, u32), u64>,
}

impl RunExports {
	/// Those of `instance`, the one instance in `store` (a store holds one instance, for its
	/// whole life: `Guest::new_store` is followed by one instantiation): kept from its first
	/// run, looked up at it.
	fn of(instance: &Instance, store: &mut Store<InstanceState>) -> Result<Self, RunError> {
		if let Some(exports) = &store.data().run_exports {
			return Ok(exports.clone());
		}
		let exports = Self {
			alloc: typed_export(instance, store, "veriml_alloc")?,
			run: typed_export(instance, store, "veriml_run")?,
		};
		store.data_mut().run_exports = Some(exports.clone());
		Ok(exports)
	}
}

/// Whether a run takes an instance kept between runs and keeps its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reuse {
	/// A kept instance where one can be reset for the run, and the run's instance kept after
	/// it where it can be.
	Kept,
	/// A fresh instance, dropped after the run: for a prepared model no later run uses
	/// ([`Prepared::for_one_run`]).
	Fresh,
}

/// What of an instance's `memory` the host may reach on the guest's behalf: up to the guest's own
/// size, where it keeps one. The memory past it is room a node gave the run (see [`Prepared`]),
/// which another node may not have: a kernel's range, an argument or an answer reaching into it
/// is refused, as on a node without it, never read as zeros or written.
fn own_memory<'a>(memory: &Memory, store: impl Into<StoreContextMut<'a, InstanceState>>) -> &'a mut [u8] {
	let store = store.into();
	let own_bytes = store.data().own_bytes;
	let data = memory.data_mut(store);
	let len = own_bytes.map_or(data.len(), |own| own.min(data.len()));
	&mut data[..len]
}

/// Grants linear memory up to a fixed size and remembers a refusal, so an allocation failure
/// is reported as `OutOfMemory` rather than as a generic trap.
struct MemoryLimiter {
	max_bytes: usize,
	refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
	fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
		let allowed = desired <= self.max_bytes;
		self.refused |= !allowed;
		Ok(allowed)
	}

	fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
		Ok(desired <= 100_000)
	}
}

/// The instruction set every x86-64 node compiles the guest for: x86-64-v2 (SSE4.2, POPCNT;
/// every x86-64 server CPU since 2009), never the features cranelift would detect on this CPU.
const X86_64_INSTRUCTION_SET: &str = "x86-64-v2";

/// Makes cranelift compile for a fixed instruction set instead of this CPU's, so that every
/// node of an architecture runs the same machine code for the guest. Results do not depend on
/// it (the guest's wasm is deterministic), but one code path everywhere leaves no room for an
/// instruction-set-specific code generation bug to split honest nodes, and the compiled code
/// is a function of the wasm and this configuration only: the compiled-code cache filled on
/// one CPU serves any other. A CPU without the set is refused when the engine starts.
fn fixed_instruction_set(config: &mut Config) -> wasmtime::Result<()> {
	if cfg!(target_arch = "x86_64") {
		// Naming the target turns off cranelift's detection of this CPU's features.
		config.target(env!("VERIML_ENGINE_TARGET"))?;
		// SAFETY: the flag only selects instructions, and wasmtime refuses to compile for a
		// CPU that lacks any of them, so no code is run that this CPU cannot execute.
		unsafe {
			config.cranelift_flag_enable(X86_64_INSTRUCTION_SET);
		}
	}
	Ok(())
}

impl Guest {
	/// Whether the guest's machine code was loaded from the compiled-code cache (not compiled
	/// in this process).
	pub fn loaded_from_compiled_cache(&self) -> bool {
		self.loaded_from_compiled_cache
	}

	/// Compiles the guest with the deterministic configuration; `profiling` lets it report its
	/// nodes ([`profile`]), which a node's engine never does.
	pub fn compile(wasm: &[u8], limits: &Limits, cache: &CompiledCache, profiling: bool) -> wasmtime::Result<Self> {
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
			// Generous, so the native stack (whose frame sizes vary with the host's instruction
			// set) is never the limit that stops a model: the guest's own, in wasm terms, is.
			.max_wasm_stack(MAX_WASM_STACK)
			.cranelift_opt_level(OptLevel::Speed)
			// The guest's data segments are copied in at instantiation rather than mapped
			// copy-on-write: a snapshot restored over a mapped image faulted and copied every
			// page it wrote (half the fixed cost of a run), and a slot's resident pages are
			// reused as they are.
			.memory_init_cow(false);
		fixed_instruction_set(&mut config)?;
		let mut pool = PoolingAllocationConfig::default();
		pool.total_core_instances(INSTANCE_SLOTS)
			.total_memories(INSTANCE_SLOTS)
			.total_tables(INSTANCE_SLOTS)
			.max_memory_size(limits.max_memory_bytes)
			.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
			.table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
			.max_unused_warm_slots(INSTANCE_SLOTS);
		config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
		// For profiling the guest with `perf`: names its compiled functions in /tmp/perf-PID.map.
		if std::env::var_os("VERIML_ENGINE_PERFMAP").is_some() {
			config.profiler(wasmtime::ProfilingStrategy::PerfMap);
		}
		let cache = match cache {
			CompiledCache::None => None,
			CompiledCache::UserDefault => Some(CacheConfig::new()),
			CompiledCache::Directory(directory) => {
				let mut settings = CacheConfig::new();
				settings.with_directory(directory);
				Some(settings)
			},
		};
		let mut compiled_cache = None;
		if let Some(settings) = cache {
			// A cache that cannot be set up costs time, never correctness: compile without it.
			match Cache::new(settings) {
				Ok(cache) => {
					compiled_cache = Some(cache.clone());
					config.cache(Some(cache));
				},
				Err(error) => log::warn!(
					target: LOG_TARGET,
					"no cache for the engine's compiled code ({error}); compiling in this process"
				),
			}
		}
		// A guest whose bulk memory instructions would not pay for what they move is refused,
		// and so is one whose instances could not be reused after an exact reset.
		let size_readers = metering::memory_size_readers(wasm).map_err(wasmtime::Error::msg)?;
		metering::check_state(wasm).map_err(wasmtime::Error::msg)?;
		let engine = wasmtime::Engine::new(&config)?;
		let hits_before = compiled_cache.as_ref().map_or(0, Cache::cache_hits);
		let module = Module::from_binary(&engine, wasm)?;
		let loaded_from_compiled_cache = compiled_cache.as_ref().is_some_and(|cache| cache.cache_hits() > hits_before);
		// The guest imports the host kernel and the meters of its memory work, nothing else: no
		// clock, no randomness, no environment. An unknown import fails here.
		let linker = host_functions(&engine, profiling)?;
		let instance_pre = linker.instantiate_pre(&module)?;
		// Room only for a guest whose code keeps its own memory size: a guest declared of
		// version 12 whose code is older's would place its heap at the room's end.
		let declared = metering::declared_version(wasm);
		let declared_room = declared.is_some_and(|version| version >= ROOM_VERSION);
		let gives_room = declared_room && metering::keeps_own_memory_size(wasm, &size_readers);
		let flushes_subnormals = declared.is_some_and(|version| version >= float_mode::FLUSH_SUBNORMALS_VERSION);
		if flushes_subnormals && !float_mode::CAN_FLUSH {
			return Err(wasmtime::Error::msg(format!(
				"the engine guest declares version {} or later, which flushes subnormal floats as x86-64 does: this architecture cannot run it",
				float_mode::FLUSH_SUBNORMALS_VERSION
			)));
		}
		// Its min and max of subnormal data answer what this CPU's instructions do: refused
		// where they answer otherwise than x86-64 processors.
		if flushes_subnormals {
			float_mode::check_flushed_min_max().map_err(wasmtime::Error::msg)?;
		}
		if declared_room && !gives_room {
			log::warn!(
				target: LOG_TARGET,
				"the engine guest declares version {ROOM_VERSION} or later but does not keep its own memory size: its runs get no room beyond their snapshots"
			);
		}
		let pool = |lane: &'static str| -> wasmtime::Result<_> {
			Ok(match limits.threads {
				0 | 1 => None,
				threads => Some(std::sync::Arc::new(
					rayon::ThreadPoolBuilder::new()
						.num_threads(threads - 1)
						.thread_name(move |index| format!("veriml-{lane}-{index}"))
						.build()?,
				)),
			})
		};
		let (consensus_pool, offchain_pool) = (pool("consensus")?, pool("offchain")?);
		let mut guest = Self {
			engine,
			instance_pre,
			fresh_memory: Vec::new(),
			consensus_stacks: Stacks::new(CONSENSUS_STACKS, GUEST_STACK)?,
			offchain_stacks: Stacks::new(OFFCHAIN_STACKS, GUEST_STACK)?,
			offchain_queued: std::sync::atomic::AtomicUsize::new(0),
			limits: limits.clone(),
			loaded_from_compiled_cache,
			profiling,
			gives_room,
			flushes_subnormals,
			consensus_pool,
			offchain_pool,
			kept: Default::default(),
		};
		guest.fresh_memory = guest
			.in_slot(Lane::Consensus, || {
				let mut store = guest.new_store(0)?;
				let (_, memory) = guest.instantiate(&mut store)?;
				Ok(memory.data(&store).to_vec())
			})
			.map_err(|error| wasmtime::Error::msg(format!("instantiating the engine guest: {error:?}")))?;
		Ok(guest)
	}

	/// Runs `work` on this thread, on a guest stack of `lane` once one is free. A panic in it is
	/// this node's fault, not the model's: a [`LocalFailure::HostPanic`], never a verdict.
	fn in_slot<R>(&self, lane: Lane, work: impl FnOnce() -> Result<R, RunError>) -> Result<R, RunError> {
		/// Counts a call on the off-chain lane for as long as it waits or runs.
		struct Queued<'a>(&'a std::sync::atomic::AtomicUsize);
		impl Drop for Queued<'_> {
			fn drop(&mut self) {
				self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
			}
		}
		let (stacks, _queued) = match lane {
			Lane::Consensus => (&self.consensus_stacks, None),
			Lane::Offchain => {
				let queued = Queued(&self.offchain_queued);
				if self.offchain_queued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= OFFCHAIN_QUEUE {
					log::warn!(
						target: LOG_TARGET,
						"{OFFCHAIN_QUEUE} RPC or off-chain calls wait for the engine already: this one is refused"
					);
					return Err(LocalFailure::OffchainLaneFull.into());
				}
				(&self.offchain_stacks, Some(queued))
			},
		};
		stacks.run(|| {
			// The guest's float mode on this thread for the call, whatever the thread's was, and
			// the thread's own again after it (also after a panic).
			let _mode = float_mode::Flushing::set(self.flushes_subnormals);
			// The node's panic hook aborts the process on a panic unless the thread unwinds
			// on purpose: here the panic is caught (before it could leave the guest stack)
			// and reported instead.
			let _unwind = sp_panic_handler::AbortGuard::force_unwind();
			std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
				log::error!(target: LOG_TARGET, "the engine's host code panicked; no verdict is given");
				Err(LocalFailure::HostPanic.into())
			})
		})
	}

	fn new_store(&self, fuel: u64) -> Result<Store<InstanceState>, RunError> {
		let limiter = MemoryLimiter { max_bytes: self.limits.max_memory_bytes, refused: false };
		let node_marks = self.profiling.then(Vec::new);
		let mut store = Store::new(
			&self.engine,
			InstanceState { limiter, memory: None, own_bytes: None, pool: None, node_marks, run_exports: None },
		);
		store.limiter(|state| &mut state.limiter);
		store.set_fuel(fuel).map_err(|_| LocalFailure::EngineUnavailable)?;
		Ok(store)
	}

	fn instantiate(&self, store: &mut Store<InstanceState>) -> Result<(Instance, Memory), RunError> {
		let instance = self.instance_pre.instantiate(&mut *store).map_err(|error| {
			log::error!(target: LOG_TARGET, "instantiating the engine guest failed: {error}");
			LocalFailure::HostResources
		})?;
		let memory = instance.get_memory(&mut *store, "memory").ok_or(LocalFailure::EngineUnavailable)?;
		let own_bytes = self.gives_room.then(|| memory.data_size(&*store));
		let state = store.data_mut();
		state.memory = Some(memory);
		state.own_bytes = own_bytes;
		Ok((instance, memory))
	}

	/// A fresh instance with `fuel`, its static constructors run: where every call but a run
	/// of a prepared model (which restores its snapshot instead) starts.
	fn initialized(&self, fuel: u64) -> Result<(Store<InstanceState>, Instance, Memory), RunError> {
		let mut store = self.new_store(fuel)?;
		let (instance, memory) = self.instantiate(&mut store)?;
		call_export::<(), ()>(&instance, &mut store, "_initialize", ())?;
		Ok((store, instance, memory))
	}

	/// Runs `programs` random tile programs (from `seed`) through tract's wasm kernel and
	/// through the host kernel, in a fresh instance; answers how many stored different bits.
	pub fn check_host_kernel(&self, seed: u32, programs: u32) -> Result<u32, RunError> {
		let answer: u32 = self.in_slot(Lane::Consensus, || {
			let (mut store, instance, _) = self.initialized(self.limits.max_fuel_to_prepare)?;
			call_export(&instance, &mut store, "veriml_check_host_kernel", (seed, programs))
		})?;
		// The float mode the guest's wasm saw (a guest of version 15 or later reports it; earlier
		// ones set no such bit) must be its version's: else this node would compute other bits.
		let flushed = answer & CHECK_FLUSHED_BIT != 0;
		if flushed != self.flushes_subnormals {
			log::error!(
				target: LOG_TARGET,
				"the engine guest's wasm ran with subnormals {} where its version computes them {}",
				if flushed { "flushed" } else { "as IEEE" },
				if self.flushes_subnormals { "flushed" } else { "as IEEE" }
			);
			return Err(LocalFailure::EngineUnavailable.into());
		}
		Ok(answer & !CHECK_FLUSHED_BIT)
	}

	/// What in `model` the guest does not implement, in words (for messages only), in a fresh
	/// instance within the fuel of preparing a model.
	pub fn describe_unsupported(&self, model: &[u8]) -> Result<Option<String>, RunError> {
		self.in_slot(Lane::Consensus, || {
			let (mut store, instance, memory) = self.initialized(self.limits.max_fuel_to_prepare)?;
			let model_ptr = write_argument(&instance, &memory, &mut store, model)?;
			let packed: u64 =
				call_export(&instance, &mut store, "veriml_describe_unsupported", (model_ptr, model.len() as u32))?;
			read_answer(&memory, &mut store, packed, self.limits.max_output_bytes)
		})
	}

	/// `model` with the inputs given in `values` pinned as initializers (one entry per input,
	/// `None` for those that stay inputs; see the guest's `pin_inputs`), in a fresh instance
	/// within the fuel of preparing a model. For `veriml-node infer --pin`, never a verdict.
	pub fn pin_inputs(&self, model: &[u8], values: &[Option<Tensor>]) -> Result<Vec<u8>, RunError> {
		self.in_slot(Lane::Consensus, || {
			let (mut store, instance, memory) = self.initialized(self.limits.max_fuel_to_prepare)?;
			let model_ptr = write_argument(&instance, &memory, &mut store, model)?;
			let values = values.encode();
			let values_ptr = write_argument(&instance, &memory, &mut store, &values)?;
			let packed: u64 = call_export(
				&instance,
				&mut store,
				"veriml_pin_inputs",
				(model_ptr, model.len() as u32, values_ptr, values.len() as u32),
			)?;
			// The pinned file holds the model and the pinned values.
			let most = self.limits.max_model_bytes.saturating_add(self.limits.max_input_bytes).saturating_add(16);
			let pinned: Result<Vec<u8>, EngineError> = read_answer(&memory, &mut store, packed, most)?;
			Ok(pinned?)
		})
	}

	/// The operators the guest implements, sorted, from a fresh instance.
	pub fn operators(&self) -> Result<Vec<String>, RunError> {
		self.in_slot(Lane::Consensus, || {
			let (mut store, instance, memory) = self.initialized(self.limits.max_fuel_to_prepare)?;
			let packed: u64 = call_export(&instance, &mut store, "veriml_operators", ())?;
			read_answer(&memory, &mut store, packed, self.limits.max_output_bytes)
		})
	}

	/// Checks, types and optimises `model` for `inputs` in a fresh instance, and keeps the
	/// instance's memory afterwards as the model's snapshot.
	pub fn prepare(
		&self,
		lane: Lane,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<Prepared, RunError> {
		self.in_slot(lane, || self.prepare_here(model, inputs, fuel_limit))
	}

	fn prepare_here(&self, model: &[u8], inputs: &[TensorSpec], fuel_limit: u64) -> Result<Prepared, RunError> {
		let (mut store, instance, memory) = self.initialized(fuel_limit)?;

		let model_ptr = write_argument(&instance, &memory, &mut store, model)?;
		let specs = inputs.encode();
		let specs_ptr = write_argument(&instance, &memory, &mut store, &specs)?;
		let packed: u64 = call_export(
			&instance,
			&mut store,
			"veriml_load",
			(model_ptr, model.len() as u32, specs_ptr, specs.len() as u32),
		)?;
		let answer: Result<ModelInfo, EngineError> =
			read_answer(&memory, &mut store, packed, self.limits.max_output_bytes)?;
		let mut info = answer?;
		info.fuel_to_prepare = fuel_limit.saturating_sub(store.get_fuel().unwrap_or(0));
		Ok(Prepared::new(MemorySnapshot::of(memory.data(&store), &self.fresh_memory), info, fuel_limit))
	}

	/// Runs a prepared model on `inputs` in an instance that holds its snapshot exactly: a kept
	/// one, reset, or a fresh one restored to it ([`Prepared::for_one_run`]: always fresh).
	pub fn run(
		&self,
		lane: Lane,
		prepared: &Prepared,
		inputs: &[Tensor],
		fuel_limit: u64,
	) -> Result<Execution, RunError> {
		self.in_slot(lane, || {
			self.run_here(lane, prepared, inputs, fuel_limit, false).map(|(execution, _, _)| execution)
		})
	}

	/// [`run`](Self::run), with the time of each of its phases and, from a profiling guest, of
	/// each node (`None` otherwise).
	pub fn run_timed(
		&self,
		prepared: &Prepared,
		inputs: &[Tensor],
		fuel_limit: u64,
	) -> Result<(Execution, RunTimes, Option<Vec<NodeTime>>), RunError> {
		self.in_slot(Lane::Consensus, || {
			let (execution, times, marks) = self.run_here(Lane::Consensus, prepared, inputs, fuel_limit, true)?;
			let nodes = match marks {
				Some(marks) => Some(profile::node_times(&marks).ok_or(LocalFailure::HostResources)?),
				None => None,
			};
			Ok((execution, times, nodes))
		})
	}

	/// A kept instance to reset to `snapshot` in a memory of `len` bytes: one that holds it
	/// already (only the pages its last run wrote differ), else one whose memory is no larger
	/// (memory never shrinks).
	fn take_kept(&self, snapshot: &MemorySnapshot, len: usize) -> Option<Kept> {
		let mut kept = self.kept.lock().ok()?;
		let index = kept
			.iter()
			// (One that holds it may be longer than `len`: kept by a run that started after this
			// one read where runs start and grew it; its memory past `len` would not be reset.)
			.position(|kept| kept.holds.0 == snapshot.id && kept.memory.data_size(&kept.store) <= len)
			.or_else(|| kept.iter().position(|kept| kept.memory.data_size(&kept.store) <= len))?;
		Some(kept.remove(index))
	}

	/// Keeps `kept` for a next run; where [`KEPT_INSTANCES`] are kept already, the one kept
	/// longest ago is dropped instead (after the lock is released: wasmtime's release of an
	/// instance takes a while), so models in turn do not leave the kept instances to the
	/// largest memories.
	fn keep(&self, kept: Kept) {
		let dropped = match self.kept.lock() {
			Ok(mut all) => {
				all.push(kept);
				(all.len() > KEPT_INSTANCES).then(|| all.remove(0))
			},
			Err(_) => Some(kept),
		};
		drop(dropped);
	}

	/// An instance whose memory of `len` bytes holds `snapshot` exactly (zero beyond it), whose
	/// globals are the guest's initial ones and whose own size is the snapshot's (held in it,
	/// whatever room the memory has past it), with `fuel`: a kept one, reset, when one can
	/// be reused, a fresh one otherwise; with what tracks its writes since the reset, if anything
	/// does; a fresh one always for [`Reuse::Fresh`]. The time of taking it is `instantiate`'s,
	/// of writing the snapshot `restore`'s.
	fn instance_for(
		&self,
		snapshot: &MemorySnapshot,
		len: usize,
		fuel: u64,
		reuse: Reuse,
		laps: &mut Laps,
	) -> Result<(Store<InstanceState>, Instance, Memory, Option<WrittenPages>), RunError> {
		let pages = len / PAGE;
		let kept = match reuse {
			Reuse::Kept => self.take_kept(snapshot, len),
			Reuse::Fresh => None,
		};
		let own_bytes = self.gives_room.then_some(snapshot.len);
		let Some(mut kept) = kept else {
			let mut store = self.new_store(fuel)?;
			let (instance, memory) = self.instantiate(&mut store)?;
			laps.lap(|times| &mut times.instantiate);
			grow_to(&memory, &mut store, pages)?;
			snapshot.restore(memory.data_mut(&mut store))?;
			store.data_mut().own_bytes = own_bytes;
			laps.lap(|times| &mut times.restore);
			return Ok((store, instance, memory, None));
		};
		laps.lap(|times| &mut times.instantiate);
		// On an error the whole of `kept` is dropped, its tracking first.
		let tracked = self.reset(&mut kept, snapshot, len, fuel)?;
		kept.store.data_mut().own_bytes = own_bytes;
		laps.lap(|times| &mut times.restore);
		let Kept { written, store, instance, memory, .. } = kept;
		Ok((store, instance, memory, written.filter(|_| tracked)))
	}

	/// Resets the kept instance `kept` for a run of `snapshot` in `len` bytes with `fuel`: its
	/// memory grown to `len` and made equal to what a fresh instance restored to the snapshot
	/// holds, rewriting what may differ (see [`Kept`]) or, untracked, every block. Answers
	/// whether its writes are tracked from here.
	fn reset(&self, kept: &mut Kept, snapshot: &MemorySnapshot, len: usize, fuel: u64) -> Result<bool, RunError> {
		let Kept { written, tracking, holds, store, memory, .. } = kept;
		store.set_fuel(fuel).map_err(|_| LocalFailure::EngineUnavailable)?;
		let state = store.data_mut();
		state.limiter.refused = false;
		state.node_marks = self.profiling.then(Vec::new);
		// The tracking is of the memory where it was kept (wasmtime's pool never moves one).
		if written.as_ref().is_some_and(|written| !written.tracks(memory.data_ptr(&*store))) {
			*written = None;
		}
		let protected = memory.data_size(&*store);
		grow_to(memory, store, len / PAGE)?;
		// What may differ from the snapshot: the pages not protected, those written since they
		// were last protected (now and then protected again by the same call); or, untracked,
		// every block.
		let mut ranges = Vec::new();
		let tracked = *tracking && written.as_mut().is_some_and(|written| written.take(protected, &mut ranges));
		if tracked {
			if holds.0 != snapshot.id {
				ranges.append(&mut holds.1);
				ranges.extend(snapshot.changed_ranges());
			}
			// Grown now: never protected, so (for some kernels) not reported. (Pages the last run
			// grew the memory by, below `protected`, were never protected either: those it wrote
			// are reported as written, those it did not touch have no page and are zero.)
			ranges.push(protected..len);
		} else {
			ranges.push(0..len);
		}
		let data = memory.data_mut(&mut *store);
		for range in ranges {
			snapshot.reset(data, &self.fresh_memory, range)?;
		}
		// From here every write into the memory is reported.
		let unprotected = if tracked { protected..len } else { 0..len };
		Ok(written.as_ref().is_some_and(|written| written.protect(unprotected)))
	}

	fn run_here(
		&self,
		lane: Lane,
		prepared: &Prepared,
		inputs: &[Tensor],
		fuel_limit: u64,
		timed: bool,
	) -> Result<(Execution, RunTimes, Option<Vec<NodeMark>>), RunError> {
		let reuse = prepared.reuse;
		// Restoring the snapshot is paid before it is done, like any other work of the run,
		// and the same whether the instance is fresh or reused, and whatever room it has beyond
		// the snapshot (the guest pays that room's pages as it takes them).
		let restore_fuel = prepared.snapshot.restore_fuel(self.fresh_memory.len());
		let fuel = fuel_limit.checked_sub(restore_fuel).ok_or(EngineError::FuelExhausted)?;
		let len = prepared.memory_bytes();
		let mut laps = Laps::new(timed);
		let (mut store, instance, memory, written) =
			self.instance_for(&prepared.snapshot, len, fuel, reuse, &mut laps)?;
		store.data_mut().pool = match lane {
			Lane::Consensus => self.consensus_pool.clone(),
			Lane::Offchain => self.offchain_pool.clone(),
		};
		let exports = RunExports::of(&instance, &mut store)?;
		let encoded = inputs.encode();
		let inputs_ptr = write_into(&exports.alloc, &memory, &mut store, &encoded)?;
		laps.lap(|times| &mut times.inputs);
		// On any error from here (a trap above all) the instance is dropped, not kept.
		let packed = call(&exports.run, &mut store, (inputs_ptr, encoded.len() as u32))?;
		laps.lap(|times| &mut times.run);
		let answer: Result<Vec<Tensor>, EngineError> =
			read_answer(&memory, &mut store, packed, self.limits.max_output_bytes)?;
		let outputs = answer?;
		laps.lap(|times| &mut times.outputs);
		let fuel_used = fuel_limit.saturating_sub(store.get_fuel().unwrap_or(0));
		let marks = store.data_mut().node_marks.take();
		// A guest that keeps its own memory size starts the model's next runs with the room this
		// one grew into, unless it is larger than a released slot keeps resident.
		let size = memory.data_size(&store);
		if self.gives_room && size > len && size <= KEEP_RESIDENT_BYTES {
			prepared.memory_bytes.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
		}
		// Kept for a next run unless its memory is larger than runs start in, which no reset
		// undoes, or than a released slot keeps resident, or the run is a prepared model's only.
		if reuse == Reuse::Kept && size == prepared.memory_bytes() && size <= KEEP_RESIDENT_BYTES {
			let tracking = written.is_some();
			let holds = (prepared.snapshot.id, prepared.snapshot.changed_ranges().collect());
			let written = written.or_else(|| {
				// SAFETY: the pool's slot of this memory is a private anonymous mapping of the
				// engine's largest memory (`memory_init_cow` is off), mapped for as long as the
				// engine, and wasmtime drops none of its pages while the instance lives; the
				// tracking ends (`Kept::written` is dropped) before the instance.
				let written = unsafe { WrittenPages::track(memory.data_ptr(&store), self.limits.max_memory_bytes) };
				static SAID: std::sync::Once = std::sync::Once::new();
				SAID.call_once(|| match &written {
					Some(_) => log::info!(
						target: LOG_TARGET,
						"instances are reused between runs, reset where the kernel reports pages written"
					),
					None => log::warn!(
						target: LOG_TARGET,
						"instances are reused between runs, but this kernel cannot report the pages a run writes (userfaultfd with asynchronous write protection and PAGEMAP_SCAN: Linux 6.9 or 6.8.10 and later, on x86-64, aarch64 or riscv64, and not refused by a seccomp profile): every block of an instance's memory is compared instead, which costs about 40 µs more per small model"
					),
				});
				written
			});
			self.keep(Kept { written, tracking, holds, store, instance, memory });
		} else {
			drop((written, instance, memory, store));
		}
		laps.lap(|times| &mut times.release);
		Ok((Execution { outputs, fuel_used }, laps.times, marks))
	}
}

/// The functions the guest may import: the host kernels and the meters of its memory work, and
/// for a profiling guest the report of its nodes.
fn host_functions(engine: &wasmtime::Engine, profiling: bool) -> wasmtime::Result<Linker<InstanceState>> {
	let mut linker = Linker::new(engine);
	linker.func_wrap(IMPORT_MODULE, IMPORT_NAME, run_tile_program)?;
	linker.func_wrap(IMPORT_MODULE, LRN_IMPORT, run_lrn)?;
	linker.func_wrap(IMPORT_MODULE, MAX_POOL_IMPORT, run_max_pool)?;
	linker.func_wrap(IMPORT_MODULE, IM2COL_IMPORT, run_im2col)?;
	linker.func_wrap(IMPORT_MODULE, DEPTHWISE_IMPORT, run_depthwise)?;
	linker.func_wrap(IMPORT_MODULE, BIN_CHAIN_IMPORT, run_bin_chain)?;
	linker.func_wrap(IMPORT_MODULE, MAT_MUL_IMPORT, run_mat_mul)?;
	linker.func_wrap(IMPORT_MODULE, FLOAT_MODE_IMPORT, || u32::from(float_mode::Mode::current().flushes()))?;
	linker.func_wrap(IMPORT_MODULE, names::METER_MOVED_IMPORT, meter_moved)?;
	linker.func_wrap(IMPORT_MODULE, names::METER_GROWN_IMPORT, meter_grown)?;
	if profiling {
		linker.func_wrap(IMPORT_MODULE, profile::PROFILE_NODE_IMPORT, profile_node)?;
	}
	Ok(linker)
}

/// Grows `memory` to `pages` if it is smaller. The model reached this size when it was prepared
/// under the same cap: a refusal now is the operating system's, not the model's.
fn grow_to(memory: &Memory, store: &mut Store<InstanceState>, pages: usize) -> Result<(), RunError> {
	let current = memory.size(&*store) as usize;
	if pages > current {
		memory.grow(&mut *store, (pages - current) as u64).map_err(|_| LocalFailure::HostResources)?;
	}
	Ok(())
}

/// The import `veriml.profile_node` of a profiling guest ([`profile::PROFILE_NODE_IMPORT`]):
/// records the clock and the fuel left when a node starts (after reading its operator's name)
/// and when it ends (before anything else), so the host's own work falls outside the node.
fn profile_node(mut caller: Caller<'_, InstanceState>, node: u32, op_ptr: u32, op_len: u32) -> wasmtime::Result<()> {
	let ended = Instant::now();
	let fuel_left = caller.get_fuel()?;
	let op = match op_len {
		u32::MAX => None,
		len => {
			let memory = caller.data().memory.ok_or(Trap::MemoryOutOfBounds)?;
			let bytes = memory
				.data(&caller)
				.get(op_ptr as usize..(op_ptr as usize).saturating_add(len as usize))
				.ok_or(Trap::MemoryOutOfBounds)?;
			Some(String::from_utf8_lossy(bytes).into_owned())
		},
	};
	let at = if op.is_some() { Instant::now() } else { ended };
	if let Some(marks) = caller.data_mut().node_marks.as_mut() {
		if marks.len() < MAX_NODE_MARKS {
			marks.push(NodeMark { node, op, at, fuel_left });
		}
	}
	Ok(())
}

/// Takes `cost` fuel from the instance, or traps with `OutOfFuel` (leaving none) when less is
/// left: the limit falls at the same unit on every node.
fn charge(caller: &mut Caller<'_, InstanceState>, cost: u64) -> wasmtime::Result<()> {
	let fuel = caller.get_fuel()?;
	match fuel.checked_sub(cost) {
		Some(left) => caller.set_fuel(left),
		None => {
			caller.set_fuel(0)?;
			Err(Trap::OutOfFuel.into())
		},
	}
}

/// The guest's import `veriml.meter_moved`: the fuel for `bytes` its helpers copy or fill.
fn meter_moved(mut caller: Caller<'_, InstanceState>, bytes: u64) -> wasmtime::Result<()> {
	charge(&mut caller, names::fuel_for_memory(bytes, 0))
}

/// The guest's import `veriml.meter_grown`: the fuel for `pages` its memory grew by.
fn meter_grown(mut caller: Caller<'_, InstanceState>, pages: u32) -> wasmtime::Result<()> {
	charge(&mut caller, names::fuel_for_memory(0, u64::from(pages) * names::WASM_PAGE_BYTES))?;
	// The guest's stand-in for `memory.grow` reports the pages it takes after taking them.
	if let Some(own) = caller.data_mut().own_bytes.as_mut() {
		*own = own.saturating_add(pages as usize * PAGE);
	}
	Ok(())
}

/// The guest's import `veriml.run_tile_program`: runs one tile program of the guest's matrix
/// kernel natively.
fn run_tile_program(caller: Caller<'_, InstanceState>, ops: u32, len: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_tile_program(memory, ops, len, fuel))
}

/// The guest's import `veriml.run_mat_mul`: runs one whole matrix product of the guest's
/// matrix kernel natively, every tile of it.
fn run_mat_mul(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	let pool = caller.data().pool.clone();
	on_host(caller, |memory, fuel| host_kernel::run_mat_mul(memory, call, fuel, pool.as_deref()))
}

/// The guest's import `veriml.run_lrn`: runs one `LRN` of the guest natively.
fn run_lrn(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_lrn(memory, call, fuel))
}

/// The guest's import `veriml.run_max_pool`: runs one max pool of the guest natively.
fn run_max_pool(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_max_pool(memory, call, fuel))
}

/// The guest's import `veriml.run_im2col`: runs one im2col of the guest natively.
fn run_im2col(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_im2col(memory, call, fuel))
}

/// The guest's import `veriml.run_depthwise`: runs one depthwise convolution of the guest natively.
fn run_depthwise(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_depthwise(memory, call, fuel))
}

/// The guest's import `veriml.run_bin_chain`: runs one element-wise chain of the guest natively.
fn run_bin_chain(caller: Caller<'_, InstanceState>, call: u32) -> wasmtime::Result<()> {
	on_host(caller, |memory, fuel| host_kernel::run_bin_chain(memory, call, fuel))
}

/// Runs a host kernel's `work` on the guest's memory with the fuel left, and charges what it
/// answers. Out of fuel, out of bounds or malformed, it traps, as the guest's own loop would
/// have.
fn on_host(
	mut caller: Caller<'_, InstanceState>,
	work: impl FnOnce(&mut [u8], u64) -> Result<u64, host_kernel::RunError>,
) -> wasmtime::Result<()> {
	let fuel = caller.get_fuel()?;
	let memory = caller.data().memory.ok_or(Trap::MemoryOutOfBounds)?;
	match work(own_memory(&memory, &mut caller), fuel) {
		Ok(cost) => {
			caller.set_fuel(fuel - cost)?;
			Ok(())
		},
		Err(host_kernel::RunError::OutOfFuel) => {
			caller.set_fuel(0)?;
			Err(Trap::OutOfFuel.into())
		},
		Err(host_kernel::RunError::Program(_)) => Err(Trap::MemoryOutOfBounds.into()),
	}
}

/// Calls the guest's export `name`: a missing export means no engine, a trap is classified.
fn call_export<Params: WasmParams, Results: WasmResults>(
	instance: &Instance,
	store: &mut Store<InstanceState>,
	name: &str,
	params: Params,
) -> Result<Results, RunError> {
	call(&typed_export(instance, store, name)?, store, params)
}

/// The guest's export `name`, its type checked.
fn typed_export<Params: WasmParams, Results: WasmResults>(
	instance: &Instance,
	store: &mut Store<InstanceState>,
	name: &str,
) -> Result<TypedFunc<Params, Results>, RunError> {
	Ok(instance.get_typed_func::<Params, Results>(&mut *store, name).map_err(|_| LocalFailure::EngineUnavailable)?)
}

/// Calls `export`, of the instance in `store`, with `params`.
fn call<Params: WasmParams, Results: WasmResults>(
	export: &TypedFunc<Params, Results>,
	store: &mut Store<InstanceState>,
	params: Params,
) -> Result<Results, RunError> {
	let answer = export.call(&mut *store, params);
	// (A trap's signal handler leaves the thread in the default float mode.)
	float_mode::reassert();
	answer.map_err(|e| classify(e, store))
}

/// Copies `bytes` into a buffer the guest allocates, within its own memory; answers its address.
fn write_argument(
	instance: &Instance,
	memory: &Memory,
	store: &mut Store<InstanceState>,
	bytes: &[u8],
) -> Result<u32, RunError> {
	write_into(&typed_export(instance, store, "veriml_alloc")?, memory, store, bytes)
}

/// [`write_argument`] with the guest's `veriml_alloc`.
fn write_into(
	alloc: &TypedFunc<u32, u32>,
	memory: &Memory,
	store: &mut Store<InstanceState>,
	bytes: &[u8],
) -> Result<u32, RunError> {
	let len = u32::try_from(bytes.len()).map_err(|_| EngineError::InputTooLarge)?;
	let ptr = call(alloc, store, len)?;
	let range = ptr as usize..(ptr as usize).saturating_add(bytes.len());
	own_memory(memory, &mut *store).get_mut(range).ok_or(EngineError::OutOfMemory)?.copy_from_slice(bytes);
	Ok(ptr)
}

/// Reads and decodes the answer at `packed` = `(ptr << 32) | len`.
fn read_answer<T: Decode>(
	memory: &Memory,
	store: &mut Store<InstanceState>,
	packed: u64,
	max_len: usize,
) -> Result<T, RunError> {
	let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
	if len > max_len {
		return Err(EngineError::OutputTooLarge.into());
	}
	let bytes = own_memory(memory, store).get(ptr..ptr.saturating_add(len)).ok_or(EngineError::ExecutionFailed)?;
	Ok(T::decode(&mut &bytes[..]).map_err(|_| EngineError::ExecutionFailed)?)
}

/// What an error out of the guest means: a trap is the model's doing, the same on every node
/// (a verdict); anything else (the operating system refusing wasmtime memory, say) is this
/// node's fault and no verdict. So is wasmtime's native stack limit, whose depth differs
/// between CPUs: the guest's own limit, in wasm terms, is far below it and stops a model first.
fn classify(error: wasmtime::Error, store: &Store<InstanceState>) -> RunError {
	if store.data().limiter.refused {
		return EngineError::OutOfMemory.into();
	}
	match error.downcast_ref::<Trap>() {
		Some(Trap::OutOfFuel) => EngineError::FuelExhausted.into(),
		Some(Trap::StackOverflow) => {
			log::error!(target: LOG_TARGET, "the guest ran out of native stack on this node, no verdict");
			LocalFailure::HostResources.into()
		},
		Some(trap) => {
			log::debug!(target: LOG_TARGET, "the model trapped: {trap}");
			EngineError::ExecutionFailed.into()
		},
		None => {
			log::error!(target: LOG_TARGET, "the engine failed on this node, no verdict: {error:#}");
			LocalFailure::HostResources.into()
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn restoring_a_snapshot_is_charged_for_its_growth_and_the_blocks_it_writes() {
		let fresh = vec![0u8; 4 * BLOCK];
		let mut prepared = fresh.clone();
		prepared.resize(10 * BLOCK, 0);
		prepared[0] = 1;
		prepared[6 * BLOCK + 7] = 1;
		let snapshot = MemorySnapshot::of(&prepared, &fresh);
		assert_eq!(snapshot.bytes(), 2 * BLOCK);
		assert_eq!(snapshot.restore_fuel(fresh.len()), names::fuel_for_memory(2 * BLOCK as u64, 6 * BLOCK as u64));
		let mut memory = prepared.iter().map(|_| 0u8).collect::<Vec<_>>();
		memory[..fresh.len()].copy_from_slice(&fresh);
		snapshot.restore(&mut memory).unwrap();
		assert_eq!(memory, prepared);
	}

	#[test]
	fn resetting_any_blocks_of_any_memory_gives_the_restored_snapshot_there() {
		let fresh: Vec<u8> = (0..4 * BLOCK).map(|i| (i % 251) as u8 + 1).collect();
		let mut prepared = fresh.clone();
		prepared.resize(10 * BLOCK, 0);
		prepared[BLOCK + 5] = 0;
		prepared[6 * BLOCK..8 * BLOCK].fill(9);
		let snapshot = MemorySnapshot::of(&prepared, &fresh);
		let scribbled = || (0..10 * BLOCK).map(|i| (i % 7) as u8).collect::<Vec<_>>();
		let mut memory = scribbled();
		assert_eq!(snapshot.reset(&mut memory, &fresh, 0..10 * BLOCK).unwrap(), 10 * BLOCK);
		assert_eq!(memory, prepared);
		// Nothing differs any more: nothing is written.
		assert_eq!(snapshot.reset(&mut memory, &fresh, 0..10 * BLOCK).unwrap(), 0);
		// Only the range asked for: a fresh block, a run of the snapshot, zeros past the fresh end.
		for range in [BLOCK..2 * BLOCK, 7 * BLOCK..9 * BLOCK, 3 * BLOCK..7 * BLOCK] {
			let mut memory = scribbled();
			snapshot.reset(&mut memory, &fresh, range.clone()).unwrap();
			assert_eq!(memory[range.clone()], prepared[range.clone()]);
			assert_eq!(memory[..range.start], scribbled()[..range.start]);
			assert_eq!(memory[range.end..], scribbled()[range.end..]);
		}
		// A memory of another size or a range outside it: refused, nothing written.
		assert!(snapshot.reset(&mut vec![1; 9 * BLOCK], &fresh, 0..BLOCK).is_err());
		assert!(snapshot.reset(&mut scribbled(), &fresh, 9 * BLOCK..11 * BLOCK).is_err());
	}

	/// A test model's bytes and inputs (`scripts/models/make-test-models.sh`).
	fn test_model(name: &str) -> (Vec<u8>, Vec<Tensor>) {
		let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-models").join(name);
		let input: serde_json::Value =
			serde_json::from_str(&std::fs::read_to_string(folder.join("input.json")).unwrap()).unwrap();
		let inputs =
			input["inputs"].as_array().unwrap().iter().map(|t| crate::json::parse_tensor(t).unwrap()).collect();
		(std::fs::read(folder.join("model.onnx")).unwrap(), inputs)
	}

	/// What a fresh instance restored to `prepared`'s snapshot, in the memory its runs start in,
	/// holds.
	fn restored(guest: &Guest, prepared: &Prepared) -> Vec<u8> {
		let mut memory = guest.fresh_memory.clone();
		memory.resize(prepared.memory_bytes(), 0);
		prepared.snapshot.restore(&mut memory).unwrap();
		memory
	}

	impl Guest {
		/// Resets the one kept instance for a run of `prepared`, as that run would, and keeps it
		/// again: its memory before and after, and whether only the pages the kernel reported
		/// written (and the snapshots' blocks) were reset. Checks that the guest's own size is
		/// the snapshot's, whatever room the memory has past it.
		fn reset_kept(&self, prepared: &Prepared) -> (Vec<u8>, Vec<u8>, bool) {
			let (before, tracked) = {
				let kept = self.kept.lock().unwrap();
				let [kept] = &kept[..] else { panic!("not one instance kept: {}", kept.len()) };
				(kept.memory.data(&kept.store).to_vec(), kept.tracking && kept.written.is_some())
			};
			let (store, instance, memory, written) = self
				.instance_for(&prepared.snapshot, prepared.memory_bytes(), 0, Reuse::Kept, &mut Laps::new(false))
				.unwrap();
			let after = memory.data(&store).to_vec();
			assert_eq!(store.data().own_bytes, self.gives_room.then_some(prepared.snapshot.len));
			let holds = (prepared.snapshot.id, prepared.snapshot.changed_ranges().collect());
			self.keep(Kept { tracking: written.is_some(), written, holds, store, instance, memory });
			(before, after, tracked)
		}
	}

	#[test]
	fn a_panic_of_the_hosts_code_on_a_guest_stack_is_a_local_failure_and_frees_the_stack() {
		let guest = Guest::compile(crate::GUEST_WASM, &Limits::default(), &CompiledCache::UserDefault, false).unwrap();
		// More times than the lane has stacks: each panic gave its stack back.
		for _ in 0..=OFFCHAIN_STACKS {
			let answer =
				guest.in_slot(Lane::Offchain, || -> Result<(), RunError> { panic!("a bug in the host's code") });
			assert_eq!(answer, Err(RunError::Local(LocalFailure::HostPanic)));
		}
		let (linear, inputs) = test_model("pytorch_Linear");
		let specs: Vec<_> = inputs.iter().map(|t| t.spec().unwrap()).collect();
		let limits = Limits::default();
		let prepared = guest.prepare(Lane::Offchain, &linear, &specs, limits.max_fuel_to_prepare).unwrap();
		guest.run(Lane::Offchain, &prepared, &inputs, limits.max_fuel_per_run).unwrap();
	}

	/// The guest's stand-ins for `memory.copy` and `memory.fill` (which every copy and fill of
	/// its code calls) make a short one with the guest's own loads and stores: the result is
	/// the instruction's (a copy's, whatever the overlap of its ranges), and the fuel is the
	/// instructions' (one path, one price, for every length of a band), where a long one pays its bytes.
	#[test]
	fn a_short_copy_or_fill_is_the_guests_own_loads_and_stores_with_the_instructions_result() {
		let guest = Guest::compile(crate::GUEST_WASM, &Limits::default(), &CompiledCache::UserDefault, false).unwrap();
		guest
			.in_slot(Lane::Consensus, || {
				const SPAN: usize = 640;
				let (mut store, instance, memory) = guest.initialized(u64::MAX / 2)?;
				let at = call_export::<u32, u32>(&instance, &mut store, "veriml_alloc", SPAN as u32)? as usize;
				let pattern: Vec<u8> = (0..SPAN).map(|i| (i * 7 + 3) as u8).collect();
				// Runs `export` on the span after writing the pattern into it: the span after it,
				// and its fuel, with any bytes it metered charged (`veriml_alloc` reports them).
				let mut call = |export: &str, args: (u32, u32, u32)| -> Result<(Vec<u8>, u64), RunError> {
					memory.data_mut(&mut store)[at..at + SPAN].copy_from_slice(&pattern);
					let before = store.get_fuel().map_err(|_| LocalFailure::EngineUnavailable)?;
					call_export::<(u32, u32, u32), ()>(&instance, &mut store, export, args)?;
					call_export::<u32, u32>(&instance, &mut store, "veriml_alloc", 0)?;
					let fuel = before - store.get_fuel().map_err(|_| LocalFailure::EngineUnavailable)?;
					Ok((memory.data(&store)[at..at + SPAN].to_vec(), fuel))
				};
				let address = |offset: usize| (at + offset) as u32;
				let (mut fuel_of_copy, mut fuel_of_fill) = (vec![0; 200], vec![0; 200]);
				for len in 0..200 {
					// Apart, overlapping either way by little or by much, and onto itself: the same
					// bytes as `memory.copy`, and the same fuel wherever the ranges lie.
					let pairs =
						[(0, 300), (300, 0), (10, 11), (11, 10), (20, 20 + len / 2), (20 + len / 2, 20), (5, 5)];
					for (i, (dst, src)) in pairs.into_iter().enumerate() {
						let (after, fuel) = call("veriml_memory_copy", (address(dst), address(src), len as u32))?;
						let mut expected = pattern.clone();
						expected.copy_within(src..src + len, dst);
						assert_eq!(after, expected, "copy of {len} bytes from {src} to {dst}");
						assert!(i == 0 || fuel == fuel_of_copy[len], "copy of {len} bytes from {src} to {dst}");
						fuel_of_copy[len] = fuel;
					}
					for (value, at) in [(0u32, 7), (0xa5, 100), (0x1ff, 7)] {
						let (after, fuel) = call("veriml_memory_fill", (address(at), value, len as u32))?;
						let mut expected = pattern.clone();
						expected[at..at + len].fill(value as u8);
						assert_eq!(after, expected, "fill of {len} bytes with {value:#x}");
						assert!(value == 0 || fuel == fuel_of_fill[len], "fill of {len} bytes with {value:#x}");
						fuel_of_fill[len] = fuel;
					}
				}
				// A short copy's or fill's fuel is its path's instructions, the same for every length
				// the path takes; a long one's grows by the byte.
				let long = |len: usize| names::fuel_for_memory(len as u64, 0);
				for fuel in [&fuel_of_copy, &fuel_of_fill] {
					for band in [2..=3, 4..=7, 8..=15, 16..=32, 33..=64, 65..=128] {
						assert!(fuel[band.clone()].iter().all(|f| *f == fuel[*band.start()]), "{band:?}: {fuel:?}");
					}
					// (The longest short one costs less than its bytes would.)
					assert!(fuel[128] < fuel[0] + 128, "{fuel:?}");
					assert_eq!(fuel[199] - fuel[129], long(199) - long(129));
				}
				Ok(())
			})
			.unwrap();
	}

	/// In a node the guest runs inside a host function the runtime calls: the runtime's wasm (a
	/// store of another wasmtime engine) is live on the same thread, on its own stack, while the
	/// guest runs on a guest stack. A trap of the guest must end the guest's call only, and the
	/// runtime's own trap must still be its own.
	#[test]
	fn the_guest_runs_and_traps_inside_another_engines_wasm_on_the_same_thread() {
		let limits = Limits::default();
		let guest = std::sync::Arc::new(
			Guest::compile(crate::GUEST_WASM, &limits, &CompiledCache::UserDefault, false).unwrap(),
		);
		let (linear, inputs) = test_model("pytorch_Linear");
		let specs: Vec<_> = inputs.iter().map(|t| t.spec().unwrap()).collect();
		let prepared =
			std::sync::Arc::new(guest.prepare(Lane::Consensus, &linear, &specs, limits.max_fuel_to_prepare).unwrap());
		let alone = guest.run(Lane::Consensus, &prepared, &inputs, limits.max_fuel_per_run).unwrap();
		// (module (import "host" "run" (func)) (func (export "go") (result i32) call 0 i32.const 7)
		//   (func (export "trap") unreachable))
		let outer: &[u8] = &[
			0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
			0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f, // types: () -> (), () -> i32
			0x02, 0x0c, 0x01, 0x04, b'h', b'o', b's', b't', 0x03, b'r', b'u', b'n', 0x00, 0x00, // import
			0x03, 0x03, 0x02, 0x01, 0x00, // functions
			0x07, 0x0d, 0x02, 0x02, b'g', b'o', 0x00, 0x01, 0x04, b't', b'r', b'a', b'p', 0x00, 0x02, // exports
			0x0a, 0x0c, 0x02, 0x06, 0x00, 0x10, 0x00, 0x41, 0x07, 0x0b, 0x03, 0x00, 0x00, 0x0b, // code
		];
		let engine = wasmtime::Engine::default();
		let module = Module::new(&engine, outer).unwrap();
		let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
		let mut linker = Linker::new(&engine);
		let (inner, model, given, seen) = (guest.clone(), prepared.clone(), inputs.clone(), answers.clone());
		linker
			.func_wrap("host", "run", move || {
				// Out of fuel (a trap inside the guest), then a whole run.
				let starved = inner.run(Lane::Consensus, &model, &given, 1_000);
				let whole = inner.run(Lane::Consensus, &model, &given, limits.max_fuel_per_run);
				seen.lock().unwrap().push((starved, whole));
			})
			.unwrap();
		let mut store = Store::new(&engine, ());
		let instance = linker.instantiate(&mut store, &module).unwrap();
		let go = instance.get_typed_func::<(), i32>(&mut store, "go").unwrap();
		assert_eq!(go.call(&mut store, ()).unwrap(), 7, "the outer wasm goes on after the guest's trap");
		let (starved, whole) = answers.lock().unwrap().pop().unwrap();
		assert_eq!(starved, Err(RunError::Verdict(EngineError::FuelExhausted)));
		assert_eq!(whole.unwrap(), alone, "the same outputs and fuel as a run outside any wasm");
		let trap = instance.get_typed_func::<(), ()>(&mut store, "trap").unwrap().call(&mut store, ()).unwrap_err();
		assert_eq!(trap.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "the outer trap is its own");
	}

	/// SqueezeNet's run allocates its activations beyond what preparing the model left, so
	/// every run grew the memory past the snapshot: no instance of it was ever kept, and each
	/// run paid a fresh instance and its release.
	#[test]
	fn a_model_whose_run_grows_the_memory_runs_next_in_the_room_it_grew_into_and_keeps_its_instance() {
		let limits = Limits::default();
		let compile = || Guest::compile(crate::GUEST_WASM, &limits, &CompiledCache::UserDefault, false).unwrap();
		let (guest, mut plain) = (compile(), compile());
		assert!(guest.gives_room, "the guest is of version {ROOM_VERSION} or later");
		// As a guest that asks the memory its size would be run: from the snapshot alone.
		plain.gives_room = false;
		let (model, inputs) = test_model("light_squeezenet");
		let specs: Vec<_> = inputs.iter().map(|t| t.spec().unwrap()).collect();
		let prepare =
			|guest: &Guest| guest.prepare(Lane::Offchain, &model, &specs, limits.max_fuel_to_prepare).unwrap();
		let run = |guest: &Guest, prepared: &Prepared| {
			guest.run(Lane::Offchain, prepared, &inputs, limits.max_fuel_per_run).unwrap()
		};
		let holding = |guest: &Guest| guest.kept.lock().unwrap().iter().map(|kept| kept.holds.0).collect::<Vec<_>>();

		let prepared = prepare(&guest);
		assert_eq!(prepared.memory_bytes(), prepared.snapshot.len);
		// The first run grows the memory; the model's runs start from there on with the room it
		// grew into, so its instance (whose memory is that long) is kept, and so are theirs.
		let first = run(&guest, &prepared);
		assert!(prepared.memory_bytes() > prepared.snapshot.len);
		assert_eq!(holding(&guest), [prepared.snapshot.id]);
		let room = prepared.memory_bytes();
		for _ in 0..3 {
			// The same output bits and the same fuel, to the unit, with the room as without.
			assert_eq!(run(&guest, &prepared), first);
			assert_eq!(holding(&guest), [prepared.snapshot.id], "the run's instance is kept");
			// The room the run wrote into is zero again after the reset.
			let (before, after, _) = guest.reset_kept(&prepared);
			assert!(before[prepared.snapshot.len..].iter().any(|&byte| byte != 0), "the run wrote nothing in the room");
			assert!(after == restored(&guest, &prepared), "a reset differs from the snapshot");
		}
		// Room larger than a run needs, and less than it needs (the run grows the rest): the
		// same bits and fuel.
		for bytes in [room + 64 * PAGE, prepared.snapshot.len + (room - prepared.snapshot.len) / PAGE / 2 * PAGE] {
			let other = prepare(&guest);
			other.memory_bytes.store(bytes, std::sync::atomic::Ordering::Relaxed);
			assert_eq!(run(&guest, &other), first, "starting in {bytes} bytes");
		}
		// Without the room (a node whose runs start from the snapshot alone): the same bits and
		// fuel, and no instance kept.
		let alone = prepare(&plain);
		for _ in 0..2 {
			assert_eq!(run(&plain, &alone), first);
			assert_eq!(alone.memory_bytes(), alone.snapshot.len);
			assert_eq!(holding(&plain), Vec::<u64>::new());
		}
	}

	/// The guest keeps its own memory size, and a memory's room beyond it is taken as its code
	/// asks for memory: code that read the memory's size itself would see the room as its own.
	/// Only the guest's start (which takes the size as its own) and its stand-in for
	/// `memory.grow` read it.
	#[test]
	fn only_the_guests_start_and_memory_grow_read_the_memorys_size() {
		let readers = metering::memory_size_readers(crate::GUEST_WASM).unwrap();
		let exports: std::collections::HashMap<u32, String> = wasmparser::Parser::new(0)
			.parse_all(crate::GUEST_WASM)
			.filter_map(|payload| match payload.unwrap() {
				wasmparser::Payload::ExportSection(section) => Some(section),
				_ => None,
			})
			.flat_map(|section| section.into_iter().map(|export| export.unwrap()))
			.filter(|export| export.kind == wasmparser::ExternalKind::Func)
			.map(|export| (export.index, export.name.to_string()))
			.collect();
		let mut names: Vec<_> =
			readers.iter().map(|f| exports.get(f).cloned().unwrap_or(format!("function {f}"))).collect();
		names.sort();
		assert_eq!(names, ["_initialize", names::GROW_HELPER]);
		assert!(metering::keeps_own_memory_size(crate::GUEST_WASM, &readers));
		let guest = Guest::compile(crate::GUEST_WASM, &Limits::default(), &CompiledCache::UserDefault, false).unwrap();
		assert!(guest.gives_room);
		// Code that reads the size elsewhere too (as an earlier version's allocator does, through
		// its `memory.grow`'s answer) does not keep its own, nor does code whose stand-in does not
		// read it (an earlier version's asks `memory.grow`).
		let start = exports.iter().find(|(_, name)| *name == "_initialize").map(|(index, _)| *index).unwrap();
		let other = (0..).find(|index| !readers.contains(index)).unwrap();
		assert!(!metering::keeps_own_memory_size(crate::GUEST_WASM, &[readers.clone(), vec![other]].concat()));
		assert!(!metering::keeps_own_memory_size(crate::GUEST_WASM, &[start]));
	}

	/// Registering a model prepares it apart from the cache and runs it once on zero inputs
	/// (`Engine::inspect_model`, the chain's `inspect`), and that prepared model never runs
	/// again. Its run took a kept instance of a model in use (or, where none fitted, kept its own
	/// beside them, dropping the one kept longest ago): each registration cost a model in use its
	/// next run's kept instance, and a run that grows the memory held one of the pool's warm
	/// slots for nothing. The instances kept stay as they were.
	#[test]
	fn registering_a_model_leaves_the_instances_kept_for_the_models_in_use() {
		let limits = Limits::default();
		let engine = crate::Engine::new(limits.clone()).with_compiled_cache(CompiledCache::UserDefault);
		// Which snapshot each kept instance holds, and where its memory is (the pool's slot: the
		// same instance, kept again, is in the same one).
		let holding = || {
			engine
				.with_guest(&crate::guest_hash(), |guest| {
					Ok(guest
						.kept
						.lock()
						.unwrap()
						.iter()
						.map(|kept| (kept.holds.0, kept.memory.data_ptr(&kept.store) as usize))
						.collect::<Vec<_>>())
				})
				.unwrap()
		};
		let [(linear, linear_inputs), (forest, forest_inputs), (squeezenet, squeezenet_inputs)] =
			["pytorch_Linear", "sklearn_random_forest_classifier", "light_squeezenet"].map(test_model);
		let specs = |inputs: &[Tensor]| inputs.iter().map(|t| t.spec().unwrap()).collect::<Vec<_>>();
		let first = engine.run_model(&linear, &linear_inputs, limits.max_fuel_per_run).unwrap();
		let kept = holding();
		assert_eq!(kept.len(), 1);
		// A model whose memory is larger (the kept instance could be grown and reset for it), and
		// one whose run grows the memory (its instance could be kept beside the other).
		for (model, inputs) in [(&forest, &forest_inputs), (&squeezenet, &squeezenet_inputs)] {
			let info = engine.inspect_model(model, &specs(inputs), limits.max_fuel_to_prepare).unwrap();
			assert!(info.fuel_per_run > 0);
			assert_eq!(holding(), kept, "the instances kept before the registration");
		}
		// The model in use runs in its kept instance, kept again: the same outputs and fuel.
		assert_eq!(engine.run_model(&linear, &linear_inputs, limits.max_fuel_per_run).unwrap(), first);
		assert_eq!(holding(), kept);
	}

	#[test]
	fn a_kept_instance_is_reset_to_exactly_the_next_snapshot() {
		let limits = Limits::default();
		let guest = Guest::compile(crate::GUEST_WASM, &limits, &CompiledCache::UserDefault, false).unwrap();
		let [(linear, linear_inputs), (forest, forest_inputs)] =
			["pytorch_Linear", "sklearn_random_forest_classifier"].map(test_model);
		let prepare = |model: &[u8], inputs: &[Tensor]| {
			let specs: Vec<_> = inputs.iter().map(|t| t.spec().unwrap()).collect();
			guest.prepare(Lane::Offchain, model, &specs, limits.max_fuel_to_prepare).unwrap()
		};
		let (linear, forest) = (prepare(&linear, &linear_inputs), prepare(&forest, &forest_inputs));
		assert!(forest.snapshot.len > linear.snapshot.len, "the second model's memory is the larger");
		let run = |prepared: &Prepared, inputs: &[Tensor]| {
			guest.run(Lane::Offchain, prepared, inputs, limits.max_fuel_per_run).unwrap()
		};
		let first = run(&linear, &linear_inputs);
		// Kept untracked: every block compared, the memory grown to the larger snapshot.
		let (before, after, tracked) = guest.reset_kept(&forest);
		assert!(!tracked);
		assert_eq!(before.len(), linear.snapshot.len);
		assert!(after == restored(&guest, &forest), "the first reset differs from the snapshot");
		let forest_first = run(&forest, &forest_inputs);
		for _ in 0..3 {
			let (before, after, tracked) = guest.reset_kept(&forest);
			// Linux 6.9 (and 6.8.10) and later report the written pages; elsewhere every block is compared.
			assert!(tracked || !crate::written_pages::kernel_can_track(), "the written pages were not tracked");
			assert!(before != restored(&guest, &forest), "the run wrote nothing");
			assert!(after == restored(&guest, &forest), "a reset differs from the snapshot");
			assert_eq!(run(&forest, &forest_inputs), forest_first);
		}
		// Another model of the same size, and back: the pages written, and the blocks where
		// either snapshot differs from a fresh instance, are reset.
		let (conv, conv_inputs) = test_model("pytorch_Conv2d");
		let conv = prepare(&conv, &conv_inputs);
		assert_eq!(conv.snapshot.len, forest.snapshot.len);
		for (next, inputs) in [(&conv, &conv_inputs), (&forest, &forest_inputs)] {
			let (_, after, tracked) = guest.reset_kept(next);
			assert!(tracked || !crate::written_pages::kernel_can_track(), "the written pages were not tracked");
			assert!(after == restored(&guest, next), "a reset for another model differs from its snapshot");
			run(next, inputs);
		}
		assert_eq!(run(&forest, &forest_inputs), forest_first);
		// A smaller model than the kept memory: a fresh instance, the same result as the first,
		// kept beside the other.
		assert_eq!(run(&linear, &linear_inputs), first);
		let holding = || guest.kept.lock().unwrap().iter().map(|kept| kept.holds.0).collect::<Vec<_>>();
		assert_eq!(holding(), [forest.snapshot.id, linear.snapshot.id]);
		// A run that traps (out of fuel soon after the restore) leaves no instance behind.
		let fuel = forest.snapshot.restore_fuel(guest.fresh_memory.len()) + 10_000;
		let short = guest.run(Lane::Offchain, &forest, &forest_inputs, fuel);
		assert_eq!(short, Err(EngineError::FuelExhausted.into()));
		assert_eq!(holding(), [linear.snapshot.id]);
		// Linear's instance is grown and reset for the forest: the same result.
		assert_eq!(run(&forest, &forest_inputs), forest_first);
		assert_eq!(holding(), [forest.snapshot.id]);
	}

	/// A module of the guest's shape for [`the_host_reaches_no_byte_of_the_room_past_the_guests_own_memory`]:
	/// one page of memory holding, at 0, a tile program that loads a tile from the next page;
	/// `load` runs it on the host, `take_a_page` reports a page grown, `veriml_alloc` answers
	/// the next page.
	fn reaching_past_its_page() -> Vec<u8> {
		use veriml_inference_primitives::host_kernel::{OP_DONE, OP_LOAD_TILE};
		use wasm_encoder::{
			CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
			ImportSection, MemorySection, MemoryType, Module, TypeSection, ValType,
		};
		let program: Vec<u8> =
			[OP_LOAD_TILE, PAGE as u32, 0, 0, OP_DONE, 0, 0, 0].iter().flat_map(|word| word.to_le_bytes()).collect();
		let mut types = TypeSection::new();
		types.ty().function([ValType::I32, ValType::I32], []);
		types.ty().function([ValType::I32], []);
		types.ty().function([], []);
		types.ty().function([ValType::I32], [ValType::I32]);
		let mut imports = ImportSection::new();
		imports.import(IMPORT_MODULE, IMPORT_NAME, EntityType::Function(0));
		imports.import(IMPORT_MODULE, names::METER_GROWN_IMPORT, EntityType::Function(1));
		let mut functions = FunctionSection::new();
		functions.function(2).function(2).function(3);
		let mut memories = MemorySection::new();
		memories.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
		let mut exports = ExportSection::new();
		exports
			.export("memory", ExportKind::Memory, 0)
			.export("load", ExportKind::Func, 2)
			.export("take_a_page", ExportKind::Func, 3)
			.export("veriml_alloc", ExportKind::Func, 4);
		let mut code = CodeSection::new();
		let mut load = Function::new([]);
		load.instructions().i32_const(0).i32_const(2).call(0).end();
		let mut take = Function::new([]);
		take.instructions().i32_const(1).call(1).end();
		let mut alloc = Function::new([]);
		alloc.instructions().i32_const(PAGE as i32).end();
		code.function(&load).function(&take).function(&alloc);
		let mut data = DataSection::new();
		data.active(0, &ConstExpr::i32_const(0), program);
		let mut module = Module::new();
		module
			.section(&types)
			.section(&imports)
			.section(&functions)
			.section(&memories)
			.section(&exports)
			.section(&code)
			.section(&data);
		module.finish()
	}

	/// A node may give a run room past the guest's own memory (`Prepared::memory_bytes`), still
	/// zero, which another node does not have. A host kernel whose range reaches into it, the
	/// host's writing of an argument there or its reading of an answer from there would, on the
	/// node with room, read zeros or write where the guest's code never asked for memory, and on
	/// the node without, trap: two verdicts. The host reaches only the guest's own memory on
	/// both, and what the guest takes of the room (reporting it grown) is its own.
	#[test]
	fn the_host_reaches_no_byte_of_the_room_past_the_guests_own_memory() {
		let engine = wasmtime::Engine::new(Config::new().consume_fuel(true)).unwrap();
		let module = Module::new(&engine, reaching_past_its_page()).unwrap();
		let linker = host_functions(&engine, false).unwrap();
		let node = |room_pages: u64| {
			let limiter = MemoryLimiter { max_bytes: 16 * PAGE, refused: false };
			let state = InstanceState {
				limiter,
				memory: None,
				own_bytes: Some(PAGE),
				pool: None,
				node_marks: None,
				run_exports: None,
			};
			let mut store = Store::new(&engine, state);
			store.set_fuel(1 << 30).unwrap();
			let instance = linker.instantiate(&mut store, &module).unwrap();
			let memory = instance.get_memory(&mut store, "memory").unwrap();
			memory.grow(&mut store, room_pages).unwrap();
			store.data_mut().memory = Some(memory);
			(store, instance, memory)
		};
		let call = |store: &mut Store<InstanceState>, instance: &Instance, name: &str| {
			call_export::<(), ()>(instance, store, name, ())
		};
		for room_pages in [0, 1, 4] {
			let (mut store, instance, memory) = node(room_pages);
			// The tile program's load from the next page.
			assert_eq!(
				call(&mut store, &instance, "load"),
				Err(EngineError::ExecutionFailed.into()),
				"with {room_pages} pages of room"
			);
			// An argument the guest's allocator placed there, an answer it points there.
			assert_eq!(write_argument(&instance, &memory, &mut store, &[7; 4]), Err(EngineError::OutOfMemory.into()));
			let answer = ((PAGE as u64) << 32) | 4;
			assert_eq!(read_answer::<u32>(&memory, &mut store, answer, 4), Err(EngineError::ExecutionFailed.into()));
			if room_pages == 0 {
				continue;
			}
			// Once the guest has taken the page (its stand-in for `memory.grow` reports it), it
			// is the guest's own: the same calls reach it.
			call(&mut store, &instance, "take_a_page").unwrap();
			assert_eq!(store.data().own_bytes, Some(2 * PAGE));
			call(&mut store, &instance, "load").unwrap();
			assert_eq!(write_argument(&instance, &memory, &mut store, &[7; 4]), Ok(PAGE as u32));
			assert_eq!(read_answer::<u32>(&memory, &mut store, answer, 4), Ok(0x0707_0707));
		}
		// A guest whose size is the memory's (`own_bytes` None: no room given) reaches all of it.
		let (mut store, instance, _) = node(1);
		store.data_mut().own_bytes = None;
		call(&mut store, &instance, "load").unwrap();
	}

	/// A module of the guest's shape whose check of the host kernel answers `answer`
	/// (`veriml_check_host_kernel`), declared of engine version `version`.
	fn checking_guest(answer: u32, version: u32) -> Vec<u8> {
		use wasm_encoder::{
			CodeSection, ExportKind, ExportSection, Function, FunctionSection, MemorySection, MemoryType, Module,
			TypeSection, ValType,
		};
		let mut types = TypeSection::new();
		types.ty().function([], []);
		types.ty().function([ValType::I32, ValType::I32], [ValType::I32]);
		let mut functions = FunctionSection::new();
		functions.function(0).function(1);
		let mut memories = MemorySection::new();
		memories.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
		let mut exports = ExportSection::new();
		exports.export("memory", ExportKind::Memory, 0);
		exports.export("_initialize", ExportKind::Func, 0);
		exports.export("veriml_check_host_kernel", ExportKind::Func, 1);
		// The metering helpers every guest exports (this one moves no memory).
		for helper in [names::COPY_HELPER, names::FILL_HELPER, names::GROW_HELPER] {
			exports.export(helper, ExportKind::Func, 0);
		}
		let mut code = CodeSection::new();
		let mut initialize = Function::new([]);
		initialize.instructions().end();
		let mut check = Function::new([]);
		check.instructions().i32_const(answer as i32).end();
		code.function(&initialize).function(&check);
		let mut module = Module::new();
		module.section(&types).section(&functions).section(&memories).section(&exports).section(&code);
		// Metered as the built guest is (build.rs): the stack limit's counter added.
		metering::meter(&module.finish()).and_then(|metered| metering::declare_version(&metered, version)).unwrap()
	}

	/// The guest reports in its check's top bit whether its wasm saw subnormals flushed. A node
	/// whose float mode is not its guest's version's (an engine that set the mode on another
	/// thread, say) would compute other bits than its peers: it refuses the guest rather than
	/// give verdicts.
	#[test]
	fn a_guest_whose_wasm_ran_in_another_float_mode_than_its_versions_is_refused() {
		let check = |answer: u32, version: u32| {
			let guest =
				Guest::compile(&checking_guest(answer, version), &Limits::default(), &CompiledCache::None, false)
					.unwrap();
			guest.check_host_kernel(0, 1)
		};
		let ieee = float_mode::FLUSH_SUBNORMALS_VERSION - 1;
		// In its version's mode: the number of differing stores, the bit taken off.
		assert_eq!(check(3, ieee), Ok(3));
		// Flushed where the version computes IEEE subnormals.
		assert_eq!(check(CHECK_FLUSHED_BIT | 3, ieee), Err(LocalFailure::EngineUnavailable.into()));
		if float_mode::CAN_FLUSH {
			assert_eq!(check(CHECK_FLUSHED_BIT, float_mode::FLUSH_SUBNORMALS_VERSION), Ok(0));
			// IEEE where the version flushes.
			assert_eq!(check(0, float_mode::FLUSH_SUBNORMALS_VERSION), Err(LocalFailure::EngineUnavailable.into()));
		}
	}
}
