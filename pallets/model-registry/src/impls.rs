//! Uploads, deposits, the engine guest's schedule and the weights of engine work; and the
//! interfaces other pallets use (`ModelCatalog`, `UploadedBytes`, `ActiveModels`).

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	pallet_prelude::*,
	traits::{fungible::MutateHold, tokens::Precision, Contains},
};
use frame_system::pallet_prelude::*;
use sp_runtime::traits::Saturating;
use veriml_inference_primitives::{generation::DecoderLayout, EngineError, ModelHash, ModelInfo, TensorSpec};
use veriml_primitives::content::{ContentRoot, StoredContent};

impl<T: Config> Pallet<T> {
	/// The deposit for keeping `byte_len` bytes of model in state.
	pub fn deposit_for(byte_len: u32) -> BalanceOf<T> {
		T::DepositPerByte::get().saturating_mul(byte_len.into()).saturating_add(T::DepositPerModel::get())
	}

	/// The weight of an engine call doing `fuel` units of work with the chain's engine guest:
	/// the fuel at that guest's version's price ([`Config::PicosecondsPerFuel`]), and reading
	/// which guest the chain names ([`EngineGuest`]), which every engine call passes on.
	pub fn fuel_weight(fuel: Fuel) -> Weight {
		Self::fuel_weight_at(fuel, T::PicosecondsPerFuel::picoseconds(EngineGuest::<T>::get().version))
	}

	/// [`fuel_weight`](Self::fuel_weight) at the most any engine version is charged: the bound
	/// of a weight declared before the call reads the chain's guest.
	pub fn most_fuel_weight(fuel: Fuel) -> Weight {
		Self::fuel_weight_at(fuel, T::PicosecondsPerFuel::most())
	}

	fn fuel_weight_at(fuel: Fuel, picoseconds_per_fuel: u64) -> Weight {
		Weight::from_parts(fuel.saturating_mul(picoseconds_per_fuel), 0).saturating_add(T::DbWeight::get().reads(1))
	}

	/// The weight charged for [`set_engine_guest`](Pallet::set_engine_guest): three quarters
	/// of a block. Identifying a guest (decompressing it, validating every function body
	/// and checking its metering and the counting of its stack limit, hashing it) takes
	/// about 0.6 s for today's 18.7 MB guest on the reference machine, so about 1.1 s for
	/// the largest guest a chain stores
	/// ([`MAX_GUEST_BYTES`](veriml_inference_primitives::guest::MAX_GUEST_BYTES)).
	pub fn set_engine_guest_weight() -> Weight {
		T::BlockWeights::get().max_block.saturating_mul(3) / 4
	}

	/// The engine guest the chain checks and runs models with now.
	pub fn engine_guest() -> veriml_inference_primitives::EngineGuest {
		EngineGuest::<T>::get()
	}

	/// Makes a scheduled engine guest the current one when its block has come.
	pub(crate) fn activate_engine_guest(now: BlockNumberFor<T>) -> Weight {
		let db = T::DbWeight::get();
		let Some((guest, activates_at)) = PendingEngineGuest::<T>::get() else { return db.reads(1) };
		if activates_at > now {
			return db.reads(1);
		}
		let replaced = EngineGuest::<T>::get();
		// Old blocks keep the replaced guest's bytes in their own state.
		frame_support::storage::unhashed::kill(&veriml_inference_primitives::engine_guest_code_key(&replaced.hash));
		EngineGuest::<T>::put(guest);
		ReplacedEngineGuest::<T>::put(replaced);
		PendingEngineGuest::<T>::kill();
		Self::deposit_event(Event::EngineGuestActivated {
			guest: guest.hash,
			version: guest.version,
			replaced: replaced.hash,
		});
		db.reads_writes(2, 5)
	}

