//! Decoders registered with their tokenizer (`register_decoder`): measured at their context's
//! last step, their tokenizer kept and removed with them, and every refusal leaving the uploads
//! as they were.

use super::*;
use crate::{DecoderTerms, Decoders, Tokenizers};
use frame_support::dispatch::DispatchResultWithPostInfo;
use veriml_inference_primitives::{generation::decoder_layout, DType, H256};

/// A `tokenizer.json` as a client uploads it (the runtime keeps its bytes as they are).
const TOKENIZER: &[u8] = br#"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#;

fn decoder() -> Vec<u8> {
	onnx_builder::decoder_model(8, 2, 3)
}

fn register_decoder(who: u64, model: ModelHash, context_length: u32, tokenizer: H256) -> DispatchResultWithPostInfo {
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
	// The same decoder for a longer context is measured at its longer cache: each step costs more.
	let at_16 = measured_at(16);
	assert!(measured_at(64) > at_16);
}

/// The fuel per run the decoder is registered with for a context of `context_length`.
fn measured_at(context_length: u32) -> u64 {
	let mut fuel = 0;
	run_test(|| {
		let model = upload(ALICE, &decoder());
		let tokenizer = upload(ALICE, TOKENIZER);
		assert_ok!(register_decoder(ALICE, model, context_length, tokenizer));
		fuel = Models::model(&model).unwrap().fuel_per_run;
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
