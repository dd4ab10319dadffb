//! The checks an operator runs before a runtime upgrade, `try-runtime` style, on a snapshot of
//! a running chain ([`Snapshot`], written by `scripts/lib/state-snapshot.mjs`): this runtime, the
//! one about to be enacted, runs its upgrade on the snapshot's state ([`check`]).
//!
//! - The snapshot is the chain's state at its block: its storage root is the block header's.
//! - The migrations (`veriml_runtime::Migrations` and every pallet's own) run with their pre- and
//!   post-upgrade checks; every pallet's on-chain storage version must then be its code's (a pallet
//!   whose version moved without a migration fails here), the whole state must decode, and every
//!   pallet's invariants (`try_state`) must hold.
//! - The upgrade fits a block: its weight is at most the block's maximum.
//! - A second run changes nothing: every migration is idempotent.
//!
//! The runtime is compiled natively with `try-runtime` (the on-chain wasm is built without it).
#![cfg(feature = "try-runtime")]

use std::collections::BTreeMap;

use frame_support::{
	traits::{
		PalletInfoData, PalletsInfoAccess, TryState, TryStateSelect, UpgradeCheckSelect,
		STORAGE_VERSION_STORAGE_KEY_POSTFIX,
	},
	weights::Weight,
};
use sp_core::{
	storage::{well_known_keys::CODE, Storage},
	H256,
};
use veriml_runtime::{configs::RuntimeBlockWeights, AllPalletsWithSystem, Executive, VERSION};

/// A chain's whole state at one block, as `scripts/lib/state-snapshot.mjs` writes it (JSON):
/// `{"block": {"hash", "number", "stateRoot"}, "runtime": {"specName", "specVersion"},
/// "top": {"0x<key>": "0x<value>", ...}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
	pub block_hash: H256,
	pub block_number: u32,
	pub state_root: H256,
	/// The runtime the chain ran at that block.
	pub spec_name: String,
	pub spec_version: u32,
	/// Every key of the main trie with its value (veriml uses no child tries).
	pub top: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Why an upgrade check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
	/// The snapshot file is not one `state-snapshot.mjs` writes.
	MalformedSnapshot(String),
	/// The snapshot's state does not hash to its block's state root: keys are missing or altered.
	StateRoot { header: H256, snapshot: H256 },
	/// A migration's pre- or post-upgrade check, a storage version or the state's decoding
	/// failed (the runtime's message; its log above names the pallet).
	Upgrade(String),
	/// A pallet's invariant (`try_state`) does not hold after the upgrade.
	Invariant { pallet: String, broken: String },
	/// The upgrade weighs more than a block may.
	Overweight { weight: Weight, max_block: Weight },
	/// Running the upgrade again changed the state.
	NotIdempotent { first: H256, second: H256 },
}

impl core::fmt::Display for Error {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			Error::MalformedSnapshot(why) => write!(f, "malformed snapshot: {why}"),
			Error::StateRoot { header, snapshot } => {
				write!(f, "the snapshot's state hashes to {snapshot:?}, its block's header says {header:?}")
			},
			Error::Upgrade(why) => write!(f, "the upgrade's checks failed: {why}"),
			Error::Invariant { pallet, broken } => write!(f, "{pallet}'s invariants: {broken}"),
			Error::Overweight { weight, max_block } => {
				write!(f, "the upgrade weighs {weight:?}, more than a block's {max_block:?}")
			},
			Error::NotIdempotent { first, second } => {
				write!(f, "a second run of the upgrade changed the state (storage root {first:?} became {second:?})")
			},
		}
	}
}

impl std::error::Error for Error {}

/// A pallet's storage version on chain before and after the upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PalletVersion {
	pub pallet: String,
	pub before: u16,
	pub after: u16,
}

/// What a passed check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
	/// The runtime checked: `spec_name` and `spec_version` of this build.
	pub spec_version: u32,
	pub pallets: Vec<PalletVersion>,
	pub weight: Weight,
	pub max_block: Weight,
}

fn hex(value: &serde_json::Value, what: &str) -> Result<Vec<u8>, Error> {
	let text = value.as_str().ok_or_else(|| Error::MalformedSnapshot(format!("{what} is not a string")))?;
	sp_core::bytes::from_hex(text).map_err(|error| Error::MalformedSnapshot(format!("{what}: {error}")))
}

fn hash(value: &serde_json::Value, what: &str) -> Result<H256, Error> {
	let bytes = hex(value, what)?;
	(bytes.len() == 32)
		.then(|| H256::from_slice(&bytes))
		.ok_or_else(|| Error::MalformedSnapshot(format!("{what} is not 32 bytes")))
}

fn number(value: &serde_json::Value, what: &str) -> Result<u32, Error> {
	value
		.as_u64()
		.and_then(|number| u32::try_from(number).ok())
		.ok_or_else(|| Error::MalformedSnapshot(format!("{what} is not a u32")))
}

