//! Models as clients read them: the runtime API (and the node's `veriml_modelBytes` RPC).

pub mod runtime_api {
	use crate::{DecoderTerms, RegisteredModel, StoredModelChunks};
	use alloc::vec::Vec;
	use veriml_inference_primitives::{EngineGuest, ModelHash};

	sp_api::decl_runtime_apis! {
		/// Registered models and the engine guest the chain runs them with. Version 2 adds
		/// `stored_models`; version 3 `decoder` and `tokenizer`; version 4 `models_to_remeasure`,
		/// and `model`'s view says which engine version measured the model's figures
		/// (`measured_with`).
		#[api_version(2)]
		pub trait ModelsApi<AccountId, Balance, BlockNumber>
		where
			AccountId: codec::Codec,
			Balance: codec::Codec,
			BlockNumber: codec::Codec,
		{
			/// The registered model `model`: owner, name and version, tensor specs, price,
			/// measured fuel, verification mode and status; `None` if none is registered.
			fn model(model: ModelHash) -> Option<RegisteredModel<AccountId, Balance, BlockNumber>>;
			/// The ONNX bytes of the registered model `model` (the caller can check
			/// `blake2_256(bytes) == model`); `None` if none is registered, or if its bytes are
			/// in the content store (`Models::StoredModels` names the item: fetch its chunks).
			fn model_code(model: ModelHash) -> Option<Vec<u8>>;
			/// The engine guest the chain checks and runs models with now: its hash and the
			/// engine version every result hash commits to.
			fn engine_guest() -> EngineGuest;
			/// Every model registered from the content store whose item is stored, with the
			/// item's root and chunk hashes: the chunks a node fetches from its peers before it
			/// needs them, when its database lacks them.
			#[api_version(2)]
			fn stored_models() -> Vec<StoredModelChunks>;
			/// The terms of the registered decoder `model` (its context, cache shape,
			/// tokenizer's hash and, from spec 130, its graph's inputs in order); `None` if `model` is not a registered decoder.
			#[api_version(3)]
			fn decoder(model: ModelHash) -> Option<DecoderTerms>;
			/// The `tokenizer.json` registered with the decoder `model` (the caller can check
			/// its blake2-256 against `decoder`'s `tokenizer_hash`); `None` if `model` is not a
			/// registered decoder.
			#[api_version(3)]
			fn tokenizer(model: ModelHash) -> Option<Vec<u8>>;
			/// The registered models whose fuel figures were measured with a guest of another
			/// engine version than the chain's (after a guest switch): each may be measured
			/// again by anyone (`modelRegistry.remeasureModel`). Reads every model record (an
			/// off-chain view).
			#[api_version(4)]
			fn models_to_remeasure() -> Vec<ModelHash>;
		}
	}
}
