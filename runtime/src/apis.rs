//! The runtime APIs the node, polkadot.js and RPC clients call.

use alloc::vec::Vec;
use frame_support::{
	genesis_builder_helper::{build_state, get_preset},
	weights::Weight,
};
use pallet_grandpa::AuthorityId as GrandpaId;
use sp_api::impl_runtime_apis;
use sp_core::{crypto::KeyTypeId, OpaqueMetadata};
use sp_runtime::{
	traits::{Block as BlockT, NumberFor},
	transaction_validity::{TransactionSource, TransactionValidity},
	ApplyExtrinsicResult,
};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Babe, Balance, Block, BlockNumber, Executive, Grandpa, Hash, InherentDataExt, Nonce, Runtime,
	RuntimeCall, RuntimeGenesisConfig, SessionKeys, System, TransactionPayment, VERSION,
};

sp_api::decl_runtime_apis! {
	/// The veriml pallets' invariants — the `try_state` checks their tests run after every
	/// block — on the state of a block, for operators and end-to-end tests (`try-runtime` style,
	/// on a running chain). `Err((pallet, invariant))` names the first that does not hold. It
	/// walks all of those pallets' state: an operator's check, not a light read.
	pub trait InvariantsApi {
		/// `Ok` if every invariant holds.
		fn check() -> Result<(), (Vec<u8>, Vec<u8>)>;
	}
}

/// `result` of `pallet`'s invariants, as `InvariantsApi` answers it.
fn invariants_of(pallet: &str, result: Result<(), sp_runtime::TryRuntimeError>) -> Result<(), (Vec<u8>, Vec<u8>)> {
	result.map_err(|error| {
		let broken = match error {
			sp_runtime::DispatchError::Other(broken) => broken,
			_ => "a check failed with a dispatch error",
		};
		(pallet.as_bytes().to_vec(), broken.as_bytes().to_vec())
	})
}

