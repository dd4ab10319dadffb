//! The registry's calls: their effect on storage, balances and events, and every refusal.

use crate::{mock::*, Error, Event, ModelCode, ModelStatus, UploadChunks, Uploads, Verification, Versions};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use veriml_inference_primitives::{model_hash, onnx_builder, ModelHash, TensorSpec};

mod decoders;
mod generation_challenges;
mod remeasure;
mod stored_models;

pub(crate) const WIDTH: u32 = 8;

pub(crate) fn relu(padding: usize) -> Vec<u8> {
	onnx_builder::unary_model("Relu", WIDTH, padding)
}

pub(crate) fn inputs() -> BoundedVec<TensorSpec, MaxTensors> {
	BoundedVec::truncate_from(vec![onnx_builder::unary_model_input(WIDTH)])
}

pub(crate) fn name(s: &str) -> BoundedVec<u8, MaxNameLength> {
	BoundedVec::truncate_from(s.as_bytes().to_vec())
}

pub(crate) fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Models(crate::HoldReason::ModelStorage), &who)
}

/// Uploads `bytes` from `who` in chunks, in order.
pub(crate) fn upload(who: u64, bytes: &[u8]) -> ModelHash {
	let hash = model_hash(bytes);
	assert_ok!(Models::begin_upload(RuntimeOrigin::signed(who), hash, bytes.len() as u32));
	for (index, chunk) in bytes.chunks(CHUNK as usize).enumerate() {
		assert_ok!(Models::upload_chunk(
			RuntimeOrigin::signed(who),
			hash,
			index as u32,
			BoundedVec::truncate_from(chunk.to_vec())
		));
	}
	hash
}

pub(crate) fn register(
	who: u64,
	hash: ModelHash,
	model_name: &str,
	version: u32,
) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Models::register_model(RuntimeOrigin::signed(who), hash, name(model_name), version, inputs(), 7)
}

#[test]
fn a_model_is_uploaded_in_chunks_checked_and_registered() {
	run_test(|| {
		let bytes = relu(600); // three chunks
		let hash = upload(ALICE, &bytes);
		let deposit = 100 + bytes.len() as u64;
		assert_eq!(held(ALICE), deposit);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT - deposit);
		System::assert_has_event(
			Event::UploadStarted {
				model_hash: hash,
				uploader: ALICE,
				byte_len: bytes.len() as u32,
				chunk_count: 3,
				deposit,
			}
			.into(),
		);

		assert_ok!(register(ALICE, hash, "relu", 1));

		let model = Models::model(&hash).expect("registered");
		assert_eq!(model.owner, ALICE);
		assert_eq!(model.version, 1);
		assert_eq!(model.inputs.to_vec(), inputs().to_vec());
		assert_eq!(model.outputs.to_vec(), vec![onnx_builder::unary_model_input(WIDTH)]);
		assert_eq!(model.status, ModelStatus::Active);
		assert_eq!(model.price_per_inference, 7);
		assert_eq!(model.byte_len, bytes.len() as u32);
		assert!(model.fuel_per_run > 0 && model.fuel_to_prepare > 0);
		assert_eq!(ModelCode::<Test>::get(hash).unwrap().to_vec(), bytes);
		assert_eq!(Versions::<Test>::get(ALICE, name("relu")).to_vec(), vec![(1, hash)]);
		// The upload is gone; the deposit now covers the model.
		assert!(Uploads::<Test>::get(ALICE, hash).is_none());
		assert_eq!(UploadChunks::<Test>::iter_prefix((ALICE, hash)).count(), 0);
		assert_eq!(held(ALICE), deposit);
		System::assert_last_event(
			Event::ModelRegistered {
				model_hash: hash,
				owner: ALICE,
				name: name("relu"),
				version: 1,
				byte_len: bytes.len() as u32,
				fuel_per_run: model.fuel_per_run,
				verification: Verification::InBlock,
				content_root: None,
			}
			.into(),
		);
	});
}

