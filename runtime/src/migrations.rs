//! Storage migrations, run by `Executive` on the first block of a runtime that brings them
//! ([`crate::Migrations`]). Each runs once: it is versioned by the storage version of the pallet
//! whose storage it leaves in the new shape.

/// Spec 110: the optimistic challenge game moved from the requests pallet (`Inference`) to the
/// verification pallet (`Verification`, storage version 0 → 1).
///
/// - `Inference::Proposals` become `Verification::Proposals`, each with the model and input
///   hash of its request (a proposal of a request no longer open is dropped);
/// - `Inference::ProposedOutputs`, `ChallengeWindows` and `Disputes` move to `Verification`
///   as they are (same keys and values);
/// - `Inference::Requests`' status `Proposed` and `Disputed` both become `Verifying` (whether a
///   proposal is disputed is the verification pallet's to say).
pub mod v1_verification_owns_the_challenge_game {
	use crate::{AccountId, Balance, BlockNumber, Runtime};
	use alloc::vec::Vec;
	use codec::{Decode, Encode};
	use frame_support::{
		migrations::VersionedMigration, storage::migration, traits::UncheckedOnRuntimeUpgrade, weights::Weight,
		BoundedVec, Twox64Concat,
	};
	use pallet_inference_requests::{Fee, Request, RequestId, RequestStatus, Requests};
	use veriml_inference_primitives::{ModelHash, Tensor, H256};
	use veriml_primitives::{
		models::Verification,
		verification::{Outcome, Proposal},
		Fuel,
	};

	const FROM: &[u8] = b"Inference";
	const TO: &[u8] = b"Verification";

	/// A request's status before spec 110.
	#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug)]
	pub enum OldStatus {
		Pending,
		Assigned,
		Proposed,
		Disputed,
	}

	/// A request before spec 110 (its bounded lists decode as plain ones).
	#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug)]
	pub struct OldRequest {
		pub requester: AccountId,
		pub model: ModelHash,
		pub input_hash: H256,
		pub input_bytes: u32,
		pub fee: Fee<Balance>,
		pub fuel_limit: Fuel,
		pub verification: Verification,
		pub status: OldStatus,
		pub assigned: Vec<AccountId>,
		pub refuted: Vec<AccountId>,
		pub created_at: BlockNumber,
		pub deadline: BlockNumber,
	}

	/// A proposal before spec 110 (kept by the requests pallet).
	#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug)]
	pub struct OldProposal {
		pub node: AccountId,
		pub outcome: Outcome,
		pub challenge_until: BlockNumber,
		pub challenger: Option<AccountId>,
	}

	/// The migration, unversioned.
	pub struct Unversioned;

	impl UncheckedOnRuntimeUpgrade for Unversioned {
		fn on_runtime_upgrade() -> Weight {
			let mut reads = 0u64;
			let mut writes = 0u64;
			Requests::<Runtime>::translate::<OldRequest, _>(|_, old| {
				reads += 1;
				writes += 1;
				Some(Request {
					requester: old.requester,
					model: old.model,
					input_hash: old.input_hash,
					input_bytes: old.input_bytes,
					fee: old.fee,
					fuel_limit: old.fuel_limit,
					verification: old.verification,
					status: match old.status {
						OldStatus::Pending => RequestStatus::Pending,
						OldStatus::Assigned => RequestStatus::Assigned,
						OldStatus::Proposed | OldStatus::Disputed => RequestStatus::Verifying,
					},
					assigned: BoundedVec::truncate_from(old.assigned),
					refuted: BoundedVec::truncate_from(old.refuted),
					created_at: old.created_at,
					deadline: old.deadline,
					// Set from the model's record by the requests pallet's own migration
					// (`pallet_inference_requests::migrations::v1`), which runs after this one.
					fuel_to_prepare: 0,
				})
			});
			let proposals: Vec<(RequestId, OldProposal)> =
				migration::storage_key_iter::<RequestId, OldProposal, Twox64Concat>(FROM, b"Proposals")
					.drain()
					.collect();
			for (id, old) in proposals {
				reads += 2;
				writes += 1;
				let Some(request) = Requests::<Runtime>::get(id) else { continue };
				writes += 1;
				pallet_verification::Proposals::<Runtime>::insert(
					id,
					Proposal {
						node: old.node,
						model: request.model,
						input_hash: request.input_hash,
						outcome: old.outcome,
						challenge_until: old.challenge_until,
						challenger: old.challenger,
					},
				);
			}
			let moved = migration::storage_iter::<Vec<Tensor>>(FROM, b"ProposedOutputs").count() as u64
				+ migration::storage_iter::<()>(FROM, b"ChallengeWindows").count() as u64
				+ 1;
			for item in [&b"ProposedOutputs"[..], b"ChallengeWindows", b"Disputes"] {
				migration::move_storage_from_pallet(item, FROM, TO);
			}
			reads += 2 * moved;
			writes += 2 * moved;
			log::info!(target: "runtime::migrations", "the challenge game moved to the verification pallet");
			<Runtime as frame_system::Config>::DbWeight::get().reads_writes(reads, writes)
		}
	}

