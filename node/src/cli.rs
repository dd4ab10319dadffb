//! Command line of `veriml-node`.

/// Subcommands besides running a node.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management cli utilities
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification.
	/// DEPRECATED: `build-spec` command will be removed after 1/04/2026. Use `export-chain-spec`
	/// command instead.
	#[deprecated(
		note = "build-spec command will be removed after 1/04/2026. Use export-chain-spec command instead"
	)]
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export the chain specification.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Sub-commands concerned with benchmarking (needs `--features runtime-benchmarks`).
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Db meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Run an ONNX model locally with the chain's deterministic engine: prints the outputs,
	/// the engine version, the fuel used and the result hash the chain would record.
	Infer(crate::infer::InferCmd),
}

/// What a veriml node does for the network, besides following the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeRole {
	/// Validates: imports every block and re-executes every inference result in it, refusing
	/// a block whose result hash is wrong; settlement from escrow is part of that import.
	/// Every full node does this; it is the default.
	Complete,
	/// Executes inferences: the off-chain worker runs on every block (as with
	/// `--offchain-worker always`), computes the requests assigned to the `infr` keys in the
	/// keystore and submits their results signed with them. Insert a key with
	/// `veriml-node key insert --key-type infr --scheme sr25519`, then register its account
	/// with `inferenceNodes.register`.
	Inference,
}

/// `veriml-node [SUBCOMMAND] [OPTIONS]`.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// This node's roles in the veriml network, comma-separated: `complete` (validate blocks
	/// by re-executing inferences; every full node) and `inference` (compute assigned
	/// inferences with the `infr` keys in the keystore). Block authoring is `--validator`.
	#[arg(long = "role", value_enum, value_delimiter = ',', default_value = "complete")]
	pub roles: Vec<NodeRole>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,
}
