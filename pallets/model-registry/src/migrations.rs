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
	use crate::{Config, DecoderTerms, Decoders, ModelCode, Models, Pallet, Tokenizers, WeightInfo};
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
				Models::<T>::mutate(hash, |record| {
					if let Some(record) = record {
						record.fuel_per_run = record.fuel_per_run.max(info.fuel_per_run);
						record.fuel_to_prepare = record.fuel_to_prepare.max(info.fuel_to_prepare);
						record.verification = Pallet::<T>::verification_mode(record.fuel_per_run);
					}
				});
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
