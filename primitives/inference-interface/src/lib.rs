//! The host interface through which the runtime asks the node's deterministic engine to check
//! and run ONNX models. The runtime's wasm cannot run the engine itself; the node does.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use sp_runtime_interface::{
	pass_by::{AllocateAndReturnByCodec, PassFatPointerAndDecode, PassFatPointerAndRead, PassPointerAndReadCopy},
	runtime_interface,
};
use veriml_inference_primitives::{EngineError, EngineGuest, Execution, ModelHash, ModelInfo, Tensor, TensorSpec};
#[cfg(feature = "std")]
use veriml_inference_primitives::{LocalFailure, RunError};

#[cfg(feature = "std")]
use sp_externalities::ExternalitiesExt;

/// What the host interface needs from an engine. The node implements it with the
/// deterministic wasm engine (`veriml-engine`); keeping it a trait keeps this crate free of
/// the engine's dependencies.
///
/// An engine answers a verdict ([`RunError::Verdict`]: every honest node reaches it) or a
/// failure of its own ([`RunError::Local`]); the host functions turn the latter into an
/// aborted runtime call, never into a value the runtime sees.
#[cfg(feature = "std")]
pub trait InferenceEngine: Send + Sync {
	/// blake2-256 of the engine guest this engine was built with.
	fn guest_hash(&self) -> ModelHash;

	/// Whether this engine knows guest `guest` (built in, or added from the chain's state).
	fn has_guest(&self, guest: &ModelHash) -> bool;

	/// Identifies the guest whose stored bytes are `code` (zstd-compressed or plain wasm,
	/// metered, declaring its engine version) and adds it, to be compiled ahead of its first
	/// use; `None` if the bytes are no engine guest. The answer is a function of the bytes.
	fn add_guest(&self, code: &[u8]) -> Option<EngineGuest>;

	/// Parses and checks `model` with engine guest `guest`, prepares it for `inputs` and
	/// measures the fuel of preparing it and of one run on all-zero inputs; each may use at
	/// most `fuel_limit`.
	fn inspect(
		&self,
		lane: Lane,
		guest: ModelHash,
		model: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: u64,
	) -> Result<ModelInfo, RunError>;

	/// Runs the model with content hash `model_hash` on `inputs` with engine guest `guest`,
	/// within `fuel_limit`. `load_model` yields the model's bytes when the engine has not
	/// prepared it yet. With a `preparation_limit`, a model whose preparation for `inputs`
	/// takes more fuel is refused (`FuelExhausted`), prepared now or before: its preparation
	/// is stopped there, never run to the engine's cap.
	#[allow(clippy::too_many_arguments)]
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
	) -> Result<Execution, RunError>;
}

/// Which of the engine's capacities a runtime call draws on, so that work nobody waits for in
/// consensus can never take the engine from block import.
#[cfg(feature = "std")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lane {
	/// Importing or authoring a block: what consensus waits on.
	Consensus,
	/// Anything else: off-chain workers, RPC calls (`state_call`), transaction validation.
	Offchain,
}

#[cfg(feature = "std")]
impl Lane {
	/// The lane of a runtime call made in `context`.
	pub fn of(context: sp_core::traits::CallContext) -> Self {
		match context {
			sp_core::traits::CallContext::Onchain { .. } => Lane::Consensus,
			sp_core::traits::CallContext::Offchain => Lane::Offchain,
		}
	}
}

#[cfg(feature = "std")]
std::thread_local! {
	static LANE: std::cell::Cell<Lane> = const { std::cell::Cell::new(Lane::Consensus) };
}

/// Runs `call` (a runtime call, made on this thread) with the engine's work it asks for drawn
/// from `lane`. The node's executor wraps every runtime call in this, with the lane of its call
/// context; a runtime call outside it (tests, tools) is on the consensus lane.
#[cfg(feature = "std")]
pub fn in_lane<R>(lane: Lane, call: impl FnOnce() -> R) -> R {
	struct Restore(Lane);
	impl Drop for Restore {
		fn drop(&mut self) {
			LANE.with(|current| current.set(self.0));
		}
	}
	let _restore = Restore(LANE.with(|current| current.replace(lane)));
	call()
}

