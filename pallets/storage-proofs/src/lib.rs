//! # Storage proofs
//!
//! Storage nodes keep every item of the content store (`pallet-content-store`): its chunks, as
//! indexed transaction data in their database, served over RPC and IPFS bitswap. This pallet
//! makes them prove it. They are bonded nodes (`StorageNodes`, an instance of
//! `pallet-bonded-nodes` offering [`StorageService::AllItems`], signing with `stor` keys).
//!
//! - Every [`Config::ChallengePeriod`] blocks, each active storage node is challenged: from
//!   the block's randomness ([`Config::Randomness`]) and the node's account, a stored item, one
//!   of its chunks and one [`SEGMENT_BYTES`]-byte segment of it are drawn ([`Challenges`]).
//! - The node answers within the period with [`prove`](Pallet::prove): the segment and its path
//!   to the chunk's segment root, which the store computed from the chunk's bytes when it was
//!   stored. Only a node that can read the chunk can answer. A valid proof is free
//!   (`feeless_if`), clears the node's strikes and pays its operator [`Config::ProofReward`]
//!   from the store's account ([`Config::RewardPot`]), into which retention fees are paid.
//! - A challenge still open when the next period starts is a missed proof: a strike
//!   ([`BondedNodes::strike`]); the role's `MaxStrikes` missed proofs in a row slash the bond.
//!   A challenge on an item removed meanwhile is dropped without a strike.
//!
//! The node's off-chain worker answers (`offchain`): it reads the chunk from its own database
//! through the `content::chunk` host function (`veriml-content-interface`) and sends the
//! proof, signed with the node's `stor` key.
//!
//! What the proofs show: that the node can produce any challenged segment within a period. A
//! node that kept nothing but fetched each challenged chunk from others in time would pass, as
//! it would in Substrate's transaction storage; it relies on others keeping the bytes, and
//! earns nothing they do not.
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations; `impls.rs` challenges, checking proofs, rewards and the
//! invariants; `offchain.rs` the storage node's worker.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod impls;
pub mod offchain;
pub mod weights;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use veriml_primitives::{
	content::{ChunkHash, ContentRoot, ProvableContent, StorageService, SEGMENT_BYTES},
	nodes::BondedNodes,
};
pub use weights::WeightInfo;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{crypto::KeyTypeId, H256};

/// Key type of the keys with which storage nodes sign their proofs.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"stor");

/// The `stor` key: sr25519, kept in a storage node's keystore
/// (`veriml-node key insert --key-type stor --scheme sr25519`).
pub mod crypto {
	use super::KEY_TYPE;
	veriml_offchain::node_key_crypto!(
		KEY_TYPE,
		#[doc = "Signs a storage node's proofs with its `stor` key."]
		StorageNodeId
	);
}

/// Most hashes in a segment's proof: the depth of the segment tree of a chunk of up to 2^32
/// segments.
pub type MaxProofHashes = frame_support::traits::ConstU32<32>;

