//! # Model registry
//!
//! ONNX models live on the chain itself, addressed by the blake2-256 hash of their bytes, so
//! every node that verifies an inference can obtain and check the exact model from state —
//! no outside server.
//!
//! A model author:
//! 1. [`begin_upload`](Pallet::begin_upload)s the model's hash and length; a deposit per byte is
//!    held from their balance;
//! 2. sends the bytes in chunks of [`Config::MaxChunkBytes`] with
//!    [`upload_chunk`](Pallet::upload_chunk) (one chunk for a small model);
//! 3. [`register_model`](Pallet::register_model)s it with a name, a version, its input specs and
//!    a price per inference. The bytes are checked against the hash and by the deterministic
//!    engine (through the `inference` host functions): a malformed or hostile file is refused
//!    with a named error and no model is registered. On success the engine's measured cost
//!    (fuel per run) is recorded with the model, and decides how its results are verified:
//!    re-executed in every block that carries one, or, above [`Config::OptimisticAboveFuel`],
//!    [`Verification::Optimistic`]ally (re-executed only when challenged).
//!
//! A model larger than a state upload allows ([`Config::MaxModelBytes`]), up to
//! [`Config::MaxStoredModelBytes`], is stored in the content store first (`pallet-content-store`:
//! indexed transaction data, out of state, kept and proven by storage nodes) and registered from
//! there by the item's owner with [`register_stored_model`](Pallet::register_stored_model): the
//! engine reads its chunks from the node's database, each checked against the chunk hashes the
//! state holds ([`StoredModels`]). Such a model holds only [`Config::DepositPerModel`] here
//! (its bytes pay the store's deposit and retention fee), keeps its item from being removed
//! while it is registered, and becomes unavailable when the item's retention ends.
//!
//! Owners can change the price, deprecate a model (no new requests) and remove it, which
//! releases the deposit. An upload can be aborted, releasing its deposit.
//!
//! Uploads are content-addressed bytes: other pallets may take a complete upload instead of a
//! model ([`UploadedBytes`]), as the inference requests pallet does for inputs too large for one
//! transaction; taking it releases its deposit.
//!
//! The registry also names the engine guest every node checks and runs models with
//! ([`EngineGuest`]: its hash and engine version; its bytes under a well-known key), set at
//! genesis and replaced only by root with [`set_engine_guest`](Pallet::set_engine_guest),
//! which must raise the engine version and takes effect [`Config::EngineGuestDelay`] blocks
//! later, so that nodes compile the new guest before the first block that runs it.
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations (config, storage, events, errors, hooks, calls); `types.rs`
//! the records; `impls.rs` uploads, deposits, the engine guest's schedule, the weights of
//! engine work and the interfaces other pallets use; `views.rs` the runtime API;
//! `try_state.rs` the invariants.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod types;

mod impls;
pub mod migrations;
mod try_state;
mod views;
pub mod weights;

pub use impls::{ActiveModels, PinnedContent, StoredModelContent};
pub use views::runtime_api;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use types::*;
use veriml_primitives::Fuel;
pub use weights::WeightInfo;

/// The compute time charged for one unit of engine fuel, by the engine version that does the
/// work ([`Config::PicosecondsPerFuel`]). Each guest's price comes from its own run of the
/// adversarial calibration set (`scripts/bench-engine-adversarial.sh`), so that a faster or
/// better-bounded engine verifies more per block while an older guest keeps the price it was
/// measured at.
pub trait FuelPrice {
	/// Picoseconds one unit of fuel of engine `version` is charged.
	fn picoseconds(version: veriml_inference_primitives::EngineVersion) -> u64;
	/// The most any version is charged: the bounds fixed before the chain's guest is known
	/// (a registration's declared weight, the runtime's integrity checks) use it.
	fn most() -> u64;
}

/// One price for every engine version.
impl<P: frame_support::traits::Get<u64>> FuelPrice for P {
	fn picoseconds(_version: veriml_inference_primitives::EngineVersion) -> u64 {
		P::get()
	}