/// The lane of the runtime call this thread is in.
#[cfg(feature = "std")]
pub fn current_lane() -> Lane {
	LANE.with(|current| current.get())
}

/// Aborts the runtime call in progress because this node cannot reach a verdict.
///
/// The panic unwinds out of the host function into the executor, which fails the whole
/// runtime call: a block being authored leaves the transaction out, a block being imported is
/// refused, an off-chain worker sends nothing. No engine error is written to state and no one
/// is slashed for a fault of this node.
#[cfg(feature = "std")]
fn abort_runtime_call(failure: LocalFailure) -> ! {
	abort_for(failure.describe())
}

/// [`abort_runtime_call`] for a fault this crate finds itself: `why` says it.
#[cfg(feature = "std")]
fn abort_for(why: &str) -> ! {
	log::error!(
		target: "veriml::engine",
		"the inference engine failed on this node ({why}): the runtime call is aborted, no verdict is written"
	);
	panic!("veriml inference engine: local failure on this node: {why}")
}

/// Why a node aborts a run of a model in the content store: [`abort_for`]'s words, in the
/// panic message the tests look for.
#[cfg(feature = "std")]
pub const MISSING_CONTENT: &str =
	"this node does not keep every chunk of the model's bytes in the content store (pruned block bodies?)";

/// A verdict for the runtime, or an aborted runtime call for a local failure.
#[cfg(feature = "std")]
fn verdict<T>(answer: Result<T, RunError>) -> Result<T, EngineError> {
	match answer {
		Ok(value) => Ok(value),
		Err(RunError::Verdict(error)) => Err(error),
		Err(RunError::Local(failure)) => abort_runtime_call(failure),
	}
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The node's inference engine, registered with every runtime call the client makes.
	pub struct InferenceExt(std::sync::Arc<dyn InferenceEngine>);
}

#[cfg(feature = "std")]
impl InferenceExt {
	/// Wraps an engine for registration.
	pub fn new(engine: std::sync::Arc<dyn InferenceEngine>) -> Self {
		Self(engine)
	}
}

/// The engine of this process, used by runtime calls that carry no [`InferenceExt`]: the node
/// sets it once at start-up, so block import, authoring, off-chain workers, RPC and the
/// benchmark commands all reach the same engine.
#[cfg(feature = "std")]
static PROCESS_ENGINE: std::sync::OnceLock<std::sync::Arc<dyn InferenceEngine>> = std::sync::OnceLock::new();

/// Sets the engine of this process; `false` if one was set already.
#[cfg(feature = "std")]
pub fn set_process_engine(engine: std::sync::Arc<dyn InferenceEngine>) -> bool {
	PROCESS_ENGINE.set(engine).is_ok()
}

/// The engine a runtime call reaches: its externalities' [`InferenceExt`], else the process's.
#[cfg(feature = "std")]
fn engine_of(mut ext: &mut dyn sp_externalities::Externalities) -> Option<std::sync::Arc<dyn InferenceEngine>> {
	ext.extension::<InferenceExt>().map(|ext| ext.0.clone()).or_else(|| PROCESS_ENGINE.get().cloned())
}

