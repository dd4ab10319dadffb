//! Genesis presets: the starting state of the `development` (one validator) and
//! `local_testnet` (Alice and Bob validate) chains.

use crate::{AccountId, BalancesConfig, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_babe::AuthorityId as BabeId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Each endowed dev account starts with one million VML.
pub const ENDOWMENT: crate::Balance = 1_000_000 * UNIT;

const fn hex_digit(digit: u8) -> u8 {
	match digit {
		b'0'..=b'9' => digit - b'0',
		b'a'..=b'f' => digit - b'a' + 10,
		b'A'..=b'F' => digit - b'A' + 10,
		_ => panic!("primitives/engine/guest.blake2 holds 0x and 64 hex digits"),
	}
}

/// blake2-256 of the engine guest these chains start with: the reproducible build pinned in
/// `primitives/engine/guest.blake2` (`scripts/build-engine-guest.sh`). Read when the runtime
/// is compiled; a malformed file does not compile.
pub const PINNED_ENGINE_GUEST: [u8; 32] = {
	let text = include_str!("../../primitives/engine/guest.blake2").as_bytes();
	assert!(text.len() >= 66 && text[0] == b'0' && text[1] == b'x');
	let mut hash = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		hash[i] = hex_digit(text[2 + 2 * i]) * 16 + hex_digit(text[3 + 2 * i]);
		i += 1;
	}
	hash
};

fn testnet_genesis(
	initial_authorities: Vec<(BabeId, GrandpaId)>,
	endowed_accounts: Vec<AccountId>,
	root: AccountId,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts
				.iter()
				.cloned()
				.map(|k| (k, ENDOWMENT))
				// The protocol account and the content store's exist from genesis, so fee shares and
				// retention fees below the existential deposit can be paid to them.
				.chain(core::iter::once((crate::configs::ProtocolAccount::get(), crate::EXISTENTIAL_DEPOSIT)))
				.chain(core::iter::once((crate::ContentStore::account(), crate::EXISTENTIAL_DEPOSIT)))
				.collect::<Vec<_>>(),
		},
		babe: pallet_babe::GenesisConfig {
			authorities: initial_authorities.iter().map(|x| (x.0.clone(), 1)).collect::<Vec<_>>(),
			epoch_config: crate::BABE_GENESIS_EPOCH_CONFIG,
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: initial_authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
		models: pallet_model_registry::GenesisConfig {
			engine_guest: veriml_inference_primitives::H256(PINNED_ENGINE_GUEST),
			engine_version: veriml_inference_primitives::ENGINE_VERSION,
		},
	})
}

/// BABE (sr25519) and GRANDPA (ed25519) keys of a well-known dev name: the keys `--alice`,
/// `--bob`, … insert into the keystore.
fn authority_keys(babe: Sr25519Keyring, grandpa: Ed25519Keyring) -> (BabeId, GrandpaId) {
	(babe.public().into(), grandpa.public().into())
}

/// The `development` preset: Alice authors and finalises alone and holds sudo.
pub fn development_config_genesis() -> Value {
	testnet_genesis(
		vec![authority_keys(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The `local_testnet` preset: Alice and Bob author and finalise; Alice holds sudo.
pub fn local_config_genesis() -> Value {
	testnet_genesis(
		vec![
			authority_keys(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority_keys(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
		],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The JSON patch of the named preset, if the runtime has one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("serialization to json is expected to work. qed.").into_bytes())
}

/// The presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