	/// The weight of preparing a model of `byte_len` bytes that took `fuel_to_prepare` at
	/// registration, in an engine that has not prepared it: reading, decoding and hashing
	/// its bytes (bounded by registration's per-byte cost, which does as much and more, or,
	/// for a model in the content store, reading its chunk list and
	/// [`content_load_weight`](Self::content_load_weight)) and the preparation's fuel.
	pub fn preparation_weight(fuel_to_prepare: Fuel, byte_len: u32, in_content_store: bool) -> Weight {
		let reading = if in_content_store {
			Self::content_load_weight(byte_len).saturating_add(T::DbWeight::get().reads(1))
		} else {
			T::WeightInfo::register_model(byte_len).saturating_sub(T::WeightInfo::register_model(0))
		};
		reading.saturating_add(Self::fuel_weight(fuel_to_prepare))
	}

	/// What the engine's host does per model of `byte_len` bytes in the content store beyond
	/// its fuel: reading, hashing and handing over its chunks
	/// ([`Config::ContentLoadPicosecondsPerByte`]).
	pub fn content_load_weight(byte_len: u32) -> Weight {
		Weight::from_parts(T::ContentLoadPicosecondsPerByte::get().saturating_mul(byte_len.into()), 0)
	}

	/// [`register_stored_model`](Pallet::register_stored_model) of a `byte_len`-byte item
	/// before the engine's fuel: `register_model`'s measured work on no bytes (the records,
	/// the deposit, the event), the item and its chunk list read, and loading the bytes.
	pub fn stored_registration_weight(byte_len: u32) -> Weight {
		// The item, its chunk list, the root's entry, the hold and the account; writes: both
		// entries, the hold and the account.
		T::WeightInfo::register_model(0)
			.saturating_add(T::DbWeight::get().reads_writes(5, 4))
			.saturating_add(Self::content_load_weight(byte_len))
	}

	/// [`register_decoder`](Pallet::register_decoder) of a `model_len`-byte decoder with a
	/// `tokenizer_len`-byte tokenizer before the engine's fuel: `register_model`'s measured work
	/// on both uploads' bytes (read, hashed and stored as a model's are), its reads and writes
	/// once more for the tokenizer's upload, its entry and the decoder's. Reading the decoder's
	/// layout walks the graph's protobuf fields, not its weights' bytes: a few microseconds for
	/// 8 MiB of weights, against the 0.24 s the per-byte weight charges them.
	pub fn decoder_registration_weight(model_len: u32, tokenizer_len: u32) -> Weight {
		T::WeightInfo::register_model(model_len.saturating_add(tokenizer_len))
			.saturating_add(T::DbWeight::get().reads_writes(1, 3))
	}

	/// The weight [`register_decoder`](Pallet::register_decoder) is charged before it runs: a
	/// decoder and tokenizer of `MaxModelBytes` together, and both engine phases of both
	/// steps it is measured at, each at half of `RegistrationFuelLimit`.
	pub fn max_decoder_registration_weight() -> Weight {
		Self::decoder_registration_weight(T::MaxModelBytes::get(), 0)
			.saturating_add(Self::most_fuel_weight(T::RegistrationFuelLimit::get().saturating_mul(2)))
	}

	/// The fuel each of a stored model's preparation and trial run may use at registration:
	/// [`Config::RegistrationFuelLimit`], or less for a model so large that loading its bytes
	/// and both phases at that limit would not fit one transaction: what loading takes leaves
	/// the engine less. (The runtime's largest, 104 MiB: 1.06·10^9 each, where engine version 7
	/// takes 6–7.5 fuel a byte of weights, 7.9·10^8 at most, to prepare or run it.) Fixed
	/// before the call reads the chain's guest: at the most any version is charged.
	pub fn stored_registration_fuel_limit(byte_len: u32) -> Fuel {
		let room = Self::max_extrinsic_weight()
			.ref_time()
			.saturating_sub(Self::stored_registration_weight(byte_len).ref_time())
			.saturating_sub(Self::most_fuel_weight(0).ref_time());
		let per_phase = room / 2 / T::PicosecondsPerFuel::most().max(1);
		T::RegistrationFuelLimit::get().min(per_phase)
	}

