//! The veriml runtime.
//!
//! Composes the consensus and accounting pallets every veriml node runs (BABE block production,
//! GRANDPA finality, balances, transaction payment, sudo for dev and local networks) with
//! veriml's own: the model registry, payment escrow, inference nodes, verification and
//! inference requests. See `docs/architecture.md`.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`'s expansion is deep.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;
pub mod migrations;
pub mod weights;

use sp_runtime::{generic, impl_opaque_keys, traits::BlakeTwo256};
use sp_version::{runtime_version, RuntimeVersion};

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;
pub use veriml_primitives::{
	currency::{self, EXISTENTIAL_DEPOSIT, UNIT},
	time::{self, MILLISECS_PER_BLOCK, SLOT_DURATION},
	AccountId, Balance, BlockNumber, Hash, Nonce, Signature,
};

/// Slots of a BABE epoch: one hour.
pub const EPOCH_DURATION_IN_SLOTS: u64 = time::HOURS as u64;

/// BABE's epoch configuration from genesis: a slot has a primary author with probability 1/4,
/// and a slot without one has a secondary author who proves a VRF output too, so every block
/// carries randomness its author could not choose.
pub const BABE_GENESIS_EPOCH_CONFIG: sp_consensus_babe::BabeEpochConfiguration =
	sp_consensus_babe::BabeEpochConfiguration {
		c: (1, 4),
		allowed_slots: sp_consensus_babe::AllowedSlots::PrimaryAndSecondaryVRFSlots,
	};

/// Types the node uses without knowing the runtime's extrinsic format, so it keeps syncing
/// across runtime upgrades that change that format.
pub mod opaque {
	use super::*;
	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
}

/// The `infr` key of inference nodes, as a session key: `author_rotateKeys` creates one, and
/// `--alice`-style dev seeds put one in the keystore.
pub struct InferenceNodeKey;

impl sp_runtime::BoundToRuntimeAppPublic for InferenceNodeKey {
	type Public = pallet_inference_requests::crypto::Public;
}

/// The `feed` key of data nodes, as a session key, like `infr`.
pub struct DataNodeKey;

impl sp_runtime::BoundToRuntimeAppPublic for DataNodeKey {
	type Public = pallet_data_feeds::crypto::Public;
}

impl_opaque_keys! {
	/// The keys a node holds: BABE for authoring, GRANDPA for finality votes, `infr` for
	/// signing inference results, `feed` for signing feed values.
	pub struct SessionKeys {
		pub babe: Babe,
		pub grandpa: Grandpa,
		pub infr: InferenceNodeKey,
		pub feed: DataNodeKey,
	}
}

impl frame_system::offchain::SigningTypes for Runtime {
	type Public = <Signature as sp_runtime::traits::Verify>::Signer;
	type Signature = Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = UncheckedExtrinsic;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	/// Signs `call` as an ordinary transaction of `account` (an inference node's `infr` key),
	/// mortal for a period of blocks, without tip.
	fn create_signed_transaction<C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>>(
		call: RuntimeCall,
		public: Self::Public,
		account: AccountId,
		nonce: Nonce,
	) -> Option<UncheckedExtrinsic> {
		use codec::Encode;
		use sp_runtime::{traits::StaticLookup, SaturatedConversion};
		let period = configs::BlockHashCount::get().checked_next_power_of_two().map(|c| c / 2).unwrap_or(2) as u64;
		let current_block = System::block_number().saturated_into::<u64>().saturating_sub(1);
		let extension: TxExtension = (
			frame_system::AuthorizeCall::<Runtime>::new(),
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			frame_system::CheckEra::<Runtime>::from(generic::Era::mortal(period, current_block)),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_skip_feeless_payment::SkipCheckIfFeeless::from(
				pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
			),
			frame_system::WeightReclaim::<Runtime>::new(),
		);
		let payload = SignedPayload::new(call, extension)
			.map_err(|error| log::warn!(target: "veriml::inference", "cannot sign a transaction: {error:?}"))
			.ok()?;
		let signature = payload.using_encoded(|bytes| C::sign(bytes, public))?;
		let (call, extension, _) = payload.deconstruct();
		let address = <Runtime as frame_system::Config>::Lookup::unlookup(account);
		Some(UncheckedExtrinsic::new_signed(call, address, signature, extension))
	}
}

