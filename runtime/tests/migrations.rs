//! The storage migrations turn a chain's state of the previous spec into this one's.

use codec::Encode;
use frame_support::{
	storage::migration::{get_storage_value, put_storage_value},
	traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion},
	StorageHasher, Twox64Concat,
};
use pallet_inference_requests::{Fee, RequestStatus, Requests};
use veriml_inference_primitives::{EngineError, Tensor, H256};
use veriml_primitives::{
	models::Verification as Mode,
	verification::{Outcome, Proposal},
};
use veriml_runtime::{
	migrations::v1_verification_owns_the_challenge_game::{Migration, OldProposal, OldRequest, OldStatus},
	AccountId, Runtime, Verification,
};

fn old_request(status: OldStatus, model: u8) -> OldRequest {
	OldRequest {
		requester: AccountId::new([1; 32]),
		model: H256::repeat_byte(model),
		input_hash: H256::repeat_byte(model + 1),
		input_bytes: 40,
		fee: Fee { model_price: 7, execution: 5, protocol: 1 },
		fuel_limit: 1_000,
		verification: Mode::Optimistic,
		status,
		assigned: if status == OldStatus::Assigned { vec![AccountId::new([2; 32])] } else { Vec::new() },
		refuted: Vec::new(),
		created_at: 3,
		deadline: 23,
	}
}

fn put(item: &[u8], key: &[u8], value: impl Encode) {
	put_storage_value(b"Inference", item, key, value);
}

#[test]
fn the_challenge_game_moves_from_the_requests_pallet_to_verification_once() {
	sp_io::TestExternalities::default().execute_with(|| {
		// Spec 109's state: request 0 assigned, 1 proposed, 2 disputed; a proposal of a request
		// no longer open (9).
		let node = AccountId::new([5; 32]);
		let challenger = AccountId::new([6; 32]);
		let id = |id: u64| Twox64Concat::hash(&id.encode());
		put(b"Requests", &id(0), old_request(OldStatus::Assigned, 10));
		put(b"Requests", &id(1), old_request(OldStatus::Proposed, 20));
		put(b"Requests", &id(2), old_request(OldStatus::Disputed, 30));
		let failed = Outcome::Failed(EngineError::FuelExhausted);
		let outputs = vec![Tensor::from_f32(&[1, 1], &[1.0])];
		let claimed = Outcome::Outputs {
			output_hash: veriml_inference_primitives::output_hash(&outputs),
			result_hash: H256::repeat_byte(9),
		};
		let proposal =
			|outcome, challenger| OldProposal { node: node.clone(), outcome, challenge_until: 13, challenger };
		put(b"Proposals", &id(1), proposal(claimed, None));
		put(b"Proposals", &id(2), proposal(failed, Some(challenger.clone())));
		put(b"Proposals", &id(9), proposal(failed, None));
		put(b"ProposedOutputs", &id(1), outputs.clone());
		let window = [Twox64Concat::hash(&13u32.encode()), id(1)].concat();
		put(b"ChallengeWindows", &window, ());
		put(b"Disputes", &[], vec![2u64]);
		assert_eq!(Verification::on_chain_storage_version(), StorageVersion::new(0));

		Migration::on_runtime_upgrade();

		let status = |id| Requests::<Runtime>::get(id).map(|request| request.status);
		assert_eq!(status(0), Some(RequestStatus::Assigned));
		assert_eq!(Requests::<Runtime>::get(0).unwrap().assigned.into_inner(), vec![AccountId::new([2; 32])]);
		assert_eq!(status(1), Some(RequestStatus::Verifying));
		assert_eq!(status(2), Some(RequestStatus::Verifying));
		assert_eq!(
			pallet_verification::Proposals::<Runtime>::get(1),
			Some(Proposal {
				node: node.clone(),
				model: H256::repeat_byte(20),
				input_hash: H256::repeat_byte(21),
				outcome: claimed,
				challenge_until: 13,
				challenger: None,
			})
		);
		assert_eq!(pallet_verification::Proposals::<Runtime>::get(2).unwrap().challenger, Some(challenger));
		assert!(pallet_verification::Proposals::<Runtime>::get(9).is_none(), "a closed request's proposal is dropped");
		assert_eq!(pallet_verification::ProposedOutputs::<Runtime>::get(1), Some(outputs));
		assert!(pallet_verification::ChallengeWindows::<Runtime>::contains_key(13, 1));
		assert_eq!(pallet_verification::Disputes::<Runtime>::get().into_inner(), vec![2]);
		for item in [&b"Proposals"[..], b"ProposedOutputs", b"ChallengeWindows", b"Disputes"] {
			let left = frame_support::storage::migration::storage_iter::<()>(b"Inference", item).count()
				+ usize::from(get_storage_value::<Vec<u64>>(b"Inference", item, &[]).is_some());
			assert_eq!(left, 0, "nothing is left under Inference::{}", String::from_utf8_lossy(item));
		}
		assert_eq!(Verification::on_chain_storage_version(), StorageVersion::new(1));

		// Once: a second upgrade leaves the state alone.
		put(b"Disputes", &[], vec![7u64]);
		Migration::on_runtime_upgrade();
		assert_eq!(pallet_verification::Disputes::<Runtime>::get().into_inner(), vec![2]);
	});
}

