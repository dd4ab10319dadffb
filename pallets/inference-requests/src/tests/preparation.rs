//! A request's runs prepare its model within the fuel to prepare the registry measured when the
//! request was made, on every node, and verifying one is charged that figure: measuring the
//! model again (after an engine guest switch) changes neither for an open request.

use super::*;
use pallet_model_registry::Models as ModelRecords;

fn measured_fuel_to_prepare() -> u64 {
	ModelRecords::<Test>::get(relu_hash()).unwrap().fuel_to_prepare
}

/// The Relu's record as a replaced guest measured it: `fuel_to_prepare`, with an engine version
/// below the chain's guest's.
fn measured_by_a_replaced_guest(fuel_to_prepare: u64) {
	let version = pallet_model_registry::EngineGuest::<Test>::get().version;
	ModelRecords::<Test>::mutate(relu_hash(), |record| {
		let record = record.as_mut().unwrap();
		record.fuel_to_prepare = fuel_to_prepare;
		record.measured_with = version - 1;
	});
}

/// The answers `node`'s off-chain worker sends for its assignments.
fn workers_answers(node: AccountId, sent: &impl Fn() -> Vec<Extrinsic>) -> Vec<crate::Call<Test>> {
	<Inference as Hooks<u64>>::offchain_worker(System::block_number());
	sent()
		.into_iter()
		.map(|xt| {
			assert!(matches!(&xt.preamble, sp_runtime::generic::Preamble::Signed(who, _, ()) if *who == node));
			let RuntimeCall::Inference(call) = xt.function else { panic!("not an inference call") };
			call
		})
		.collect()
}

fn job(id: u64, executor: AccountId) -> veriml_primitives::verification::Job<u64, AccountId> {
	<Inference as veriml_primitives::verification::VerifiedJobs<_, _, _>>::job(id, &executor).unwrap()
}

#[test]
fn an_open_requests_verification_keeps_the_figure_it_was_opened_with() {
	run_test(|| {
		register_node(account(10));
		let id = request_from(alice(), sample_input());
		let measured = measured_fuel_to_prepare();
		assert_eq!(Requests::<Test>::get(id).unwrap().fuel_to_prepare, measured);
		let declared = Inference::verification_weight(id, Inference::submit_result_base());
		assert_eq!(job(id, account(10)).preparation_limit, Some(measured), "its runs prepare within it");

		// Measured again with a guest that prepares it for far more fuel than a transaction
		// could re-execute: new requests are refused, the open one is weighed as it was taken.
		let max = <<Test as crate::Config>::MaxVerificationFuel as frame_support::traits::Get<u64>>::get();
		ModelRecords::<Test>::mutate(relu_hash(), |record| record.as_mut().unwrap().fuel_to_prepare = max * 100);
		assert_noop!(
			Inference::request(RuntimeOrigin::signed(bob()), relu_hash(), sample_input(), 1_000),
			Error::<Test>::ModelTooCostlyToVerify
		);
		assert_eq!(Inference::verification_weight(id, Inference::submit_result_base()), declared);
		assert!(declared.all_lte(Inference::max_call_weight()), "its answer still fits a transaction");
		assert_eq!(job(id, account(10)).preparation_limit, Some(measured));

		// The chain's guest prepares it within the request's figure: the answer is taken, and
		// charged no more than declared.
		let outputs = sample_output();
		let taken = Inference::submit_result(
			RuntimeOrigin::signed(account(10)),
			id,
			outputs.clone(),
			honest_hash(&sample_input(), &outputs),
		)
		.unwrap();
		assert!(taken.actual_weight.unwrap().all_lte(declared));
		System::assert_has_event(
			Event::Completed {
				request: id,
				node: account(10),
				result_hash: honest_hash(&sample_input(), &outputs),
				fee: relu_fee(),
			}
			.into(),
		);
	});
}

#[test]
fn a_guest_dearer_to_prepare_than_the_figure_fails_the_run_on_every_node_until_the_model_is_measured_again() {
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	ext.execute_with(|| {
		let node: AccountId = key;
		register_node(node);
		let measured = measured_fuel_to_prepare();
		// The chain switched to a guest that prepares the model for twice the fuel the
		// replaced one measured: its figure is stale.
		measured_by_a_replaced_guest(measured / 2);
		let first = request_from(alice(), sample_input());
		let second = request_from(bob(), sample_input());
		assert_eq!(Requests::<Test>::get(first).unwrap().fuel_to_prepare, measured / 2);

		// The assigned node's engine stops preparing at each request's figure, and reports it:
		// preparing beyond it would take longer than verifying the answer is charged.
		let mut reports: Vec<_> = workers_answers(node, &sent_transactions)
			.into_iter()
			.map(|call| match call {
				crate::Call::report_failure { request, error } => (request, error),
				other => panic!("not a failure report: {other:?}"),
			})
			.collect();
		reports.sort_by_key(|(request, _)| *request);
		assert_eq!(reports, [(first, EngineError::FuelExhausted), (second, EngineError::FuelExhausted)]);

		// Both reports are re-executed in one block, each preparing the model anew (a failed
		// preparation leaves nothing prepared): each is charged the whole preparation.
		let preparation = Inference::preparation_weight(&crate::impls::TermsOf::<Test> {
			fuel_to_prepare: measured / 2,
			..<Models as veriml_primitives::models::ModelCatalog<_, _>>::terms(&relu_hash()).unwrap()
		});
		let bond = bond_of(node);
		for id in [first, second] {
			let declared = Inference::verification_weight(
				id,
				<() as crate::WeightInfo>::report_failure().saturating_add(Inference::unbenchmarked_weight()),
			);
			let reported =
				Inference::report_failure(RuntimeOrigin::signed(node), id, EngineError::FuelExhausted).unwrap();
			let charged = reported.actual_weight.unwrap();
			assert!(charged.all_lte(declared));
			assert!(charged.ref_time() >= preparation.ref_time(), "{charged:?} charges {preparation:?}");
			System::assert_has_event(Event::Failed { request: id, node, error: EngineError::FuelExhausted }.into());
		}
		assert_eq!(bond_of(node), bond, "the honest node is not struck");
		assert!(crate::PreparedInBlock::<Test>::get().is_empty(), "a stale figure is never taken as prepared");

		// Measured again with the chain's guest, the model takes requests its runs complete.
		assert_ok!(Models::remeasure_model(RuntimeOrigin::signed(bob()), relu_hash()));
		assert_eq!(measured_fuel_to_prepare(), measured);
		end_block();
		System::set_block_number(System::block_number() + 1);
		let third = request_from(alice(), sample_input());
		assert_eq!(Requests::<Test>::get(third).unwrap().fuel_to_prepare, measured);
		let answers = workers_answers(node, &sent_transactions);
		let [crate::Call::submit_result { request, outputs, result_hash }] = &answers[..] else {
			panic!("not one result: {answers:?}")
		};
		let (request, outputs, result_hash) = (*request, outputs.clone(), *result_hash);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), request, outputs, result_hash));
		assert!(Receipts::<Test>::contains_key(third));
		check_invariants();
	});
}