	fn most() -> u64 {
		P::get()
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			Contains,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::Saturating;
	use veriml_inference_primitives::{EngineError, ModelHash, TensorSpec, H256};
	use veriml_primitives::content::{ContentRoot, StoredContent};

	/// Balance of the currency deposits are held in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// An upload in progress.
	pub type UploadOf<T> = Upload<<T as frame_system::Config>::AccountId, BalanceOf<T>>;

	/// A registered model.
	pub type ModelRecordOf<T> = ModelRecord<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxNameLength,
		<T as Config>::MaxTensors,
	>;

	/// The versions an owner keeps under one name.
	pub type VersionsOf<T> = BoundedVec<(u32, ModelHash), <T as Config>::MaxVersions>;

	/// A model's name.
	pub type ModelName<T> = BoundedVec<u8, <T as Config>::MaxNameLength>;

	/// Version 3 (spec 134): a model's record says which engine version measured its figures
	/// ([`ModelRecord::measured_with`]). Version 2 (spec 130): a decoder's terms list its graph's inputs ([`DecoderTerms::inputs`])
	/// and its fuel per run covers its first step. Version 1 (spec 111): uploads are kept under
	/// their uploader ([`Uploads`], [`UploadChunks`]); they were kept under their hash alone.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(3);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits are held in.
		type Currency: Mutate<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The engine that checks models before they are registered.
		type Inspector: ModelInspector;

		/// Models that must not be removed now (for example, with inference requests open).
		type ModelsInUse: Contains<ModelHash>;

		/// Deposit held per model or upload, whatever its size.
		#[pallet::constant]
		type DepositPerModel: Get<BalanceOf<Self>>;

		/// Deposit held per byte of model kept in state.
		#[pallet::constant]
		type DepositPerByte: Get<BalanceOf<Self>>;

		/// Largest model kept in state, in bytes.
		#[pallet::constant]
		type MaxModelBytes: Get<u32>;

		/// The content store, from which larger models are registered.
		type Content: StoredContent<Self::AccountId, BlockNumberFor<Self>>;

		/// Largest model registered from the content store, in bytes.
		#[pallet::constant]
		type MaxStoredModelBytes: Get<u32>;

		/// Reference-machine time, in picoseconds, a node spends per byte of a model in the
		/// content store on what the engine's fuel does not count: reading its chunks from the
		/// database, hashing each and the whole, and handing them to the engine (the copies
		/// the engine makes as it parses them included).
		#[pallet::constant]
		type ContentLoadPicosecondsPerByte: Get<u64>;

		/// Size of every upload chunk but the last.
		#[pallet::constant]
		type MaxChunkBytes: Get<u32>;

		/// Longest model name.
		#[pallet::constant]
		type MaxNameLength: Get<u32>;

		/// Most input or output tensors of a model.
		#[pallet::constant]
		type MaxTensors: Get<u32>;

		/// Most versions kept under one owner and name.
		#[pallet::constant]
		type MaxVersions: Get<u32>;

		/// Largest SCALE-encoded outputs an inference result may carry (the requests pallet's
		/// `MaxOutputBytes`): a model whose outputs are larger is refused (`OutputTooLarge`),
		/// as no node could submit a result of it.
		#[pallet::constant]
		type MaxOutputBytes: Get<u32>;

		/// Engine fuel registration may spend on preparing a model, and again on its trial run.
		#[pallet::constant]
		type RegistrationFuelLimit: Get<Fuel>;

		/// Reference-machine compute time, in picoseconds, of one unit of engine fuel, by the
		/// version of the chain's engine guest ([`EngineGuest`]). The metadata's constant
		/// `picosecondsPerFuel` is the most any version is charged.
		type PicosecondsPerFuel: FuelPrice;

		/// Models measured above this fuel per run are [`Verification::Optimistic`]: their
		/// results are re-executed only when challenged, not in every block that carries one.
		#[pallet::constant]
		type OptimisticAboveFuel: Get<Fuel>;

		/// Longest context a decoder may be registered for ([`register_decoder`](Pallet::register_decoder)):
		/// it is measured at that context's last step (and its first).
		#[pallet::constant]
		type MaxContextLength: Get<u32>;

		/// Blocks between a root call that replaces the engine guest and the first block that
		/// runs the new guest: time for every node to compile it (tens of seconds) before it is
		/// needed in consensus.
		#[pallet::constant]
		type EngineGuestDelay: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Deposit for model bytes kept in state (uploads and registered models).
		ModelStorage,
	}

	/// Uploads in progress, by uploader and the hash the bytes must have (claimed, not yet
	/// checked: hence a hashing hasher, so uploaders cannot choose trie paths). Each uploader
	/// has its own: nobody can block the bytes someone else is uploading.
	#[pallet::storage]
	pub type Uploads<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, ModelHash, UploadOf<T>>;

	/// Chunks received for uploads in progress, by uploader, hash and index.
	#[pallet::storage]
	pub type UploadChunks<T: Config> = StorageNMap<
		_,
		(NMapKey<Blake2_128Concat, T::AccountId>, NMapKey<Blake2_128Concat, ModelHash>, NMapKey<Twox64Concat, u32>),
		BoundedVec<u8, T::MaxChunkBytes>,
	>;

	/// The bytes of every registered model, by content hash (verified, so `Identity` keys are
	/// balanced). The engine host function reads models from here.
	#[pallet::storage]
	pub type ModelCode<T: Config> = StorageMap<_, Identity, ModelHash, BoundedVec<u8, T::MaxModelBytes>>;

	/// Registered models, by content hash.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Identity, ModelHash, ModelRecordOf<T>>;

	/// The models whose bytes are an item of the content store (not [`ModelCode`]), by model
	/// hash: the item's root. The engine reads them from the item's chunks.
	#[pallet::storage]
	pub type StoredModels<T: Config> = StorageMap<_, Identity, ModelHash, ContentRoot>;

	/// [`StoredModels`] the other way round: the model registered from each content item, which
	/// the store must not remove while it is registered.
	#[pallet::storage]
	pub type StoredModelRoots<T: Config> = StorageMap<_, Identity, ContentRoot, ModelHash>;

	/// The registered models that are decoders in Hugging Face's layout
	/// ([`register_decoder`](Pallet::register_decoder)), by model hash: their context and
	/// tokenizer.
	#[pallet::storage]
	pub type Decoders<T: Config> = StorageMap<_, Identity, ModelHash, DecoderTerms>;

	/// The `tokenizer.json` registered with each decoder, by the decoder's hash (its own hash
	/// is in [`Decoders`]): clients encode prompts and decode tokens with it. Its deposit is
	/// held with the model's.
	#[pallet::storage]
	pub type Tokenizers<T: Config> = StorageMap<_, Identity, ModelHash, BoundedVec<u8, T::MaxModelBytes>>;

