//! Dispatch of `veriml-node`'s subcommands.

use crate::{
	chain_spec,
	cli::{Cli, NodeRole, Subcommand},
	service,
};
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use veriml_runtime::opaque::Block;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"veriml node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"https://github.com/veriml/veriml/issues".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		Ok(match id {
			"dev" => Box::new(chain_spec::development_chain_spec()?),
			"" | "local" => Box::new(chain_spec::local_chain_spec()?),
			path => Box::new(chain_spec::ChainSpec::from_json_file(std::path::PathBuf::from(path))?),
		})
	}
}

/// Parses the command line and runs what it asks for.
pub fn run() -> sc_cli::Result<()> {
	let mut cli = Cli::from_args();
	if cli.roles.iter().any(|role| matches!(role, NodeRole::Inference | NodeRole::Data | NodeRole::Storage)) {
		// Inference, data and storage nodes are usually not block authors, and their work is
		// the off-chain worker.
		cli.run.offchain_worker_params.enabled = sc_cli::OffchainWorkerEnabled::Always;
	}

	// Every runtime call of this process (import, authoring, off-chain workers, RPC,
	// benchmarks) reaches models through this engine.
	// Its compiled code is kept in wasmtime's per-user cache, so only a node's first start
	// (per engine version) compiles it.
	let limits = veriml_engine::Limits { threads: cli.engine_threads.into(), ..Default::default() };
	let engine = std::sync::Arc::new(
		veriml_engine::Engine::new(limits).with_compiled_cache(veriml_engine::CompiledCache::UserDefault),
	);
	veriml_inference_interface::set_process_engine(engine.clone());

	match &cli.subcommand {
		Some(Subcommand::Infer(cmd)) => cmd.run(&engine),
		Some(Subcommand::EngineGuest(cmd)) => cmd.run(&engine),
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::Sign(cmd)) => cmd.run(),
		#[allow(deprecated)]
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let chain_spec = cli.load_spec(&cmd.chain)?;
			cmd.run(chain_spec)
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|mut config| {
				// Blocks imported from a file fill the receipt archive as synced ones do.
				config.offchain_worker.indexing_enabled = true;
				let PartialComponents { client, task_manager, import_queue, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } = service::new_partial(&config)?;
				// BABE's epoch changes and GRANDPA's authority set are reverted with the blocks.
				let aux_revert = Box::new(|client: std::sync::Arc<service::FullClient>, backend, blocks| {
					sc_consensus_babe::revert(client.clone(), backend, blocks)?;
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		},
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			use frame_benchmarking_cli::BenchmarkCmd;
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => cmd
					.run_with_spec::<sp_runtime::traits::HashingFor<Block>, service::HostFunctions>(Some(
						config.chain_spec,
					)),
				BenchmarkCmd::Machine(cmd) => {
					cmd.run(&config, frame_benchmarking_cli::SUBSTRATE_REFERENCE_HARDWARE.clone())
				},
				_ => Err("veriml-node supports the `pallet` and `machine` benchmarks.".into()),
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			let runner = cli.create_runner(&cli.run)?;
			let roles = cli.roles.clone();
			let data_sources = cli.data_sources.clone();
			runner.run_node_until_exit(|mut config| async move {
				// Every node keeps the archive the runtime indexes off-chain: the Merkle
				// Mountain Range's nodes and every receipt, which prove a receipt after its
				// retention in state (`veriml_archivedReceipt`).
				config.offchain_worker.indexing_enabled = true;
				service::log_roles(&roles, &config);
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<Block, <Block as sp_runtime::traits::Block>::Hash>,
					>(config, &roles, &data_sources, engine)
					.map_err(sc_cli::Error::Service),
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(config, &roles, &data_sources, engine)
							.map_err(sc_cli::Error::Service)
					},
				}
			})
		},
	}
}
