//! veriml node: produces, imports and finalises veriml blocks.

#![warn(missing_docs)]
#![allow(
	clippy::result_large_err,
	reason = "the node returns polkadot-sdk's own errors (sc_cli::Error, sc_service::Error: 176 bytes), \
	          as every Substrate node does; boxing them would only hide that"
)]

mod chain_spec;
mod chunks;
mod cli;
mod command;
mod engine_guest;
mod infer;
mod metrics;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