	/// The weight [`register_stored_model`](Pallet::register_stored_model) is charged before
	/// it runs: the largest item's loading and both phases at its fuel limit (the most of any
	/// size: below it, loading takes less and the fuel limit is the same or lower still).
	pub fn max_stored_registration_weight() -> Weight {
		let largest = T::MaxStoredModelBytes::get();
		Self::stored_registration_weight(largest)
			.saturating_add(Self::most_fuel_weight(Self::stored_registration_fuel_limit(largest).saturating_mul(2)))
	}

	/// The most weight one ordinary transaction's call may have: the block's `max_extrinsic`
	/// for its class, less 1 % for the transaction's extensions (checking its nonce and weight,
	/// charging its fee), which the pool adds to the call's weight before comparing.
	pub fn max_extrinsic_weight() -> Weight {
		let weights = T::BlockWeights::get();
		let max =
			weights.get(frame_support::dispatch::DispatchClass::Normal).max_extrinsic.unwrap_or(weights.max_block);
		max.saturating_sub(max / 100)
	}

	/// The versions `owner` keeps under `name` with `version` of `model_hash` added: refused
	/// if the model is registered already, the name is empty, no inputs are declared, the
	/// version does not exceed the latest or the list is full.
	pub(crate) fn next_version(
		owner: &T::AccountId,
		name: &ModelName<T>,
		version: u32,
		model_hash: ModelHash,
		inputs: &[TensorSpec],
	) -> Result<VersionsOf<T>, Error<T>> {
		ensure!(!Models::<T>::contains_key(model_hash), Error::<T>::ModelAlreadyRegistered);
		ensure!(!name.is_empty(), Error::<T>::EmptyName);
		ensure!(!inputs.is_empty(), Error::<T>::TooManyTensors);
		let mut versions = Versions::<T>::get(owner, name);
		ensure!(versions.last().is_none_or(|(latest, _)| version > *latest), Error::<T>::VersionNotIncreasing);
		versions.try_push((version, model_hash)).map_err(|_| Error::<T>::TooManyVersions)?;
		Ok(versions)
	}

	/// Refuses a model whose outputs no result could carry (`MaxOutputBytes`). Not asked of a
	/// decoder: a generation's result is its tokens, and its cache outputs grow with the context.
	pub(crate) fn ensure_outputs_fit(info: &ModelInfo) -> Result<(), Error<T>> {
		ensure!(
			veriml_primitives::models::encoded_outputs_len(&info.outputs) <= u64::from(T::MaxOutputBytes::get()),
			Error::<T>::OutputTooLarge
		);
		Ok(())
	}

	/// The engine's check of `bytes` for `inputs` with the chain's guest, each phase (preparing
	/// and a run on all-zero inputs) within `fuel_limit`: the model's figures at those inputs
	/// and the fuel both phases used.
	pub(crate) fn inspect(
		bytes: &[u8],
		inputs: &[TensorSpec],
		fuel_limit: Fuel,
	) -> Result<(ModelInfo, Fuel), Error<T>> {
		let info = T::Inspector::inspect(EngineGuest::<T>::get().hash, bytes, inputs, fuel_limit)?;
		let used_fuel = info.fuel_to_prepare.saturating_add(info.fuel_per_run);
		Ok((info, used_fuel))
	}

	/// The engine's check of the decoder `bytes` (of layout `layout`) for a context of
	/// `context_length` tokens, and the fuel it used: its figures at the context's first and
	/// last steps ([`decoder_figures`](veriml_primitives::models::decoder_figures); the test
	/// decoder's first step takes 36 % more fuel than its 16th). Each step's phases within
	/// half of `RegistrationFuelLimit`, so both steps together cost what one `registerModel`
	/// may.
	pub fn measure_decoder(
		bytes: &[u8],
		layout: &DecoderLayout,
		context_length: u32,
	) -> Result<(ModelInfo, Fuel), Error<T>> {
		let half = T::RegistrationFuelLimit::get() / 2;
		let (first, first_fuel) = Self::inspect(bytes, &layout.step_specs(0), half)?;
		let (last, last_fuel) = Self::inspect(bytes, &layout.step_specs(context_length.saturating_sub(1)), half)?;
		Ok((veriml_primitives::models::decoder_figures(&first, last), first_fuel.saturating_add(last_fuel)))
	}