	/// The engine guest (the wasm module of `primitives/engine-guest`, as its reproducible build
	/// makes it) with which this chain checks and runs models: its blake2-256 and the engine
	/// version it declares, the first field of every result hash. Its bytes are kept under the
	/// raw key `:veriml:engine_guest:` ++ hash
	/// ([`engine_guest_code_key`](veriml_inference_primitives::engine_guest_code_key)), so a
	/// node runs it also when it was built with another: every block executes with the guest
	/// of its own state. A node that can neither find nor run the guest aborts the runtime
	/// call (it neither authors nor imports such a block) rather than compute something else.
	/// Set at genesis to the guest pinned in `primitives/engine/guest.blake2`; replaced by
	/// [`set_engine_guest`](Pallet::set_engine_guest).
	#[pallet::storage]
	pub type EngineGuest<T: Config> = StorageValue<_, veriml_inference_primitives::EngineGuest, ValueQuery>;

	/// The engine guest that replaces [`EngineGuest`] at the start of the given block.
	#[pallet::storage]
	pub type PendingEngineGuest<T: Config> =
		StorageValue<_, (veriml_inference_primitives::EngineGuest, BlockNumberFor<T>)>;

	/// The engine guest [`EngineGuest`] replaced: results still hashed with its version were
	/// computed before the switch and are refused without a slash.
	#[pallet::storage]
	pub type ReplacedEngineGuest<T: Config> = StorageValue<_, veriml_inference_primitives::EngineGuest>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The engine guest's blake2-256 (see [`EngineGuest`]).
		pub engine_guest: ModelHash,
		/// The engine version the guest declares.
		pub engine_version: veriml_inference_primitives::EngineVersion,
		/// The guest's bytes (zstd-compressed as the runtime's code may be), hex in the chain
		/// spec. The node adds them to its chain specs; without them only nodes built with
		/// this guest can run it.
		#[serde(with = "sp_core::bytes")]
		pub engine_guest_code: Vec<u8>,
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			EngineGuest::<T>::put(veriml_inference_primitives::EngineGuest {
				hash: self.engine_guest,
				version: self.engine_version,
			});
			if !self.engine_guest_code.is_empty() {
				frame_support::storage::unhashed::put_raw(
					&veriml_inference_primitives::engine_guest_code_key(&self.engine_guest),
					&self.engine_guest_code,
				);
			}
		}
	}

	/// The versions registered under an owner and a name, oldest first.
	#[pallet::storage]
	pub type Versions<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, ModelName<T>, VersionsOf<T>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An upload began; `deposit` is held from the uploader.
		UploadStarted {
			model_hash: ModelHash,
			uploader: T::AccountId,
			byte_len: u32,
			chunk_count: u32,
			deposit: BalanceOf<T>,
		},
		/// A chunk of an upload was stored.
		ChunkUploaded { model_hash: ModelHash, index: u32, chunks_received: u32, chunk_count: u32 },
		/// An upload was aborted and its deposit released.
		UploadAborted { model_hash: ModelHash, uploader: T::AccountId, deposit: BalanceOf<T> },
		/// A complete upload was taken as the bytes of something other than a model (the
		/// inputs of a request); its deposit was released.
		UploadTaken { content_hash: ModelHash, uploader: T::AccountId, deposit: BalanceOf<T> },
		/// A model was checked by the engine and registered; `verification` says whether its
		/// results are re-executed in block or settled optimistically unless challenged.
		/// `content_root` is the content store's item its bytes are read from (none: they are
		/// kept in state).
		ModelRegistered {
			model_hash: ModelHash,
			owner: T::AccountId,
			name: ModelName<T>,
			version: u32,
			byte_len: u32,
			fuel_per_run: Fuel,
			verification: Verification,
			content_root: Option<ContentRoot>,
		},
		/// The model just registered (`ModelRegistered`) is a decoder: measured at the first and
		/// last steps of a context of `context_length` tokens, with the tokenizer
		/// `tokenizer_hash`.
		DecoderRegistered { model_hash: ModelHash, context_length: u32, tokenizer_hash: H256 },
		/// A model's price per inference changed.
		PriceChanged { model_hash: ModelHash, price_per_inference: BalanceOf<T> },
		/// A model was deprecated: it takes no new requests.
		ModelDeprecated { model_hash: ModelHash },
		/// A model and its bytes were removed and its deposit released.
		ModelRemoved { model_hash: ModelHash, owner: T::AccountId, deposit: BalanceOf<T> },
		/// Engine guest `guest`, of engine version `version`, was stored and replaces the
		/// current one at the start of block `activates_at`.
		EngineGuestScheduled {
			guest: ModelHash,
			version: veriml_inference_primitives::EngineVersion,
			activates_at: BlockNumberFor<T>,
		},
		/// Engine guest `guest`, of engine version `version`, checks and runs models from this
		/// block on; the bytes of `replaced` were removed from state.
		EngineGuestActivated {
			guest: ModelHash,
			version: veriml_inference_primitives::EngineVersion,
			replaced: ModelHash,
		},
		/// The model `model_hash` was measured again with the guest of `engine_version`
		/// (`remeasureModel`): its figures and verification mode are these from now on.
		ModelRemeasured {
			model_hash: ModelHash,
			engine_version: veriml_inference_primitives::EngineVersion,
			fuel_per_run: Fuel,
			fuel_to_prepare: Fuel,
			verification: Verification,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The model is longer than `MaxModelBytes` (`MaxStoredModelBytes` from the content
		/// store), or empty; or a decoder and its tokenizer are longer than `MaxModelBytes`
		/// together.
		InvalidModelLength,
		/// A model with these bytes is already registered.
		ModelAlreadyRegistered,
		/// An upload of these bytes is already in progress.
		UploadAlreadyInProgress,
		/// The caller has no upload of this hash in progress (uploads are each uploader's own).
		UnknownUpload,
		/// The chunk index is beyond the upload's chunk count.
		ChunkOutOfRange,
		/// The chunk has the wrong length: every chunk but the last is `MaxChunkBytes` long.
		WrongChunkLength,
		/// This chunk was already uploaded.
		ChunkAlreadyUploaded,
		/// Some chunks of the upload are missing.
		UploadIncomplete,
		/// The uploaded bytes do not hash to the upload's model hash.
		HashMismatch,
		/// The upload is larger than what takes it allows (for example a request's
		/// `MaxUploadedInputBytes`).
		UploadTooLarge,
		/// The account cannot cover the deposit for the model's bytes.
		InsufficientDeposit,
		/// The name is empty.
		EmptyName,
		/// A version at least as high is already registered under this owner and name.
		VersionNotIncreasing,
		/// The owner has `MaxVersions` versions under this name; remove one first.
		TooManyVersions,
		/// The model declares no inputs or more than `MaxTensors` of them, or produces more
		/// than `MaxTensors` outputs.
		TooManyTensors,
		/// No model with this hash is registered.
		UnknownModel,
		/// Only the model's owner may do this.
		NotOwner,
		/// The model is already deprecated.
		AlreadyDeprecated,
		/// The model has open inference requests; remove it when they are settled.
		ModelInUse,
		/// The bytes are not a valid ONNX model.
		MalformedModel,
		/// The model uses an operator whose output is random (RandomNormal, RandomUniform,
		/// Multinomial, Bernoulli, …): no two nodes would agree on its results.
		NonDeterministicOperator,
		/// The model uses an operator or an operator domain the engine does not implement, or an
		/// output type it has not (a string, a float64). `veriml-node infer --model FILE --input
		/// FILE` names the operator, its domain and opset version; docs/model-authors.md lists
		/// the operators the engine implements.
		UnsupportedOperator,
		/// The model refers to tensor data stored outside the file (ONNX external data).
		ExternalData,
		/// The engine could not type or optimise the model for the declared inputs. The engine
		/// prepares a model for fixed shapes: an input whose value decides a shape (a Reshape's
		/// target, a reduction's axes, Slice's starts, TopK's k, Resize's sizes, Pad's pads) must
		/// be pinned into the file, with `veriml-node infer --pin INDEX --write-model FILE`.
		ModelPreparationFailed,
		/// The declared inputs do not fit the model (count, dtype or shape), or a spec is
		/// malformed.
		InvalidInputSpecs,
		/// The declared inputs are larger than the engine accepts.
		InputTooLarge,
		/// The model's outputs are larger than a result may carry (`MaxOutputBytes`) or than
		/// the engine returns.
		OutputTooLarge,
		/// On all-zero inputs the model produced NaN, which has no canonical form.
		NanOutput,
		/// The model needs more memory than the engine grants one inference.
		ModelNeedsTooMuchMemory,
		/// Preparing or running the model needs more fuel than registration allows: it is too
		/// costly to verify in a block.
		ModelTooCostly,
		/// The model failed when run on all-zero inputs.
		ModelFailsToRun,
		/// The engine could not read the model's bytes.
		ModelUnavailable,
		/// The bytes are not an engine guest: they do not decompress, or the wasm is not
		/// metered, or it declares no engine version.
		NotAnEngineGuest,
		/// A new engine guest must declare a higher engine version than the current one and
		/// than any guest already scheduled.
		EngineVersionNotRaised,
		/// The model is not a decoder in Hugging Face's layout (`input_ids`, `attention_mask`,
		/// optionally `position_ids`, `past_key_values.N.key/value` of f32 `[batch, heads, past,
		/// head_size]` with heads and head size fixed → `logits`, `present.N.key/value`):
		/// `veriml-node infer --generate` names what does not fit.
		NotADecoder,
		/// A decoder's context must be at least 2 tokens and at most `MaxContextLength`.
		InvalidContextLength,
		/// The tokenizer's upload is the model's own: upload `tokenizer.json` on its own.
		TokenizerIsTheModel,
		/// The content store holds no complete item with this root.
		UnknownContent,
		/// Only the content item's owner may register a model from it.
		NotContentOwner,
		/// The item was completed in this block: nodes hold its chunks once they have imported
		/// the block. Register it from the next one.
		ContentJustStored,
		/// The model's figures were measured with the chain's engine guest already: only a
		/// guest of another engine version measures it again.
		AlreadyMeasured,
		/// Measured again, the model's outputs are not those it was registered with: the new
		/// guest types it otherwise, and its results would not be those its requests expect.
		/// It keeps its figures.
		OutputsChanged,
	}

	impl<T> From<EngineError> for Error<T> {
		fn from(error: EngineError) -> Self {
			match error {
				EngineError::ModelTooLarge => Error::InvalidModelLength,
				EngineError::MalformedModel => Error::MalformedModel,
				EngineError::NonDeterministicOperator => Error::NonDeterministicOperator,
				EngineError::UnsupportedOperator => Error::UnsupportedOperator,
				EngineError::ExternalData => Error::ExternalData,
				EngineError::ModelPreparationFailed => Error::ModelPreparationFailed,
				EngineError::InputMismatch | EngineError::MalformedTensor => Error::InvalidInputSpecs,
				EngineError::InputTooLarge => Error::InputTooLarge,
				EngineError::OutputTooLarge => Error::OutputTooLarge,
				EngineError::NanInOutput => Error::NanOutput,
				EngineError::OutOfMemory => Error::ModelNeedsTooMuchMemory,
				EngineError::FuelExhausted => Error::ModelTooCostly,
				EngineError::ExecutionFailed => Error::ModelFailsToRun,
				EngineError::ModelUnavailable => Error::ModelUnavailable,
			}
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Begin uploading a model of `byte_len` bytes whose blake2-256 hash is `model_hash`.
		///
		/// Holds `DepositPerModel + byte_len * DepositPerByte` from the caller until the upload
		/// is aborted or the registered model removed. The bytes then follow in
		/// `ceil(byte_len / MaxChunkBytes)` chunks through `upload_chunk`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::begin_upload())]
		pub fn begin_upload(origin: OriginFor<T>, model_hash: ModelHash, byte_len: u32) -> DispatchResult {
			let uploader = ensure_signed(origin)?;
			ensure!(byte_len > 0 && byte_len <= T::MaxModelBytes::get(), Error::<T>::InvalidModelLength);
			ensure!(!Models::<T>::contains_key(model_hash), Error::<T>::ModelAlreadyRegistered);
			ensure!(!Uploads::<T>::contains_key(&uploader, model_hash), Error::<T>::UploadAlreadyInProgress);

			let deposit = Self::deposit_for(byte_len);
			T::Currency::hold(&HoldReason::ModelStorage.into(), &uploader, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
			let chunk_count = byte_len.div_ceil(T::MaxChunkBytes::get());
			Uploads::<T>::insert(
				&uploader,
				model_hash,
				Upload { uploader: uploader.clone(), byte_len, chunk_count, chunks_received: 0, deposit },
			);
			Self::deposit_event(Event::UploadStarted { model_hash, uploader, byte_len, chunk_count, deposit });
			Ok(())
		}

		/// Store chunk `index` of the upload of `model_hash`.
		///
		/// Every chunk but the last is exactly `MaxChunkBytes` long; chunks may come in any
		/// order, each once.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::upload_chunk(bytes.len() as u32))]
		pub fn upload_chunk(
			origin: OriginFor<T>,
			model_hash: ModelHash,
			index: u32,
			bytes: BoundedVec<u8, T::MaxChunkBytes>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut upload = Uploads::<T>::get(&who, model_hash).ok_or(Error::<T>::UnknownUpload)?;
			ensure!(index < upload.chunk_count, Error::<T>::ChunkOutOfRange);
			ensure!(bytes.len() as u32 == Self::chunk_len(&upload, index), Error::<T>::WrongChunkLength);
			ensure!(!UploadChunks::<T>::contains_key((&who, model_hash, index)), Error::<T>::ChunkAlreadyUploaded);

			UploadChunks::<T>::insert((&who, model_hash, index), bytes);
			upload.chunks_received += 1;
			Self::deposit_event(Event::ChunkUploaded {
				model_hash,
				index,
				chunks_received: upload.chunks_received,
				chunk_count: upload.chunk_count,
			});
			Uploads::<T>::insert(&who, model_hash, upload);
			Ok(())
		}

		/// Abort the upload of `model_hash`: its chunks are deleted and its deposit released.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::abort_upload(T::MaxModelBytes::get().div_ceil(T::MaxChunkBytes::get())))]
		pub fn abort_upload(origin: OriginFor<T>, model_hash: ModelHash) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let upload = Uploads::<T>::get(&who, model_hash).ok_or(Error::<T>::UnknownUpload)?;
			Self::remove_upload(&who, model_hash, &upload);
			Self::release_deposit(&who, upload.deposit)?;
			Self::deposit_event(Event::UploadAborted { model_hash, uploader: who, deposit: upload.deposit });
			Ok(Some(T::WeightInfo::abort_upload(upload.chunk_count)).into())
		}

		/// Register the fully uploaded model `model_hash` as version `version` of `name`, taking
		/// `inputs`, paid `price_per_inference` per inference.
		///
		/// The bytes must hash to `model_hash` and pass the deterministic engine: parsed,
		/// free of random operators, typed for `inputs` and run once on all-zero inputs within
		/// `RegistrationFuelLimit`. The measured fuel becomes the model's cost figure. The
		/// upload's deposit stays held for the model.
		#[pallet::call_index(3)]
		#[pallet::weight(
			T::WeightInfo::register_model(T::MaxModelBytes::get())
				.saturating_add(Pallet::<T>::most_fuel_weight(T::RegistrationFuelLimit::get().saturating_mul(2)))
		)]
		pub fn register_model(
			origin: OriginFor<T>,
			model_hash: ModelHash,
			name: ModelName<T>,
			version: u32,
			inputs: BoundedVec<TensorSpec, T::MaxTensors>,
			price_per_inference: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let owner = ensure_signed(origin)?;
			let upload = Uploads::<T>::get(&owner, model_hash).ok_or(Error::<T>::UnknownUpload)?;
			ensure!(upload.chunks_received == upload.chunk_count, Error::<T>::UploadIncomplete);
			let versions = Self::next_version(&owner, &name, version, model_hash, &inputs)?;

			let bytes = Self::uploaded_bytes(&owner, model_hash, &upload)?;
			let (info, used_fuel) = Self::inspect(&bytes, &inputs, T::RegistrationFuelLimit::get())?;
			Self::ensure_outputs_fit(&info)?;
			Self::keep_checked_model(
				owner.clone(),
				model_hash,
				(name, version, versions),
				inputs,
				price_per_inference,
				info,
				bytes,
				upload.deposit,
			)?;
			Self::remove_upload(&owner, model_hash, &upload);
			Ok(Some(T::WeightInfo::register_model(upload.byte_len).saturating_add(Self::fuel_weight(used_fuel))).into())
		}

		/// Set the price per inference of a model the caller owns.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_price())]
		pub fn set_price(
			origin: OriginFor<T>,
			model_hash: ModelHash,
			price_per_inference: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Models::<T>::try_mutate(model_hash, |model| -> DispatchResult {
				let model = model.as_mut().ok_or(Error::<T>::UnknownModel)?;
				ensure!(model.owner == who, Error::<T>::NotOwner);
				model.price_per_inference = price_per_inference;
				Ok(())
			})?;
			Self::deposit_event(Event::PriceChanged { model_hash, price_per_inference });
			Ok(())
		}

		/// Deprecate a model the caller owns: it takes no new inference requests, but stays
		/// available for those already made.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::deprecate_model())]
		pub fn deprecate_model(origin: OriginFor<T>, model_hash: ModelHash) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Models::<T>::try_mutate(model_hash, |model| -> DispatchResult {
				let model = model.as_mut().ok_or(Error::<T>::UnknownModel)?;
				ensure!(model.owner == who, Error::<T>::NotOwner);
				ensure!(model.status == ModelStatus::Active, Error::<T>::AlreadyDeprecated);
				model.status = ModelStatus::Deprecated;
				Ok(())
			})?;
			Self::deposit_event(Event::ModelDeprecated { model_hash });
			Ok(())
		}

		/// Remove a model the caller owns, with its bytes, and release its deposit. Refused
		/// while the model has open inference requests. A model registered from the content
		/// store whose item has left it may be removed by anyone (its deposit goes back to its
		/// owner), so that its bytes can be registered again.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::remove_model().saturating_add(T::DbWeight::get().reads(2)))]
		pub fn remove_model(origin: OriginFor<T>, model_hash: ModelHash) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let model = Models::<T>::get(model_hash).ok_or(Error::<T>::UnknownModel)?;
			ensure!(model.owner == who || !Self::bytes_available(&model_hash), Error::<T>::NotOwner);
			ensure!(!T::ModelsInUse::contains(&model_hash), Error::<T>::ModelInUse);

			Versions::<T>::mutate_exists(&model.owner, &model.name, |versions| {
				if let Some(list) = versions {
					list.retain(|(_, hash)| *hash != model_hash);
					if list.is_empty() {
						*versions = None;
					}
				}
			});
			ModelCode::<T>::remove(model_hash);
			Decoders::<T>::remove(model_hash);
			Tokenizers::<T>::remove(model_hash);
			if let Some(root) = StoredModels::<T>::take(model_hash) {
				StoredModelRoots::<T>::remove(root);
			}
			Models::<T>::remove(model_hash);
			Self::release_deposit(&model.owner, model.deposit)?;
			Self::deposit_event(Event::ModelRemoved { model_hash, owner: model.owner, deposit: model.deposit });
			Ok(())
		}

		/// Register the content store's item `root`, which the caller owns, as a model: version
		/// `version` of `name`, taking `inputs`, paid `price_per_inference` per inference.
		///
		/// For models larger than a state upload allows (`MaxModelBytes`), up to
		/// `MaxStoredModelBytes`: store the bytes with `contentStore.beginStore`/`storeChunk`
		/// first. The engine reads the item's chunks from the node's database, checked against
		/// their hashes, and checks the model as `register_model` does; the model's hash is the
		/// blake2-256 of the whole bytes, as for any model. Holds `DepositPerModel` (the bytes
		/// pay the store's deposit and retention fee). The item cannot be removed while the
		/// model is registered; when its retention ends the model is no longer available (its
		/// requests fail with `ModelUnavailable`), so its owner renews it (`contentStore.renew`,
		/// open to anyone).
		#[pallet::call_index(8)]
		#[pallet::weight(Pallet::<T>::max_stored_registration_weight())]
		pub fn register_stored_model(
			origin: OriginFor<T>,
			root: ContentRoot,
			name: ModelName<T>,
			version: u32,
			inputs: BoundedVec<TensorSpec, T::MaxTensors>,
			price_per_inference: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let owner = ensure_signed(origin)?;
			let item = T::Content::item(&root).ok_or(Error::<T>::UnknownContent)?;
			ensure!(item.owner == owner, Error::<T>::NotContentOwner);
			ensure!(item.stored_at < frame_system::Pallet::<T>::block_number(), Error::<T>::ContentJustStored);
			ensure!(
				item.byte_len > 0 && item.byte_len <= T::MaxStoredModelBytes::get(),
				Error::<T>::InvalidModelLength
			);
			ensure!(!StoredModelRoots::<T>::contains_key(root), Error::<T>::ModelAlreadyRegistered);

			let (model_hash, info, used_fuel) = Self::inspect_stored(&root, &inputs, item.byte_len)?;
			Self::ensure_outputs_fit(&info)?;
			let versions = Self::next_version(&owner, &name, version, model_hash, &inputs)?;
			let deposit = T::DepositPerModel::get();
			T::Currency::hold(&HoldReason::ModelStorage.into(), &owner, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
			Self::insert_model(
				owner,
				model_hash,
				(name, version, versions),
				inputs,
				price_per_inference,
				info,
				item.byte_len,
				deposit,
				Some(root),
			)?;
			StoredModels::<T>::insert(model_hash, root);
			StoredModelRoots::<T>::insert(root, model_hash);
			Ok(Some(Self::stored_registration_weight(item.byte_len).saturating_add(Self::fuel_weight(used_fuel)))
				.into())
		}

		/// Register the fully uploaded model `model_hash`, a decoder in Hugging Face's layout
		/// (as `optimum` exports a causal language model), as version `version` of `name`, for
		/// generations of at most `context_length` tokens (prompt and generated together), with
		/// the fully uploaded `tokenizer.json` `tokenizer_hash` (uploaded as a model is:
		/// `beginUpload`, `uploadChunk`), paid `price_per_token` for each token a generation
		/// feeds it.
		///
		/// The model's graph must be a decoder's (`NotADecoder` otherwise); the engine checks it
		/// as `register_model` does, at the context's last step (a cache of `context_length - 1`
		/// tokens, the longest: its inputs are the recorded input specs) and at its first step
		/// (an empty cache), each phase within half of `RegistrationFuelLimit`; the larger fuel
		/// per run (and preparation) of the two becomes its figure, which bounds every step of a
		/// generation within the context. Its graph's inputs, in order, are kept in its
		/// [`DecoderTerms`] (what each step feeds where). The decoder and its tokenizer together are at most
		/// `MaxModelBytes`. Both uploads' deposits stay held for the model; removing it removes
		/// the tokenizer too. The tokenizer's bytes are kept as they are (the runtime
		/// does not read `tokenizer.json`; nodes and clients do).
		#[pallet::call_index(9)]
		#[pallet::weight(Pallet::<T>::max_decoder_registration_weight())]
		#[allow(clippy::too_many_arguments)]
		pub fn register_decoder(
			origin: OriginFor<T>,
			model_hash: ModelHash,
			name: ModelName<T>,
			version: u32,
			context_length: u32,
			tokenizer_hash: H256,
			price_per_token: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let owner = ensure_signed(origin)?;
			ensure!(tokenizer_hash != model_hash, Error::<T>::TokenizerIsTheModel);
			ensure!((2..=T::MaxContextLength::get()).contains(&context_length), Error::<T>::InvalidContextLength);
			let upload = Uploads::<T>::get(&owner, model_hash).ok_or(Error::<T>::UnknownUpload)?;
			let tokenizer_upload = Uploads::<T>::get(&owner, tokenizer_hash).ok_or(Error::<T>::UnknownUpload)?;
			ensure!(
				upload.byte_len.saturating_add(tokenizer_upload.byte_len) <= T::MaxModelBytes::get(),
				Error::<T>::InvalidModelLength
			);
			let bytes = Self::uploaded_bytes(&owner, model_hash, &upload)?;
			let tokenizer = Self::uploaded_bytes(&owner, tokenizer_hash, &tokenizer_upload)?;
			let layout =
				veriml_inference_primitives::generation::decoder_layout(&bytes).map_err(|_| Error::<T>::NotADecoder)?;
			let inputs =
				BoundedVec::try_from(layout.step_specs(context_length - 1)).map_err(|_| Error::<T>::TooManyTensors)?;
			let decoder_inputs = BoundedVec::try_from(layout.inputs.clone()).map_err(|_| Error::<T>::TooManyTensors)?;
			let versions = Self::next_version(&owner, &name, version, model_hash, &inputs)?;
			let tokenizer = BoundedVec::try_from(tokenizer).map_err(|_| Error::<T>::InvalidModelLength)?;
			// The outputs of a decoder's step (its cache) are never a result, its tokens are:
			// `MaxOutputBytes` is not asked of them.
			let (info, used_fuel) = Self::measure_decoder(&bytes, &layout, context_length)?;
			Self::keep_checked_model(
				owner.clone(),
				model_hash,
				(name, version, versions),
				inputs,
				price_per_token,
				info,
				bytes,
				upload.deposit.saturating_add(tokenizer_upload.deposit),
			)?;
			Tokenizers::<T>::insert(model_hash, tokenizer);
			Decoders::<T>::insert(
				model_hash,
				DecoderTerms {
					context_length,
					layers: layout.layers,
					heads: layout.heads,
					head_size: layout.head_size,
					tokenizer_hash,
					tokenizer_len: tokenizer_upload.byte_len,
					inputs: decoder_inputs,
				},
			);
			Self::remove_upload(&owner, model_hash, &upload);
			Self::remove_upload(&owner, tokenizer_hash, &tokenizer_upload);
			Self::deposit_event(Event::DecoderRegistered { model_hash, context_length, tokenizer_hash });
			Ok(Some(
				Self::decoder_registration_weight(upload.byte_len, tokenizer_upload.byte_len)
					.saturating_add(Self::fuel_weight(used_fuel)),
			)
			.into())
		}

		/// Measure the registered model `model_hash` again with the chain's engine guest, when
		/// its fuel figures were measured with a guest of another engine version (open to
		/// anyone, once per model and guest: `AlreadyMeasured` otherwise).
		///
		/// A guest that replaces another may take more or less fuel for the same model: a
		/// model keeping its old figures would have its runs refused for want of fuel (the
		/// fuel limit of its new requests and the preparation limit of its decoder's steps are
		/// both derived from them), or be charged for less than the new guest does. The engine
		/// checks it as its registration did (`register_model`, `register_stored_model` or
		/// `register_decoder`, with the decoder's context), and its figures, verification mode
		/// and [`ModelRecord::measured_with`] become the new guest's. Requests already open
		/// keep the fuel limit and verification mode they were opened with. A decoder's fuel to
		/// prepare never falls: its steps' preparation limit is read when a step runs, and an
		/// answer the new guest computed before this call, within the limit of the old figure,
		/// is judged within a limit at least as high. A model the new guest does not accept,
		/// or whose outputs it types otherwise (`OutputsChanged`), keeps its figures: the error
		/// is the engine's, as at registration. Refused before the engine runs (an unknown
		/// model, `AlreadyMeasured`), the call is charged its reads.
		#[pallet::call_index(10)]
		#[pallet::weight(Pallet::<T>::max_remeasure_weight())]
		pub fn remeasure_model(origin: OriginFor<T>, model_hash: ModelHash) -> DispatchResultWithPostInfo {
			use frame_support::dispatch::WithPostDispatchInfo;
			ensure_signed(origin)?;
			let refused = T::DbWeight::get().reads(2);
			let mut record = Models::<T>::get(model_hash).ok_or(Error::<T>::UnknownModel.with_weight(refused))?;
			let guest = EngineGuest::<T>::get();
			ensure!(record.measured_with != guest.version, Error::<T>::AlreadyMeasured.with_weight(refused));
			let (info, used_fuel, weight) = Self::measure_registered(&model_hash, &record)?;
			ensure!(info.outputs == record.outputs.to_vec(), Error::<T>::OutputsChanged);
			record.fuel_per_run = info.fuel_per_run;
			record.fuel_to_prepare = info.fuel_to_prepare;
			record.verification = Self::verification_mode(info.fuel_per_run);
			record.measured_with = guest.version;
			Self::deposit_event(Event::ModelRemeasured {
				model_hash,
				engine_version: guest.version,
				fuel_per_run: record.fuel_per_run,
				fuel_to_prepare: record.fuel_to_prepare,
				verification: record.verification,
			});
			Models::<T>::insert(model_hash, record);
			Ok(Some(weight.saturating_add(Self::fuel_weight(used_fuel))).into())
		}

		/// Replace the engine guest (root): `code` is the new guest's wasm, zstd-compressed as
		/// `veriml-node engine-guest --out` writes it (or plain). It must be a metered guest
		/// declaring a higher engine version than the current one. It is stored now and
		/// checks and runs models from block `now + EngineGuestDelay` on; every node starts
		/// compiling it when it applies this call. A guest scheduled earlier and not active
		/// yet is replaced.
		///
		/// Models keep the fuel figures measured with the guest they were registered with until
		/// someone measures them again with the new one
		/// ([`remeasure_model`](Pallet::remeasure_model)).
		///
		/// Charged three quarters of a block (operational): it decompresses, reads and hashes up
		/// to 32 MiB of wasm.
		#[pallet::call_index(7)]
		#[pallet::weight((Pallet::<T>::set_engine_guest_weight(), DispatchClass::Operational))]
		pub fn set_engine_guest(origin: OriginFor<T>, code: Vec<u8>) -> DispatchResult {
			ensure_root(origin)?;
			let guest =
				veriml_inference_interface::inference::identify_guest(&code).ok_or(Error::<T>::NotAnEngineGuest)?;
			let pending = PendingEngineGuest::<T>::get();
			ensure!(
				guest.version > EngineGuest::<T>::get().version
					&& pending.is_none_or(|(scheduled, _)| guest.version > scheduled.version),
				Error::<T>::EngineVersionNotRaised
			);
			if let Some((scheduled, _)) = pending {
				frame_support::storage::unhashed::kill(&veriml_inference_primitives::engine_guest_code_key(
					&scheduled.hash,
				));
			}
			frame_support::storage::unhashed::put_raw(
				&veriml_inference_primitives::engine_guest_code_key(&guest.hash),
				&code,
			);
			let activates_at = frame_system::Pallet::<T>::block_number().saturating_add(T::EngineGuestDelay::get());
			PendingEngineGuest::<T>::put((guest, activates_at));
			Self::deposit_event(Event::EngineGuestScheduled {
				guest: guest.hash,
				version: guest.version,
				activates_at,
			});
			Ok(())
		}
	}

	#[pallet::extra_constants]
	impl<T: Config> Pallet<T> {
		/// The most compute time, in picoseconds, any engine version's unit of fuel is charged
		/// ([`Config::PicosecondsPerFuel`]); the chain's guest may be charged less.
		#[pallet::constant_name(PicosecondsPerFuel)]
		fn most_picoseconds_per_fuel() -> u64 {
			T::PicosecondsPerFuel::most()
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::activate_engine_guest(now)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::MaxChunkBytes::get() > 0, "MaxChunkBytes must be positive");
			assert!(T::MaxModelBytes::get() >= T::MaxChunkBytes::get(), "MaxModelBytes must hold at least one chunk");
			let worst_registration = T::WeightInfo::register_model(T::MaxModelBytes::get())
				.saturating_add(Self::most_fuel_weight(T::RegistrationFuelLimit::get().saturating_mul(2)))
				.max(Self::max_stored_registration_weight())
				.max(Self::max_decoder_registration_weight());
			let max_extrinsic = Self::max_extrinsic_weight();
			assert!(
				worst_registration.all_lte(max_extrinsic),
				"a registration's worst case ({worst_registration}) exceeds a transaction's maximum \
				 ({max_extrinsic}): lower RegistrationFuelLimit, MaxModelBytes or MaxStoredModelBytes"
			);
			// The largest stored model still gets the fuel engine version 7 takes to prepare a
			// model, or to run it, of that many bytes of weights (6–7.5 a byte measured).
			let largest = T::MaxStoredModelBytes::get();
			assert!(
				Self::stored_registration_fuel_limit(largest) >= 8 * Fuel::from(largest),
				"loading the largest stored model ({largest} bytes) leaves its registration too little \
				 fuel: lower MaxStoredModelBytes or ContentLoadPicosecondsPerByte"
			);
		}
	}
}
