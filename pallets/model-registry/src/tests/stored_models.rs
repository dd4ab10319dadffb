//! Models registered from the content store: read by the engine from the node's chunks,
//! checked against the hashes the state holds, refused or unavailable when they are not there.

use super::{held, inputs, name, relu, upload, WIDTH};
use crate::{
	mock::*, Error, Event, ModelCode, PinnedContent, StoredModelContent, StoredModelRoots, StoredModels, Verification,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::{Contains, Get},
};
use veriml_inference_primitives::{model_hash, EngineError, Tensor};
use veriml_primitives::{content::ContentRoot, models::ModelCatalog};

/// A Relu padded past what a state upload takes (`MaxModelBytes`, 64 KiB): 49 chunks.
fn large_relu() -> Vec<u8> {
	let bytes = relu(200_000);
	assert!(bytes.len() as u32 > MaxModelBytes::get());
	bytes
}

fn register_stored(
	who: u64,
	root: ContentRoot,
	model_name: &str,
) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Models::register_stored_model(RuntimeOrigin::signed(who), root, name(model_name), 1, inputs(), 7)
}

fn input() -> Tensor {
	Tensor::from_f32(&[1, WIDTH], &[-1.0, 2.0, -0.0, 3.0, 0.5, -4.0, 0.0, 1.0])
}

fn run(model: &veriml_inference_primitives::ModelHash) -> Result<Vec<f32>, EngineError> {
	Models::run(model, &inputs(), &[input()], 1_000_000_000, None)
		.map(|execution| execution.outputs[0].to_f32().unwrap())
}

#[test]
fn a_model_larger_than_a_state_upload_is_registered_from_the_content_store_and_runs() {
	run_test(|| {
		let bytes = large_relu();
		let (root, hashes) = store_content(ALICE, &bytes);
		assert!(hashes.len() > 1);
		let balance = Balances::free_balance(ALICE);

		assert_ok!(register_stored(ALICE, root, "relu-large"));

		// The model's hash is its bytes' blake2-256, as for a model in state; the bytes stay
		// in the store, only the deposit per model is held.
		let hash = model_hash(&bytes);
		let model = Models::model(&hash).expect("registered");
		assert_eq!((model.owner, model.byte_len, model.deposit), (ALICE, bytes.len() as u32, 100));
		assert!(model.fuel_per_run > 0 && model.fuel_to_prepare > 0);
		assert_eq!(StoredModels::<Test>::get(hash), Some(root));
		assert_eq!(StoredModelRoots::<Test>::get(root), Some(hash));
		assert!(!ModelCode::<Test>::contains_key(hash));
		assert_eq!(held(ALICE), 100);
		assert_eq!(Balances::free_balance(ALICE), balance - 100);
		System::assert_last_event(
			Event::ModelRegistered {
				model_hash: hash,
				owner: ALICE,
				name: name("relu-large"),
				version: 1,
				byte_len: bytes.len() as u32,
				fuel_per_run: model.fuel_per_run,
				verification: Verification::InBlock,
				content_root: Some(root),
			}
			.into(),
		);
		// The store may not remove the item while the model is registered.
		assert!(StoredModelContent::<Test>::contains(&root));
		let terms = <Models as ModelCatalog<_, _>>::terms(&hash).unwrap();
		assert!(terms.in_content_store && terms.active);
		// Preparing it is weighed by the content store's rate, not by the state's.
		assert_eq!(
			<Models as ModelCatalog<_, _>>::preparation_weight(&terms),
			Models::content_load_weight(bytes.len() as u32)
				.saturating_add(
					<<Test as frame_system::Config>::DbWeight as Get<frame_support::weights::RuntimeDbWeight>>::get()
						.reads(1)
				)
				.saturating_add(Models::fuel_weight(model.fuel_to_prepare))
		);

		// The engine runs it from the node's chunks.
		assert_eq!(run(&hash), Ok(vec![0.0, 2.0, 0.0, 3.0, 0.5, 0.0, 0.0, 1.0]));
	});
}

