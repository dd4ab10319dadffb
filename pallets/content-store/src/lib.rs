//! # Content store
//!
//! Bytes too large for state (models beyond the registry's 8 MiB, archived documents, up to
//! [`Config::MaxChunks`] chunks of [`Config::ChunkBytes`]: 1 GiB in the runtime) are kept
//! outside it. Each chunk enters the chain as *indexed transaction data*: the node stores the
//! chunk's bytes in its database beside the block body, under the chunk's blake2-256, and serves
//! them by that hash (RPC `veriml_contentChunk`; IPFS bitswap with `--ipfs-server`, the CID of
//! [`chunk_cid`](veriml_primitives::content::chunk_cid)). State keeps only the manifest.
//!
//! An item is named by the root of the Merkle tree over its chunks' hashes
//! ([`ContentRoot`], `veriml_primitives::content`). Its owner:
//! 1. [`begin_store`](Pallet::begin_store)s it with its length, its chunks' hashes and the
//!    blocks it is to be kept for. A deposit for the records in state is held
//!    ([`Config::DepositPerItem`] + [`Config::DepositPerChunk`] per chunk), and the retention
//!    fee ([`Config::FeePerChunkBlock`] per chunk per block) is paid to the store's account,
//!    from which those who keep the bytes are paid;
//! 2. sends the chunks, in any order and over as many blocks as it takes, with
//!    [`store_chunk`](Pallet::store_chunk): each must hash to its place in the list. The last
//!    one completes the item: its manifest ([`Items`]) and chunk list ([`ItemChunks`]) are
//!    kept until [`Manifest::retained_until`].
//!
//! Anyone may [`renew`](Pallet::renew) an item by paying for more blocks; its owner may
//! [`remove`](Pallet::remove) it, unless something on chain uses it
//! ([`Config::ContentInUse`]). When its retention ends the item leaves state on its own and its
//! deposit is released; so does an upload not completed within [`Config::UploadPeriod`]
//! (its fee is not refunded, nor is it when the owner [`abort_store`](Pallet::abort_store)s).
//!
//! When a chunk is stored, the store also computes its *segment root* from its bytes (the same
//! tree over the blake2-256 of its 256-byte segments,
//! [`segment_root`](veriml_primitives::content::segment_root)) and keeps it with the item
//! ([`ItemSegments`]): storage nodes prove they keep a chunk by showing a segment of it against
//! that root (`pallet-storage-proofs`, which reads the stored items through
//! [`ProvableContent`]).
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations; `types.rs` the records; `impls.rs` deposits, fees and
//! expiry; `try_state.rs` the invariants.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod impls;
mod try_state;
mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use crate::impls::EXPIRY_BLOCKS_PER_BLOCK;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			Contains,
		},
		PalletId,
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::{Saturating, Zero};
	use veriml_primitives::content;

	/// Balance of the currency deposits are held and fees paid in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// An upload in progress.
	pub type UploadOf<T> = Upload<BalanceOf<T>, BlockNumberFor<T>, <T as Config>::MaxChunks>;

	/// A stored item's manifest.
	pub type ManifestOf<T> = Manifest<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

	/// The chunks' hashes of an item.
	pub type ChunkHashesOf<T> = BoundedVec<ChunkHash, <T as Config>::MaxChunks>;

	/// The segment roots of an upload's or item's chunks.
	pub type SegmentRootsOf<T> = BoundedVec<SegmentRoot, <T as Config>::MaxChunks>;

	/// What leaves state at some block.
	pub type ExpiringOf<T> = Expiring<<T as frame_system::Config>::AccountId>;

	/// An item's UnixFS file node, as `storeFileNode` takes it.
	pub type FileNodeOf<T> = BoundedVec<u8, MaxFileNodeBytes<T>>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency deposits are held and fees paid in.
		type Currency: Mutate<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The store's account (derived from this id): retention fees are paid into it.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Items that must not be removed now (for example, the bytes of a registered model).
		type ContentInUse: Contains<ContentRoot>;

		/// Items whose retention must not end now, because work in flight reads them (for
		/// example, the bytes of a model with open inference requests, which nodes are judged
		/// by re-executing). Their expiry is put off by `PinnedRetention` blocks at a time,
		/// without a fee, until they are no longer pinned.
		type ContentPinned: Contains<ContentRoot>;

		/// Blocks a pinned item's expiry is put off by, each time it comes while pinned.
		#[pallet::constant]
		type PinnedRetention: Get<BlockNumberFor<Self>>;

		/// Size of every chunk but an item's last.
		#[pallet::constant]
		type ChunkBytes: Get<u32>;

		/// Most chunks of one item.
		#[pallet::constant]
		type MaxChunks: Get<u32>;

		/// Deposit held per upload or item, whatever its size.
		#[pallet::constant]
		type DepositPerItem: Get<BalanceOf<Self>>;

		/// Deposit held per chunk (its hash and bit in state).
		#[pallet::constant]
		type DepositPerChunk: Get<BalanceOf<Self>>;

		/// Retention fee per chunk per block kept, paid to the store's account.
		#[pallet::constant]
		type FeePerChunkBlock: Get<BalanceOf<Self>>;

		/// Fewest blocks an item may be stored or renewed for.
		#[pallet::constant]
		type MinRetention: Get<BlockNumberFor<Self>>;

		/// Most blocks ahead an item's retention may end.
		#[pallet::constant]
		type MaxRetention: Get<BlockNumberFor<Self>>;

		/// Blocks an upload has to complete before it expires.
		#[pallet::constant]
		type UploadPeriod: Get<BlockNumberFor<Self>>;

		/// Most uploads and items that leave state at the start of one block; more wait for
		/// the next blocks.
		#[pallet::constant]
		type MaxExpiriesPerBlock: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Deposit for an upload's or an item's records in state.
		ContentStorage,
	}

	/// Uploads in progress, by uploader and the root their chunks make. Each uploader has its
	/// own: nobody can block the bytes someone else is storing.
	#[pallet::storage]
	pub type Uploads<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, ContentRoot, UploadOf<T>>;

	/// Stored items' manifests, by root (computed here from the chunks' hashes, so `Identity`
	/// keys are balanced).
	#[pallet::storage]
	pub type Items<T: Config> = StorageMap<_, Identity, ContentRoot, ManifestOf<T>>;

	/// Stored items' UnixFS file nodes ([`content::file_node`]), by root: the blake2-256 of the
	/// node's bytes, which nodes keep as indexed transaction data and serve over bitswap under
	/// the item's file CID ([`content::file_cid`]), so that an IPFS client reads the whole item
	/// by one CID. Stored once, by anyone, with `storeFileNode`; leaves with the item (its
	/// deposit, `DepositPerItem`, covers the entry).
	#[pallet::storage]
	pub type FileNodes<T: Config> = StorageMap<_, Identity, ContentRoot, content::FileNodeHash>;

	/// Stored items' chunk hashes, in order: the keys under which nodes keep and serve them.
	/// The engine's host functions read this value themselves (`inference::run_stored`, as a
	/// SCALE `Vec<H256>`): its type is part of the host interface.
	#[pallet::storage]
	pub type ItemChunks<T: Config> = StorageMap<_, Identity, ContentRoot, ChunkHashesOf<T>>;

	/// Each upload's chunks' segment roots ([`SegmentRoot`]), computed from the bytes as each
	/// chunk is stored (zero for a chunk not stored yet): what the item's storage proofs are
	/// checked against once it is complete.
	#[pallet::storage]
	pub type UploadSegments<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, ContentRoot, SegmentRootsOf<T>>;

	/// Stored items' chunks' segment roots, in order: storage nodes prove each chunk against its
	/// root. Items stored before spec 116 have none and are not proven.
	#[pallet::storage]
	pub type ItemSegments<T: Config> = StorageMap<_, Identity, ContentRoot, SegmentRootsOf<T>>;

	/// The items storage nodes prove, at positions `0..ProvableCount` (in no order: the last
	/// takes the place of one that leaves), from which challenges are drawn.
	#[pallet::storage]
	pub type ProvableItems<T: Config> = StorageMap<_, Twox64Concat, u32, ContentRoot>;

	/// How many items storage nodes prove.
	#[pallet::storage]
	pub type ProvableCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Each proven item's position in [`ProvableItems`].
	#[pallet::storage]
	pub type ProvablePositions<T: Config> = StorageMap<_, Identity, ContentRoot, u32>;

	/// What leaves state at the start of a block: each upload and item is listed once, under
	/// the block it expires at.
	#[pallet::storage]
	pub type Expiries<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Blake2_128Concat, ExpiringOf<T>, ()>;

	/// The first block whose expiries have not all been handled.
	#[pallet::storage]
	pub type NextExpiry<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			Pallet::<T>::ensure_account();
			NextExpiry::<T>::put(frame_system::Pallet::<T>::block_number());
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An upload began: `deposit` is held from `owner`, `fee` paid for `retain_for` blocks.
		UploadStarted {
			root: ContentRoot,
			owner: T::AccountId,
			byte_len: u32,
			chunk_count: u32,
			deposit: BalanceOf<T>,
			fee: BalanceOf<T>,
			retain_for: BlockNumberFor<T>,
		},
		/// Chunk `index` of the upload of `root` was indexed under `chunk_hash`.
		ChunkStored { root: ContentRoot, owner: T::AccountId, index: u32, chunk_hash: ChunkHash, chunks_received: u32 },
		/// The last chunk arrived: the item is stored and kept until `retained_until`.
		ContentStored {
			root: ContentRoot,
			owner: T::AccountId,
			byte_len: u32,
			chunk_count: u32,
			retained_until: BlockNumberFor<T>,
		},
		/// The upload completed an item someone else had stored meanwhile: its retention was
		/// added to the item's (which now ends at `retained_until`) and its deposit released.
		UploadJoined {
			root: ContentRoot,
			owner: T::AccountId,
			deposit: BalanceOf<T>,
			retained_until: BlockNumberFor<T>,
		},
		/// An upload was aborted by its owner, or expired incomplete; its deposit was released.
		UploadEnded { root: ContentRoot, owner: T::AccountId, deposit: BalanceOf<T>, expired: bool },
		/// `payer` paid `fee` to keep the item until `retained_until`.
		Renewed { root: ContentRoot, payer: T::AccountId, fee: BalanceOf<T>, retained_until: BlockNumberFor<T> },
		/// The item left state, removed by its owner or at the end of its retention; its
		/// deposit was released.
		ContentRemoved { root: ContentRoot, owner: T::AccountId, deposit: BalanceOf<T>, expired: bool },
		/// The item's retention ended while work in flight read it (`ContentPinned`): it is
		/// kept, without a fee, until `retained_until`, and again while it is pinned.
		ContentHeldOver { root: ContentRoot, retained_until: BlockNumberFor<T> },
		/// The item's UnixFS file node was stored: nodes serve the whole item over bitswap
		/// under the CID `content::file_cid(node_hash)` (v1, dag-pb, blake2b-256).
		FileNodeStored { root: ContentRoot, node_hash: content::FileNodeHash },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The length is zero, above `ChunkBytes * MaxChunks`, or does not take exactly as many
		/// chunks as hashes were given.
		InvalidLength,
		/// The retention is shorter than `MinRetention` or ends more than `MaxRetention`
		/// blocks ahead.
		InvalidRetention,
		/// An item with this root is already stored.
		AlreadyStored,
		/// The caller is already uploading these chunks.
		UploadInProgress,
		/// The caller has no upload of this root in progress.
		UnknownUpload,
		/// The chunk index is beyond the item's chunks.
		ChunkOutOfRange,
		/// The chunk has the wrong length: every one but the last is `ChunkBytes` long.
		WrongChunkLength,
		/// The chunk's bytes do not hash to its place in the item.
		ChunkMismatch,
		/// This chunk was already stored.
		ChunkAlreadyStored,
		/// The account cannot cover the deposit.
		InsufficientDeposit,
		/// The account cannot pay the retention fee.
		InsufficientFee,
		/// No item with this root is stored.
		UnknownItem,
		/// Only the item's owner may do this.
		NotOwner,
		/// Something on chain uses the item (a registered model's bytes, say).
		ContentInUse,
		/// The call was not made from a transaction of a block (its data cannot be indexed).
		NotInBlock,
		/// The chunk's bytes do not end the transaction that carries them (the call is wrapped
		/// in another that adds bytes after it, or batched with others): nodes index the end of
		/// a transaction, so `storeChunk` must be sent as a transaction's own call (or as the
		/// call of `sudo.sudoAs`, which ends with it).
		ChunkNotAtEnd,
		/// The item's file node is stored already.
		FileNodeStored,
		/// These bytes are not the item's file node (`content::file_node` of its length and
		/// chunks).
		NotFileNode,
		/// The file node's bytes do not end the transaction that carries them (as for
		/// `ChunkNotAtEnd`).
		FileNodeNotAtEnd,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Begin storing an item of `byte_len` bytes whose chunks (`ChunkBytes` each, the last
		/// one the rest) hash to `chunk_hashes`, to be kept for `retain_for` blocks once
		/// complete. Its root is computed from the hashes and named in `UploadStarted`.
		///
		/// Holds the deposit and pays the retention fee (not refunded if the upload is aborted
		/// or expires). The chunks follow through `store_chunk` within `UploadPeriod` blocks.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::begin_store(chunk_hashes.len() as u32))]
		pub fn begin_store(
			origin: OriginFor<T>,
			byte_len: u32,
			chunk_hashes: ChunkHashesOf<T>,
			retain_for: BlockNumberFor<T>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let chunk_count = chunk_hashes.len() as u32;
			ensure!(
				byte_len > 0
					&& chunk_count <= T::MaxChunks::get()
					&& byte_len.div_ceil(T::ChunkBytes::get()) == chunk_count,
				Error::<T>::InvalidLength
			);
			ensure!(
				retain_for >= T::MinRetention::get() && retain_for <= T::MaxRetention::get(),
				Error::<T>::InvalidRetention
			);
			let root = content::chunk_root(&chunk_hashes);
			ensure!(!Items::<T>::contains_key(root), Error::<T>::AlreadyStored);
			ensure!(!Uploads::<T>::contains_key(&owner, root), Error::<T>::UploadInProgress);

			let deposit = Self::deposit_for(chunk_count);
			let fee = Self::fee_for(chunk_count, retain_for);
			T::Currency::hold(&HoldReason::ContentStorage.into(), &owner, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
			Self::pay_fee(&owner, fee)?;

			let expires_at = frame_system::Pallet::<T>::block_number().saturating_add(T::UploadPeriod::get());
			let received = BoundedVec::try_from(alloc::vec![0u8; chunk_count.div_ceil(8) as usize])
				.map_err(|_| Error::<T>::InvalidLength)?;
			Uploads::<T>::insert(
				&owner,
				root,
				Upload { byte_len, chunk_hashes, received, chunks_received: 0, retain_for, deposit, expires_at },
			);
			let segments = BoundedVec::try_from(alloc::vec![SegmentRoot::zero(); chunk_count as usize])
				.map_err(|_| Error::<T>::InvalidLength)?;
			UploadSegments::<T>::insert(&owner, root, segments);
			Expiries::<T>::insert(expires_at, Expiring::Upload(owner.clone(), root), ());
			Self::deposit_event(Event::UploadStarted { root, owner, byte_len, chunk_count, deposit, fee, retain_for });
			Ok(())
		}

		/// Store chunk `index` of the caller's upload of `root`: `data` must hash to the
		/// chunk's place in the item and end the transaction. The bytes are indexed, not kept in
		/// state: nodes keep them beside the block and serve them by their hash. The last chunk
		/// completes the item; if someone else stored the same item meanwhile, the upload's
		/// retention is added to that item's instead and its deposit released.
		#[pallet::call_index(1)]
		#[pallet::weight(
			T::WeightInfo::store_chunk(data.len() as u32)
				.saturating_add(T::WeightInfo::complete_item(T::MaxChunks::get()))
		)]
		pub fn store_chunk(
			origin: OriginFor<T>,
			root: ContentRoot,
			index: u32,
			// Last, so that its bytes end the transaction: the indexed part.
			data: BoundedVec<u8, T::ChunkBytes>,
		) -> DispatchResultWithPostInfo {
			let owner = ensure_signed(origin)?;
			let mut upload = Uploads::<T>::get(&owner, root).ok_or(Error::<T>::UnknownUpload)?;
			let chunk_hash = *upload.chunk_hashes.get(index as usize).ok_or(Error::<T>::ChunkOutOfRange)?;
			ensure!(!upload.has(index), Error::<T>::ChunkAlreadyStored);
			ensure!(data.len() as u32 == Self::chunk_len(upload.byte_len, index), Error::<T>::WrongChunkLength);
			ensure!(content::chunk_hash(&data) == chunk_hash, Error::<T>::ChunkMismatch);
			Self::index_transaction_end(&data, chunk_hash.0, Error::<T>::ChunkNotAtEnd)?;
			// An upload begun before spec 116 has no segment roots: its item is not proven.
			let _ = UploadSegments::<T>::try_mutate(&owner, root, |segments| -> Result<(), ()> {
				*segments.as_mut().and_then(|list| list.get_mut(index as usize)).ok_or(())? =
					content::segment_root(&data);
				Ok(())
			});
			upload.mark(index);
			Self::deposit_event(Event::ChunkStored {
				root,
				owner: owner.clone(),
				index,
				chunk_hash,
				chunks_received: upload.chunks_received,
			});
			let weight = T::WeightInfo::store_chunk(data.len() as u32);
			if upload.chunks_received < upload.chunk_count() {
				Uploads::<T>::insert(&owner, root, upload);
				return Ok(Some(weight).into());
			}
			let chunk_count = upload.chunk_count();
			Self::complete(owner, root, upload);
			Ok(Some(weight.saturating_add(T::WeightInfo::complete_item(chunk_count))).into())
		}

		/// Abort the caller's upload of `root`: its deposit is released (its fee is not).
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::abort_store())]
		pub fn abort_store(origin: OriginFor<T>, root: ContentRoot) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let upload = Uploads::<T>::take(&owner, root).ok_or(Error::<T>::UnknownUpload)?;
			Expiries::<T>::remove(upload.expires_at, Expiring::Upload(owner.clone(), root));
			UploadSegments::<T>::remove(&owner, root);
			Self::release_deposit(&owner, upload.deposit);
			Self::deposit_event(Event::UploadEnded { root, owner, deposit: upload.deposit, expired: false });
			Ok(())
		}

		/// Keep the item `root` for `extend_by` more blocks, paying their retention fee. Anyone
		/// may renew an item; its retention may end at most `MaxRetention` blocks ahead.
		/// The fee is not refunded if the owner removes the item.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::renew())]
		pub fn renew(origin: OriginFor<T>, root: ContentRoot, extend_by: BlockNumberFor<T>) -> DispatchResult {
			let payer = ensure_signed(origin)?;
			let item = Items::<T>::get(root).ok_or(Error::<T>::UnknownItem)?;
			let now = frame_system::Pallet::<T>::block_number();
			// An item whose end passed but which waits in the expiry backlog is renewed from now.
			let retained_until = item.retained_until.max(now).saturating_add(extend_by);
			ensure!(
				extend_by >= T::MinRetention::get() && retained_until <= now.saturating_add(T::MaxRetention::get()),
				Error::<T>::InvalidRetention
			);
			let fee = Self::fee_for(item.chunk_count, extend_by);
			Self::pay_fee(&payer, fee)?;
			Self::retain_item_until(root, item, retained_until);
			Self::deposit_event(Event::Renewed { root, payer, fee, retained_until });
			Ok(())
		}

		/// Store the UnixFS file node of the stored item `root`: `node` must be
		/// `content::file_node` of the item's length and chunks, and end the transaction. Its
		/// bytes are indexed like a chunk's, under their blake2-256 (`FileNodes`), so nodes
		/// serve the whole item over bitswap under one CID (`content::file_cid`): an IPFS
		/// client fetches the node, then each chunk it links as a `raw` leaf. Anyone may send
		/// it (its bytes follow from the item, and it is stored once; the item's deposit covers
		/// the entry, which leaves with the item): the uploader, after the last chunk (the next
		/// nonce will do: the item is complete by then), or anyone for an item stored before.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::store_file_node(T::MaxChunks::get()))]
		pub fn store_file_node(
			origin: OriginFor<T>,
			root: ContentRoot,
			// Last, so that its bytes end the transaction: the indexed part.
			node: FileNodeOf<T>,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let item = Items::<T>::get(root).ok_or(Error::<T>::UnknownItem)?;
			ensure!(!FileNodes::<T>::contains_key(root), Error::<T>::FileNodeStored);
			let hashes = ItemChunks::<T>::get(root).ok_or(Error::<T>::UnknownItem)?;
			ensure!(
				node[..] == content::file_node(item.byte_len, T::ChunkBytes::get(), &hashes)[..],
				Error::<T>::NotFileNode
			);
			let node_hash = content::FileNodeHash::from(sp_io::hashing::blake2_256(&node));
			Self::index_transaction_end(&node, node_hash.0, Error::<T>::FileNodeNotAtEnd)?;
			FileNodes::<T>::insert(root, node_hash);
			Self::deposit_event(Event::FileNodeStored { root, node_hash });
			Ok(Some(T::WeightInfo::store_file_node(item.chunk_count)).into())
		}

		/// Remove the item `root` the caller owns from state, and release its deposit. Refused
		/// while something on chain uses it. Its fee is not refunded.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::remove())]
		pub fn remove(origin: OriginFor<T>, root: ContentRoot) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let item = Items::<T>::get(root).ok_or(Error::<T>::UnknownItem)?;
			ensure!(item.owner == owner, Error::<T>::NotOwner);
			ensure!(!T::ContentInUse::contains(&root), Error::<T>::ContentInUse);
			Expiries::<T>::remove(item.retained_until, Expiring::<T::AccountId>::Item(root));
			Self::remove_item(root, item, false);
			Ok(())
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::expire(now)
		}

		/// A chain that gains the store by an upgrade gets the store's account then, and its
		/// expiry cursor starts at the upgrade's block (not at block 0, which expiry would take
		/// a third of the chain's age to catch up from).
		fn on_runtime_upgrade() -> Weight {
			let mut weight = Self::ensure_account().saturating_add(T::DbWeight::get().reads(1));
			if !NextExpiry::<T>::exists() {
				NextExpiry::<T>::put(frame_system::Pallet::<T>::block_number());
				weight.saturating_accrue(T::DbWeight::get().writes(1));
			}
			weight
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::ChunkBytes::get() > 0 && T::MaxChunks::get() > 0, "ChunkBytes and MaxChunks must be positive");
			assert!(
				T::ChunkBytes::get().checked_mul(T::MaxChunks::get()).is_some(),
				"ChunkBytes * MaxChunks must fit in a u32 length"
			);
			assert!(
				!T::MinRetention::get().is_zero() && T::MinRetention::get() <= T::MaxRetention::get(),
				"MinRetention must be positive and not exceed MaxRetention"
			);
			assert!(T::MaxExpiriesPerBlock::get() > 0, "MaxExpiriesPerBlock must be positive");
			assert!(!T::PinnedRetention::get().is_zero(), "PinnedRetention must be positive");
			assert!(!T::UploadPeriod::get().is_zero(), "UploadPeriod must be positive");
			let worst_expiry = T::WeightInfo::expire_one()
				.saturating_mul(T::MaxExpiriesPerBlock::get().into())
				.saturating_add(T::DbWeight::get().reads_writes(2 * u64::from(EXPIRY_BLOCKS_PER_BLOCK) + 1, 1));
			assert!(
				worst_expiry.all_lte(T::BlockWeights::get().max_block / 10),
				"a block's expiries ({worst_expiry}) may take more than a tenth of a block: lower MaxExpiriesPerBlock"
			);
		}
	}
}