/// The engine and the guest for a runtime call that names engine guest `guest` (version 1 of
/// the host functions names none: the engine's built-in guest). A guest the engine does not
/// know yet is read from the state the call runs on ([`engine_guest_code_key`]); the call is
/// aborted where there is no engine, or the guest is neither known nor in state, or its bytes
/// are not that guest.
#[cfg(feature = "std")]
fn engine_for(
	ext: &mut dyn sp_externalities::Externalities,
	guest: Option<ModelHash>,
) -> (std::sync::Arc<dyn InferenceEngine>, ModelHash) {
	let Some(engine) = engine_of(ext) else { abort_runtime_call(LocalFailure::EngineUnavailable) };
	let guest = guest.unwrap_or_else(|| engine.guest_hash());
	if !engine.has_guest(&guest) {
		let added = ext
			.storage(&veriml_inference_primitives::engine_guest_code_key(&guest))
			.and_then(|code| engine.add_guest(&code));
		if added.map(|added| added.hash) != Some(guest) {
			log::error!(
				target: "veriml::engine",
				"the chain names engine guest {guest:?}, which this node's engine does not have \
				 (it runs {:?}) and whose bytes the state does not hold",
				engine.guest_hash()
			);
			abort_runtime_call(LocalFailure::OtherGuest)
		}
	}
	(engine, guest)
}

#[cfg(feature = "std")]
fn inspect_with(
	ext: &mut dyn sp_externalities::Externalities,
	guest: Option<ModelHash>,
	model: &[u8],
	inputs: &[TensorSpec],
	fuel_limit: u64,
) -> Result<ModelInfo, EngineError> {
	let (engine, guest) = engine_for(ext, guest);
	verdict(engine.inspect(current_lane(), guest, model, inputs, fuel_limit))
}

#[cfg(feature = "std")]
#[allow(clippy::too_many_arguments)]
fn run_with(
	ext: &mut dyn sp_externalities::Externalities,
	guest: Option<ModelHash>,
	model_hash: ModelHash,
	model_key: &[u8],
	input_specs: &[TensorSpec],
	inputs: &[Tensor],
	fuel_limit: u64,
	preparation_limit: Option<u64>,
) -> Result<Execution, EngineError> {
	// A model removed from state must fail everywhere, also where a cache still holds it.
	if !ext.exists_storage(model_key) {
		return Err(EngineError::ModelUnavailable);
	}
	let (engine, guest) = engine_for(ext, guest);
	// The value is a SCALE-encoded byte vector, as a `StorageMap<_, _, BoundedVec<u8, _>>`
	// keeps it.
	let mut load_model = || {
		let raw = ext.storage(model_key)?;
		<Vec<u8> as codec::Decode>::decode(&mut &raw[..]).ok()
	};
	let lane = current_lane();
	verdict(engine.run(lane, guest, model_hash, &mut load_model, input_specs, inputs, fuel_limit, preparation_limit))
}

/// Where a node reads the stored chunks it keeps: its database's indexed transactions (the
/// content store's chunks, by their blake2-256). The engine reads models registered from the
/// content store through it; the storage proofs' off-chain worker reads challenged chunks.
#[cfg(feature = "std")]
pub trait ChunkSource: Send + Sync {
	/// The bytes kept under `hash`, if this node has them.
	fn chunk(&self, hash: &sp_core::H256) -> Option<Vec<u8>>;

