//! Requests that take inputs uploaded to the chain, by hash.

use super::*;

/// `who` uploads `bytes` to the model registry in one chunk; returns their hash.
fn upload_from(who: AccountId, bytes: &[u8]) -> H256 {
	let hash = veriml_inference_primitives::model_hash(bytes);
	assert_ok!(Models::begin_upload(RuntimeOrigin::signed(who), hash, bytes.len() as u32));
	assert_ok!(Models::upload_chunk(RuntimeOrigin::signed(who), hash, 0, BoundedVec::truncate_from(bytes.to_vec())));
	hash
}

fn upload_deposit(who: AccountId) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::Models(pallet_model_registry::HoldReason::ModelStorage), &who)
}

#[test]
fn uploaded_inputs_are_taken_by_hash_and_the_request_completes() {
	run_test(|| {
		let node = account(10);
		register_node(node);
		let alice_before = Balances::balance(&alice());
		let hash = upload_from(alice(), &codec::Encode::encode(&sample_input()));
		assert!(upload_deposit(alice()) > 0);

		let id = crate::NextRequestId::<Test>::get();
		assert_ok!(Inference::request_uploaded(RuntimeOrigin::signed(alice()), relu_hash(), hash, 1_000));
		end_block();
		// The upload became the request's inputs: its chunks are gone, its deposit released.
		assert_eq!(Inputs::<Test>::get(id), Some(sample_input()));
		assert_eq!(Requests::<Test>::get(id).unwrap().input_hash, input_hash(&sample_input()));
		assert!(!pallet_model_registry::Uploads::<Test>::contains_key(alice(), hash));
		assert_eq!(pallet_model_registry::UploadChunks::<Test>::iter_prefix((alice(), hash)).count(), 0);
		assert_eq!(upload_deposit(alice()), 0);
		System::assert_has_event(
			pallet_model_registry::Event::UploadTaken {
				content_hash: hash,
				uploader: alice(),
				deposit: upload_deposit_for(&sample_input()),
			}
			.into(),
		);
		assert_eq!(escrowed(alice()), relu_fee().total());
		// Verifying it reserves weight for reading and hashing the inputs, besides the fuel.
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.input_bytes as usize, codec::Encode::encode(&sample_input()).len());
		let fuel_only = <Test as crate::Config>::Models::fuel_weight(request.fuel_limit);
		assert!(Inference::verification_weight(id, Weight::zero()).ref_time() > fuel_only.ref_time());

		submit_honest_result(node, id);
		assert!(!Requests::<Test>::contains_key(id));
		assert_eq!(Balances::balance(&alice()), alice_before - relu_fee().total());
	});
}

fn upload_deposit_for(inputs: &[Tensor]) -> u64 {
	Models::deposit_for(codec::Encode::encode(&inputs.to_vec()).len() as u32)
}

#[test]
fn bad_uploaded_inputs_are_refused_and_the_upload_is_kept() {
	run_test(|| {
		register_node(account(10));
		let request =
			|who: AccountId, hash| Inference::request_uploaded(RuntimeOrigin::signed(who), relu_hash(), hash, 1_000);

		// Nothing uploaded under this hash.
		assert_noop!(request(alice(), H256::repeat_byte(3)), pallet_model_registry::Error::<Test>::UnknownUpload);
		// Someone else's upload.
		let alices = upload_from(alice(), &codec::Encode::encode(&sample_input()));
		assert_noop!(request(bob(), alices), pallet_model_registry::Error::<Test>::UnknownUpload);
		// Chunks missing.
		let incomplete = H256::repeat_byte(4);
		assert_ok!(Models::begin_upload(RuntimeOrigin::signed(alice()), incomplete, 100));
		assert_noop!(request(alice(), incomplete), pallet_model_registry::Error::<Test>::UploadIncomplete);
		// Not tensors.
		let garbage = upload_from(alice(), &[0xff; 40]);
		assert_noop!(request(alice(), garbage), Error::<Test>::UndecodableInputs);
		// Tensors the model does not take.
		let wrong_shape = upload_from(alice(), &codec::Encode::encode(&vec![Tensor::from_f32(&[WIDTH, 1], &[1.0; 8])]));
		assert_noop!(request(alice(), wrong_shape), Error::<Test>::InputDoesNotMatchModel);
		// Larger than MaxUploadedInputBytes (16 KiB in the mock).
		let huge = upload_from(alice(), &codec::Encode::encode(&vec![Tensor::from_f32(&[1, 5000], &[1.0; 5000])]));
		assert_noop!(request(alice(), huge), pallet_model_registry::Error::<Test>::UploadTooLarge);
		// A fee above the maximum.
		assert_noop!(
			Inference::request_uploaded(RuntimeOrigin::signed(alice()), relu_hash(), alices, relu_fee().total() - 1),
			Error::<Test>::FeeAboveMax
		);

		// Every refused upload is still there, deposit held, ready for a corrected request.
		for hash in [alices, garbage, wrong_shape, huge] {
			assert!(pallet_model_registry::Uploads::<Test>::contains_key(alice(), hash));
		}
		assert_eq!(crate::NextRequestId::<Test>::get(), 0);
		assert_eq!(escrowed(alice()), 0);
		assert_ok!(request(alice(), alices));
	});
}