	/// The engine's check of the content store's item `root` (`byte_len` bytes) for `inputs`
	/// with the chain's guest, each phase within a stored model's registration fuel limit
	/// ([`stored_registration_fuel_limit`](Self::stored_registration_fuel_limit)): the
	/// blake2-256 of its whole bytes, its figures at those inputs and the fuel both phases used.
	pub(crate) fn inspect_stored(
		root: &ContentRoot,
		inputs: &[TensorSpec],
		byte_len: u32,
	) -> Result<(ModelHash, ModelInfo, Fuel), Error<T>> {
		let (hash, info) = T::Inspector::inspect_stored(
			EngineGuest::<T>::get().hash,
			&T::Content::chunk_list_key(root),
			inputs,
			Self::stored_registration_fuel_limit(byte_len),
		)?;
		let used_fuel = info.fuel_to_prepare.saturating_add(info.fuel_per_run);
		Ok((hash, info, used_fuel))
	}

	/// The engine's check of the registered `model_hash` (of `record`) with the chain's guest,
	/// as its registration checked it: a decoder at its context's first and last steps, a
	/// model in the content store from its item's chunks within its registration's fuel
	/// limit, any other model for its recorded inputs. Its figures, the fuel the check used,
	/// and the weight of everything else it did (reading the bytes and the records). A
	/// decoder's fuel to prepare is the higher of the check's and its record's: it never
	/// falls, so that an answer computed within the limit of its old figure is judged within
	/// a limit at least as high (its steps' preparation limit is read when a step runs).
	pub(crate) fn measure_registered(
		model_hash: &ModelHash,
		record: &ModelRecordOf<T>,
	) -> Result<(ModelInfo, Fuel, Weight), DispatchError> {
		if let Some(root) = StoredModels::<T>::get(model_hash) {
			ensure!(T::Content::item(&root).is_some(), Error::<T>::ModelUnavailable);
			let (hash, info, used_fuel) = Self::inspect_stored(&root, &record.inputs, record.byte_len)?;
			ensure!(hash == *model_hash, Error::<T>::ModelUnavailable);
			// Its registration's reads and writes (five and four) cover the record, the guest,
			// the item and its chunk list read and the record written.
			return Ok((info, used_fuel, Self::stored_registration_weight(record.byte_len)));
		}
		let bytes = ModelCode::<T>::get(model_hash).ok_or(Error::<T>::ModelUnavailable)?;
		// Read and hashed as registering it read and hashed its upload; the record, the guest,
		// the decoder's terms and the item's entry read, the record written.
		let reading =
			T::WeightInfo::register_model(record.byte_len).saturating_add(T::DbWeight::get().reads_writes(4, 1));
		let (info, used_fuel) = match Decoders::<T>::get(model_hash) {
			Some(decoder) => {
				let (mut info, used_fuel) = Self::measure_decoder(&bytes, &decoder.layout(), decoder.context_length)?;
				info.fuel_to_prepare = info.fuel_to_prepare.max(record.fuel_to_prepare);
				(info, used_fuel)
			},
			None => Self::inspect(&bytes, &record.inputs, T::RegistrationFuelLimit::get())?,
		};
		Ok((info, used_fuel, reading))
	}

	/// The weight [`remeasure_model`](Pallet::remeasure_model) is charged before it runs: the
	/// costlier of measuring a model in state (a decoder's two steps together cost what one
	/// model's check may) and one in the content store, each at its largest
	/// ([`measure_registered`](Self::measure_registered)'s weights and fuel limits).
	pub fn max_remeasure_weight() -> Weight {
		let in_state = T::WeightInfo::register_model(T::MaxModelBytes::get())
			.saturating_add(T::DbWeight::get().reads_writes(4, 1))
			.saturating_add(Self::most_fuel_weight(T::RegistrationFuelLimit::get().saturating_mul(2)));
		in_state.max(Self::max_stored_registration_weight())
	}