#[test]
fn challenges_waiting_at_the_upgrade_get_a_deposit_of_nothing_once() {
	use pallet_verification::{ChallengeDeposits, Disputes};
	use veriml_runtime::migrations::v2_challenge_deposits::Migration as V2;
	sp_io::TestExternalities::default().execute_with(|| {
		StorageVersion::new(1).put::<Verification>();
		Disputes::<Runtime>::put(frame_support::BoundedVec::truncate_from(vec![4u64, 8]));
		ChallengeDeposits::<Runtime>::insert(8, 5);
		V2::on_runtime_upgrade();
		assert_eq!(ChallengeDeposits::<Runtime>::get(4), Some(0));
		assert_eq!(ChallengeDeposits::<Runtime>::get(8), Some(5), "a recorded deposit is kept");
		assert_eq!(Verification::on_chain_storage_version(), StorageVersion::new(2));
		// Once.
		Disputes::<Runtime>::put(frame_support::BoundedVec::truncate_from(vec![9u64]));
		V2::on_runtime_upgrade();
		assert!(ChallengeDeposits::<Runtime>::get(9).is_none());
	});
}

#[test]
fn uploads_in_progress_move_under_their_uploaders_with_their_chunks_once() {
	use frame_support::Blake2_128Concat;
	use pallet_model_registry::{Upload, UploadChunks, Uploads};
	use veriml_runtime::{migrations::v1_uploads_by_uploader::Migration as UploadsMigration, Balance, Models};
	sp_io::TestExternalities::default().execute_with(|| {
		// Spec 110's state: Alice's upload of `hash`, two of its three chunks stored.
		let alice = AccountId::new([1; 32]);
		let hash = H256::repeat_byte(7);
		let upload = Upload::<AccountId, Balance> {
			uploader: alice.clone(),
			byte_len: 5,
			chunk_count: 3,
			chunks_received: 2,
			deposit: 9,
		};
		let old_key = Blake2_128Concat::hash(&hash.encode());
		put_storage_value(b"Models", b"Uploads", &old_key, upload.clone());
		for (index, chunk) in [(0u32, vec![1u8, 2]), (2, vec![5])] {
			let key = [old_key.clone(), Twox64Concat::hash(&index.encode())].concat();
			put_storage_value(b"Models", b"UploadChunks", &key, chunk);
		}
		assert_eq!(Models::on_chain_storage_version(), StorageVersion::new(0));

		UploadsMigration::on_runtime_upgrade();

		assert_eq!(Uploads::<Runtime>::get(&alice, hash), Some(upload));
		assert_eq!(UploadChunks::<Runtime>::get((&alice, hash, 0)).map(|c| c.into_inner()), Some(vec![1, 2]));
		assert_eq!(UploadChunks::<Runtime>::get((&alice, hash, 2)).map(|c| c.into_inner()), Some(vec![5]));
		assert_eq!(Uploads::<Runtime>::iter().count(), 1);
		assert_eq!(UploadChunks::<Runtime>::iter().count(), 2, "nothing is left under the old keys");
		assert_eq!(Models::on_chain_storage_version(), StorageVersion::new(1));
		// Once.
		UploadsMigration::on_runtime_upgrade();
		assert_eq!(UploadChunks::<Runtime>::iter().count(), 2);
	});
}

