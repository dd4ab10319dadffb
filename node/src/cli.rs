//! Command line of `veriml-node`.

/// Subcommands besides running a node.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management cli utilities
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Sign a message with a key given by its secret URI: an operator signs a node key's
	/// consent to its registration (`veriml:InferenceNodes:` or `veriml:DataNodes:` followed by
	/// the operator's 32-byte account, as hex with `--hex`; see docs/operators.md).
	Sign(sc_cli::SignCmd),

	/// Build a chain specification.
	/// DEPRECATED: `build-spec` command will be removed after 1/04/2026. Use `export-chain-spec`
	/// command instead.
	#[deprecated(note = "build-spec command will be removed after 1/04/2026. Use export-chain-spec command instead")]
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

	/// Print the engine guest this node is built with (hash, engine version) and write it as
	/// a `models.setEngineGuest` call carries it.
	EngineGuest(crate::engine_guest::EngineGuestCmd),
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
	/// with `inferenceNodes.register` (the key signs its consent: `veriml-node sign`).
	Inference,
	/// Brings data on chain: the off-chain worker runs on every block, fetches the value of
	/// each feed the `feed` keys in the keystore serve from the HTTP source given with
	/// `--data-source`, and submits it once per round, signed. Insert a key with
	/// `veriml-node key insert --key-type feed --scheme sr25519`, then register its account
	/// with `dataNodes.register` (the key signs its consent: `veriml-node sign`).
	Data,
	/// Keeps and proves the content store's items: the node keeps every stored chunk with its
	/// block body (do not prune bodies: no `--blocks-pruning N`), serves it over RPC
	/// (`veriml_contentChunk`) and, with `--ipfs-server`, over IPFS bitswap; the off-chain worker
	/// runs on every block and answers each challenge of the `stor` keys in the keystore with a
	/// proof read from the node's own database. Insert a key with
	/// `veriml-node key insert --key-type stor --scheme sr25519`, then register its account with
	/// `storageNodes.register` (the key signs its consent: `veriml-node sign`).
	Storage,
}

/// Where a data node fetches a feed's value: `--data-source FEED=URL#JSON.PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
	/// The feed's id on chain.
	pub feed: u32,
	/// `http://…` or `https://…`, answering JSON.
	pub url: String,
	/// Where the number is in the answer: `key.key[index]…`.
	pub json_path: String,
}

impl std::str::FromStr for DataSource {
	type Err = String;

	fn from_str(text: &str) -> Result<Self, Self::Err> {
		let usage = "expected FEED=URL#JSON.PATH, e.g. 0=https://api.example.com/price#data.usd";
		let (feed, rest) = text.split_once('=').ok_or(usage)?;
		let feed = feed.trim().parse::<u32>().map_err(|_| format!("feed id {feed:?} is not a number; {usage}"))?;
		let (url, json_path) = rest.rsplit_once('#').ok_or(format!("no #JSON.PATH after the URL; {usage}"))?;
		if !(url.starts_with("http://") || url.starts_with("https://")) {
			return Err(format!("{url:?} is not an http:// or https:// URL"));
		}
		if json_path.is_empty() {
			return Err(format!("empty JSON path; {usage}"));
		}
		Ok(Self { feed, url: url.to_string(), json_path: json_path.to_string() })
	}
}

/// `veriml-node [SUBCOMMAND] [OPTIONS]`.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// This node's roles in the veriml network, comma-separated: `complete` (validate blocks
	/// by re-executing inferences; every full node), `inference` (compute assigned
	/// inferences with the `infr` keys in the keystore) and `data` (submit feed values with the
	/// `feed` keys in the keystore) and `storage` (keep the content store's chunks and prove it
	/// with the `stor` keys in the keystore). Block authoring is `--validator`.
	#[arg(long = "role", value_enum, value_delimiter = ',', default_value = "complete")]
	pub roles: Vec<NodeRole>,

	/// A data node's source for one feed, `FEED=URL#JSON.PATH` (repeat for more feeds): the
	/// URL answers JSON and the path leads to the value, e.g.
	/// `--data-source 0=https://api.example.com/btc#price.usd`. Kept in the node's off-chain
	/// storage, never on chain.
	#[arg(long = "data-source", value_name = "FEED=URL#JSON.PATH")]
	pub data_sources: Vec<DataSource>,

	/// Threads the inference engine may split one run's large matrix products between, the
	/// running thread included (also for `infer`). Changes no result, fuel or verdict, only how
	/// fast this node runs and re-executes models: each element is computed by one thread in
	/// the order one thread computes it. Block import and the off-chain lane (off-chain
	/// workers, RPC) each get N - 1 threads besides their runs' own, shared by the runs of that
	/// lane (block import runs up to four models at once).
	#[arg(
		long = "engine-threads",
		value_name = "N",
		default_value_t = 1,
		global = true,
		value_parser = clap::value_parser!(u16).range(1..=256)
	)]
	pub engine_threads: u16,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,
}
