//! Assembles a full veriml node: client, import queue, networking, BABE authoring, GRANDPA
//! finality, off-chain workers and JSON-RPC.

use crate::cli::{DataSource, NodeRole};
use futures::FutureExt;
use sc_client_api::{Backend, BlockBackend};
use sc_consensus_babe::{BabeLink, BabeWorkerHandle, SlotProportion};
use sc_consensus_grandpa::SharedVoterState;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use std::{sync::Arc, time::Duration};
use veriml_runtime::{apis::RuntimeApi, opaque::Block};

/// Host functions the runtime may call: Substrate's, veriml's deterministic inference engine
/// (`inference::inspect`, `inference::run`), and reading the chunks this node keeps
/// (`content::chunk`, off-chain calls only).
pub type HostFunctions = (
	sp_io::SubstrateHostFunctions,
	veriml_inference_interface::inference::HostFunctions,
	veriml_content_interface::content::HostFunctions,
);

pub(crate) type FullClient = sc_service::TFullClient<Block, RuntimeApi, Executor>;

/// The node's runtime executor: the wasm executor, with every runtime call's inference work
/// drawn from the engine's lane for its call context. Importing and authoring blocks
/// (`CallContext::Onchain`) use the consensus lane; off-chain workers, RPC calls such as
/// `state_call`, and transaction validation (`CallContext::Offchain`) use the other, so no
/// amount of them can take the engine's threads from block import.
#[derive(Clone)]
pub struct Executor(sc_executor::WasmExecutor<HostFunctions>);

impl sp_core::traits::CodeExecutor for Executor {
	type Error = sc_executor::error::Error;

	fn call(
		&self,
		ext: &mut dyn sp_externalities::Externalities,
		runtime_code: &sp_core::traits::RuntimeCode,
		method: &str,
		data: &[u8],
		context: sp_core::traits::CallContext,
	) -> (Result<Vec<u8>, Self::Error>, bool) {
		veriml_inference_interface::in_lane(veriml_inference_interface::Lane::of(context), || {
			self.0.call(ext, runtime_code, method, data, context)
		})
	}
}

impl sc_executor::RuntimeVersionOf for Executor {
	fn runtime_version(
		&self,
		ext: &mut dyn sp_externalities::Externalities,
		runtime_code: &sp_core::traits::RuntimeCode,
	) -> sc_executor::error::Result<sp_version::RuntimeVersion> {
		self.0.runtime_version(ext, runtime_code)
	}
}

impl sp_core::traits::ReadRuntimeVersion for Executor {
	fn read_runtime_version(
		&self,
		wasm_code: &[u8],
		ext: &mut dyn sp_externalities::Externalities,
	) -> Result<Vec<u8>, String> {
		self.0.read_runtime_version(wasm_code, ext)
	}
}
pub(crate) type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;

/// The minimum period of blocks on which justifications will be imported and generated.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// The parts of a node that import, check and export blocks without running consensus.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(
		// BABE's block import around GRANDPA's around the client.
		sc_consensus::BoxBlockImport<Block>,
		BabeLink<Block>,
		BabeWorkerHandle<Block>,
		sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
		Option<Telemetry>,
		// The chunks the node reads, to which the full node connects its bitswap.
		Arc<crate::chunks::NodeChunks>,
	),
>;

/// The inherent data a block is authored and checked with: its timestamp and BABE slot.
fn inherent_data_providers(
	slot_duration: sp_consensus_babe::SlotDuration,
) -> impl sp_inherents::CreateInherentDataProviders<
	Block,
	(),
	InherentDataProviders = (sp_consensus_babe::inherents::InherentDataProvider, sp_timestamp::InherentDataProvider),
> + Clone {
	move |_, ()| async move {
		let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
		let slot = sp_consensus_babe::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
			*timestamp,
			slot_duration,
		);
		Ok((slot, timestamp))
	}
}

