//! Decoders registered with their tokenizer (`register_decoder`): measured at their context's
//! first and last steps, their tokenizer kept and removed with them, and every refusal leaving the uploads
//! as they were.

use super::*;
use crate::{DecoderTerms, Decoders, Tokenizers};
use frame_support::dispatch::DispatchResultWithPostInfo;
use veriml_inference_primitives::{generation::decoder_layout, DType, H256};

/// A `tokenizer.json` as a client uploads it (the runtime keeps its bytes as they are).
pub(super) const TOKENIZER: &[u8] = br#"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#;

pub(super) fn decoder() -> Vec<u8> {
	onnx_builder::decoder_model(8, 2, 3)
}

pub(super) fn register_decoder(
	who: u64,
	model: ModelHash,
	context_length: u32,
	tokenizer: H256,
) -> DispatchResultWithPostInfo {
	Models::register_decoder(RuntimeOrigin::signed(who), model, name("tiny"), 1, context_length, tokenizer, 5)
}

#[test]
fn a_decoder_is_registered_with_its_tokenizer_and_measured_at_its_contexts_last_step() {
	run_test(|| {
		let bytes = decoder();
		let model = upload(ALICE, &bytes);
		let tokenizer = upload(ALICE, TOKENIZER);
		let deposit = 100 + bytes.len() as u64 + 100 + TOKENIZER.len() as u64;
		assert_eq!(held(ALICE), deposit);

		assert_ok!(register_decoder(ALICE, model, 16, tokenizer));

		let record = Models::model(&model).expect("registered");
		// Its inputs are those of the step that feeds the 16th token: a cache of 15.
		let layout = decoder_layout(&bytes).unwrap();
		assert_eq!(record.inputs.to_vec(), layout.step_specs(15));
		assert_eq!(record.inputs[3].shape.to_vec(), [1, 2, 15, 3]);
		assert_eq!(record.outputs[0], TensorSpec::new(DType::F32, &[1, 1, 8]).unwrap());
		assert_eq!(record.outputs[1].shape.to_vec(), [1, 2, 16, 3]);
		assert_eq!(record.price_per_inference, 5);
		assert_eq!(record.deposit, deposit);
		assert_eq!(
			Decoders::<Test>::get(model),
			Some(DecoderTerms {
				context_length: 16,
				layers: 1,
				heads: 2,
				head_size: 3,
				tokenizer_hash: tokenizer,
				tokenizer_len: TOKENIZER.len() as u32,
				inputs: layout.inputs.clone().try_into().unwrap(),
			})
		);
		assert_eq!(Tokenizers::<Test>::get(model).unwrap().to_vec(), TOKENIZER);
		// Both uploads are taken; their deposits are held for the model.
		assert!(Uploads::<Test>::get(ALICE, model).is_none() && Uploads::<Test>::get(ALICE, tokenizer).is_none());
		assert_eq!(UploadChunks::<Test>::iter_prefix((ALICE, tokenizer)).count(), 0);
		assert_eq!(held(ALICE), deposit);
		System::assert_has_event(
			Event::ModelRegistered {
				model_hash: model,
				owner: ALICE,
				name: name("tiny"),
				version: 1,
				byte_len: bytes.len() as u32,
				fuel_per_run: record.fuel_per_run,
				verification: Verification::InBlock,
				content_root: None,
			}
			.into(),
		);
		System::assert_last_event(
			Event::DecoderRegistered { model_hash: model, context_length: 16, tokenizer_hash: tokenizer }.into(),
		);
	});
	// Its figures are the larger of its first step's (an empty cache) and its last step's, as
	// the node's engine measures them: for this short context, the first step's fuel per run.
	for context_length in [16, 64] {
		let (fuel_per_run, fuel_to_prepare) = measured_at(context_length);
		let engine = veriml_engine::Engine::default();
		let layout = decoder_layout(&decoder()).unwrap();
		let at = |position| engine.inspect_model(&decoder(), &layout.step_specs(position), u64::MAX).unwrap();
		let (first, last) = (at(0), at(context_length - 1));
		assert_eq!(fuel_per_run, first.fuel_per_run.max(last.fuel_per_run));
		assert_eq!(fuel_to_prepare, first.fuel_to_prepare.max(last.fuel_to_prepare));
		if context_length == 16 {
			assert!(first.fuel_per_run > last.fuel_per_run, "the first step is the costliest of a short context");
		}
	}
}

/// The fuel per run and to prepare the decoder is registered with for a context of
/// `context_length`.
fn measured_at(context_length: u32) -> (u64, u64) {
	let mut fuel = (0, 0);
	run_test(|| {
		let model = upload(ALICE, &decoder());
		let tokenizer = upload(ALICE, TOKENIZER);
		assert_ok!(register_decoder(ALICE, model, context_length, tokenizer));
		let record = Models::model(&model).unwrap();
		fuel = (record.fuel_per_run, record.fuel_to_prepare);
	});
	fuel
}

#[test]
fn removing_a_decoder_removes_its_tokenizer_and_releases_both_deposits() {
	run_test(|| {
		let model = upload(ALICE, &decoder());
		let tokenizer = upload(ALICE, TOKENIZER);
		assert_ok!(register_decoder(ALICE, model, 4, tokenizer));
		let deposit = held(ALICE);
		assert_ok!(Models::remove_model(RuntimeOrigin::signed(ALICE), model));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT);
		assert!(Decoders::<Test>::get(model).is_none() && Tokenizers::<Test>::get(model).is_none());
		assert!(ModelCode::<Test>::get(model).is_none());
		System::assert_last_event(Event::ModelRemoved { model_hash: model, owner: ALICE, deposit }.into());
	});
}

