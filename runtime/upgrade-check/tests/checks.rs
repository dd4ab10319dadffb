//! The upgrade check passes a sound chain's state, runs the migrations an older chain needs, and
//! fails, naming why, on each kind of state an upgrade must not meet: a snapshot that is not its
//! block's, a broken invariant, a value that does not decode, a storage version the code lacks.
#![cfg(feature = "try-runtime")]

use codec::Encode;
use frame_support::traits::StorageVersion;
use sp_core::{
	storage::{well_known_keys::CODE, Storage},
	H256,
};
use sp_runtime::BuildStorage;
use veriml_runtime::{
	configs::EscrowPurpose, AccountId, Feeds, Inference, Models, Runtime, RuntimeGenesisConfig, Verification, VERSION,
};
use veriml_upgrade_check::{check, describe, Error, PalletVersion, Snapshot};

/// A chain's state as a snapshot of its block (the root computed as the node would).
fn snapshot_of(storage: Storage) -> Snapshot {
	let state_version = VERSION.state_version();
	let code = storage.top.get(CODE).cloned().unwrap_or_default();
	let mut ext = sp_io::TestExternalities::new_with_code_and_state(&code, storage.clone(), state_version);
	let state_root = ext.execute_with(|| H256::from_slice(&sp_io::storage::root(state_version)));
	Snapshot {
		block_hash: H256::repeat_byte(7),
		block_number: 42,
		state_root,
		spec_name: VERSION.spec_name.to_string(),
		spec_version: VERSION.spec_version,
		top: storage.top,
	}
}

fn genesis() -> Storage {
	RuntimeGenesisConfig::default().build_storage().expect("the default genesis builds")
}

fn version_of<'a>(pallets: &'a [PalletVersion], name: &str) -> &'a PalletVersion {
	pallets.iter().find(|pallet| pallet.pallet == name).unwrap_or_else(|| panic!("{name} is listed"))
}

#[test]
fn a_sound_state_passes_every_check_and_fits_a_block() {
	let snapshot = snapshot_of(genesis());

	let report = check(&snapshot).expect("the genesis state upgrades");

	assert_eq!(report.spec_version, VERSION.spec_version);
	assert!(report.weight.all_lte(report.max_block));
	// Nothing to migrate: every pallet is at its code's version already.
	assert!(report.pallets.iter().all(|pallet| pallet.before == pallet.after));
	assert_eq!(version_of(&report.pallets, "Verification").after, 2);
	let text = describe(&snapshot, &report);
	assert!(text.contains("every pallet's invariants: ok"), "{text}");
	assert!(text.contains("a second run changes nothing: ok"), "{text}");
}

#[test]
fn an_older_chain_is_migrated_to_the_storage_versions_of_this_runtime() {
	// A chain from before these pallets' migrations: Verification, Models, Feeds and Inference
	// at 0.
	let mut storage = genesis();
	for key in [
		StorageVersion::storage_key::<Verification>(),
		StorageVersion::storage_key::<Models>(),
		StorageVersion::storage_key::<Feeds>(),
		StorageVersion::storage_key::<Inference>(),
	] {
		storage.top.remove(&key[..]);
	}

	let report = check(&snapshot_of(storage)).expect("the migrations bring it up to date");

	assert_eq!(
		*version_of(&report.pallets, "Verification"),
		PalletVersion { pallet: "Verification".into(), before: 0, after: 2 }
	);
	// Models' uploads move under their uploaders (0 → 1), then its decoders list their inputs
	// (1 → 2; none at genesis), then its records say which guest measured them (2 → 3).
	assert_eq!(version_of(&report.pallets, "Models").after, 3);
	assert_eq!(version_of(&report.pallets, "Feeds").after, 1);
	// Its open requests keep their models' fuel to prepare (0 → 1; none at genesis).
	assert_eq!(
		*version_of(&report.pallets, "Inference"),
		PalletVersion { pallet: "Inference".into(), before: 0, after: 1 }
	);
}

#[test]
fn a_snapshot_that_is_not_its_blocks_state_is_refused() {
	let mut snapshot = snapshot_of(genesis());
	let header = snapshot.state_root;
	// A key dropped on the way (a truncated download).
	let key = snapshot.top.keys().next().cloned().expect("genesis has state");
	snapshot.top.remove(&key);

	assert!(matches!(check(&snapshot), Err(Error::StateRoot { header: h, .. }) if h == header));
}

#[test]
fn a_broken_invariant_fails_the_check() {
	// An open escrow of 5 with nothing held for it.
	let mut storage = genesis();
	let id = EscrowPurpose::Request(3);
	let key = pallet_escrow::Escrows::<Runtime>::hashed_key_for(id);
	let record = pallet_escrow::EscrowRecord { payer: AccountId::new([9; 32]), amount: 5u128 };
	storage.top.insert(key, record.encode());

	let error = check(&snapshot_of(storage)).expect_err("escrow's invariant is broken");

	assert_eq!(
		error,
		Error::Invariant {
			pallet: "Escrow".into(),
			broken: "a payer's Escrow hold is not the sum of its open escrows".into()
		}
	);
}

#[test]
fn a_value_that_does_not_decode_fails_the_check() {
	let mut storage = genesis();
	let key = pallet_escrow::Escrows::<Runtime>::hashed_key_for(EscrowPurpose::Workflow(1));
	storage.top.insert(key, vec![0xff]);

	assert!(matches!(check(&snapshot_of(storage)), Err(Error::Upgrade(_))));
}

#[test]
fn a_storage_version_no_migration_reaches_fails_the_check() {
	// Verification's state written by a runtime newer than this one.
	let mut storage = genesis();
	storage.top.insert(StorageVersion::storage_key::<Verification>().to_vec(), StorageVersion::new(5).encode());

	let error = check(&snapshot_of(storage)).expect_err("no migration goes back from 5");

	assert!(matches!(&error, Error::Upgrade(why) if why.contains("storage version do not match")), "{error}");
}

#[test]
fn the_snapshot_file_reads_back_as_written() {
	let snapshot = snapshot_of(genesis());
	let top: serde_json::Map<String, serde_json::Value> = snapshot
		.top
		.iter()
		.map(|(key, value)| (sp_core::bytes::to_hex(key, false), sp_core::bytes::to_hex(value, false).into()))
		.collect();
	let json = serde_json::json!({
		"block": {
			"hash": format!("{:?}", snapshot.block_hash),
			"number": snapshot.block_number,
			"stateRoot": format!("{:?}", snapshot.state_root),
		},
		"runtime": { "specName": snapshot.spec_name, "specVersion": snapshot.spec_version },
		"top": top,
	});

	assert_eq!(Snapshot::from_json(json.to_string().as_bytes()), Ok(snapshot));
	assert!(matches!(Snapshot::from_json(b"{\"block\": {}}"), Err(Error::MalformedSnapshot(_))));
}