#[test]
fn feeds_approve_the_operators_of_the_nodes_serving_them_at_the_upgrade_once() {
	use frame_support::BoundedVec;
	use pallet_bonded_nodes::{NodeRecord, NodeStatus, Nodes, NodesByService};
	use pallet_data_feeds::{FeedInfo, Feeds, Operators};
	use veriml_runtime::{
		configs::DataNodesInstance, migrations::v1_feeds_approve_their_operators::Migration as FeedsMigration,
	};
	sp_io::TestExternalities::default().execute_with(|| {
		// Spec 110's state: feed 0 served by two nodes of Eve and one of Ferdie, feed 1 by none.
		let (eve, ferdie) = (AccountId::new([5; 32]), AccountId::new([6; 32]));
		let feed = |owner: &AccountId| FeedInfo {
			owner: owner.clone(),
			name: BoundedVec::truncate_from(b"BTC/USD".to_vec()),
			source: BoundedVec::new(),
			decimals: 2,
			round_length: 2,
			min_submissions: 1,
			max_deviation: sp_runtime::Perbill::from_percent(10),
			deposit: 1,
		};
		Feeds::<Runtime>::insert(0, feed(&ferdie));
		Feeds::<Runtime>::insert(1, feed(&ferdie));
		let nodes: Vec<(AccountId, AccountId)> = vec![
			(AccountId::new([10; 32]), eve.clone()),
			(AccountId::new([11; 32]), eve.clone()),
			(AccountId::new([12; 32]), ferdie.clone()),
		];
		for (node, operator) in &nodes {
			Nodes::<Runtime, DataNodesInstance>::insert(
				node,
				NodeRecord {
					operator: operator.clone(),
					bond: 1,
					services: BoundedVec::truncate_from(vec![0]),
					status: NodeStatus::Active,
					strikes: 0,
					slash_count: 0,
					since: 0,
				},
			);
		}
		NodesByService::<Runtime, DataNodesInstance>::insert(
			0,
			BoundedVec::truncate_from(nodes.iter().map(|(node, _)| node.clone()).collect::<Vec<_>>()),
		);
		let version = || <pallet_data_feeds::Pallet<Runtime> as GetStorageVersion>::on_chain_storage_version();
		assert_eq!(version(), StorageVersion::new(0));

		FeedsMigration::on_runtime_upgrade();

		assert_eq!(Operators::<Runtime>::get(0).into_inner(), vec![eve.clone(), ferdie.clone()]);
		assert!(Operators::<Runtime>::get(1).is_empty());
		assert_eq!(version(), StorageVersion::new(1));
		// Once.
		Operators::<Runtime>::remove(0);
		FeedsMigration::on_runtime_upgrade();
		assert!(Operators::<Runtime>::get(0).is_empty());
	});
}

#[test]
fn a_request_from_before_spec_110_takes_its_models_fuel_to_prepare_after_the_challenge_game_moved() {
	use pallet_model_registry::{ModelRecord, ModelStatus};
	use veriml_runtime::Inference;
	sp_io::TestExternalities::default().execute_with(|| {
		// Spec 109's state: request 0 assigned, of a model measured to take 4,321 fuel to prepare.
		let model = H256::repeat_byte(10);
		let spec =
			veriml_inference_primitives::TensorSpec::new(veriml_inference_primitives::DType::F32, &[1, 2]).unwrap();
		pallet_model_registry::Models::<Runtime>::insert(
			model,
			ModelRecord {
				owner: AccountId::new([9; 32]),
				name: frame_support::BoundedVec::truncate_from(b"m".to_vec()),
				version: 1,
				inputs: frame_support::BoundedVec::truncate_from(vec![spec.clone()]),
				outputs: frame_support::BoundedVec::truncate_from(vec![spec]),
				price_per_inference: 0,
				byte_len: 100,
				node_count: 1,
				fuel_per_run: 1_000,
				fuel_to_prepare: 4_321,
				verification: Mode::Optimistic,
				status: ModelStatus::Active,
				deposit: 0,
				registered_at: 1,
				measured_with: 1,
			},
		);
		put(b"Requests", &Twox64Concat::hash(&0u64.encode()), old_request(OldStatus::Assigned, 10));

		// The upgrade runs the runtime's migrations in their order: the spec-110 one writes the
		// request whole, the requests pallet's own gives it its model's figure (measured with
		// the chain's guest: the registry's migration to version 3 says so of a chain that never
		// replaced its guest).
		veriml_runtime::Migrations::on_runtime_upgrade();

		let request = Requests::<Runtime>::get(0).unwrap();
		assert_eq!(request.status, RequestStatus::Assigned);
		assert_eq!((request.fuel_limit, request.deadline), (1_000, 23));
		assert_eq!(request.fuel_to_prepare, 4_321);
		assert_eq!(Inference::on_chain_storage_version(), StorageVersion::new(1));
	});
}