	/// The bytes kept under each of `hashes`, in order: what the engine asks for a whole stored
	/// model at once, so that a source that fetches what it lacks (the node's, from its peers)
	/// asks for all of it in one request.
	fn chunks(&self, hashes: &[sp_core::H256]) -> Vec<Option<Vec<u8>>> {
		hashes.iter().map(|hash| self.chunk(hash)).collect()
	}
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The chunks a runtime call reads (tests register one; the node sets its database for
	/// the whole process with [`set_process_source`]).
	pub struct ChunkSourceExt(std::sync::Arc<dyn ChunkSource>);
}

#[cfg(feature = "std")]
impl ChunkSourceExt {
	/// Wraps a source for registration.
	pub fn new(source: std::sync::Arc<dyn ChunkSource>) -> Self {
		Self(source)
	}
}

#[cfg(feature = "std")]
static PROCESS_SOURCE: std::sync::OnceLock<std::sync::Arc<dyn ChunkSource>> = std::sync::OnceLock::new();

/// Sets where runtime calls of this process read chunks (the node's database); `false` if it
/// was set already.
#[cfg(feature = "std")]
pub fn set_process_source(source: std::sync::Arc<dyn ChunkSource>) -> bool {
	PROCESS_SOURCE.set(source).is_ok()
}

/// Where runtime calls on `ext` read chunks: its [`ChunkSourceExt`], else the process's source.
#[cfg(feature = "std")]
fn chunk_source(mut ext: &mut dyn sp_externalities::Externalities) -> Option<std::sync::Arc<dyn ChunkSource>> {
	ext.extension::<ChunkSourceExt>().map(|ext| ext.0.clone()).or_else(|| PROCESS_SOURCE.get().cloned())
}

/// The bytes this node keeps under chunk hash `hash`, whatever the lane: its externalities'
/// [`ChunkSourceExt`], else the process's source. Not checked against the hash.
#[cfg(feature = "std")]
pub fn kept_chunk(ext: &mut dyn sp_externalities::Externalities, hash: &sp_core::H256) -> Option<Vec<u8>> {
	chunk_source(ext)?.chunk(hash)
}

/// The bytes of a model kept in the content store, whose chunk hashes (SCALE `Vec<H256>`, in
/// order) the state holds under `chunks_key`; `None` when the state holds no such list (the
/// item left the store: the same answer on every node). Each chunk is read from this node's
/// chunks and checked against its hash; a node that lacks one, or keeps other bytes under its
/// hash, aborts the runtime call ([`MISSING_CONTENT`]): what it keeps must never change a
/// verdict.
#[cfg(feature = "std")]
fn stored_model_bytes(ext: &mut dyn sp_externalities::Externalities, chunks_key: &[u8]) -> Option<Vec<u8>> {
	let started = std::time::Instant::now();
	let raw = ext.storage(chunks_key)?;
	let hashes = <Vec<sp_core::H256> as codec::Decode>::decode(&mut &raw[..]).ok()?;
	let kept = match chunk_source(ext) {
		Some(source) => source.chunks(&hashes),
		None => vec![None; hashes.len()],
	};
	let mut bytes = Vec::new();
	for (hash, kept) in hashes.iter().zip(kept) {
		match kept {
			Some(chunk) if veriml_inference_primitives::model_hash(&chunk) == *hash => bytes.extend_from_slice(&chunk),
			kept => {
				log::error!(
					target: "veriml::engine",
					"a model's chunk {hash:?} is {} on this node: it cannot run the model until it \
					 holds the chunk (in its database, or fetched from its peers with --ipfs-server)",
					if kept.is_some() { "corrupt" } else { "missing" },
				);
				abort_for(MISSING_CONTENT)
			},
		}
	}
	let elapsed = started.elapsed();
	log::debug!(
		target: "veriml::engine",
		"read a stored model of {} bytes from {} chunks in {:.1} ms ({:.2} ns a byte)",
		bytes.len(),
		hashes.len(),
		elapsed.as_secs_f64() * 1e3,
		elapsed.as_secs_f64() * 1e9 / bytes.len().max(1) as f64,
	);
	Some(bytes)
}

#[cfg(feature = "std")]
fn inspect_stored_with(
	ext: &mut dyn sp_externalities::Externalities,
	guest: ModelHash,
	chunks_key: &[u8],
	inputs: &[TensorSpec],
	fuel_limit: u64,
) -> Result<(ModelHash, ModelInfo), EngineError> {
	let Some(model) = stored_model_bytes(ext, chunks_key) else { return Err(EngineError::ModelUnavailable) };
	let (engine, guest) = engine_for(ext, Some(guest));
	let info = verdict(engine.inspect(current_lane(), guest, &model, inputs, fuel_limit))?;
	Ok((veriml_inference_primitives::model_hash(&model), info))
}

#[cfg(feature = "std")]
#[allow(clippy::too_many_arguments)]
fn run_stored_with(
	ext: &mut dyn sp_externalities::Externalities,
	guest: ModelHash,
	model_hash: ModelHash,
	chunks_key: &[u8],
	input_specs: &[TensorSpec],
	inputs: &[Tensor],
	fuel_limit: u64,
	preparation_limit: Option<u64>,
) -> Result<Execution, EngineError> {
	// An item that left the store must fail everywhere, also where a cache still holds it.
	if !ext.exists_storage(chunks_key) {
		return Err(EngineError::ModelUnavailable);
	}
	let (engine, guest) = engine_for(ext, Some(guest));
	let mut load_model = || stored_model_bytes(ext, chunks_key);
	let lane = current_lane();
	verdict(engine.run(lane, guest, model_hash, &mut load_model, input_specs, inputs, fuel_limit, preparation_limit))
}

/// Host functions that check and run ONNX models with the node's deterministic engine.
///
/// Version 2 of `inspect` and `run` takes the blake2-256 of the engine guest the chain's state
/// names. The node runs that guest: its built-in one, or the one whose bytes the state holds
/// under [`engine_guest_code_key`](veriml_inference_primitives::engine_guest_code_key), so
/// every block is executed with the guest of its own state. A node that can find or run no
/// such guest aborts the runtime call ([`LocalFailure::OtherGuest`]) instead of computing
/// something else. Version 1 (runtimes before spec 105) names none: the built-in guest.
/// Version 3 of `run` and version 2 of `run_stored` (spec 132) take a preparation limit too.
#[allow(clippy::too_many_arguments)]
#[runtime_interface]
pub trait Inference {
	/// Parses and checks `model` for the declared `inputs`: refuses malformed files and
	/// non-deterministic or unsupported operators, types the graph, and measures the fuel of
	/// preparing it and of one run on all-zero inputs, each within `fuel_limit`. Nothing is
	/// kept.
	fn inspect(
		&mut self,
		model: PassFatPointerAndRead<&[u8]>,
		inputs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<ModelInfo, EngineError>> {
		inspect_with(*self, None, model, &inputs, fuel_limit)
	}

	/// [`inspect`](inference::inspect) with the engine guest `guest` that the chain names.
	#[version(2)]
	fn inspect(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		model: PassFatPointerAndRead<&[u8]>,
		inputs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<ModelInfo, EngineError>> {
		inspect_with(*self, Some(guest), model, &inputs, fuel_limit)
	}

	/// Runs the model whose bytes are stored (SCALE-encoded, as a `Vec<u8>`) under `model_key`
	/// and hash to `model_hash`, with
	/// `input_specs` as registered, on `inputs`, within `fuel_limit`. The bytes are read from
	/// state only when the engine has not prepared this model yet.
	fn run(
		&mut self,
		model_hash: PassPointerAndReadCopy<ModelHash, 32>,
		model_key: PassFatPointerAndRead<&[u8]>,
		input_specs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		inputs: PassFatPointerAndDecode<Vec<Tensor>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<Execution, EngineError>> {
		run_with(*self, None, model_hash, model_key, &input_specs, &inputs, fuel_limit, None)
	}

	/// [`run`](inference::run) with the engine guest `guest` that the chain names.
	#[version(2)]
	fn run(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		model_hash: PassPointerAndReadCopy<ModelHash, 32>,
		model_key: PassFatPointerAndRead<&[u8]>,
		input_specs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		inputs: PassFatPointerAndDecode<Vec<Tensor>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<Execution, EngineError>> {
		run_with(*self, Some(guest), model_hash, model_key, &input_specs, &inputs, fuel_limit, None)
	}

	/// [`run`](inference::run) with the engine guest `guest` that the chain names, refusing
	/// (`FuelExhausted`) a model whose preparation for `input_specs` takes more than
	/// `preparation_limit` fuel, whether this node prepares it now or prepared it before (see
	/// [`InferenceEngine::run`]): a step of a decoder, whose cache lengths the chain measured
	/// only at its ends, is never prepared for longer than the chain charges for.
	#[version(3)]
	#[allow(clippy::too_many_arguments)]
	fn run(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		model_hash: PassPointerAndReadCopy<ModelHash, 32>,
		model_key: PassFatPointerAndRead<&[u8]>,
		input_specs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		inputs: PassFatPointerAndDecode<Vec<Tensor>>,
		fuel_limit: u64,
		preparation_limit: u64,
	) -> AllocateAndReturnByCodec<Result<Execution, EngineError>> {
		let limit = Some(preparation_limit);
		run_with(*self, Some(guest), model_hash, model_key, &input_specs, &inputs, fuel_limit, limit)
	}

	/// [`inspect`](inference::inspect) for a model kept in the content store: its bytes are
	/// the chunks whose hashes the state holds under `chunks_key` (a SCALE `Vec<H256>`, the
	/// store's chunk list), read from this node's database and each checked against its hash.
	/// Answers the blake2-256 of the whole bytes with the model's figures;
	/// `ModelUnavailable` when the state holds no such list. A node that lacks a chunk aborts
	/// the call.
	fn inspect_stored(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		chunks_key: PassFatPointerAndRead<&[u8]>,
		inputs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<(ModelHash, ModelInfo), EngineError>> {
		inspect_stored_with(*self, guest, chunks_key, &inputs, fuel_limit)
	}

	/// [`run`](inference::run) for a model kept in the content store (see
	/// [`inspect_stored`](inference::inspect_stored)): the chunks are read only when the engine
	/// has not prepared the model yet, and must hash, together, to `model_hash`.
	fn run_stored(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		model_hash: PassPointerAndReadCopy<ModelHash, 32>,
		chunks_key: PassFatPointerAndRead<&[u8]>,
		input_specs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		inputs: PassFatPointerAndDecode<Vec<Tensor>>,
		fuel_limit: u64,
	) -> AllocateAndReturnByCodec<Result<Execution, EngineError>> {
		run_stored_with(*self, guest, model_hash, chunks_key, &input_specs, &inputs, fuel_limit, None)
	}

	/// [`run_stored`](inference::run_stored) within `preparation_limit`, as version 3 of
	/// [`run`](inference::run).
	#[version(2)]
	#[allow(clippy::too_many_arguments)]
	fn run_stored(
		&mut self,
		guest: PassPointerAndReadCopy<ModelHash, 32>,
		model_hash: PassPointerAndReadCopy<ModelHash, 32>,
		chunks_key: PassFatPointerAndRead<&[u8]>,
		input_specs: PassFatPointerAndDecode<Vec<TensorSpec>>,
		inputs: PassFatPointerAndDecode<Vec<Tensor>>,
		fuel_limit: u64,
		preparation_limit: u64,
	) -> AllocateAndReturnByCodec<Result<Execution, EngineError>> {
		let limit = Some(preparation_limit);
		run_stored_with(*self, guest, model_hash, chunks_key, &input_specs, &inputs, fuel_limit, limit)
	}

	/// Identifies the engine guest whose bytes (zstd-compressed as the runtime's code may be,
	/// or plain wasm) are `code`: its blake2-256 and the engine version it declares, or `None`
	/// if the bytes are no metered engine guest declaring a version. A function of the bytes
	/// alone. The node keeps the guest and compiles it ahead, so the blocks that name it later
	/// find it ready.
	fn identify_guest(&mut self, code: PassFatPointerAndRead<&[u8]>) -> AllocateAndReturnByCodec<Option<EngineGuest>> {
		let Some(engine) = engine_of(*self) else { abort_runtime_call(LocalFailure::EngineUnavailable) };
		engine.add_guest(code)
	}
}