/// The runtime's identity. Bump `spec_version` on every change of logic and
/// `transaction_version` on every change of call or extension encoding.
#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("veriml"),
	impl_name: alloc::borrow::Cow::Borrowed("veriml-node"),
	authoring_version: 1,
	spec_version: 135,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// The address format for describing accounts.
pub type Address = sp_runtime::MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// The checks every signed transaction passes before dispatch.
pub type TxExtension = (
	frame_system::AuthorizeCall<Runtime>,
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	// The fee, unless the call is `feeless_if` for its origin (nodes' valid answers and feed
	// values). Encoded and named as the fee's extension alone: clients see no change.
	pallet_skip_feeless_payment::SkipCheckIfFeeless<
		Runtime,
		pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	>,
	frame_system::WeightReclaim<Runtime>,
);

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic = generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Storage migrations run on the next runtime upgrade, beyond the pallets' own.
#[allow(unused_parens)]
pub type Migrations = (
	migrations::v1_verification_owns_the_challenge_game::Migration,
	migrations::v2_challenge_deposits::Migration,
	migrations::v1_uploads_by_uploader::Migration,
	migrations::v1_feeds_approve_their_operators::Migration,
	pallet_model_registry::migrations::v2::Migration<Runtime>,
	pallet_model_registry::migrations::v3::Migration<Runtime>,
	pallet_inference_requests::migrations::v1::Migration<Runtime>,
);

/// Dispatches calls to the pallets and runs the block lifecycle.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(2)]
	pub type Babe = pallet_babe;

	#[runtime::pallet_index(3)]
	pub type Grandpa = pallet_grandpa;

	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(6)]
	pub type Sudo = pallet_sudo;

	#[runtime::pallet_index(7)]
	pub type SkipFeelessPayment = pallet_skip_feeless_payment;

	#[runtime::pallet_index(10)]
	pub type Models = pallet_model_registry;

	#[runtime::pallet_index(11)]
	pub type Escrow = pallet_escrow;

	#[runtime::pallet_index(12)]
	pub type InferenceNodes = pallet_bonded_nodes<Instance1>;

	#[runtime::pallet_index(13)]
	pub type Verification = pallet_verification;

	#[runtime::pallet_index(14)]
	pub type Inference = pallet_inference_requests;

	#[runtime::pallet_index(15)]
	pub type Feeds = pallet_data_feeds;

	#[runtime::pallet_index(16)]
	pub type Workflows = pallet_workflows;

	#[runtime::pallet_index(17)]
	pub type DataNodes = pallet_bonded_nodes<Instance2>;

	/// The Merkle Mountain Range of blocks and their receipt logs, whose root every header
	/// carries.
	#[runtime::pallet_index(18)]
	pub type Mmr = pallet_mmr;

	/// Large bytes kept outside state as indexed transaction data, by the Merkle root of their
	/// chunks, with a manifest, deposit and paid retention on chain.
	#[runtime::pallet_index(19)]
	pub type ContentStore = pallet_content_store;

	/// Storage nodes: `stor` keys keeping every stored item, bonded by their operators.
	#[runtime::pallet_index(20)]
	pub type StorageNodes = pallet_bonded_nodes<Instance3>;

	/// Storage nodes' duty: each period a segment of a stored chunk to prove, paid from the
	/// store's retention fees, struck and slashed when missed.
	#[runtime::pallet_index(21)]
	pub type StorageProofs = pallet_storage_proofs;
}
