//! The registry's storage migrations, each run once by the runtime's `Executive`, versioned by
//! this pallet's storage version.

/// Version 1 → 2 (spec 130): a decoder's terms list its graph's inputs in order
/// ([`DecoderTerms::inputs`](crate::DecoderTerms::inputs)), from which each step's inputs are
/// built without reading the model, and its fuel per run covers its first step as well as its
/// context's last (the first, with an empty cache, does work the others skip).
///
/// Each decoder's inputs are read from its graph and it is measured as
/// [`register_decoder`](crate::Pallet::register_decoder) now measures it
/// ([`measure_decoder`](crate::Pallet::measure_decoder)): its fuel per run and to prepare
/// become the larger of the recorded and the new figures, its verification mode follows. A
/// decoder whose graph or measurement fails (none can: its registration checked both) is kept
/// as a plain model: its terms and tokenizer are removed.
pub mod v2 {
	use crate::{
		migrations::v3::V2ModelRecord, Config, DecoderTerms, Decoders, ModelCode, Models, Pallet, Tokenizers,
		WeightInfo,
	};
	use alloc::vec::Vec;
	use codec::Decode;
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
		BoundedVec,
	};
	use veriml_inference_primitives::{generation::decoder_layout, H256};

	/// A decoder's terms as storage version 1 kept them.
	#[derive(Decode)]
	pub struct V1DecoderTerms {
		/// As [`DecoderTerms::context_length`].
		pub context_length: u32,
		/// As [`DecoderTerms::layers`].
		pub layers: u32,
		/// As [`DecoderTerms::heads`].
		pub heads: u32,
		/// As [`DecoderTerms::head_size`].
		pub head_size: u32,
		/// As [`DecoderTerms::tokenizer_hash`].
		pub tokenizer_hash: H256,
		/// As [`DecoderTerms::tokenizer_len`].
		pub tokenizer_len: u32,
	}

	/// The migration, unversioned.
	pub struct Unversioned<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for Unversioned<T> {
		fn on_runtime_upgrade() -> Weight {
			let db = T::DbWeight::get();
			let mut weight = Weight::zero();
			let mut dropped = Vec::new();
			Decoders::<T>::translate::<V1DecoderTerms, _>(|hash, old| {
				let bytes = ModelCode::<T>::get(hash);
				// Read and hashed as registering them is; the record and terms written.
				let byte_len = bytes.as_ref().map_or(0, |bytes| bytes.len() as u32);
				weight = weight
					.saturating_add(T::WeightInfo::register_model(byte_len))
					.saturating_add(db.reads_writes(3, 2));
				let measured = bytes.as_ref().and_then(|bytes| {
					let layout = decoder_layout(bytes).ok()?;
					let (info, used_fuel) = Pallet::<T>::measure_decoder(bytes, &layout, old.context_length).ok()?;
					Some((layout, info, used_fuel))
				});
				let Some((layout, info, used_fuel)) = measured else {
					dropped.push(hash);
					return None;
				};
				weight = weight.saturating_add(Pallet::<T>::fuel_weight(used_fuel));
				// Records of storage version 2's layout (version 3 adds a field, which its own
				// migration, run after this one, adds).
				let key = Models::<T>::hashed_key_for(hash);
				if let Some(mut record) = frame_support::storage::unhashed::get::<V2ModelRecord<T>>(&key) {
					record.fuel_per_run = record.fuel_per_run.max(info.fuel_per_run);
					record.fuel_to_prepare = record.fuel_to_prepare.max(info.fuel_to_prepare);
					record.verification = Pallet::<T>::verification_mode(record.fuel_per_run);
					frame_support::storage::unhashed::put(&key, &record);
				}
				Some(DecoderTerms {
					context_length: old.context_length,
					layers: old.layers,
					heads: old.heads,
					head_size: old.head_size,
					tokenizer_hash: old.tokenizer_hash,
					tokenizer_len: old.tokenizer_len,
					inputs: BoundedVec::truncate_from(layout.inputs),
				})
			});
			for hash in &dropped {
				Tokenizers::<T>::remove(hash);
			}
			weight.saturating_add(db.writes(dropped.len() as u64))
		}
	}

	/// The migration, run while the registry's storage version is 1.
	pub type Migration<T> = VersionedMigration<1, 2, Unversioned<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}