/// Builds the client, database, transaction pool and import queue.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = Executor(sc_service::new_wasm_executor::<HostFunctions>(&config.executor));
	let (client, backend, keystore_container, task_manager) = sc_service::new_full_parts::<Block, RuntimeApi, _>(
		config,
		telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
		executor,
		Vec::new(),
	)?;
	let client = Arc::new(client);
	// The engine (stored models) and off-chain workers (a storage node's proofs) read the
	// chunks this node keeps from here.
	let chunks = Arc::new(crate::chunks::NodeChunks::new(client.clone(), backend.offchain_storage()));
	veriml_content_interface::set_process_source(Arc::new(crate::chunks::ProcessChunks(chunks.clone())));

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;

	let babe_config = sc_consensus_babe::configuration(&*client)?;
	let slot_duration = babe_config.slot_duration();
	let (block_import, babe_link) = sc_consensus_babe::block_import(
		babe_config,
		grandpa_block_import.clone(),
		client.clone(),
		inherent_data_providers(slot_duration),
		select_chain.clone(),
		OffchainTransactionPoolFactory::new(transaction_pool.clone()),
	)?;
	let (import_queue, babe_worker) = sc_consensus_babe::import_queue(sc_consensus_babe::ImportQueueParams {
		link: babe_link.clone(),
		block_import: block_import.clone(),
		justification_import: Some(Box::new(grandpa_block_import)),
		client: client.clone(),
		slot_duration,
		spawner: &task_manager.spawn_essential_handle(),
		registry: config.prometheus_registry(),
		telemetry: telemetry.as_ref().map(|x| x.handle()),
	})?;

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (Box::new(block_import), babe_link, babe_worker, grandpa_link, telemetry, chunks),
	})
}

