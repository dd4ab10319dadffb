//! The chain specifications `veriml-node` knows by name: `dev` and `local`.

use sc_service::ChainType;
use veriml_primitives::{currency, SS58_PREFIX};
use veriml_runtime::WASM_BINARY;

/// Specialized `ChainSpec`. This is a specialization of the general Substrate ChainSpec type.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token symbol, decimals and address format, which polkadot.js reads from the chain spec.
fn properties() -> sc_chain_spec::Properties {
	let mut properties = sc_chain_spec::Properties::new();
	properties.insert("tokenSymbol".into(), currency::TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), currency::TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"The runtime's wasm binary is not available: the node was built with SKIP_WASM_BUILD=1. \
		 Rebuild without it."
			.to_string()
	})
}

/// The engine guest this node is built with, as the chain stores it: zstd-compressed the way
/// the runtime's code is (about 3 MiB for 15 MiB of wasm).
pub fn engine_guest_code() -> Result<Vec<u8>, String> {
	sp_maybe_compressed_blob::compress_weakly(
		veriml_engine::GUEST_WASM,
		veriml_inference_primitives::guest::MAX_GUEST_BYTES,
	)
	.ok_or_else(|| "the engine guest is larger than a chain may store".to_string())
}

/// The runtime's preset `preset` with the bytes of the engine guest it names: a chain started
/// from it keeps the guest in state, so that a node built later with another guest still runs
/// this one for the blocks that name it.
fn genesis_with_engine_guest(preset: &str) -> Result<serde_json::Value, String> {
	let preset_id = sp_genesis_builder::PresetId::from(preset);
	let json = veriml_runtime::genesis_config_presets::get_preset(&preset_id)
		.ok_or_else(|| format!("the runtime has no preset {preset}"))?;
	let mut patch: serde_json::Value =
		serde_json::from_slice(&json).map_err(|e| format!("the runtime's preset {preset}: {e}"))?;
	let named = patch["models"]["engineGuest"].clone();
	let built_in = format!("{:?}", veriml_engine::guest_hash());
	if named.as_str() != Some(built_in.as_str()) {
		return Err(format!(
			"the runtime's preset names engine guest {named}, this node is built with {built_in}: \
			 build the node and the runtime from one checkout"
		));
	}
	patch["models"]["engineGuestCode"] = sp_core::bytes::to_hex(&engine_guest_code()?, false).into();
	Ok(patch)
}

/// `--dev`: one validator (Alice), state thrown away on exit.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("veriml Development")
		.with_id("veriml_dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_patch(genesis_with_engine_guest(sp_genesis_builder::DEV_RUNTIME_PRESET)?)
		.with_properties(properties())
		.build())
}

/// `--chain local`: Alice and Bob validate; the multi-node network zombienet starts.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("veriml Local Testnet")
		.with_id("veriml_local_testnet")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_patch(genesis_with_engine_guest(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)?)
		.with_properties(properties())
		.build())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn both_chains_keep_the_bytes_of_the_engine_guest_they_name() {
		for spec in [development_chain_spec().unwrap(), local_chain_spec().unwrap()] {
			let storage = sp_runtime::BuildStorage::build_storage(&spec).unwrap();
			let key = veriml_inference_primitives::engine_guest_code_key(&veriml_engine::guest_hash());
			let code = storage.top.get(&key).expect("the genesis state holds the guest's bytes");
			let (guest, wasm) = veriml_engine::identify_guest(code).unwrap();
			assert_eq!(guest, veriml_engine::built_in_guest());
			assert_eq!(wasm, veriml_engine::GUEST_WASM);
		}
	}
}