#[test]
fn a_model_measured_above_the_optimistic_threshold_is_verified_optimistically() {
	run_test(|| {
		let small = upload(ALICE, &relu(0));
		assert_ok!(register(ALICE, small, "small", 1));
		let fuel = Models::model(&small).unwrap().fuel_per_run;
		assert_eq!(Models::model(&small).unwrap().verification, Verification::InBlock);

		// Any model costs some fuel: above a threshold of 0, it is optimistic.
		assert!(fuel > 0);
		OptimisticAboveFuel::set(0);
		let large = upload(ALICE, &relu(1));
		assert_ok!(register(ALICE, large, "large", 1));
		let model = Models::model(&large).unwrap();
		assert_eq!(model.verification, Verification::Optimistic);
		System::assert_last_event(
			Event::ModelRegistered {
				model_hash: large,
				owner: ALICE,
				name: name("large"),
				version: 1,
				byte_len: model.byte_len,
				fuel_per_run: model.fuel_per_run,
				verification: Verification::Optimistic,
				content_root: None,
			}
			.into(),
		);
	});
}

#[test]
fn the_engine_host_function_reads_the_stored_bytes() {
	run_test(|| {
		let bytes = relu(0);
		let hash = upload(ALICE, &bytes);
		assert_ok!(register(ALICE, hash, "relu", 1));
		let key = Models::model_code_key(&hash);
		let input =
			veriml_inference_primitives::Tensor::from_f32(&[1, WIDTH], &[-1.0, 2.0, -0.0, 3.0, 0.5, -4.0, 0.0, 1.0]);
		let execution = veriml_inference_interface::inference::run(
			crate::EngineGuest::<Test>::get().hash,
			hash,
			&key,
			inputs().to_vec(),
			vec![input],
			1_000_000_000,
			u64::MAX,
		)
		.expect("runs");
		assert_eq!(execution.outputs[0].to_f32().unwrap(), vec![0.0, 2.0, 0.0, 3.0, 0.5, 0.0, 0.0, 1.0]);
	});
}

#[test]
fn chunks_may_arrive_in_any_order_but_each_once_and_of_the_right_length() {
	run_test(|| {
		let bytes = relu(600);
		let hash = model_hash(&bytes);
		let chunks: Vec<_> = bytes.chunks(CHUNK as usize).map(|c| BoundedVec::truncate_from(c.to_vec())).collect();
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(ALICE), hash, bytes.len() as u32));
		assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 2, chunks[2].clone()));
		assert_noop!(
			Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 2, chunks[2].clone()),
			Error::<Test>::ChunkAlreadyUploaded
		);
		assert_noop!(
			Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 3, chunks[0].clone()),
			Error::<Test>::ChunkOutOfRange
		);
		assert_noop!(
			Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 0, chunks[2].clone()),
			Error::<Test>::WrongChunkLength
		);
		assert_noop!(
			Models::upload_chunk(RuntimeOrigin::signed(BOB), hash, 0, chunks[0].clone()),
			Error::<Test>::UnknownUpload
		);
		assert_noop!(register(ALICE, hash, "relu", 1), Error::<Test>::UploadIncomplete);
		assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 0, chunks[0].clone()));
		assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(ALICE), hash, 1, chunks[1].clone()));
		assert_ok!(register(ALICE, hash, "relu", 1));
	});
}