impl Snapshot {
	/// Reads a snapshot file's JSON.
	pub fn from_json(json: &[u8]) -> Result<Self, Error> {
		let value: serde_json::Value =
			serde_json::from_slice(json).map_err(|error| Error::MalformedSnapshot(error.to_string()))?;
		let block = &value["block"];
		let runtime = &value["runtime"];
		let entries = value["top"].as_object().ok_or_else(|| Error::MalformedSnapshot("no top map".into()))?;
		let mut top = BTreeMap::new();
		for (key, value) in entries {
			let key = sp_core::bytes::from_hex(key)
				.map_err(|error| Error::MalformedSnapshot(format!("key {key}: {error}")))?;
			if sp_core::storage::well_known_keys::is_child_storage_key(&key) {
				return Err(Error::MalformedSnapshot("a child trie's root is in the state: veriml uses none".into()));
			}
			top.insert(key, hex(value, "a value")?);
		}
		Ok(Snapshot {
			block_hash: hash(&block["hash"], "block.hash")?,
			block_number: number(&block["number"], "block.number")?,
			state_root: hash(&block["stateRoot"], "block.stateRoot")?,
			spec_name: runtime["specName"]
				.as_str()
				.ok_or_else(|| Error::MalformedSnapshot("runtime.specName is not a string".into()))?
				.to_owned(),
			spec_version: number(&runtime["specVersion"], "runtime.specVersion")?,
			top,
		})
	}

	/// The state, as the runtime reads it, checked against the block's state root.
	fn externalities(&self) -> Result<sp_io::TestExternalities, Error> {
		let state_version = VERSION.state_version();
		// TestExternalities sets `:code` itself: to the snapshot's, so the root is the chain's.
		let code = self.top.get(CODE).cloned().unwrap_or_default();
		let storage = Storage { top: self.top.clone(), children_default: Default::default() };
		let mut ext = sp_io::TestExternalities::new_with_code_and_state(&code, storage, state_version);
		let root = ext.execute_with(storage_root);
		if root != self.state_root {
			return Err(Error::StateRoot { header: self.state_root, snapshot: root });
		}
		Ok(ext)
	}
}

fn storage_root() -> H256 {
	H256::from_slice(&sp_io::storage::root(VERSION.state_version()))
}

/// Every pallet's storage version as stored on chain (0 where none is stored, as FRAME reads it).
fn storage_versions() -> Vec<(String, u16)> {
	<AllPalletsWithSystem as PalletsInfoAccess>::infos()
		.into_iter()
		.map(|PalletInfoData { name, .. }| {
			let key = frame_support::storage::storage_prefix(name.as_bytes(), STORAGE_VERSION_STORAGE_KEY_POSTFIX);
			(name.to_owned(), frame_support::storage::unhashed::get_or_default::<u16>(&key))
		})
		.collect()
}

/// Every pallet's `try_state`, pallet by pallet.
fn invariants() -> Result<(), Error> {
	let now = veriml_runtime::System::block_number();
	for PalletInfoData { name, .. } in <AllPalletsWithSystem as PalletsInfoAccess>::infos() {
		let only = TryStateSelect::Only(vec![name.as_bytes().to_vec()]);
		<AllPalletsWithSystem as TryState<_>>::try_state(now, only).map_err(|error| Error::Invariant {
			pallet: name.to_owned(),
			broken: match error {
				sp_runtime::DispatchError::Other(broken) => broken.to_owned(),
				other => format!("{other:?}"),
			},
		})?;
	}
	Ok(())
}

/// Runs this runtime's upgrade on the snapshot's state with every check (see the crate's docs).
pub fn check(snapshot: &Snapshot) -> Result<Report, Error> {
	let mut ext = snapshot.externalities()?;
	ext.execute_with(|| {
		let before = storage_versions();
		// The migrations with their checks and the state decoded; then each pallet's invariants
		// on their own, so that a failure names its pallet.
		let weight = Executive::try_runtime_upgrade(UpgradeCheckSelect::PreAndPost)
			.map_err(|error| Error::Upgrade(format!("{error:?}")))?;
		invariants()?;
		let max_block = RuntimeBlockWeights::get().max_block;
		if weight.any_gt(max_block) {
			return Err(Error::Overweight { weight, max_block });
		}
		let after = storage_versions();
		let first = storage_root();
		Executive::try_runtime_upgrade(UpgradeCheckSelect::None)
			.map_err(|error| Error::Upgrade(format!("second run: {error:?}")))?;
		let second = storage_root();
		if first != second {
			return Err(Error::NotIdempotent { first, second });
		}
		let pallets = before
			.into_iter()
			.zip(after)
			.map(|((pallet, before), (_, after))| PalletVersion { pallet, before, after })
			.collect();
		Ok(Report { spec_version: VERSION.spec_version, pallets, weight, max_block })
	})
}

/// The check's verdict as the script prints it.
pub fn describe(snapshot: &Snapshot, report: &Report) -> String {
	let percent = |part: u64, whole: u64| part as f64 * 100.0 / whole.max(1) as f64;
	let mut text = format!(
		"snapshot of block #{} {:?}: {} keys, runtime {} spec {}; its state root matches the header\n",
		snapshot.block_number,
		snapshot.block_hash,
		snapshot.top.len(),
		snapshot.spec_name,
		snapshot.spec_version,
	);
	text += &format!("upgrade to spec {}: storage versions\n", report.spec_version);
	for PalletVersion { pallet, before, after } in &report.pallets {
		let moved = if before == after { String::new() } else { format!(" -> {after} (migrated)") };
		text += &format!("  {pallet:<24} v{before}{moved}\n");
	}
	text += &format!(
		"pre- and post-upgrade checks, storage versions, decoding of the whole state, every pallet's invariants: ok\n\
		 upgrade weight: ref_time {} ({:.2} % of a block), proof_size {} ({:.2} %)\n\
		 a second run changes nothing: ok\n",
		report.weight.ref_time(),
		percent(report.weight.ref_time(), report.max_block.ref_time()),
		report.weight.proof_size(),
		percent(report.weight.proof_size(), report.max_block.proof_size()),
	);
	text
}
