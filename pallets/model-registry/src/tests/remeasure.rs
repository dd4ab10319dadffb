//! Models measured again once the chain runs another engine guest (`remeasure_model`): their
//! figures, verification mode and `measured_with` become the new guest's; every refusal keeps
//! the record as it was; the migration that records which guest measured each model.

use super::{
	at_block,
	decoders::{decoder, register_decoder, TOKENIZER},
	guest_declaring, inputs, name, register, relu, upload,
};
use crate::{mock::*, Decoders, EngineGuest, Error, Event, ModelRecordOf, ReplacedEngineGuest, StoredModels};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::{DispatchErrorWithPostInfo, WithPostDispatchInfo},
	traits::Get,
	weights::{RuntimeDbWeight, Weight},
};
use veriml_inference_primitives::{model_hash, ModelHash, Tensor};
use veriml_primitives::models::{decoder_step_preparation_limit, ModelCatalog};

/// A Relu kept in state, a decoder, and a Relu in the content store, registered with the
/// chain's guest.
fn register_three() -> [ModelHash; 3] {
	let relu_hash = upload(ALICE, &relu(0));
	assert_ok!(register(ALICE, relu_hash, "relu", 1));
	let decoder_hash = upload(ALICE, &decoder());
	let tokenizer = upload(ALICE, TOKENIZER);
	assert_ok!(register_decoder(ALICE, decoder_hash, 16, tokenizer));
	let large = relu(200_000);
	let (root, _) = store_content(ALICE, &large);
	System::set_block_number(System::block_number() + 1);
	assert_ok!(Models::register_stored_model(RuntimeOrigin::signed(ALICE), root, name("relu-large"), 1, inputs(), 7));
	[relu_hash, decoder_hash, model_hash(&large)]
}

/// A refusal before the engine runs (an unknown model, one measured already): charged its
/// reads, not a model check.
fn refused(error: Error<Test>) -> DispatchErrorWithPostInfo {
	let reads: Weight = <<Test as frame_system::Config>::DbWeight as Get<RuntimeDbWeight>>::get().reads(2);
	error.with_weight(reads)
}

/// Makes the guest of the next engine version the chain's, as root's call and its delay do.
fn switch_guest() -> u32 {
	let next = EngineGuest::<Test>::get().version + 1;
	assert_ok!(Models::set_engine_guest(RuntimeOrigin::root(), guest_declaring(next)));
	at_block(System::block_number() + ENGINE_GUEST_DELAY);
	assert_eq!(EngineGuest::<Test>::get().version, next);
	next
}

/// What an older guest, cheaper for these models, would have measured: a quarter of the figures.
fn measured_cheaper(model: ModelHash, older: u32) {
	crate::Models::<Test>::mutate(model, |record| {
		let record = record.as_mut().unwrap();
		record.fuel_per_run /= 4;
		record.fuel_to_prepare /= 4;
		record.measured_with = older;
	});
}

/// The first step of `model`'s decoder (an empty cache, its inputs all zero) run with the chain's
/// engine within the preparation limit its registered figures give, as a step is judged.
fn first_step(model: ModelHash) -> Result<(), veriml_inference_primitives::EngineError> {
	let layout = Decoders::<Test>::get(model).unwrap().layout();
	let specs = layout.step_specs(0);
	let inputs: Vec<Tensor> = specs.iter().map(|spec| Tensor::zeros(spec).unwrap()).collect();
	let limit = <Models as ModelCatalog<_, _>>::decoder(&model).unwrap().step_preparation_limit;
	Models::run(&model, &specs, &inputs, u64::MAX / 4, Some(limit)).map(|_| ())
}