#[test]
fn begin_upload_refusals_keep_balances_and_storage() {
	run_test(|| {
		let bytes = relu(0);
		let hash = model_hash(&bytes);
		assert_noop!(Models::begin_upload(RuntimeOrigin::signed(ALICE), hash, 0), Error::<Test>::InvalidModelLength);
		assert_noop!(
			Models::begin_upload(RuntimeOrigin::signed(ALICE), hash, 64 * 1024 + 1),
			Error::<Test>::InvalidModelLength
		);
		assert_noop!(
			Models::begin_upload(RuntimeOrigin::signed(POOR), hash, bytes.len() as u32),
			Error::<Test>::InsufficientDeposit
		);
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(ALICE), hash, bytes.len() as u32));
		// Her own upload once; Bob's is his own (see `nobody_blocks_bytes_someone_else_uploads`).
		assert_noop!(
			Models::begin_upload(RuntimeOrigin::signed(ALICE), hash, bytes.len() as u32),
			Error::<Test>::UploadAlreadyInProgress
		);
		assert_ok!(Models::upload_chunk(
			RuntimeOrigin::signed(ALICE),
			hash,
			0,
			BoundedVec::truncate_from(bytes.clone())
		));
		assert_ok!(register(ALICE, hash, "relu", 1));
		assert_noop!(
			Models::begin_upload(RuntimeOrigin::signed(BOB), hash, bytes.len() as u32),
			Error::<Test>::ModelAlreadyRegistered
		);
	});
}

#[test]
fn hostile_and_malformed_models_are_refused_and_nothing_is_registered() {
	run_test(|| {
		for (bytes, error) in [
			(onnx_builder::unary_model("RandomNormalLike", WIDTH, 0), Error::<Test>::NonDeterministicOperator),
			(onnx_builder::unary_model("NoSuchOperator", WIDTH, 0), Error::<Test>::UnsupportedOperator),
			(b"\x7fELF definitely not onnx".to_vec(), Error::<Test>::MalformedModel),
			(relu(0)[..40].to_vec(), Error::<Test>::MalformedModel),
		] {
			let hash = upload(ALICE, &bytes);
			let held_before = held(ALICE);
			assert_noop!(register(ALICE, hash, "bad", 1), error);
			assert!(Models::model(&hash).is_none());
			assert!(ModelCode::<Test>::get(hash).is_none());
			assert_eq!(held(ALICE), held_before);
			// The uploader gets the deposit back by aborting.
			assert_ok!(Models::abort_upload(RuntimeOrigin::signed(ALICE), hash));
		}
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT);
	});
}

#[test]
fn a_model_whose_outputs_no_result_can_carry_is_refused() {
	run_test(|| {
		let outputs = veriml_primitives::models::encoded_outputs_len(&[onnx_builder::unary_model_input(WIDTH)]);
		MaxOutputBytes::set(outputs as u32 - 1);
		let hash = upload(ALICE, &relu(0));
		let held_before = held(ALICE);
		// No node could submit a result of it: refused, the upload kept for its uploader.
		assert_noop!(register(ALICE, hash, "relu", 1), Error::<Test>::OutputTooLarge);
		assert!(Models::model(&hash).is_none());
		assert_eq!(held(ALICE), held_before);
		MaxOutputBytes::set(outputs as u32);
		assert_ok!(register(ALICE, hash, "relu", 1));
	});
}

#[test]
fn inputs_that_do_not_fit_the_model_are_refused() {
	run_test(|| {
		let hash = upload(ALICE, &relu(0));
		let wrong =
			BoundedVec::truncate_from(vec![
				TensorSpec::new(veriml_inference_primitives::DType::F32, &[1, WIDTH + 1]).unwrap()
			]);
		assert_noop!(
			Models::register_model(RuntimeOrigin::signed(ALICE), hash, name("relu"), 1, wrong, 7),
			Error::<Test>::InvalidInputSpecs
		);
		assert_noop!(
			Models::register_model(RuntimeOrigin::signed(ALICE), hash, name("relu"), 1, BoundedVec::new(), 7),
			Error::<Test>::TooManyTensors
		);
		assert_noop!(register(ALICE, hash, "", 1), Error::<Test>::EmptyName);
		assert_noop!(register(BOB, hash, "relu", 1), Error::<Test>::UnknownUpload);
	});
}

#[test]
fn bytes_that_do_not_match_the_announced_hash_are_refused() {
	run_test(|| {
		let bytes = relu(0);
		let claimed = model_hash(b"some other model");
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(ALICE), claimed, bytes.len() as u32));
		assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(ALICE), claimed, 0, BoundedVec::truncate_from(bytes)));
		assert_noop!(register(ALICE, claimed, "relu", 1), Error::<Test>::HashMismatch);
	});
}

