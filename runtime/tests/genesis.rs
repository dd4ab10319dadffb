//! The genesis presets build the state the `dev` and `local` chains start from.

use frame_support::genesis_builder_helper::{build_state, get_preset};
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::Sr25519Keyring;
use veriml_runtime::{
	genesis_config_presets::{self, ENDOWMENT},
	Runtime, RuntimeGenesisConfig, System,
};

/// Applies a JSON patch the way chain-spec builders do: objects merge key by key.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (key, value) in patch {
				merge(base.entry(key).or_insert(serde_json::Value::Null), value);
			}
		},
		(base, patch) => *base = patch,
	}
}

/// Builds the named preset's genesis state and runs `check` inside it.
fn with_preset_state(name: &str, check: impl FnOnce()) {
	let patch = get_preset::<RuntimeGenesisConfig>(&Some(PresetId::from(name)), genesis_config_presets::get_preset)
		.unwrap_or_else(|| panic!("preset {name} exists"));
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	merge(&mut config, serde_json::from_slice(&patch).unwrap());
	let mut ext = sp_io::TestExternalities::default();
	ext.execute_with(|| {
		build_state::<RuntimeGenesisConfig>(serde_json::to_vec(&config).unwrap())
			.expect("preset builds a valid genesis");
		check();
	});
}

#[test]
fn runtime_lists_both_presets() {
	let names = genesis_config_presets::preset_names();
	assert!(names.contains(&PresetId::from(DEV_RUNTIME_PRESET)));
	assert!(names.contains(&PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET)));
	assert!(genesis_config_presets::get_preset(&PresetId::from("no-such-preset")).is_none());
}

#[test]
fn development_has_alice_as_only_authority_and_sudo() {
	with_preset_state(DEV_RUNTIME_PRESET, || {
		let babe = pallet_babe::Authorities::<Runtime>::get();
		assert_eq!(babe.len(), 1);
		assert_eq!(babe[0], (Sr25519Keyring::Alice.public().into(), 1));
		// Every slot has an author with a VRF output: every block carries randomness.
		assert_eq!(
			pallet_babe::EpochConfig::<Runtime>::get().map(|config| config.allowed_slots),
			Some(sp_consensus_babe::AllowedSlots::PrimaryAndSecondaryVRFSlots)
		);
		assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 1);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(Sr25519Keyring::Alice.to_account_id()));
	});
}

#[test]
fn local_testnet_has_alice_and_bob_validating() {
	with_preset_state(LOCAL_TESTNET_RUNTIME_PRESET, || {
		let babe = pallet_babe::Authorities::<Runtime>::get();
		let expected: Vec<(sp_consensus_babe::AuthorityId, u64)> =
			vec![(Sr25519Keyring::Alice.public().into(), 1), (Sr25519Keyring::Bob.public().into(), 1)];
		assert_eq!(babe.into_inner(), expected);
		let grandpa = pallet_grandpa::Pallet::<Runtime>::grandpa_authorities();
		assert_eq!(grandpa.len(), 2);
		assert!(grandpa.iter().all(|(_, weight)| *weight == 1));
	});
}

#[test]
fn dev_accounts_are_endowed() {
	with_preset_state(DEV_RUNTIME_PRESET, || {
		for account in Sr25519Keyring::well_known() {
			assert_eq!(System::account(account.to_account_id()).data.free, ENDOWMENT);
		}
		// The protocol account and the content store's exist from genesis with the existential
		// deposit, so fee shares and retention fees smaller than that can be paid to them.
		let protocol = veriml_runtime::configs::ProtocolAccount::get();
		assert_eq!(System::account(&protocol).data.free, veriml_runtime::EXISTENTIAL_DEPOSIT);
		let store = veriml_runtime::ContentStore::account();
		assert_eq!(System::account(&store).data.free, veriml_runtime::EXISTENTIAL_DEPOSIT);
		assert_eq!(
			pallet_balances::TotalIssuance::<Runtime>::get(),
			ENDOWMENT * Sr25519Keyring::well_known().count() as u128 + 2 * veriml_runtime::EXISTENTIAL_DEPOSIT
		);
	});
}

#[test]
fn both_chains_name_the_pinned_engine_guest() {
	let pinned = include_str!("../../primitives/engine/guest.blake2").trim().to_string();
	for preset in [DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET] {
		with_preset_state(preset, || {
			let named = pallet_model_registry::EngineGuest::<Runtime>::get();
			// The engine's tests check that the node's guest is this build.
			assert_eq!(format!("{:?}", named.hash), pinned, "{preset}");
			assert_eq!(named.version, veriml_inference_primitives::ENGINE_VERSION, "{preset}");
		});
	}
}