#[test]
fn what_is_not_a_decoder_or_its_tokenizer_is_refused_and_the_uploads_stay() {
	run_test(|| {
		let model = upload(ALICE, &decoder());
		let tokenizer = upload(ALICE, TOKENIZER);
		let relu = upload(ALICE, &relu(0));
		// Not Hugging Face's layout: the Relu's input is `x`.
		assert_noop!(register_decoder(ALICE, relu, 16, tokenizer), Error::<Test>::NotADecoder);
		// A context of one token has no step with a cache; above MaxContextLength (64 here).
		assert_noop!(register_decoder(ALICE, model, 1, tokenizer), Error::<Test>::InvalidContextLength);
		assert_noop!(register_decoder(ALICE, model, 0, tokenizer), Error::<Test>::InvalidContextLength);
		assert_noop!(register_decoder(ALICE, model, 65, tokenizer), Error::<Test>::InvalidContextLength);
		assert_noop!(register_decoder(ALICE, model, 16, model), Error::<Test>::TokenizerIsTheModel);
		// Each upload must be the caller's and complete.
		assert_noop!(register_decoder(ALICE, model, 16, H256::repeat_byte(7)), Error::<Test>::UnknownUpload);
		assert_noop!(register_decoder(BOB, model, 16, tokenizer), Error::<Test>::UnknownUpload);
		let partial = model_hash(&[b'{'; 600]);
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(ALICE), partial, 600));
		assert_noop!(register_decoder(ALICE, model, 16, partial), Error::<Test>::UploadIncomplete);
		// The decoder and its tokenizer are at most MaxModelBytes together.
		let big = vec![b' '; (MaxModelBytes::get() as usize) - decoder().len() + 1];
		let big = upload(ALICE, &big);
		assert_noop!(register_decoder(ALICE, model, 16, big), Error::<Test>::InvalidModelLength);
		assert!(Models::model(&model).is_none() && Decoders::<Test>::iter().count() == 0);
		assert!(Uploads::<Test>::get(ALICE, model).is_some() && Uploads::<Test>::get(ALICE, tokenizer).is_some());
	});
}

#[test]
fn a_decoder_registered_before_spec_130_lists_its_inputs_and_covers_its_first_step_once() {
	use crate::migrations::v2::Migration;
	use codec::Encode;
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	run_test(|| {
		let bytes = decoder();
		let model = upload(ALICE, &bytes);
		let tokenizer = upload(ALICE, TOKENIZER);
		assert_ok!(register_decoder(ALICE, model, 16, tokenizer));
		let (terms, record) = (Decoders::<Test>::get(model).unwrap(), Models::model(&model).unwrap());
		// As spec 129 left it: terms without the graph's inputs, figures of the last step alone.
		let layout = decoder_layout(&bytes).unwrap();
		let last = veriml_engine::Engine::default().inspect_model(&bytes, &layout.step_specs(15), u64::MAX).unwrap();
		assert!(last.fuel_per_run < record.fuel_per_run);
		crate::Models::<Test>::mutate(model, |r| {
			let r = r.as_mut().unwrap();
			(r.fuel_per_run, r.fuel_to_prepare) = (last.fuel_per_run, last.fuel_to_prepare);
		});
		// Its record without `measured_with` (storage version 3's, its last field).
		let key = crate::Models::<Test>::hashed_key_for(model);
		let raw = frame_support::storage::unhashed::get_raw(&key).unwrap();
		frame_support::storage::unhashed::put_raw(&key, &raw[..raw.len() - 4]);
		let v1 = (16u32, 1u32, 2u32, 3u32, tokenizer, TOKENIZER.len() as u32);
		frame_support::storage::unhashed::put_raw(&Decoders::<Test>::hashed_key_for(model), &v1.encode());
		// A spec-129 decoder entry whose model is gone (none can be: a removed model removes it).
		let orphan = H256::repeat_byte(9);
		frame_support::storage::unhashed::put_raw(&Decoders::<Test>::hashed_key_for(orphan), &v1.encode());
		Tokenizers::<Test>::insert(orphan, BoundedVec::truncate_from(TOKENIZER.to_vec()));
		StorageVersion::new(1).put::<Models>();

		Migration::<Test>::on_runtime_upgrade();
		assert_eq!(Models::on_chain_storage_version(), StorageVersion::new(2));
		// As the runtime runs them: version 3's migration after this one.
		crate::migrations::v3::Migration::<Test>::on_runtime_upgrade();

		assert_eq!(Decoders::<Test>::get(model), Some(terms.clone()));
		let migrated = Models::model(&model).unwrap();
		assert_eq!((migrated.fuel_per_run, migrated.fuel_to_prepare), (record.fuel_per_run, record.fuel_to_prepare));
		assert_eq!(migrated.verification, record.verification);
		assert_eq!(migrated, record);
		assert!(Decoders::<Test>::get(orphan).is_none() && Tokenizers::<Test>::get(orphan).is_none());
		assert_eq!(Models::on_chain_storage_version(), StorageVersion::new(3));
		// Once.
		Migration::<Test>::on_runtime_upgrade();
		assert_eq!(Decoders::<Test>::get(model), Some(terms));
	});
}