#[test]
fn versions_increase_and_are_bounded() {
	run_test(|| {
		let hashes: Vec<_> = (0..4).map(|i| upload(ALICE, &relu(i))).collect();
		assert_ok!(register(ALICE, hashes[0], "relu", 1));
		assert_noop!(register(ALICE, hashes[1], "relu", 1), Error::<Test>::VersionNotIncreasing);
		assert_ok!(register(ALICE, hashes[1], "relu", 2));
		assert_ok!(register(ALICE, hashes[2], "relu", 5));
		assert_noop!(register(ALICE, hashes[3], "relu", 6), Error::<Test>::TooManyVersions);
		// Another name starts its own list.
		assert_ok!(register(ALICE, hashes[3], "relu-large", 1));
		assert_eq!(
			Versions::<Test>::get(ALICE, name("relu")).to_vec(),
			vec![(1, hashes[0]), (2, hashes[1]), (5, hashes[2])]
		);
	});
}

#[test]
fn abort_upload_deletes_chunks_and_releases_the_deposit() {
	run_test(|| {
		let bytes = relu(600);
		let hash = upload(ALICE, &bytes);
		assert_noop!(Models::abort_upload(RuntimeOrigin::signed(BOB), hash), Error::<Test>::UnknownUpload);
		assert_ok!(Models::abort_upload(RuntimeOrigin::signed(ALICE), hash));
		assert!(Uploads::<Test>::get(ALICE, hash).is_none());
		assert_eq!(UploadChunks::<Test>::iter_prefix((ALICE, hash)).count(), 0);
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT);
		System::assert_last_event(
			Event::UploadAborted { model_hash: hash, uploader: ALICE, deposit: 100 + bytes.len() as u64 }.into(),
		);
		assert_noop!(Models::abort_upload(RuntimeOrigin::signed(ALICE), hash), Error::<Test>::UnknownUpload);
	});
}

#[test]
fn owners_price_deprecate_and_remove_their_models() {
	run_test(|| {
		let bytes = relu(0);
		let hash = upload(ALICE, &bytes);
		assert_ok!(register(ALICE, hash, "relu", 1));

		assert_noop!(Models::set_price(RuntimeOrigin::signed(BOB), hash, 9), Error::<Test>::NotOwner);
		assert_ok!(Models::set_price(RuntimeOrigin::signed(ALICE), hash, 9));
		assert_eq!(Models::model(&hash).unwrap().price_per_inference, 9);
		System::assert_last_event(Event::PriceChanged { model_hash: hash, price_per_inference: 9 }.into());

		assert_noop!(Models::deprecate_model(RuntimeOrigin::signed(BOB), hash), Error::<Test>::NotOwner);
		assert_ok!(Models::deprecate_model(RuntimeOrigin::signed(ALICE), hash));
		assert_eq!(Models::model(&hash).unwrap().status, ModelStatus::Deprecated);
		assert_noop!(Models::deprecate_model(RuntimeOrigin::signed(ALICE), hash), Error::<Test>::AlreadyDeprecated);

		set_in_use(hash, true);
		assert_noop!(Models::remove_model(RuntimeOrigin::signed(ALICE), hash), Error::<Test>::ModelInUse);
		set_in_use(hash, false);
		assert_noop!(Models::remove_model(RuntimeOrigin::signed(BOB), hash), Error::<Test>::NotOwner);
		assert_ok!(Models::remove_model(RuntimeOrigin::signed(ALICE), hash));
		assert!(Models::model(&hash).is_none());
		assert!(ModelCode::<Test>::get(hash).is_none());
		assert!(!Versions::<Test>::contains_key(ALICE, name("relu")));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), ENDOWMENT);
		System::assert_last_event(
			Event::ModelRemoved { model_hash: hash, owner: ALICE, deposit: 100 + bytes.len() as u64 }.into(),
		);
		for call in [
			Models::set_price(RuntimeOrigin::signed(ALICE), hash, 1),
			Models::deprecate_model(RuntimeOrigin::signed(ALICE), hash),
			Models::remove_model(RuntimeOrigin::signed(ALICE), hash),
		] {
			assert_eq!(call, Err(Error::<Test>::UnknownModel.into()));
		}
	});
}