	/// Keeps `bytes` (the model `model_hash`, read from `owner`'s complete upload, which the
	/// engine checked for `inputs`: `info`) in state as the model `naming` holding `deposit`.
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn keep_checked_model(
		owner: T::AccountId,
		model_hash: ModelHash,
		naming: (ModelName<T>, u32, VersionsOf<T>),
		inputs: BoundedVec<TensorSpec, T::MaxTensors>,
		price: BalanceOf<T>,
		info: ModelInfo,
		bytes: Vec<u8>,
		deposit: BalanceOf<T>,
	) -> Result<(), Error<T>> {
		let byte_len = bytes.len() as u32;
		let code = BoundedVec::try_from(bytes).map_err(|_| Error::<T>::InvalidModelLength)?;
		Self::insert_model(owner, model_hash, naming, inputs, price, info, byte_len, deposit, None)?;
		ModelCode::<T>::insert(model_hash, code);
		Ok(())
	}

	/// How results of a model measured at `fuel_per_run` are verified: optimistically above
	/// `OptimisticAboveFuel`, re-executed in block otherwise.
	pub fn verification_mode(fuel_per_run: Fuel) -> Verification {
		if fuel_per_run > T::OptimisticAboveFuel::get() {
			Verification::Optimistic
		} else {
			Verification::InBlock
		}
	}

	/// Records the model the engine checked (`info`) under `owner` and its name and version
	/// (with the owner's versions under that name, `next_version`'s answer), and says so.
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn insert_model(
		owner: T::AccountId,
		model_hash: ModelHash,
		(name, version, versions): (ModelName<T>, u32, VersionsOf<T>),
		inputs: BoundedVec<TensorSpec, T::MaxTensors>,
		price_per_inference: BalanceOf<T>,
		info: ModelInfo,
		byte_len: u32,
		deposit: BalanceOf<T>,
		content_root: Option<ContentRoot>,
	) -> Result<(), Error<T>> {
		let outputs = BoundedVec::try_from(info.outputs).map_err(|_| Error::<T>::TooManyTensors)?;
		let verification = Self::verification_mode(info.fuel_per_run);
		Versions::<T>::insert(&owner, &name, versions);
		Models::<T>::insert(
			model_hash,
			ModelRecord {
				owner: owner.clone(),
				name: name.clone(),
				version,
				inputs,
				outputs,
				price_per_inference,
				byte_len,
				node_count: info.node_count,
				fuel_per_run: info.fuel_per_run,
				fuel_to_prepare: info.fuel_to_prepare,
				verification,
				status: ModelStatus::Active,
				deposit,
				registered_at: frame_system::Pallet::<T>::block_number(),
				measured_with: EngineGuest::<T>::get().version,
			},
		);
		Self::deposit_event(Event::ModelRegistered {
			model_hash,
			owner,
			name,
			version,
			byte_len,
			fuel_per_run: info.fuel_per_run,
			verification,
			content_root,
		});
		Ok(())
	}

	/// Whether the registered `model`'s bytes are still on chain: always for a model kept in
	/// state; for one in the content store, while its item is stored (its retention may end).
	pub fn bytes_available(model: &ModelHash) -> bool {
		StoredModels::<T>::get(model).is_none_or(|root| T::Content::item(&root).is_some())
	}

	/// Every model registered from the content store whose item is stored, with the item's
	/// chunks: one read of [`StoredModels`] and two of the store per such model (an off-chain
	/// view, never called by a dispatchable).
	pub fn stored_models() -> Vec<StoredModelChunks> {
		StoredModels::<T>::iter()
			.filter_map(|(model, root)| {
				T::Content::chunks(&root).map(|chunks| StoredModelChunks { model, root, chunks })
			})
			.collect()
	}

	/// The storage key under which the model's bytes live, for the engine host function.
	pub fn model_code_key(model_hash: &ModelHash) -> Vec<u8> {
		ModelCode::<T>::hashed_key_for(model_hash)
	}

	/// The registered models whose figures a guest of another engine version than the chain's
	/// measured: those [`remeasure_model`](Pallet::remeasure_model) takes. Reads every model
	/// record (an off-chain view, never called by a dispatchable).
	pub fn models_to_remeasure() -> Vec<ModelHash> {
		let version = EngineGuest::<T>::get().version;
		Models::<T>::iter().filter(|(_, record)| record.measured_with != version).map(|(hash, _)| hash).collect()
	}