/// Version 2 → 3 (spec 134): a model's record says which engine version measured its fuel
/// figures ([`ModelRecord::measured_with`](crate::ModelRecord::measured_with)), so that they
/// can be measured again once the chain runs another guest
/// ([`remeasure_model`](crate::Pallet::remeasure_model)).
///
/// The records did not say which guest measured them. Where the chain has replaced a guest,
/// each is taken as measured with the replaced one (one registered since can be measured
/// again once, needlessly, at its caller's cost; one registered before cannot be missed);
/// where it never has, with the chain's guest, the only one there was.
pub mod v3 {
	use crate::{
		BalanceOf, Config, EngineGuest, ModelRecord, ModelStatus, Models, Pallet, ReplacedEngineGuest, Verification,
	};
	use codec::{Decode, Encode};
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
		BoundedVec,
	};
	use frame_system::pallet_prelude::BlockNumberFor;
	use veriml_inference_primitives::TensorSpec;
	use veriml_primitives::Fuel;

	/// A model's record as storage versions 1 and 2 kept it: [`ModelRecord`] without
	/// `measured_with`.
	#[derive(Encode, Decode)]
	pub struct V2ModelRecord<T: Config> {
		/// As [`ModelRecord::owner`].
		pub owner: T::AccountId,
		/// As [`ModelRecord::name`].
		pub name: BoundedVec<u8, T::MaxNameLength>,
		/// As [`ModelRecord::version`].
		pub version: u32,
		/// As [`ModelRecord::inputs`].
		pub inputs: BoundedVec<TensorSpec, T::MaxTensors>,
		/// As [`ModelRecord::outputs`].
		pub outputs: BoundedVec<TensorSpec, T::MaxTensors>,
		/// As [`ModelRecord::price_per_inference`].
		pub price_per_inference: BalanceOf<T>,
		/// As [`ModelRecord::byte_len`].
		pub byte_len: u32,
		/// As [`ModelRecord::node_count`].
		pub node_count: u32,
		/// As [`ModelRecord::fuel_per_run`].
		pub fuel_per_run: Fuel,
		/// As [`ModelRecord::fuel_to_prepare`].
		pub fuel_to_prepare: Fuel,
		/// As [`ModelRecord::verification`].
		pub verification: Verification,
		/// As [`ModelRecord::status`].
		pub status: ModelStatus,
		/// As [`ModelRecord::deposit`].
		pub deposit: BalanceOf<T>,
		/// As [`ModelRecord::registered_at`].
		pub registered_at: BlockNumberFor<T>,
	}

	/// The migration, unversioned.
	pub struct Unversioned<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for Unversioned<T> {
		fn on_runtime_upgrade() -> Weight {
			let measured_with =
				ReplacedEngineGuest::<T>::get().map_or_else(|| EngineGuest::<T>::get().version, |guest| guest.version);
			let mut count = 0u64;
			Models::<T>::translate::<V2ModelRecord<T>, _>(|_, old| {
				count += 1;
				Some(ModelRecord {
					owner: old.owner,
					name: old.name,
					version: old.version,
					inputs: old.inputs,
					outputs: old.outputs,
					price_per_inference: old.price_per_inference,
					byte_len: old.byte_len,
					node_count: old.node_count,
					fuel_per_run: old.fuel_per_run,
					fuel_to_prepare: old.fuel_to_prepare,
					verification: old.verification,
					status: old.status,
					deposit: old.deposit,
					registered_at: old.registered_at,
					measured_with,
				})
			});
			T::DbWeight::get().reads_writes(count.saturating_add(2), count)
		}
	}

	/// The migration, run while the registry's storage version is 2.
	pub type Migration<T> = VersionedMigration<2, 3, Unversioned<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}