/// The engine guest this engine is built with, declaring engine version `version`, as the
/// chain stores it (compressed).
pub(crate) fn guest_declaring(version: u32) -> Vec<u8> {
	let wasm = veriml_engine::metering::declare_version(veriml_engine::GUEST_WASM, version).unwrap();
	sp_maybe_compressed_blob::compress_weakly(&wasm, veriml_inference_primitives::guest::MAX_GUEST_BYTES).unwrap()
}

pub(crate) fn at_block(n: u64) {
	use frame_support::traits::Hooks;
	System::set_block_number(n);
	Models::on_initialize(n);
}

#[test]
fn root_replaces_the_engine_guest_which_takes_over_after_the_delay_and_runs_from_state() {
	let mut ext = new_test_ext();
	ext.execute_with(|| {
		let current = crate::EngineGuest::<Test>::get();
		let code = guest_declaring(current.version + 1);
		let (next, _) = veriml_engine::identify_guest(&code).unwrap();
		assert_ne!(next.hash, current.hash);

		assert_noop!(
			Models::set_engine_guest(RuntimeOrigin::signed(ALICE), code.clone()),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			Models::set_engine_guest(RuntimeOrigin::root(), b"not a guest".to_vec()),
			Error::<Test>::NotAnEngineGuest
		);
		// A guest must raise the engine version: the same code under the current one is refused.
		assert_noop!(
			Models::set_engine_guest(RuntimeOrigin::root(), guest_declaring(current.version)),
			Error::<Test>::EngineVersionNotRaised
		);

		assert_ok!(Models::set_engine_guest(RuntimeOrigin::root(), code.clone()));
		let activates_at = 1 + ENGINE_GUEST_DELAY;
		System::assert_last_event(
			Event::EngineGuestScheduled { guest: next.hash, version: next.version, activates_at }.into(),
		);
		let key = veriml_inference_primitives::engine_guest_code_key(&next.hash);
		assert_eq!(frame_support::storage::unhashed::get_raw(&key), Some(code));
		assert_eq!(crate::PendingEngineGuest::<Test>::get(), Some((next, activates_at)));
		// Not twice the same version.
		assert_noop!(
			Models::set_engine_guest(RuntimeOrigin::root(), guest_declaring(next.version)),
			Error::<Test>::EngineVersionNotRaised
		);

		// Until its block the current guest checks and runs models.
		at_block(activates_at - 1);
		assert_eq!(crate::EngineGuest::<Test>::get(), current);
		at_block(activates_at);
		assert_eq!(crate::EngineGuest::<Test>::get(), next);
		assert_eq!(crate::ReplacedEngineGuest::<Test>::get(), Some(current));
		assert_eq!(crate::PendingEngineGuest::<Test>::get(), None);
		System::assert_last_event(
			Event::EngineGuestActivated { guest: next.hash, version: next.version, replaced: current.hash }.into(),
		);
	});

	// A node started after the switch, whose engine knows only the guest it was built with,
	// finds the new guest's bytes in state and runs it: a model registers and runs.
	let fresh = veriml_engine::Engine::default().with_compiled_cache(veriml_engine::CompiledCache::UserDefault);
	ext.register_extension(veriml_inference_interface::InferenceExt::new(std::sync::Arc::new(fresh)));
	ext.execute_with(|| {
		let hash = upload(ALICE, &relu(0));
		assert_ok!(register(ALICE, hash, "relu", 1));
		let input =
			veriml_inference_primitives::Tensor::from_f32(&[1, WIDTH], &[-1.0, 2.0, -0.0, 3.0, 0.5, -4.0, 0.0, 1.0]);
		let execution = Models::run(&hash, &inputs(), &[input], 1_000_000_000, None).expect("runs");
		assert_eq!(execution.outputs[0].to_f32().unwrap(), vec![0.0, 2.0, 0.0, 3.0, 0.5, 0.0, 0.0, 1.0]);
	});
}