	/// The migration, run while `Verification`'s storage version is 0.
	pub type Migration = VersionedMigration<
		0,
		1,
		Unversioned,
		pallet_verification::Pallet<Runtime>,
		<Runtime as frame_system::Config>::DbWeight,
	>;
}

/// Spec 111: a challenge holds a deposit (`Verification`, storage version 1 → 2). The
/// challenges waiting at the upgrade were accepted without one: each gets a deposit of nothing,
/// recorded, so every waiting challenge has its deposit (what deciding it returns or forfeits).
pub mod v2_challenge_deposits {
	use crate::Runtime;
	use frame_support::{migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade, weights::Weight};
	use pallet_verification::{ChallengeDeposits, Disputes};

	/// The migration, unversioned.
	pub struct Unversioned;

	impl UncheckedOnRuntimeUpgrade for Unversioned {
		fn on_runtime_upgrade() -> Weight {
			let disputes = Disputes::<Runtime>::get();
			let mut writes = 0u64;
			for id in &disputes {
				if !ChallengeDeposits::<Runtime>::contains_key(id) {
					ChallengeDeposits::<Runtime>::insert(id, 0);
					writes += 1;
				}
			}
			log::info!(target: "runtime::migrations", "{writes} waiting challenges recorded with no deposit");
			<Runtime as frame_system::Config>::DbWeight::get().reads_writes(1 + disputes.len() as u64, writes)
		}
	}

	/// The migration, run while `Verification`'s storage version is 1.
	pub type Migration = VersionedMigration<
		1,
		2,
		Unversioned,
		pallet_verification::Pallet<Runtime>,
		<Runtime as frame_system::Config>::DbWeight,
	>;
}

/// Spec 111: uploads are each uploader's own (`Models`, storage version 0 → 1). `Uploads` was
/// keyed by the content hash alone, so anyone could announce a hash first and block the bytes
/// someone else meant to upload; now an upload lives under (uploader, hash) and its chunks
/// under (uploader, hash, index). Every upload in progress moves there with its chunks, so no
/// uploader loses work or deposit. (It moves every chunk in one block: fine for the test
/// networks' handful of uploads; a chain with many would need a multi-block migration.)
pub mod v1_uploads_by_uploader {
	use crate::{AccountId, Balance, Runtime};
	use alloc::{collections::btree_map::BTreeMap, vec::Vec};
	use codec::Decode;
	use frame_support::{
		migrations::VersionedMigration, storage::migration, traits::UncheckedOnRuntimeUpgrade, weights::Weight,
		Blake2_128Concat, BoundedVec,
	};
	use pallet_model_registry::{Upload, UploadChunks, Uploads};
	use veriml_inference_primitives::ModelHash;

	const PALLET: &[u8] = b"Models";

	/// An upload, as it was and is stored.
	pub type UploadOf = Upload<AccountId, Balance>;

	/// The migration, unversioned.
	pub struct Unversioned;

