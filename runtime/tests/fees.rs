//! The runtime's transaction checks charge nodes' valid answers nothing: a node's key with
//! the existential deposit alone can answer its assignment, while the same key cannot pay for
//! any other transaction (pallet-skip-feeless-payment around the fee, reading the calls'
//! `feeless_if`).

use frame_support::{
	dispatch::GetDispatchInfo,
	pallet_prelude::{InvalidTransaction, TransactionSource, TransactionValidityError},
	traits::fungible::Mutate,
	BoundedVec,
};
use pallet_inference_requests::{Fee, Request, RequestStatus, Requests};
use pallet_model_registry::{ModelRecord, ModelStatus};
use sp_runtime::{
	generic::Era,
	traits::{DispatchTransaction, TransactionExtension},
};
use veriml_inference_primitives::{EngineError, Tensor, H256};
use veriml_primitives::models::Verification;
use veriml_runtime::{AccountId, Balances, Runtime, RuntimeCall, RuntimeOrigin, TxExtension, EXISTENTIAL_DEPOSIT};

/// The extensions a wallet (or a node's off-chain worker) sends with nonce 0.
fn extension() -> TxExtension {
	(
		frame_system::AuthorizeCall::<Runtime>::new(),
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(0),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_skip_feeless_payment::SkipCheckIfFeeless::from(pallet_transaction_payment::ChargeTransactionPayment::<
			Runtime,
		>::from(0)),
		frame_system::WeightReclaim::<Runtime>::new(),
	)
}

/// Whether `who` may send `call`, as the transaction pool asks.
fn validate(who: &AccountId, call: RuntimeCall) -> Result<(), TransactionValidityError> {
	let info = call.get_dispatch_info();
	extension()
		.validate_only(RuntimeOrigin::signed(who.clone()), &call, &info, 200, TransactionSource::External, 0)
		.map(|_| ())
}

#[test]
fn a_node_key_with_the_existential_deposit_answers_its_assignment_and_pays_for_nothing_else() {
	sp_io::TestExternalities::default().execute_with(|| {
		frame_system::Pallet::<Runtime>::set_block_number(1);
		// The genesis hash, which immortal transactions name.
		frame_system::BlockHash::<Runtime>::insert(0, H256::repeat_byte(0xaa));
		let (node, requester, owner) = (AccountId::new([7; 32]), AccountId::new([8; 32]), AccountId::new([9; 32]));
		Balances::mint_into(&node, EXISTENTIAL_DEPOSIT).unwrap();
		let model = H256::repeat_byte(1);
		let spec =
			veriml_inference_primitives::TensorSpec::new(veriml_inference_primitives::DType::F32, &[1, 2]).unwrap();
		pallet_model_registry::Models::<Runtime>::insert(
			model,
			ModelRecord {
				owner: owner.clone(),
				name: BoundedVec::truncate_from(b"m".to_vec()),
				version: 1,
				inputs: BoundedVec::truncate_from(vec![spec.clone()]),
				outputs: BoundedVec::truncate_from(vec![spec]),
				price_per_inference: 0,
				byte_len: 100,
				node_count: 1,
				fuel_per_run: 1_000,
				fuel_to_prepare: 1_000,
				verification: Verification::InBlock,
				status: ModelStatus::Active,
				deposit: 0,
				registered_at: 1,
				measured_with: 1,
			},
		);
		let request = |assigned: Vec<AccountId>| Request {
			requester: requester.clone(),
			model,
			input_hash: H256::repeat_byte(2),
			input_bytes: 20,
			fee: Fee { model_price: 0, execution: 0, protocol: 0 },
			fuel_limit: 1_000,
			verification: Verification::InBlock,
			status: RequestStatus::Assigned,
			assigned: BoundedVec::truncate_from(assigned),
			refuted: BoundedVec::new(),
			created_at: 1,
			deadline: 20,
			fuel_to_prepare: 1_000,
		};
		// An active inference node of some operator (its bond is not what this test is about).
		pallet_bonded_nodes::Nodes::<Runtime, pallet_bonded_nodes::Instance1>::insert(
			&node,
			pallet_bonded_nodes::NodeRecord {
				operator: owner.clone(),
				bond: 0,
				services: BoundedVec::truncate_from(vec![model]),
				status: pallet_bonded_nodes::NodeStatus::Active,
				strikes: 0,
				slash_count: 0,
				since: 1,
			},
		);
		Requests::<Runtime>::insert(0, request(vec![node.clone()]));
		Requests::<Runtime>::insert(1, request(vec![owner.clone()]));
		let outputs = vec![Tensor::from_f32(&[1, 2], &[1.0, 2.0])];
		let answer = |id| {
			RuntimeCall::Inference(pallet_inference_requests::Call::submit_result {
				request: id,
				outputs: outputs.clone(),
				result_hash: H256::repeat_byte(3),
			})
		};
		let report = |id| {
			RuntimeCall::Inference(pallet_inference_requests::Call::report_failure {
				request: id,
				error: EngineError::FuelExhausted,
			})
		};

		// Its assignment: free, though its balance is far below the verification's fee.
		assert!(
			pallet_transaction_payment::Pallet::<Runtime>::compute_fee(200, &answer(0).get_dispatch_info(), 0)
				> EXISTENTIAL_DEPOSIT
		);
		assert_eq!(validate(&node, answer(0)), Ok(()));
		assert_eq!(validate(&node, report(0)), Ok(()));

		// Someone else's assignment, or anything else: the fee applies, and it cannot pay.
		let payment = Err(TransactionValidityError::Invalid(InvalidTransaction::Payment));
		assert_eq!(validate(&node, answer(1)), payment);
		assert_eq!(validate(&node, report(1)), payment);
		let transfer =
			RuntimeCall::Balances(pallet_balances::Call::transfer_allow_death { dest: owner.clone().into(), value: 1 });
		assert_eq!(validate(&node, transfer), payment);
		// The extensions are encoded and named as without the skip: wallets see no change.
		assert_eq!(
			<TxExtension as TransactionExtension<RuntimeCall>>::metadata()
				.iter()
				.map(|e| e.identifier)
				.collect::<Vec<_>>()[8],
			"ChargeTransactionPayment"
		);
	});
}