#[test]
fn a_guest_scheduled_and_not_yet_active_is_replaced_by_a_later_one() {
	run_test(|| {
		let current = crate::EngineGuest::<Test>::get();
		let first = guest_declaring(current.version + 1);
		let second = guest_declaring(current.version + 2);
		let (first_guest, _) = veriml_engine::identify_guest(&first).unwrap();
		let (second_guest, _) = veriml_engine::identify_guest(&second).unwrap();
		assert_ok!(Models::set_engine_guest(RuntimeOrigin::root(), first));
		assert_ok!(Models::set_engine_guest(RuntimeOrigin::root(), second));
		// The first one's bytes are gone with it.
		let first_key = veriml_inference_primitives::engine_guest_code_key(&first_guest.hash);
		assert_eq!(frame_support::storage::unhashed::get_raw(&first_key), None);
		assert_eq!(crate::PendingEngineGuest::<Test>::get(), Some((second_guest, 1 + ENGINE_GUEST_DELAY)));
	});
}

/// The registry's invariants catch state that breaks them: a model whose bytes are lost, and
/// a deposit not all held.
#[test]
fn the_registrys_invariants_catch_broken_state() {
	run_test(|| {
		let hash = upload(ALICE, &relu(0));
		assert_ok!(register(ALICE, hash, "relu", 1));
		check_invariants();
		let code = ModelCode::<Test>::take(hash).unwrap();
		assert!(Models::do_try_state().is_err());
		ModelCode::<Test>::insert(hash, code);
		crate::Models::<Test>::mutate(hash, |model| model.as_mut().unwrap().deposit += 1);
		assert!(Models::do_try_state().is_err());
		crate::Models::<Test>::mutate(hash, |model| model.as_mut().unwrap().deposit -= 1);
	});
}

#[test]
fn nobody_blocks_bytes_someone_else_uploads() {
	run_test(|| {
		let bytes = relu(0);
		let hash = model_hash(&bytes);
		// Bob announces Alice's model first and never sends it: Alice's upload is her own.
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(BOB), hash, bytes.len() as u32));
		assert_eq!(upload(ALICE, &bytes), hash);
		assert_ok!(register(ALICE, hash, "relu", 1));
		assert_eq!(crate::Models::<Test>::get(hash).unwrap().owner, ALICE);
		// Bob's upload is still his, to abort (the model is registered now).
		assert!(Uploads::<Test>::contains_key(BOB, hash));
		assert_noop!(register(BOB, hash, "relu", 1), Error::<Test>::UploadIncomplete);
		assert_ok!(Models::abort_upload(RuntimeOrigin::signed(BOB), hash));
	});
}

#[test]
fn a_second_upload_of_registered_bytes_cannot_take_the_model_over() {
	run_test(|| {
		// Both begin before either registers (the check of `begin_upload` passes for both).
		let bytes = relu(0);
		let hash = model_hash(&bytes);
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(BOB), hash, bytes.len() as u32));
		assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(BOB), hash, 0, BoundedVec::truncate_from(bytes.clone())));
		assert_eq!(upload(ALICE, &bytes), hash);
		assert_ok!(register(ALICE, hash, "relu", 1));
		let alices = crate::Models::<Test>::get(hash).unwrap();
		// Bob's complete upload of the same bytes is refused, Alice's model and deposit stay
		// (it used to replace her record, leaving her deposit held for nothing).
		assert_noop!(register(BOB, hash, "relu", 1), Error::<Test>::ModelAlreadyRegistered);
		assert_eq!(crate::Models::<Test>::get(hash).unwrap(), alices);
		assert_ok!(Models::abort_upload(RuntimeOrigin::signed(BOB), hash));
		assert_eq!(held(BOB), 0);
	});
}