/// Builds and starts a full node: networking, off-chain workers, RPC, and, on a validator,
/// BABE authoring and the GRANDPA voter.
///
/// `engine` is the process's engine: it reports to the veriml metrics (when the node has a
/// Prometheus endpoint) and then compiles its guest, while the node starts rather than inside
/// the first block that registers or verifies a model.
pub fn new_full<N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>>(
	config: Configuration,
	roles: &[NodeRole],
	data_sources: &[DataSource],
	engine: Arc<veriml_engine::Engine>,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, babe_link, babe_worker, grandpa_link, mut telemetry, chunks),
	} = new_partial(&config)?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as sp_runtime::traits::Block>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	let peer_store_handle = net_config.peer_store_handle();
	let genesis_hash = client
		.block_hash(0)
		.ok()
		.flatten()
		.ok_or_else(|| ServiceError::Other("the database has no genesis block".into()))?;
	let grandpa_protocol_name = sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) = sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
		grandpa_protocol_name.clone(),
		metrics.clone(),
		peer_store_handle,
	);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	// With `--ipfs-server`, the node fetches the chunks of stored models it lacks (after a
	// warp sync, or with pruned bodies) from its peers.
	if let Some(bitswap) = bitswap {
		chunks.connect(bitswap, task_manager.spawn_handle());
		// Blocking: each look is a runtime call.
		task_manager.spawn_handle().spawn_blocking(
			"veriml-fetch-stored-models",
			Some("veriml"),
			crate::chunks::fetch_stored_models(client.clone(), chunks),
		);
	}

	if !data_sources.is_empty() {
		store_data_sources(&backend, data_sources)?;
	}

	if config.offchain_worker.enabled {
		let offchain_workers = sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
			runtime_api_provider: client.clone(),
			is_validator: config.role.is_authority(),
			keystore: Some(keystore_container.keystore()),
			offchain_db: backend.offchain_storage(),
			transaction_pool: Some(OffchainTransactionPoolFactory::new(transaction_pool.clone())),
			network_provider: Arc::new(network.clone()),
			// Data nodes fetch feed values over HTTP from their off-chain worker.
			enable_http_requests: true,
			custom_extensions: |_| vec![],
		})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	// Moves the Merkle Mountain Range's nodes that the runtime indexes off-chain under keys of
	// their fork to their lasting keys as blocks are finalised, and prunes other forks' nodes:
	// what proves a leaf once its block's hash has left the runtime's state.
	if config.offchain_worker.indexing_enabled {
		task_manager.spawn_essential_handle().spawn_blocking(
			"mmr-gadget",
			None,
			mmr_gadget::MmrGadget::start(client.clone(), backend.clone(), sp_mmr_primitives::INDEXING_PREFIX.to_vec()),
		);
	}

	let role = config.role;
	let blocks_pruning = config.blocks_pruning;
	let force_authoring = config.force_authoring;
	let backoff_authoring_blocks: Option<()> = None;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();
	if let Some(registry) = prometheus_registry.as_ref() {
		crate::metrics::start(
			registry,
			&engine,
			client.clone(),
			backend.clone(),
			keystore_container.keystore(),
			&task_manager.spawn_handle(),
		)
		.map_err(|error| ServiceError::Other(format!("veriml metrics: {error}")))?;
	}
	std::thread::spawn(move || engine.warm_up());

	// BABE's worker (an essential task: the node stops if it ends) answers epoch queries while
	// a handle to it lives; this task holds one for the node's lifetime.
	task_manager.spawn_handle().spawn("babe-worker-handle", Some("babe"), async move {
		let _handle = babe_worker;
		futures::future::pending::<()>().await
	});

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		let offchain_storage = backend.offchain_storage();

		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				offchain_storage: offchain_storage.clone(),
			};
			crate::rpc::create_full::<_, _, FullBackend>(deps).map_err(Into::into)
		})
	};

	let _rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: network.clone(),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	// After `spawn_tasks`, which puts a `--alice`-style dev seed's keys in the keystore.
	if roles.contains(&NodeRole::Inference) {
		report_inference_keys(&keystore_container.keystore());
	}
	if roles.contains(&NodeRole::Data) {
		report_data_keys(&keystore_container.keystore(), data_sources);
	}
	if roles.contains(&NodeRole::Storage) {
		report_storage_keys(&keystore_container.keystore(), blocks_pruning);
	}

	if role.is_authority() {
		let proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);

		let slot_duration = babe_link.config().slot_duration();
		let babe = sc_consensus_babe::start_babe(sc_consensus_babe::BabeParams {
			keystore: keystore_container.keystore(),
			client,
			select_chain,
			env: proposer_factory,
			block_import,
			sync_oracle: sync_service.clone(),
			justification_sync_link: sync_service.clone(),
			create_inherent_data_providers: inherent_data_providers(slot_duration),
			force_authoring,
			backoff_authoring_blocks,
			babe_link,
			block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
			max_block_proposal_slot_portion: None,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
		})?;

		// Authoring is essential: if it fails the node stops rather than silently not authoring.
		task_manager.spawn_essential_handle().spawn_blocking("babe", Some("block-authoring"), babe);
	}

	if enable_grandpa {
		// A node that does not vote needs no keystore for GRANDPA.
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };

		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: Duration::from_millis(333),
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};

		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: sync_service,
			notification_service: grandpa_notification_service,
			voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};

		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}

/// Logs the roles a node starts with.
pub fn log_roles(roles: &[NodeRole], config: &Configuration) {
	// Every full node imports and so re-executes blocks: it is a complete node whatever it asked.
	let mut names = vec!["complete".to_string()];
	names.extend(roles.iter().filter(|r| **r != NodeRole::Complete).map(|r| format!("{r:?}").to_lowercase()));
	log::info!(
		target: "veriml",
		"🧭 veriml roles: {}{}",
		names.join(", "),
		if config.role.is_authority() { ", block author (--validator)" } else { "" },
	);
}