/// What a storage node must prove: segment `segment` of chunk `chunk` of item `root`.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Challenge<BlockNumber> {
	/// The item.
	pub root: ContentRoot,
	/// The chunk's index in the item.
	pub chunk: u32,
	/// The chunk's blake2-256: the key under which the node keeps it.
	pub chunk_hash: ChunkHash,
	/// The segment's index in the chunk.
	pub segment: u32,
	/// The block the challenge was drawn in; it is answered before the next period starts.
	pub issued_at: BlockNumber,
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{fungible::Mutate, Randomness},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use sp_runtime::traits::Zero;

	/// Balance of the currency rewards are paid in.
	pub type BalanceOf<T> = <<T as Config>::Currency as frame_support::traits::fungible::Inspect<
		<T as frame_system::Config>::AccountId,
	>>::Balance;

	/// A challenge of this runtime.
	pub type ChallengeOf<T> = Challenge<BlockNumberFor<T>>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency rewards are paid in.
		type Currency: Mutate<Self::AccountId>;

		/// The stored items and their chunks' segment roots (the content store).
		type Content: ProvableContent;

		/// The storage nodes: who is challenged, who operates them, their strikes.
		type Nodes: BondedNodes<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>, Service = StorageService>;

		/// The crypto of storage nodes' `stor` keys.
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Randomness no block author can choose, from which challenges are drawn (BABE's VRF
		/// output in the runtime; the parent hash where there is none).
		type Randomness: Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Blocks between challenges; a challenge is answered within its period.
		#[pallet::constant]
		type ChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Paid to a node's operator for each valid proof, from `RewardPot` (what it holds, if
		/// less).
		#[pallet::constant]
		type ProofReward: Get<BalanceOf<Self>>;

		/// The account rewards are paid from: the content store's, into which retention fees
		/// are paid.
		type RewardPot: Get<Self::AccountId>;

		/// Most storage nodes challenged in one period: the storage nodes'
		/// `MaxNodesPerService`.
		#[pallet::constant]
		type MaxNodes: Get<u32>;

		/// Weights of this pallet's calls and period starts.
		type WeightInfo: WeightInfo;
	}

	/// Each storage node's open challenge, drawn at the start of the period.
	#[pallet::storage]
	pub type Challenges<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, ChallengeOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `node` must prove segment `segment` of chunk `chunk` (kept under `chunk_hash`) of
		/// item `root` before the next period.
		Challenged { node: T::AccountId, root: ContentRoot, chunk: u32, chunk_hash: ChunkHash, segment: u32 },
		/// `node` proved its challenge; `reward` was paid to `operator`.
		Proven { node: T::AccountId, operator: T::AccountId, root: ContentRoot, chunk: u32, reward: BalanceOf<T> },
		/// `node` did not prove its challenge in time: a strike, and `slashed` from its bond if
		/// that was one strike too many.
		ProofMissed { node: T::AccountId, root: ContentRoot, chunk: u32, slashed: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The caller has no open challenge.
		NoChallenge,
		/// The challenged item left the store (removed or expired): nothing to prove.
		ItemGone,
		/// The segment and path do not prove the challenged segment against its chunk's
		/// segment root.
		InvalidProof,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			if (now % T::ChallengePeriod::get()).is_zero() {
				Self::start_period(now)
			} else {
				Weight::zero()
			}
		}

		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(!T::ChallengePeriod::get().is_zero(), "ChallengePeriod must be positive");
			let worst = T::WeightInfo::start_period(T::MaxNodes::get());
			assert!(
				worst.all_lte(T::BlockWeights::get().max_block / 10),
				"a period's start ({worst}) may take more than a tenth of a block: lower MaxNodes"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Prove the caller's open challenge: `segment` is the challenged segment's bytes and
		/// `proof` its path to the chunk's segment root (`veriml_primitives::content::
		/// segment_proof`). A valid proof is sent without a fee, clears the node's strikes and
		/// pays its operator `ProofReward`; an invalid one is refused and pays its fee.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::prove())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, segment: &BoundedVec<u8, ConstU32<SEGMENT_BYTES>>, proof: &BoundedVec<H256, MaxProofHashes>| -> bool {
			Pallet::<T>::proves_without_fee(origin, segment, proof)
		})]
		pub fn prove(
			origin: OriginFor<T>,
			segment: BoundedVec<u8, ConstU32<SEGMENT_BYTES>>,
			proof: BoundedVec<H256, MaxProofHashes>,
		) -> DispatchResult {
			let node = ensure_signed(origin)?;
			let challenge = Self::check_proof(&node, &segment, &proof)?;
			Challenges::<T>::remove(&node);
			T::Nodes::clear_strikes(&node);
			let (operator, reward) = match T::Nodes::operator(&node) {
				Some(operator) => {
					let reward = Self::pay_reward(&operator);
					(operator, reward)
				},
				// Withdrawn since it was challenged: proven, and nobody to pay.
				None => (node.clone(), Zero::zero()),
			};
			Self::deposit_event(Event::Proven { node, operator, root: challenge.root, chunk: challenge.chunk, reward });
			Ok(())
		}
	}
}
