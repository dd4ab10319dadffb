//! `veriml-node engine-guest`: the engine guest this node is built with, as the chain names it
//! and as a `models.setEngineGuest` call carries it.

use std::path::PathBuf;

/// Print the engine guest this node is built with (hash and engine version) and write its
/// bytes as the chain stores them: the `code` of a `models.setEngineGuest` call.
#[derive(Debug, clap::Parser)]
pub struct EngineGuestCmd {
	/// Write the guest, zstd-compressed as the chain stores it, to this file.
	#[arg(long)]
	pub out: Option<PathBuf>,

	/// Declare this engine version instead of the guest's own: the same code under another
	/// version, to rehearse an engine upgrade on a test network.
	#[arg(long)]
	pub declare_version: Option<u32>,

	/// Also list the operators the guest implements (ONNX op types), as docs/model-authors.md
	/// does.
	#[arg(long)]
	pub operators: bool,
}

impl EngineGuestCmd {
	/// Runs the command.
	pub fn run(&self, engine: &veriml_engine::Engine) -> sc_cli::Result<()> {
		let wasm = match self.declare_version {
			Some(version) => veriml_engine::metering::declare_version(veriml_engine::GUEST_WASM, version)?,
			None => veriml_engine::GUEST_WASM.to_vec(),
		};
		let code =
			sp_maybe_compressed_blob::compress_weakly(&wasm, veriml_inference_primitives::guest::MAX_GUEST_BYTES)
				.ok_or("the engine guest is larger than a chain may store")?;
		let (guest, _) = veriml_engine::identify_guest(&code)?;
		println!("engine guest  {:?}", guest.hash);
		println!("engine version {}", guest.version);
		println!("wasm          {} bytes ({} compressed)", wasm.len(), code.len());
		if let Some(out) = &self.out {
			std::fs::write(out, &code).map_err(|e| format!("writing {}: {e}", out.display()))?;
			println!("written to    {}", out.display());
		}
		if self.operators {
			// The built-in guest's: the node runs the one it was built with here.
			let operators = engine.operators().map_err(|e| format!("listing the guest's operators: {e:?}"))?;
			println!("operators     {}", operators.join(" "));
		}
		Ok(())
	}
}