#[test]
fn after_a_guest_switch_anyone_measures_a_model_again_once_and_its_figures_are_the_new_guests() {
	run_test(|| {
		let models = register_three();
		let first = EngineGuest::<Test>::get().version;
		let measured: Vec<ModelRecordOf<Test>> = models.iter().map(|model| Models::model(model).unwrap()).collect();
		for (model, record) in models.iter().zip(&measured) {
			assert_eq!(record.measured_with, first);
			// Measured with the chain's guest already.
			assert_noop!(
				Models::remeasure_model(RuntimeOrigin::signed(BOB), *model),
				refused(Error::<Test>::AlreadyMeasured)
			);
		}
		assert!(Models::models_to_remeasure().is_empty());
		assert!(first_step(models[1]).is_ok());

		// The registered figures are an older guest's, cheaper than the chain's: the decoder's
		// steps are refused for want of preparation fuel on every node, and a request of a
		// Relu would get a fuel limit its runs exceed.
		for model in models {
			measured_cheaper(model, first);
		}
		let next = switch_guest();
		assert!(first_step(models[1]).is_err());
		let mut stale = Models::models_to_remeasure();
		stale.sort();
		let mut expected = models.to_vec();
		expected.sort();
		assert_eq!(stale, expected);

		for (model, record) in models.iter().zip(&measured) {
			// Charged the check it did: never more than the weight declared before it ran.
			let charged = Models::remeasure_model(RuntimeOrigin::signed(BOB), *model).unwrap().actual_weight.unwrap();
			assert!(charged.all_lte(Models::max_remeasure_weight()), "{charged}");
			// The new guest's figures (its code is the old one's: the figures of registration).
			let remeasured = Models::model(model).unwrap();
			assert_eq!(
				(remeasured.fuel_per_run, remeasured.fuel_to_prepare),
				(record.fuel_per_run, record.fuel_to_prepare)
			);
			assert_eq!(remeasured.verification, Models::verification_mode(record.fuel_per_run));
			assert_eq!(remeasured.measured_with, next);
			// Nothing else changed.
			assert_eq!(ModelRecordOf::<Test> { measured_with: first, ..remeasured }, *record);
			System::assert_last_event(
				Event::ModelRemeasured {
					model_hash: *model,
					engine_version: next,
					fuel_per_run: record.fuel_per_run,
					fuel_to_prepare: record.fuel_to_prepare,
					verification: record.verification,
				}
				.into(),
			);
			assert_noop!(
				Models::remeasure_model(RuntimeOrigin::signed(ALICE), *model),
				refused(Error::<Test>::AlreadyMeasured)
			);
		}
		assert!(Models::models_to_remeasure().is_empty());
		// The decoder's step preparation limit is the new guest's: its steps run again.
		assert_eq!(
			<Models as ModelCatalog<_, _>>::decoder(&models[1]).unwrap().step_preparation_limit,
			decoder_step_preparation_limit(measured[1].fuel_to_prepare)
		);
		assert!(first_step(models[1]).is_ok());
	});
}

#[test]
fn a_remeasurement_the_engine_refuses_keeps_the_record() {
	run_test(|| {
		assert_noop!(
			Models::remeasure_model(RuntimeOrigin::signed(BOB), ModelHash::repeat_byte(3)),
			refused(Error::<Test>::UnknownModel)
		);
		let [relu_hash, _, stored] = register_three();
		let first = EngineGuest::<Test>::get().version;
		switch_guest();
		// A record whose outputs the guest types otherwise (none can be: outputs are the
		// engine's own at registration, and a guest that changed them would change results).
		crate::Models::<Test>::mutate(relu_hash, |record| {
			let record = record.as_mut().unwrap();
			record.outputs[0] =
				veriml_inference_primitives::TensorSpec::new(veriml_inference_primitives::DType::F32, &[1, 4]).unwrap();
		});
		assert_noop!(Models::remeasure_model(RuntimeOrigin::signed(BOB), relu_hash), Error::<Test>::OutputsChanged);
		// A model in the content store whose item left it: its bytes cannot be read.
		expire_content(StoredModels::<Test>::get(stored).unwrap());
		assert_noop!(Models::remeasure_model(RuntimeOrigin::signed(BOB), stored), Error::<Test>::ModelUnavailable);
		assert_eq!(Models::model(&stored).unwrap().measured_with, first);
		assert_noop!(Models::remeasure_model(RuntimeOrigin::none(), stored), sp_runtime::DispatchError::BadOrigin);
	});
}

