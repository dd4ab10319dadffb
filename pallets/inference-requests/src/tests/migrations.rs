//! The requests pallet's storage migrations turn a chain's state of the version before into
//! this one's, once.

use super::*;
use crate::migrations::v1::{Migration, V0Request};
use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};

/// `request` as storage version 0 kept it, of `model`.
fn as_v0(request: &crate::RequestOf<Test>, model: H256) -> V0Request<Test> {
	V0Request::<Test> {
		requester: request.requester,
		model,
		input_hash: request.input_hash,
		input_bytes: request.input_bytes,
		fee: request.fee,
		fuel_limit: request.fuel_limit,
		verification: request.verification,
		status: request.status,
		assigned: request.assigned.clone(),
		refuted: request.refuted.clone(),
		created_at: request.created_at,
		deadline: request.deadline,
	}
}

#[test]
fn open_requests_take_their_models_fuel_to_prepare_once() {
	run_test(|| {
		register_node(account(10));
		let assigned = request_from(alice(), sample_input());
		let measured = pallet_model_registry::Models::<Test>::get(relu_hash()).unwrap().fuel_to_prepare;
		// Storage version 0: requests without their figure, one of them of a model the registry
		// does not know (none can be: an open request's model stays registered).
		let before = Requests::<Test>::get(assigned).unwrap();
		let key = |id: u64| Requests::<Test>::hashed_key_for(id);
		frame_support::storage::unhashed::put(&key(assigned), &as_v0(&before, relu_hash()));
		frame_support::storage::unhashed::put(&key(7), &as_v0(&before, H256::repeat_byte(9)));
		StorageVersion::new(0).put::<Inference>();

		Migration::<Test>::on_runtime_upgrade();

		assert_eq!(
			Requests::<Test>::get(assigned),
			Some(crate::Request { fuel_to_prepare: measured, ..before.clone() })
		);
		assert_eq!(Requests::<Test>::get(7).unwrap().fuel_to_prepare, 0, "a run of it prepares nothing unweighed");
		assert_eq!(Inference::on_chain_storage_version(), StorageVersion::new(1));

		// Once: measured again later, an open request keeps what it took.
		pallet_model_registry::Models::<Test>::mutate(relu_hash(), |record| {
			record.as_mut().unwrap().fuel_to_prepare = measured * 2
		});
		Migration::<Test>::on_runtime_upgrade();
		assert_eq!(Requests::<Test>::get(assigned).unwrap().fuel_to_prepare, measured);
		Requests::<Test>::remove(7);
	});
}

#[test]
fn a_request_of_a_model_a_replaced_guest_measured_takes_the_most_fuel_to_prepare_a_transaction_verifies() {
	run_test(|| {
		register_node(account(10));
		let id = request_from(alice(), sample_input());
		let measured = pallet_model_registry::Models::<Test>::get(relu_hash()).unwrap().fuel_to_prepare;
		// The chain's guest prepares the model for twice the figure the replaced one measured.
		let version = pallet_model_registry::EngineGuest::<Test>::get().version;
		pallet_model_registry::Models::<Test>::mutate(relu_hash(), |record| {
			let record = record.as_mut().unwrap();
			record.fuel_to_prepare = measured / 2;
			record.measured_with = version - 1;
		});
		let request = Requests::<Test>::get(id).unwrap();
		let v0 = as_v0(&request, request.model);
		frame_support::storage::unhashed::put(&Requests::<Test>::hashed_key_for(id), &v0);
		StorageVersion::new(0).put::<Inference>();

		Migration::<Test>::on_runtime_upgrade();

		// Its runs were prepared within the engine's cap alone: the answer its node computed
		// before the upgrade is judged alike after it, within a figure that the request's
		// verification still fits, and no more.
		let taken = Requests::<Test>::get(id).unwrap().fuel_to_prepare;
		assert!(taken >= measured, "{taken} within the {measured} preparing takes");
		let terms = <Models as veriml_primitives::models::ModelCatalog<_, _>>::terms(&relu_hash()).unwrap();
		let verifiable = |fuel_to_prepare| {
			Inference::verifiable(
				&crate::impls::TermsOf::<Test> { fuel_to_prepare, ..terms.clone() },
				request.input_bytes,
				request.fuel_limit,
			)
		};
		assert!(verifiable(taken) && !verifiable(taken + 1));
		let declared = Inference::verification_weight(id, Inference::submit_result_base());
		let outputs = sample_output();
		let answered = Inference::submit_result(
			RuntimeOrigin::signed(account(10)),
			id,
			outputs.clone(),
			result_hash(ENGINE_VERSION, &relu_hash(), &input_hash(&sample_input()), &outputs),
		)
		.unwrap();
		assert!(answered.actual_weight.unwrap().all_lte(declared));
		assert!(Receipts::<Test>::contains_key(id));
	});
}
