//! veriml node: produces, imports and finalises veriml blocks.

#![warn(missing_docs)]

mod chain_spec;
mod cli;
mod command;
mod engine_guest;
mod infer;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
