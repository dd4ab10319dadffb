//! The registry's invariants (`try_state`).

use crate::*;
use frame_support::pallet_prelude::*;
use veriml_primitives::invariants::ExpectedHolds;

impl<T: Config> Pallet<T> {
	/// The registry's invariants, checked by `try_state` and after every block of the
	/// tests: every model has its bytes (of its recorded length and hash) in state, or its
	/// content item listed both ways (the item's own checks are the store's), and is listed
	/// under its owner's name and version; every upload holds as many chunks as it counts;
	/// each account's `ModelStorage` hold is the sum of the deposits of its uploads and
	/// models; the guest the chain names has its bytes in state; no model was measured with a
	/// guest of a higher engine version than the chain's (versions only rise).
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use frame_support::traits::fungible::InspectHold;
		let mut deposits = ExpectedHolds::default();
		let mut models = 0usize;
		let mut stored = 0usize;
		let guest_version = EngineGuest::<T>::get().version;
		for (hash, model) in Models::<T>::iter() {
			ensure!(
				model.measured_with <= guest_version,
				"a model was measured with an engine version above the chain's guest's"
			);
			if let Some(root) = StoredModels::<T>::get(hash) {
				stored += 1;
				ensure!(!ModelCode::<T>::contains_key(hash), "a model in the content store has bytes in state too");
				ensure!(
					StoredModelRoots::<T>::get(root) == Some(hash),
					"a model in the content store is not listed under its item"
				);
			} else {
				models += 1;
				let code = ModelCode::<T>::get(hash).ok_or("a registered model has no bytes")?;
				ensure!(code.len() as u32 == model.byte_len, "a model's bytes are not its recorded length");
				ensure!(
					veriml_inference_primitives::model_hash(&code) == hash,
					"a model's bytes do not hash to its key"
				);
			}
			ensure!(
				Versions::<T>::get(&model.owner, &model.name).contains(&(model.version, hash)),
				"a model is not listed under its owner's name and version"
			);
			deposits.add(model.owner.clone(), model.deposit);
		}
		ensure!(ModelCode::<T>::iter_keys().count() == models, "model bytes without a registered model");
		ensure!(
			StoredModels::<T>::iter_keys().count() == stored && StoredModelRoots::<T>::iter_keys().count() == stored,
			"a content item listed for no registered model"
		);
		let mut decoders = 0usize;
		for (hash, decoder) in Decoders::<T>::iter() {
			decoders += 1;
			ensure!(ModelCode::<T>::contains_key(hash), "a decoder is not a registered model in state");
			let model = Models::<T>::get(hash).ok_or("a decoder is not a registered model")?;
			ensure!(
				decoder.context_length >= 2
					&& decoder.layout().step_specs(decoder.context_length - 1) == model.inputs.to_vec(),
				"a decoder's inputs are not its layout's at its context's last step"
			);
			let tokenizer = Tokenizers::<T>::get(hash).ok_or("a decoder has no tokenizer")?;
			ensure!(
				tokenizer.len() as u32 == decoder.tokenizer_len
					&& veriml_inference_primitives::model_hash(&tokenizer) == decoder.tokenizer_hash,
				"a decoder's tokenizer is not the one registered with it"
			);
		}
		ensure!(Tokenizers::<T>::iter_keys().count() == decoders, "a tokenizer kept for no decoder");
		for (owner, name, versions) in Versions::<T>::iter() {
			for (version, hash) in versions {
				let model = Models::<T>::get(hash).ok_or("a listed version is not a registered model")?;
				ensure!(
					model.owner == owner && model.name == name && model.version == version,
					"a listed version names another model"
				);
			}
		}
		for (uploader, hash, upload) in Uploads::<T>::iter() {
			ensure!(upload.uploader == uploader, "an upload is kept under another account than its uploader's");
			ensure!(upload.chunks_received <= upload.chunk_count, "an upload has more chunks than it counts");
			ensure!(
				UploadChunks::<T>::iter_prefix((&uploader, hash)).count() as u32 == upload.chunks_received,
				"an upload's stored chunks are not the ones it counts"
			);
			deposits.add(upload.uploader.clone(), upload.deposit);
		}
		for (uploader, hash, _) in UploadChunks::<T>::iter_keys() {
			ensure!(Uploads::<T>::contains_key(uploader, hash), "chunks of no upload");
		}
		deposits.check(
			|who| T::Currency::balance_on_hold(&HoldReason::ModelStorage.into(), who),
			"an account's ModelStorage hold is not the sum of its deposits",
		)?;
		let guest = EngineGuest::<T>::get();
		if guest != Default::default() {
			ensure!(
				frame_support::storage::unhashed::exists(&veriml_inference_primitives::engine_guest_code_key(
					&guest.hash
				)),
				"the engine guest the chain names has no bytes in state"
			);
		}
		Ok(())
	}
}