/// Logs the `stor` keys a storage node proves with, or how to add one, and warns when the node
/// drops block bodies (and with them the chunks it must keep).
fn report_storage_keys(keystore: &sp_keystore::KeystorePtr, blocks_pruning: sc_service::BlocksPruning) {
	use sp_core::crypto::Ss58Codec;
	let target = pallet_storage_proofs::offchain::LOG_TARGET;
	if let sc_service::BlocksPruning::Some(blocks) = blocks_pruning {
		log::warn!(
			target: target,
			"--role storage with --blocks-pruning {blocks}: chunks stored more than {blocks} blocks ago are dropped \
			 with their block bodies, and their challenges missed (struck, then slashed). A storage node keeps \
			 finalized bodies (the default, archive-canonical) or all of them (archive)."
		);
	}
	let keys = keystore.sr25519_public_keys(pallet_storage_proofs::KEY_TYPE);
	if keys.is_empty() {
		log::warn!(
			target: target,
			"--role storage, but the keystore has no `stor` key: this node proves nothing. \
			 Insert one with `veriml-node key insert --key-type stor --scheme sr25519 --suri …` \
			 and register its account with `storageNodes.register`."
		);
	}
	for key in keys {
		log::info!(
			target: target,
			"🗄️ storage node key {} (register this account with `storageNodes.register`)",
			sp_runtime::AccountId32::from(key.0).to_ss58check(),
		);
	}
}

/// Logs the `infr` keys an inference node will sign results with, or how to add one.
fn report_inference_keys(keystore: &sp_keystore::KeystorePtr) {
	use sp_core::crypto::Ss58Codec;
	let keys = keystore.sr25519_public_keys(pallet_inference_requests::KEY_TYPE);
	if keys.is_empty() {
		log::warn!(
			target: "veriml::inference",
			"--role inference, but the keystore has no `infr` key: this node computes nothing. \
			 Insert one with `veriml-node key insert --key-type infr --scheme sr25519 --suri …` \
			 and register its account with `inferenceNodes.register`."
		);
	}
	for key in keys {
		log::info!(
			target: "veriml::inference",
			"🧮 inference node key {} (register this account with `inferenceNodes.register`)",
			sp_runtime::AccountId32::from(key.0).to_ss58check(),
		);
	}
}

/// Writes the data node's feed sources where its off-chain worker reads them (persistent
/// off-chain storage, [`pallet_data_feeds::source_storage_key`]).
fn store_data_sources(backend: &FullBackend, sources: &[DataSource]) -> Result<(), ServiceError> {
	use codec::Encode;
	use sp_core::offchain::OffchainStorage;
	let mut storage = backend
		.offchain_storage()
		.ok_or_else(|| ServiceError::Other("--data-source needs the off-chain database".into()))?;
	for source in sources {
		let value = pallet_data_feeds::FeedSource {
			url: source.url.clone().into_bytes(),
			json_path: source.json_path.clone().into_bytes(),
		};
		storage.set(
			sp_core::offchain::STORAGE_PREFIX,
			&pallet_data_feeds::source_storage_key(source.feed),
			&value.encode(),
		);
		log::info!(
			target: pallet_data_feeds::LOG_TARGET,
			"📡 feed {}: values from {} at {}",
			source.feed,
			source.url,
			source.json_path,
		);
	}
	Ok(())
}

/// Logs the `feed` keys a data node will sign values with, or how to add one.
fn report_data_keys(keystore: &sp_keystore::KeystorePtr, sources: &[DataSource]) {
	use sp_core::crypto::Ss58Codec;
	let keys = keystore.sr25519_public_keys(pallet_data_feeds::KEY_TYPE);
	if keys.is_empty() {
		log::warn!(
			target: pallet_data_feeds::LOG_TARGET,
			"--role data, but the keystore has no `feed` key: this node submits nothing. \
			 Insert one with `veriml-node key insert --key-type feed --scheme sr25519 --suri …` \
			 and register its account with `dataNodes.register`."
		);
	}
	if sources.is_empty() {
		log::warn!(
			target: pallet_data_feeds::LOG_TARGET,
			"--role data without --data-source: sources set earlier (or over RPC) are used, if any"
		);
	}
	for key in keys {
		log::info!(
			target: pallet_data_feeds::LOG_TARGET,
			"📡 data node key {} (register this account with `dataNodes.register`)",
			sp_runtime::AccountId32::from(key.0).to_ss58check(),
		);
	}
}