	impl UncheckedOnRuntimeUpgrade for Unversioned {
		fn on_runtime_upgrade() -> Weight {
			// Both old maps are drained whole before anything is written under the new keys,
			// which share their prefixes.
			let uploads: BTreeMap<ModelHash, UploadOf> =
				migration::storage_key_iter::<ModelHash, UploadOf, Blake2_128Concat>(PALLET, b"Uploads")
					.drain()
					.collect();
			let chunks: Vec<(Vec<u8>, Vec<u8>)> =
				migration::storage_iter::<Vec<u8>>(PALLET, b"UploadChunks").drain().collect();
			let mut writes = 0u64;
			let mut bytes_moved = 0u64;
			for (key, bytes) in &chunks {
				// blake2_128(hash) ++ hash ++ twox64(index) ++ index
				let (Some(hash), Some(index)) = (key.get(16..48), key.get(56..60)) else { continue };
				let (Ok(hash), Ok(index)) = (ModelHash::decode(&mut &hash[..]), u32::decode(&mut &index[..])) else {
					continue;
				};
				let Some(upload) = uploads.get(&hash) else { continue };
				let Ok(chunk) = BoundedVec::try_from(bytes.clone()) else { continue };
				UploadChunks::<Runtime>::insert((&upload.uploader, hash, index), chunk);
				writes += 1;
				bytes_moved += bytes.len() as u64;
			}
			for (hash, upload) in &uploads {
				Uploads::<Runtime>::insert(&upload.uploader, hash, upload);
				writes += 1;
			}
			log::info!(
				target: "runtime::migrations",
				"{} uploads and {} chunks ({bytes_moved} bytes) moved under their uploaders",
				uploads.len(),
				chunks.len()
			);
			let reads = uploads.len() as u64 + chunks.len() as u64;
			// Each byte read, decoded and written again: as reading and decoding a request's
			// inputs is measured (`submit_result`'s 33 ns a byte), twice.
			<Runtime as frame_system::Config>::DbWeight::get()
				.reads_writes(reads, reads.saturating_add(writes))
				.saturating_add(Weight::from_parts(bytes_moved.saturating_mul(66_000), bytes_moved))
		}
	}

	/// The migration, run while `Models`' storage version is 0.
	pub type Migration = VersionedMigration<
		0,
		1,
		Unversioned,
		pallet_model_registry::Pallet<Runtime>,
		<Runtime as frame_system::Config>::DbWeight,
	>;
}

/// Spec 111: a feed's owner approves the operators whose data nodes serve it (`Feeds`, storage
/// version 0 → 1). So that no feed stops at the upgrade, each feed approves the operators of the
/// active nodes serving it then (at most `MaxNodesPerFeed` of them); a suspended node's operator
/// asks the owner before it resumes.
pub mod v1_feeds_approve_their_operators {
	use crate::{configs::DataNodesInstance, Runtime};
	use frame_support::{
		migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade, weights::Weight, BoundedVec,
	};
	use pallet_data_feeds::{Feeds, Operators};

	/// The migration, unversioned.
	pub struct Unversioned;

	impl UncheckedOnRuntimeUpgrade for Unversioned {
		fn on_runtime_upgrade() -> Weight {
			let mut reads = 0u64;
			let mut writes = 0u64;
			for feed in Feeds::<Runtime>::iter_keys() {
				reads += 2;
				let mut approved = BoundedVec::new();
				for node in pallet_bonded_nodes::NodesByService::<Runtime, DataNodesInstance>::get(feed) {
					reads += 1;
					let Some(record) = pallet_bonded_nodes::Nodes::<Runtime, DataNodesInstance>::get(&node) else {
						continue;
					};
					// As many operators as nodes, and no more nodes than `MaxNodesPerFeed`.
					if !approved.contains(&record.operator) && approved.try_push(record.operator).is_err() {
						break;
					}
				}
				if !approved.is_empty() {
					Operators::<Runtime>::insert(feed, approved);
					writes += 1;
				}
			}
			log::info!(target: "runtime::migrations", "{writes} feeds approve the operators of their nodes");
			<Runtime as frame_system::Config>::DbWeight::get().reads_writes(reads, writes)
		}
	}

	/// The migration, run while `Feeds`' storage version is 0.
	pub type Migration = VersionedMigration<
		0,
		1,
		Unversioned,
		pallet_data_feeds::Pallet<Runtime>,
		<Runtime as frame_system::Config>::DbWeight,
	>;
}