impl_runtime_apis! {
	impl sp_api::Core<Block> for Runtime {
		fn version() -> RuntimeVersion {
			VERSION
		}

		fn execute_block(block: <Block as BlockT>::LazyBlock) {
			Executive::execute_block(block);
		}

		fn initialize_block(header: &<Block as BlockT>::Header) -> sp_runtime::ExtrinsicInclusionMode {
			Executive::initialize_block(header)
		}
	}

	impl sp_api::Metadata<Block> for Runtime {
		fn metadata() -> OpaqueMetadata {
			OpaqueMetadata::new(Runtime::metadata().into())
		}

		fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
			Runtime::metadata_at_version(version)
		}

		fn metadata_versions() -> Vec<u32> {
			Runtime::metadata_versions()
		}
	}

	impl sp_block_builder::BlockBuilder<Block> for Runtime {
		fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> ApplyExtrinsicResult {
			Executive::apply_extrinsic(extrinsic)
		}

		fn finalize_block() -> <Block as BlockT>::Header {
			Executive::finalize_block()
		}

		fn inherent_extrinsics(data: sp_inherents::InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
			data.create_extrinsics()
		}

		fn check_inherents(
			block: <Block as BlockT>::LazyBlock,
			data: sp_inherents::InherentData,
		) -> sp_inherents::CheckInherentsResult {
			data.check_extrinsics(&block)
		}
	}

	impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for Runtime {
		fn validate_transaction(
			source: TransactionSource,
			tx: <Block as BlockT>::Extrinsic,
			block_hash: <Block as BlockT>::Hash,
		) -> TransactionValidity {
			Executive::validate_transaction(source, tx, block_hash)
		}
	}

	impl sp_offchain::OffchainWorkerApi<Block> for Runtime {
		fn offchain_worker(header: &<Block as BlockT>::Header) {
			Executive::offchain_worker(header)
		}
	}

	impl sp_consensus_babe::BabeApi<Block> for Runtime {
		fn configuration() -> sp_consensus_babe::BabeConfiguration {
			let epoch_config = Babe::epoch_config().unwrap_or(super::BABE_GENESIS_EPOCH_CONFIG);
			sp_consensus_babe::BabeConfiguration {
				slot_duration: Babe::slot_duration(),
				epoch_length: super::EPOCH_DURATION_IN_SLOTS,
				c: epoch_config.c,
				authorities: Babe::authorities().to_vec(),
				randomness: Babe::randomness(),
				allowed_slots: epoch_config.allowed_slots,
			}
		}

		fn current_epoch_start() -> sp_consensus_babe::Slot {
			Babe::current_epoch_start()
		}

		fn current_epoch() -> sp_consensus_babe::Epoch {
			Babe::current_epoch()
		}

		fn next_epoch() -> sp_consensus_babe::Epoch {
			Babe::next_epoch()
		}

		// No session pallet: equivocations are not reported.
		fn generate_key_ownership_proof(
			_slot: sp_consensus_babe::Slot,
			_authority_id: sp_consensus_babe::AuthorityId,
		) -> Option<sp_consensus_babe::OpaqueKeyOwnershipProof> {
			None
		}

		fn submit_report_equivocation_unsigned_extrinsic(
			_equivocation_proof: sp_consensus_babe::EquivocationProof<<Block as BlockT>::Header>,
			_key_owner_proof: sp_consensus_babe::OpaqueKeyOwnershipProof,
		) -> Option<()> {
			None
		}
	}

	impl sp_session::SessionKeys<Block> for Runtime {
		fn generate_session_keys(
			owner: Vec<u8>,
			seed: Option<Vec<u8>>,
		) -> sp_session::OpaqueGeneratedSessionKeys {
			SessionKeys::generate(&owner, seed).into()
		}

		fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, KeyTypeId)>> {
			SessionKeys::decode_into_raw_public_keys(&encoded)
		}
	}

	impl sp_consensus_grandpa::GrandpaApi<Block> for Runtime {
		fn grandpa_authorities() -> sp_consensus_grandpa::AuthorityList {
			Grandpa::grandpa_authorities()
		}

		fn current_set_id() -> sp_consensus_grandpa::SetId {
			Grandpa::current_set_id()
		}

		fn submit_report_equivocation_unsigned_extrinsic(
			_equivocation_proof: sp_consensus_grandpa::EquivocationProof<
				<Block as BlockT>::Hash,
				NumberFor<Block>,
			>,
			_key_owner_proof: sp_consensus_grandpa::OpaqueKeyOwnershipProof,
		) -> Option<()> {
			None
		}

		fn generate_key_ownership_proof(
			_set_id: sp_consensus_grandpa::SetId,
			_authority_id: GrandpaId,
		) -> Option<sp_consensus_grandpa::OpaqueKeyOwnershipProof> {
			// The key owner proof type is uninhabited (no session pallet), so there is no proof.
			None
		}
	}

	impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
		fn account_nonce(account: AccountId) -> Nonce {
			System::account_nonce(account)
		}
	}

	#[api_version(6)]
	impl pallet_inference_requests::runtime_api::InferenceApi<Block, AccountId, Balance, BlockNumber> for Runtime {
		fn quote(
			model: veriml_inference_primitives::ModelHash,
		) -> Result<pallet_inference_requests::Fee<Balance>, pallet_inference_requests::QuoteError> {
			crate::Inference::quote(&model)
		}

		fn request(
			request: pallet_inference_requests::RequestId,
		) -> Option<pallet_inference_requests::RequestInfo<AccountId, Balance, BlockNumber>> {
			use pallet_inference_requests::RequestInfo;
			if let Some(open) = crate::Inference::open_request_info(request) {
				return Some(RequestInfo::Open(open))
			}
			if let Some(receipt) = crate::Verification::receipt(request) {
				return Some(RequestInfo::Verified(receipt))
			}
			crate::Inference::was_made(request).then_some(RequestInfo::Closed)
		}

		fn outputs(request: pallet_inference_requests::RequestId) -> Option<Vec<veriml_inference_primitives::Tensor>> {
			crate::Verification::outputs(request)
		}

		fn assignments(node: AccountId) -> Vec<pallet_inference_requests::RequestId> {
			crate::Inference::assignments_of(&node)
		}

		fn receipt_key(request: pallet_inference_requests::RequestId) -> Vec<u8> {
			crate::Verification::receipt_key(request)
		}

		fn generation(
			request: pallet_inference_requests::RequestId,
		) -> Option<pallet_inference_requests::GenerationInfo<AccountId, BlockNumber>> {
			crate::Inference::generation_info(request)
		}

		fn archived_receipt(
			request: pallet_inference_requests::RequestId,
			verified_in: BlockNumber,
		) -> Result<
			veriml_primitives::verification::ArchivedReceipt<pallet_inference_requests::RequestId, AccountId, BlockNumber, Hash>,
			veriml_primitives::verification::ArchiveError,
		> {
			use veriml_primitives::verification::{ArchiveError, ArchivedReceipt};
			// A block's leaf is appended at the start of the next one.
			let appended_in = verified_in.saturating_add(1);
			if appended_in > System::block_number() || crate::Mmr::block_num_to_leaf_count(appended_in).is_err() {
				return Err(ArchiveError::NotInRange);
			}
			let (leaves, proof) =
				crate::Mmr::generate_proof(alloc::vec![appended_in], None).map_err(|_| ArchiveError::NotArchived)?;
			let (Some(leaf), Some(&leaf_index)) = (leaves.into_iter().next(), proof.leaf_indices.first()) else {
				return Err(ArchiveError::NotArchived);
			};
			if leaf.block != verified_in {
				return Err(ArchiveError::NotInRange);
			}
			let (receipt, before, after) = crate::Verification::archived_receipt(request, &leaf.receipts)?;
			Ok(ArchivedReceipt { leaf, leaf_index, leaf_count: proof.leaf_count, items: proof.items, receipt, before, after })
		}
	}

	impl sp_mmr_primitives::MmrApi<Block, Hash, BlockNumber> for Runtime {
		fn mmr_root() -> Result<Hash, sp_mmr_primitives::Error> {
			Ok(crate::Mmr::mmr_root())
		}

		fn mmr_leaf_count() -> Result<sp_mmr_primitives::LeafIndex, sp_mmr_primitives::Error> {
			Ok(crate::Mmr::mmr_leaves())
		}

		fn generate_proof(
			block_numbers: Vec<BlockNumber>,
			best_known_block_number: Option<BlockNumber>,
		) -> Result<(Vec<sp_mmr_primitives::EncodableOpaqueLeaf>, sp_mmr_primitives::LeafProof<Hash>), sp_mmr_primitives::Error> {
			crate::Mmr::generate_proof(block_numbers, best_known_block_number).map(|(leaves, proof)| {
				(leaves.iter().map(sp_mmr_primitives::EncodableOpaqueLeaf::from_leaf).collect(), proof)
			})
		}

		fn generate_ancestry_proof(
			prev_block_number: BlockNumber,
			best_known_block_number: Option<BlockNumber>,
		) -> Result<sp_mmr_primitives::AncestryProof<Hash>, sp_mmr_primitives::Error> {
			crate::Mmr::generate_ancestry_proof(prev_block_number, best_known_block_number)
		}

		fn verify_proof(
			leaves: Vec<sp_mmr_primitives::EncodableOpaqueLeaf>,
			proof: sp_mmr_primitives::LeafProof<Hash>,
		) -> Result<(), sp_mmr_primitives::Error> {
			let leaves = leaves
				.into_iter()
				.map(|leaf| leaf.into_opaque_leaf().try_decode().ok_or(sp_mmr_primitives::Error::Verify))
				.collect::<Result<Vec<_>, _>>()?;
			crate::Mmr::verify_leaves(leaves, proof)
		}

		fn verify_proof_stateless(
			root: Hash,
			leaves: Vec<sp_mmr_primitives::EncodableOpaqueLeaf>,
			proof: sp_mmr_primitives::LeafProof<Hash>,
		) -> Result<(), sp_mmr_primitives::Error> {
			let nodes = leaves
				.into_iter()
				.map(|leaf| sp_mmr_primitives::DataOrHash::Data(leaf.into_opaque_leaf()))
				.collect();
			pallet_mmr::verify_leaves_proof::<sp_runtime::traits::BlakeTwo256, _>(root, nodes, proof)
		}
	}

	#[api_version(4)]
	impl pallet_model_registry::runtime_api::ModelsApi<Block, AccountId, Balance, BlockNumber> for Runtime {
		fn model(
			model: veriml_inference_primitives::ModelHash,
		) -> Option<pallet_model_registry::RegisteredModel<AccountId, Balance, BlockNumber>> {
			crate::Models::model(&model).map(Into::into)
		}

		fn model_code(model: veriml_inference_primitives::ModelHash) -> Option<Vec<u8>> {
			crate::Models::model_code(&model)
		}

		fn engine_guest() -> veriml_inference_primitives::EngineGuest {
			crate::Models::engine_guest()
		}

		fn stored_models() -> Vec<pallet_model_registry::StoredModelChunks> {
			crate::Models::stored_models()
		}

		fn decoder(model: veriml_inference_primitives::ModelHash) -> Option<pallet_model_registry::DecoderTerms> {
			pallet_model_registry::Decoders::<Runtime>::get(model)
		}

		fn tokenizer(model: veriml_inference_primitives::ModelHash) -> Option<Vec<u8>> {
			pallet_model_registry::Tokenizers::<Runtime>::get(model).map(Into::into)
		}

		fn models_to_remeasure() -> Vec<veriml_inference_primitives::ModelHash> {
			crate::Models::models_to_remeasure()
		}
	}

	impl self::InvariantsApi<Block> for Runtime {
		fn check() -> Result<(), (Vec<u8>, Vec<u8>)> {
			invariants_of("Models", crate::Models::do_try_state())?;
			invariants_of("Escrow", crate::Escrow::do_try_state())?;
			invariants_of("InferenceNodes", crate::InferenceNodes::do_try_state())?;
			invariants_of("Verification", crate::Verification::do_try_state())?;
			invariants_of("Inference", crate::Inference::do_try_state())?;
			invariants_of("Feeds", crate::Feeds::do_try_state())?;
			invariants_of("Workflows", crate::Workflows::do_try_state())?;
			invariants_of("DataNodes", crate::DataNodes::do_try_state())?;
			invariants_of("ContentStore", crate::ContentStore::do_try_state())?;
			invariants_of("StorageNodes", crate::StorageNodes::do_try_state())?;
			invariants_of("StorageProofs", crate::StorageProofs::do_try_state())
		}
	}

	impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
		fn query_info(
			uxt: <Block as BlockT>::Extrinsic,
			len: u32,
		) -> pallet_transaction_payment_rpc_runtime_api::RuntimeDispatchInfo<Balance> {
			TransactionPayment::query_info(uxt, len)
		}
		fn query_fee_details(
			uxt: <Block as BlockT>::Extrinsic,
			len: u32,
		) -> pallet_transaction_payment::FeeDetails<Balance> {
			TransactionPayment::query_fee_details(uxt, len)
		}
		fn query_weight_to_fee(weight: Weight) -> Balance {
			TransactionPayment::weight_to_fee(weight)
		}
		fn query_length_to_fee(length: u32) -> Balance {
			TransactionPayment::length_to_fee(length)
		}
	}

	impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<Block, Balance, RuntimeCall>
		for Runtime
	{
		fn query_call_info(
			call: RuntimeCall,
			len: u32,
		) -> pallet_transaction_payment::RuntimeDispatchInfo<Balance> {
			TransactionPayment::query_call_info(call, len)
		}
		fn query_call_fee_details(
			call: RuntimeCall,
			len: u32,
		) -> pallet_transaction_payment::FeeDetails<Balance> {
			TransactionPayment::query_call_fee_details(call, len)
		}
		fn query_weight_to_fee(weight: Weight) -> Balance {
			TransactionPayment::weight_to_fee(weight)
		}
		fn query_length_to_fee(length: u32) -> Balance {
			TransactionPayment::length_to_fee(length)
		}
	}

	#[cfg(feature = "runtime-benchmarks")]
	impl frame_benchmarking::Benchmark<Block> for Runtime {
		fn benchmark_metadata(extra: bool) -> (
			Vec<frame_benchmarking::BenchmarkList>,
			Vec<frame_support::traits::StorageInfo>,
		) {
			use frame_benchmarking::{baseline, BenchmarkList};
			use frame_support::traits::StorageInfoTrait;
			use frame_system_benchmarking::Pallet as SystemBench;
			use baseline::Pallet as BaselineBench;
			use super::*;

			let mut list = Vec::<BenchmarkList>::new();
			list_benchmarks!(list, extra);

			let storage_info = AllPalletsWithSystem::storage_info();

			(list, storage_info)
		}

		fn dispatch_benchmark(
			config: frame_benchmarking::BenchmarkConfig
		) -> Result<Vec<frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
			use frame_benchmarking::{baseline, BenchmarkBatch};
			use sp_storage::TrackedStorageKey;
			use frame_system_benchmarking::Pallet as SystemBench;
			use baseline::Pallet as BaselineBench;
			use super::*;

			use frame_support::traits::WhitelistedStorageKeys;
			let whitelist: Vec<TrackedStorageKey> = AllPalletsWithSystem::whitelisted_storage_keys();

			let mut batches = Vec::<BenchmarkBatch>::new();
			let params = (&config, &whitelist);
			add_benchmarks!(params, batches);

			Ok(batches)
		}
	}

	#[cfg(feature = "try-runtime")]
	impl frame_try_runtime::TryRuntime<Block> for Runtime {
		fn on_runtime_upgrade(checks: frame_try_runtime::UpgradeCheckSelect) -> (Weight, Weight) {
			// A failed pre/post-upgrade check must stop try-runtime with a backtrace right here.
			let weight = Executive::try_runtime_upgrade(checks).unwrap();
			(weight, super::configs::RuntimeBlockWeights::get().max_block)
		}

		fn execute_block(
			block: <Block as BlockT>::LazyBlock,
			state_root_check: bool,
			signature_check: bool,
			select: frame_try_runtime::TryStateSelect
		) -> Weight {
			Executive::try_execute_block(block, state_root_check, signature_check, select).expect("execute-block failed")
		}
	}

	impl sp_genesis_builder::GenesisBuilder<Block> for Runtime {
		fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
			build_state::<RuntimeGenesisConfig>(config)
		}

		fn get_preset(id: &Option<sp_genesis_builder::PresetId>) -> Option<Vec<u8>> {
			get_preset::<RuntimeGenesisConfig>(id, crate::genesis_config_presets::get_preset)
		}

		fn preset_names() -> Vec<sp_genesis_builder::PresetId> {
			crate::genesis_config_presets::preset_names()
		}
	}
}