	/// The registered model `model_hash`, if any.
	pub fn model(model_hash: &ModelHash) -> Option<ModelRecordOf<T>> {
		Models::<T>::get(model_hash)
	}

	/// The ONNX bytes of the registered model `model_hash`, if any.
	pub fn model_code(model_hash: &ModelHash) -> Option<Vec<u8>> {
		ModelCode::<T>::get(model_hash).map(BoundedVec::into_inner)
	}

	pub(crate) fn chunk_len(upload: &UploadOf<T>, index: u32) -> u32 {
		let chunk = T::MaxChunkBytes::get();
		if index + 1 == upload.chunk_count {
			upload.byte_len - chunk.saturating_mul(upload.chunk_count - 1)
		} else {
			chunk
		}
	}

	/// The bytes of `uploader`'s complete upload `hash`, checked against it.
	pub(crate) fn uploaded_bytes(
		uploader: &T::AccountId,
		hash: ModelHash,
		upload: &UploadOf<T>,
	) -> Result<Vec<u8>, Error<T>> {
		ensure!(upload.chunks_received == upload.chunk_count, Error::<T>::UploadIncomplete);
		let mut bytes = Vec::with_capacity(upload.byte_len as usize);
		for index in 0..upload.chunk_count {
			let chunk = UploadChunks::<T>::get((uploader, hash, index)).ok_or(Error::<T>::UploadIncomplete)?;
			bytes.extend_from_slice(&chunk);
		}
		ensure!(veriml_inference_primitives::model_hash(&bytes) == hash, Error::<T>::HashMismatch);
		Ok(bytes)
	}

	/// Removes `uploader`'s upload `hash` and its chunks (at most `chunk_count`).
	pub(crate) fn remove_upload(uploader: &T::AccountId, hash: ModelHash, upload: &UploadOf<T>) {
		let removed = UploadChunks::<T>::clear_prefix((uploader, hash), upload.chunk_count, None);
		if removed.maybe_cursor.is_some() {
			frame_support::defensive!("an upload kept more chunks than it counts");
		}
		Uploads::<T>::remove(uploader, hash);
	}

	pub(crate) fn release_deposit(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		T::Currency::release(&HoldReason::ModelStorage.into(), who, amount, Precision::BestEffort).map(|_| ())
	}
}

impl<T: Config> UploadedBytes<T::AccountId> for Pallet<T> {
	fn take(who: &T::AccountId, hash: &ModelHash, max_len: u32) -> Result<Vec<u8>, DispatchError> {
		let upload = Uploads::<T>::get(who, hash).ok_or(Error::<T>::UnknownUpload)?;
		ensure!(upload.byte_len <= max_len, Error::<T>::UploadTooLarge);
		let bytes = Self::uploaded_bytes(who, *hash, &upload)?;
		Self::remove_upload(who, *hash, &upload);
		Self::release_deposit(who, upload.deposit)?;
		Self::deposit_event(Event::UploadTaken { content_hash: *hash, uploader: who.clone(), deposit: upload.deposit });
		Ok(bytes)
	}
}