#[test]
fn records_kept_before_spec_134_say_which_guest_measured_them() {
	use crate::migrations::v3::Migration;
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	// As version 2 kept a record: the same fields, `measured_with` (the last, 4 bytes) absent.
	fn as_version_2(model: ModelHash) {
		let key = crate::Models::<Test>::hashed_key_for(model);
		let raw = frame_support::storage::unhashed::get_raw(&key).unwrap();
		frame_support::storage::unhashed::put_raw(&key, &raw[..raw.len() - 4]);
	}
	run_test(|| {
		let models = register_three();
		let records: Vec<ModelRecordOf<Test>> = models.iter().map(|model| Models::model(model).unwrap()).collect();
		let current = EngineGuest::<Test>::get().version;
		// A chain that never replaced its guest: every model was measured with it.
		models.iter().for_each(|model| as_version_2(*model));
		StorageVersion::new(2).put::<Models>();
		Migration::<Test>::on_runtime_upgrade();
		for (model, record) in models.iter().zip(&records) {
			assert_eq!(Models::model(model).as_ref(), Some(record));
		}
		assert_eq!(Models::on_chain_storage_version(), StorageVersion::new(3));

		// A chain that did: every model may be measured again (once) with its guest.
		let replaced = EngineGuest::<Test>::get();
		ReplacedEngineGuest::<Test>::put(veriml_inference_primitives::EngineGuest { version: current - 1, ..replaced });
		models.iter().for_each(|model| as_version_2(*model));
		StorageVersion::new(2).put::<Models>();
		Migration::<Test>::on_runtime_upgrade();
		for (model, record) in models.iter().zip(&records) {
			assert_eq!(
				Models::model(model),
				Some(ModelRecordOf::<Test> { measured_with: current - 1, ..record.clone() })
			);
		}
		assert_eq!(Models::models_to_remeasure().len(), 3);
		// Once.
		Migration::<Test>::on_runtime_upgrade();
		assert_eq!(Models::model(&models[0]).unwrap().measured_with, current - 1);
	});
}

#[test]
fn a_decoders_fuel_to_prepare_never_falls_so_answers_given_before_are_judged_within_their_limit() {
	run_test(|| {
		let [relu_hash, decoder_hash, _] = register_three();
		let measured = [relu_hash, decoder_hash].map(|model| Models::model(&model).unwrap().fuel_to_prepare);
		// The older guest was dearer to prepare them: twice the figures.
		let first = EngineGuest::<Test>::get().version;
		for model in [relu_hash, decoder_hash] {
			crate::Models::<Test>::mutate(model, |record| record.as_mut().unwrap().fuel_to_prepare *= 2);
		}
		switch_guest();
		// A step the new guest runs before the decoder is measured again is within the old
		// figure's limit; a judge reading the limit after must not refuse it.
		let before = <Models as ModelCatalog<_, _>>::decoder(&decoder_hash).unwrap().step_preparation_limit;
		assert!(first_step(decoder_hash).is_ok());
		for model in [relu_hash, decoder_hash] {
			assert_ok!(Models::remeasure_model(RuntimeOrigin::signed(BOB), model));
		}
		// A plain model's figure is the new guest's; the decoder's keeps the higher one.
		assert_eq!(Models::model(&relu_hash).unwrap().fuel_to_prepare, measured[0]);
		assert_eq!(Models::model(&decoder_hash).unwrap().fuel_to_prepare, 2 * measured[1]);
		assert_eq!(<Models as ModelCatalog<_, _>>::decoder(&decoder_hash).unwrap().step_preparation_limit, before);
		assert!(first_step(decoder_hash).is_ok());
		assert_ne!(Models::model(&decoder_hash).unwrap().measured_with, first);
	});
}