#[test]
fn registering_from_the_content_store_refuses_and_keeps_everything_unchanged() {
	run_test(|| {
		let bytes = large_relu();
		let (root, _) = store_content(ALICE, &bytes);

		// No such item.
		assert_noop!(register_stored(ALICE, ContentRoot::repeat_byte(7), "x"), Error::<Test>::UnknownContent);
		// Completed in this very block: no node has its chunks in its database before it has
		// imported the block (the author would abort its own block).
		let (fresh, _) = store_content_at(ALICE, &relu(120_000), System::block_number());
		assert_noop!(register_stored(ALICE, fresh, "x"), Error::<Test>::ContentJustStored);
		// Someone else's item: its owner alone decides that it stays for a model.
		assert_noop!(register_stored(BOB, root, "x"), Error::<Test>::NotContentOwner);
		// Too large for the engine's rate in a block.
		let (huge, _) = store_content(ALICE, &vec![0u8; MaxStoredModelBytes::get() as usize + 1]);
		assert_noop!(register_stored(ALICE, huge, "x"), Error::<Test>::InvalidModelLength);
		// Not a model: the engine's verdict, as for bytes in state.
		let (junk, _) = store_content(ALICE, &[0xffu8; 9000]);
		assert_noop!(register_stored(ALICE, junk, "x"), Error::<Test>::MalformedModel);
		// No deposit.
		let (poors, _) = store_content(POOR, &relu(100_000));
		assert_noop!(register_stored(POOR, poors, "x"), Error::<Test>::InsufficientDeposit);

		assert_ok!(register_stored(ALICE, root, "relu-large"));
		// Once registered, the item is taken, and so are the bytes, from anywhere.
		assert_noop!(register_stored(ALICE, root, "again"), Error::<Test>::ModelAlreadyRegistered);
		let hash = upload(ALICE, &relu(0));
		assert_ok!(super::register(ALICE, hash, "small", 1));
		let (small, _) = store_content(ALICE, &relu(0));
		assert_noop!(register_stored(ALICE, small, "x"), Error::<Test>::ModelAlreadyRegistered);
		// Versions still increase under a name.
		let (other, _) = store_content(ALICE, &relu(150_000));
		assert_noop!(register_stored(ALICE, other, "relu-large"), Error::<Test>::VersionNotIncreasing);
	});
}

#[test]
#[should_panic(expected = "local failure on this node: this node does not keep every chunk")]
fn a_node_without_a_chunk_aborts_the_registration_instead_of_judging_the_model() {
	new_test_ext().execute_with(|| {
		let (root, hashes) = store_content(ALICE, &large_relu());
		// What this node keeps is not consensus: another node holds the chunk and would
		// register the model, so this node must not refuse it.
		lose_chunk(hashes[3], None);
		let _ = register_stored(ALICE, root, "relu-large");
	});
}

#[test]
#[should_panic(expected = "local failure on this node: this node does not keep every chunk")]
fn a_node_keeping_other_bytes_under_a_chunk_hash_aborts_the_run() {
	let bytes = large_relu();
	let mut ext = new_test_ext();
	let hashes = ext.execute_with(|| {
		let (root, hashes) = store_content(ALICE, &bytes);
		assert_ok!(register_stored(ALICE, root, "relu-large"));
		hashes
	});
	// A fresh engine (a restarted node) prepares the model again from the chunks; one is
	// corrupt on this node.
	ext.register_extension(veriml_inference_interface::InferenceExt::new(std::sync::Arc::new(
		veriml_engine::Engine::default(),
	)));
	lose_chunk(hashes[0], Some(vec![0u8; CONTENT_CHUNK]));
	ext.execute_with(|| {
		let _ = run(&model_hash(&bytes));
	});
}

#[test]
fn a_model_whose_item_left_the_store_is_unavailable_everywhere() {
	run_test(|| {
		let bytes = large_relu();
		let hash = model_hash(&bytes);
		let (root, _) = store_content(ALICE, &bytes);
		assert_ok!(register_stored(ALICE, root, "relu-large"));
		assert!(run(&hash).is_ok());

		// Its retention ended: the engine that prepared it still refuses it, as a node that
		// never did would; it takes no requests.
		expire_content(root);
		assert_eq!(run(&hash), Err(EngineError::ModelUnavailable));
		assert!(!<Models as ModelCatalog<_, _>>::terms(&hash).unwrap().active);
		assert!(!crate::ActiveModels::<Test>::contains(&hash));

		// Anyone may remove it now (its bytes cannot come back under it unless stored again,
		// and nobody else could register them meanwhile); the deposit goes back to its owner.
		assert_ok!(Models::remove_model(RuntimeOrigin::signed(BOB), hash));
		assert_eq!(held(ALICE), 0);
		assert!(StoredModels::<Test>::get(hash).is_none() && StoredModelRoots::<Test>::get(root).is_none());
		System::assert_last_event(Event::ModelRemoved { model_hash: hash, owner: ALICE, deposit: 100 }.into());
		// So the bytes can be registered again, from a new item.
		let (again, _) = store_content(BOB, &bytes);
		assert_ok!(register_stored(BOB, again, "relu-large"));
	});
}