impl<T: Config> ModelCatalog<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn terms(model: &ModelHash) -> Option<ModelTerms<T::AccountId, BalanceOf<T>>> {
		Models::<T>::get(model).map(|record| ModelTerms {
			owner: record.owner,
			price_per_inference: record.price_per_inference,
			inputs: record.inputs.into_inner(),
			fuel_per_run: record.fuel_per_run,
			fuel_to_prepare: record.fuel_to_prepare,
			measured_with: record.measured_with,
			byte_len: record.byte_len,
			output_bytes: veriml_primitives::models::encoded_outputs_len(&record.outputs)
				.try_into()
				.unwrap_or(u32::MAX),
			active: record.status == ModelStatus::Active && Self::bytes_available(model),
			verification: record.verification,
			in_content_store: StoredModels::<T>::contains_key(model),
		})
	}

	fn fuel_weight(fuel: Fuel) -> Weight {
		Self::fuel_weight(fuel)
	}

	fn most_fuel_weight(fuel: Fuel) -> Weight {
		Self::most_fuel_weight(fuel)
	}

	fn preparation_weight(terms: &ModelTerms<T::AccountId, BalanceOf<T>>) -> Weight {
		Self::preparation_weight(terms.fuel_to_prepare, terms.byte_len, terms.in_content_store)
	}

	fn max_state_model_read_weight() -> Weight {
		Self::preparation_weight(0, T::MaxModelBytes::get(), false).saturating_sub(Self::most_fuel_weight(0))
	}

	fn engine_versions(
	) -> (veriml_inference_primitives::EngineVersion, Option<veriml_inference_primitives::EngineVersion>) {
		(EngineGuest::<T>::get().version, ReplacedEngineGuest::<T>::get().map(|guest| guest.version))
	}

	fn decoder(model: &ModelHash) -> Option<veriml_primitives::models::DecoderSpec> {
		let terms = Decoders::<T>::get(model)?;
		let record = Models::<T>::get(model)?;
		// Its recorded outputs are its last step's: logits `[1, 1, vocabulary]` first.
		let vocabulary = *record.outputs.first()?.shape.last()?;
		Some(veriml_primitives::models::DecoderSpec {
			layout: terms.layout(),
			context_length: terms.context_length,
			vocabulary,
			step_preparation_limit: veriml_primitives::models::decoder_step_preparation_limit(record.fuel_to_prepare),
		})
	}
}

/// The content store's items a registered model is read from: the store must not remove them.
pub struct StoredModelContent<T>(core::marker::PhantomData<T>);

impl<T: Config> Contains<ContentRoot> for StoredModelContent<T> {
	fn contains(root: &ContentRoot) -> bool {
		StoredModelRoots::<T>::contains_key(root)
	}
}

/// The content store's items a model with open inference requests is read from: work in flight
/// (nodes judged by re-executing the model) needs them, so their retention is held over.
pub struct PinnedContent<T>(core::marker::PhantomData<T>);

impl<T: Config> Contains<ContentRoot> for PinnedContent<T> {
	fn contains(root: &ContentRoot) -> bool {
		StoredModelRoots::<T>::get(root).is_some_and(|model| T::ModelsInUse::contains(&model))
	}
}

/// The registered models that take new requests.
pub struct ActiveModels<T>(core::marker::PhantomData<T>);

impl<T: Config> Contains<ModelHash> for ActiveModels<T> {
	fn contains(model: &ModelHash) -> bool {
		Models::<T>::get(model).is_some_and(|record| record.status == ModelStatus::Active)
			&& Pallet::<T>::bytes_available(model)
	}
}

impl<T: Config> Pallet<T> {
	/// Runs the registered `model` on `inputs` with the node's deterministic engine, within
	/// `fuel_limit`, and its preparation for `input_specs` within `preparation_limit` where
	/// given (else the engine's cap); the engine reads the bytes from [`ModelCode`], or from
	/// the chunks of the content store's item ([`StoredModels`]), when it has not prepared the
	/// model for those specs yet.
	pub fn run(
		model: &ModelHash,
		input_specs: &[TensorSpec],
		inputs: &[veriml_inference_primitives::Tensor],
		fuel_limit: Fuel,
		preparation_limit: Option<Fuel>,
	) -> Result<veriml_inference_primitives::Execution, EngineError> {
		let guest = EngineGuest::<T>::get().hash;
		let preparation_limit = preparation_limit.unwrap_or(Fuel::MAX);
		match StoredModels::<T>::get(model) {
			Some(root) => veriml_inference_interface::inference::run_stored(
				guest,
				*model,
				&T::Content::chunk_list_key(&root),
				input_specs.to_vec(),
				inputs.to_vec(),
				fuel_limit,
				preparation_limit,
			),
			None => veriml_inference_interface::inference::run(
				guest,
				*model,
				&Self::model_code_key(model),
				input_specs.to_vec(),
				inputs.to_vec(),
				fuel_limit,
				preparation_limit,
			),
		}
	}
}
