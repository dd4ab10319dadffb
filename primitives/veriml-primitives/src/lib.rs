//! Chain-wide types, constants and interfaces of veriml.
//!
//! The runtime, the pallets' mock runtimes and the node all name accounts, balances and blocks
//! through this crate, so a change of representation happens in one place.
//!
//! The interfaces through which one pallet uses another live here too (as `sp-staking` holds
//! staking's): a pallet depends on the interface, not on the pallet that provides it, so a
//! mock or another provider can stand in and the dependency graph of the pallets stays flat.
//!
//! | module | interface | provided by | used by |
//! |---|---|---|---|
//! | [`nodes`] | [`BondedNodes`](nodes::BondedNodes) | `pallet-bonded-nodes` (each instance) | inference requests, verification, data feeds |
//! | [`models`] | [`ModelCatalog`](models::ModelCatalog), [`UploadedBytes`](models::UploadedBytes) | `pallet-model-registry` | inference requests, workflows |
//! | [`verification`] | [`ResultVerifier`](verification::ResultVerifier) | `pallet-verification` | inference requests |
//! | [`verification`] | [`VerifiedJobs`](verification::VerifiedJobs) | `pallet-inference-requests` | verification |
//! | [`escrow`] | [`Escrow`](escrow::Escrow) | `pallet-escrow` | inference requests, workflows |
//! | [`requests`] | [`InferenceRequests`](requests::InferenceRequests) | `pallet-inference-requests` | workflows |
//! | [`feeds`] | [`FeedValues`](feeds::FeedValues) | `pallet-data-feeds` | workflows |
//!
//! [`content`] names what the content store keeps outside state: the Merkle tree over an item's
//! chunk hashes, shared by the store, the node's RPC and the clients' checks.
//!
//! [`generation`] judges a challenge of a generation's answer one step at a time, as a dispute
//! over a generation is decided.
//!
//! [`invariants`] holds what the pallets' invariants (`try_state`) share: every hold equals the
//! sum of the records it secures ([`ExpectedHolds`](invariants::ExpectedHolds)).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use sp_runtime::{
	traits::{IdentifyAccount, Verify},
	MultiSignature,
};

/// A block number.
pub type BlockNumber = u32;

/// Signature of a transaction: sr25519, ed25519 or ecdsa, as polkadot.js signs by default.
pub type Signature = MultiSignature;

/// An account: the public key of the transaction signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;

/// An amount of the native token, in its smallest unit (planck).
pub type Balance = u128;

/// The number of transactions an account has sent.
pub type Nonce = u32;

/// A hash of block or state data.
pub type Hash = sp_core::H256;

/// Units of engine work: the deterministic engine's fuel (one per wasm instruction of its guest,
/// plus the metered cost of its bulk memory work and of the host's kernels). Models are measured,
/// runs are limited and weights are charged in it.
pub type Fuel = u64;

/// The native token, as wallets show it.
pub mod currency {
	use super::Balance;

	/// Ticker shown by wallets and polkadot.js.
	pub const TOKEN_SYMBOL: &str = "VML";
	/// Decimal places of one VML: balances are stored in planck, 10^-12 VML.
	pub const TOKEN_DECIMALS: u8 = 12;
	/// One VML in planck.
	pub const UNIT: Balance = 1_000_000_000_000;
	/// One thousandth of a VML.
	pub const MILLI_UNIT: Balance = UNIT / 1_000;
	/// One millionth of a VML.
	pub const MICRO_UNIT: Balance = UNIT / 1_000_000;
	/// The smallest balance an account may hold: 0.001 VML. Below it the account is reaped, so
	/// dust accounts cannot bloat state for free.
	pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;
}

/// Block time and the durations derived from it.
pub mod time {
	use super::BlockNumber;

	/// Target block time. Aura's slot is this long; it cannot change after genesis.
	pub const MILLISECS_PER_BLOCK: u64 = 6_000;
	/// Aura slot duration.
	pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;
	/// Blocks in one minute.
	pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
	/// Blocks in one hour.
	pub const HOURS: BlockNumber = MINUTES * 60;
	/// Blocks in one day.
	pub const DAYS: BlockNumber = HOURS * 24;
}

/// SS58 address prefix: 42, the generic Substrate prefix, so dev accounts read as polkadot.js
/// users already know them (5Grw... for Alice).
pub const SS58_PREFIX: u16 = 42;

pub mod content;
pub mod escrow;
pub mod feeds;
pub mod generation;
pub mod invariants;
pub mod models;
pub mod nodes;
pub mod protobuf;
pub mod requests;
pub mod verification;