#[test]
fn removing_a_stored_model_frees_its_item() {
	run_test(|| {
		let bytes = large_relu();
		let hash = model_hash(&bytes);
		let (root, _) = store_content(ALICE, &bytes);
		assert_ok!(register_stored(ALICE, root, "relu-large"));
		// Only its owner removes a model whose bytes are there.
		assert_noop!(Models::remove_model(RuntimeOrigin::signed(BOB), hash), Error::<Test>::NotOwner);
		// Open requests: the model stays, and its item's retention is held over.
		assert!(!PinnedContent::<Test>::contains(&root));
		set_in_use(hash, true);
		assert!(PinnedContent::<Test>::contains(&root));
		assert_noop!(Models::remove_model(RuntimeOrigin::signed(ALICE), hash), Error::<Test>::ModelInUse);
		set_in_use(hash, false);
		assert!(!PinnedContent::<Test>::contains(&root));

		assert_ok!(Models::remove_model(RuntimeOrigin::signed(ALICE), hash));
		assert!(!StoredModelContent::<Test>::contains(&root));
		assert!(Models::model(&hash).is_none());
		assert_eq!(held(ALICE), 0);
		// And it may be registered again, by its owner.
		assert_ok!(Models::register_stored_model(
			RuntimeOrigin::signed(ALICE),
			root,
			name("relu-large"),
			2,
			inputs(),
			7
		));
	});
}

#[test]
fn nodes_read_the_chunks_of_every_available_stored_model() {
	run_test(|| {
		// A model in state and a stored one registered, a third item stored but not a model.
		let in_state = upload(ALICE, &relu(0));
		assert_ok!(crate::tests::register(ALICE, in_state, "relu", 1));
		let bytes = large_relu();
		let hash = model_hash(&bytes);
		let (root, chunks) = store_content(ALICE, &bytes);
		assert_ok!(register_stored(ALICE, root, "relu-large"));
		store_content(BOB, &relu(70_000));
		assert_eq!(Models::stored_models(), vec![crate::StoredModelChunks { model: hash, root, chunks }]);

		// Its item's retention ended: no node needs its chunks any more.
		expire_content(root);
		assert_eq!(Models::stored_models(), vec![]);
	});
}

#[test]
fn a_stored_models_registration_fits_one_transaction_whatever_its_size() {
	run_test(|| {
		// The engine gets what loading the bytes leaves of a transaction, at most
		// RegistrationFuelLimit for each of the preparation and the trial run; the call's
		// weight before it runs is the most any size takes.
		let largest = MaxStoredModelBytes::get();
		let max_extrinsic = Models::max_extrinsic_weight();
		let mut last = u64::MAX;
		for byte_len in [1, 64 * 1024, largest / 2, largest, u32::MAX] {
			let limit = Models::stored_registration_fuel_limit(byte_len);
			assert!(limit <= RegistrationFuelLimit::get() && limit <= last, "{byte_len}: {limit}");
			last = limit;
			if byte_len <= largest {
				let worst = Models::stored_registration_weight(byte_len).saturating_add(Models::fuel_weight(2 * limit));
				assert!(worst.all_lte(max_extrinsic), "{byte_len}: {worst} of {max_extrinsic}");
				assert!(worst.all_lte(Models::max_stored_registration_weight()), "{byte_len}");
			}
		}
		// Bytes that would take a transaction just to load (never stored as a model:
		// MaxStoredModelBytes) leave no fuel at all.
		assert_eq!(Models::stored_registration_fuel_limit(u32::MAX), 0);
	});
}
