//! Benchmarks of the store's calls. Uploads and items are written into state directly (with
//! their deposits held and their expiries listed) rather than stored chunk by chunk, so a
//! setup of the largest item (1024 chunks of 1 MiB in the runtime) neither sends nor holds a
//! gigabyte: only the chunk a call sends is real bytes.

use super::*;
use crate::Pallet as Store;
use alloc::{vec, vec::Vec};
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{
		fungible::{Inspect, Mutate, MutateHold},
		Get,
	},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::Saturating;
use veriml_primitives::content::{chunk_hash, chunk_root, file_node};

fn funded<T: Config>(seed: u32) -> T::AccountId {
	let who: T::AccountId = account("owner", seed, 0);
	let amount = Store::<T>::deposit_for(T::MaxChunks::get())
		.saturating_add(Store::<T>::fee_for(T::MaxChunks::get(), T::MaxRetention::get()))
		.saturating_mul(10u32.into())
		.saturating_add(T::Currency::minimum_balance());
	T::Currency::set_balance(&who, amount);
	who
}

fn retention<T: Config>() -> BlockNumberFor<T> {
	T::MinRetention::get()
}

/// The hashes of an item of `chunks` chunks whose last chunk is `last` (the others made up).
fn hashes_with_last<T: Config>(chunks: u32, last: &[u8]) -> ChunkHashesOf<T> {
	let mut hashes: Vec<ChunkHash> = (0..chunks.saturating_sub(1)).map(|i| chunk_hash(&i.to_le_bytes())).collect();
	hashes.push(chunk_hash(last));
	BoundedVec::try_from(hashes).expect("at most MaxChunks")
}

/// An upload by `who` of the item `hashes` names, `last_len` bytes in its last chunk, with every
/// chunk but the last `missing` received; returns its root.
fn uploading<T: Config>(who: &T::AccountId, hashes: ChunkHashesOf<T>, last_len: u32, missing: u32) -> ContentRoot {
	let chunks = hashes.len() as u32;
	let root = chunk_root(&hashes);
	let mut received = vec![0u8; chunks.div_ceil(8) as usize];
	for index in 0..chunks.saturating_sub(missing) {
		received[(index / 8) as usize] |= 1 << (index % 8);
	}
	let deposit = Store::<T>::deposit_for(chunks);
	T::Currency::hold(&HoldReason::ContentStorage.into(), who, deposit).expect("funded");
	let expires_at = frame_system::Pallet::<T>::block_number().saturating_add(T::UploadPeriod::get());
	Uploads::<T>::insert(
		who,
		root,
		Upload {
			byte_len: (chunks - 1) * T::ChunkBytes::get() + last_len,
			chunk_hashes: hashes,
			received: BoundedVec::try_from(received).expect("one bit a chunk"),
			chunks_received: chunks.saturating_sub(missing),
			retain_for: retention::<T>(),
			deposit,
			expires_at,
		},
	);
	let segments = (0..chunks)
		.map(
			|index| {
				if index < chunks.saturating_sub(missing) {
					SegmentRoot::repeat_byte(1)
				} else {
					SegmentRoot::zero()
				}
			},
		)
		.collect::<Vec<_>>();
	UploadSegments::<T>::insert(who, root, BoundedVec::try_from(segments).expect("one a chunk"));
	Expiries::<T>::insert(expires_at, Expiring::Upload(who.clone(), root), ());
	root
}

/// A stored item of the most chunks, owned by `who`.
fn stored<T: Config>(who: &T::AccountId) -> ContentRoot {
	let hashes = hashes_with_last::<T>(T::MaxChunks::get(), b"last");
	let root = chunk_root(&hashes);
	let deposit = Store::<T>::deposit_for(T::MaxChunks::get());
	T::Currency::hold(&HoldReason::ContentStorage.into(), who, deposit).expect("funded");
	let now = frame_system::Pallet::<T>::block_number();
	let retained_until = now.saturating_add(retention::<T>());
	Items::<T>::insert(
		root,
		Manifest {
			owner: who.clone(),
			byte_len: (T::MaxChunks::get() - 1) * T::ChunkBytes::get() + 4,
			chunk_count: T::MaxChunks::get(),
			stored_at: now,
			retained_until,
			deposit,
		},
	);
	ItemChunks::<T>::insert(root, hashes);
	let segments = vec![SegmentRoot::repeat_byte(1); T::MaxChunks::get() as usize];
	ItemSegments::<T>::insert(root, BoundedVec::try_from(segments).expect("one a chunk"));
	Store::<T>::add_provable(root);
	// Another proven item after it: removing this one moves that one into its place.
	Store::<T>::add_provable(ContentRoot::repeat_byte(9));
	Expiries::<T>::insert(retained_until, Expiring::<T::AccountId>::Item(root), ());
	root
}

/// `data` as `storeChunk(root, index, data)`'s argument, the call noted as the block's current
/// transaction (as `Executive` notes it before applying it).
fn noted<T: Config>(root: ContentRoot, index: u32, data: Vec<u8>) -> BoundedVec<u8, T::ChunkBytes> {
	let data: BoundedVec<u8, T::ChunkBytes> = BoundedVec::try_from(data).expect("at most ChunkBytes");
	frame_system::Pallet::<T>::set_extrinsic_index(0);
	frame_system::Pallet::<T>::note_extrinsic(Call::<T>::store_chunk { root, index, data: data.clone() }.encode());
	data
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn begin_store(c: Linear<1, { T::MaxChunks::get() }>) {
		let caller = funded::<T>(0);
		let hashes = hashes_with_last::<T>(c, b"last");
		let root = chunk_root(&hashes);
		let len = (c - 1) * T::ChunkBytes::get() + 4;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), len, hashes, retention::<T>());

		assert!(Uploads::<T>::contains_key(&caller, root));
	}

	/// A chunk of `b` bytes (the last of the largest upload) that does not complete its item.
	#[benchmark]
	fn store_chunk(b: Linear<1, { T::ChunkBytes::get() }>) {
		let caller = funded::<T>(0);
		let last = vec![7u8; b as usize];
		let chunks = T::MaxChunks::get();
		// With one chunk an item, the chunk completes it.
		let root = uploading::<T>(&caller, hashes_with_last::<T>(chunks, &last), b, chunks.min(2));
		let data = noted::<T>(root, chunks - 1, last);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), root, chunks - 1, data);

		assert!(chunks == 1 || Uploads::<T>::get(&caller, root).expect("still uploading").has(chunks - 1));
	}

	/// The last chunk, of one byte, of an item of `c` chunks, which completes it.
	#[benchmark]
	fn complete_item(c: Linear<1, { T::MaxChunks::get() }>) {
		let caller = funded::<T>(0);
		let root = uploading::<T>(&caller, hashes_with_last::<T>(c, &[9]), 1, 1);
		let data = noted::<T>(root, c - 1, vec![9]);

		#[extrinsic_call]
		store_chunk(RawOrigin::Signed(caller), root, c - 1, data);

		assert!(Items::<T>::contains_key(root));
	}

	#[benchmark]
	fn abort_store() {
		let caller = funded::<T>(0);
		let root = uploading::<T>(&caller, hashes_with_last::<T>(T::MaxChunks::get(), b"last"), 4, 1);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), root);

		assert!(!Uploads::<T>::contains_key(&caller, root));
	}

	#[benchmark]
	fn renew() {
		let owner = funded::<T>(0);
		let payer = funded::<T>(1);
		let root = stored::<T>(&owner);
		let until = Items::<T>::get(root).expect("stored").retained_until;

		#[extrinsic_call]
		_(RawOrigin::Signed(payer), root, T::MinRetention::get());

		assert_eq!(Items::<T>::get(root).expect("stored").retained_until, until.saturating_add(T::MinRetention::get()));
	}

	#[benchmark]
	fn remove() {
		let owner = funded::<T>(0);
		let root = stored::<T>(&owner);

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), root);

		assert!(!Items::<T>::contains_key(root));
	}

	/// An upload of the most chunks (the larger record to read) leaving state at the start of a
	/// block.
	#[benchmark]
	fn expire_one() {
		let owner = funded::<T>(0);
		let root = uploading::<T>(&owner, hashes_with_last::<T>(T::MaxChunks::get(), b"last"), 4, 1);
		let at = Uploads::<T>::get(&owner, root).expect("uploading").expires_at;
		NextExpiry::<T>::put(at);

		#[block]
		{
			Store::<T>::expire(at);
		}

		assert!(!Uploads::<T>::contains_key(&owner, root));
	}

	/// The file node of an item of `c` chunks.
	#[benchmark]
	fn store_file_node(c: Linear<1, { T::MaxChunks::get() }>) {
		let owner = funded::<T>(0);
		let hashes = hashes_with_last::<T>(c, b"last");
		let root = chunk_root(&hashes);
		let byte_len = (c - 1) * T::ChunkBytes::get() + 4;
		// The item's records (what the call reads of it).
		let now = frame_system::Pallet::<T>::block_number();
		let deposit = Store::<T>::deposit_for(c);
		let retained_until = now.saturating_add(retention::<T>());
		Items::<T>::insert(
			root,
			Manifest { owner: owner.clone(), byte_len, chunk_count: c, stored_at: now, retained_until, deposit },
		);
		ItemChunks::<T>::insert(root, hashes.clone());
		let node: FileNodeOf<T> =
			BoundedVec::try_from(file_node(byte_len, T::ChunkBytes::get(), &hashes)).expect("at most MaxFileNodeBytes");
		frame_system::Pallet::<T>::set_extrinsic_index(0);
		frame_system::Pallet::<T>::note_extrinsic(Call::<T>::store_file_node { root, node: node.clone() }.encode());

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), root, node);

		assert!(FileNodes::<T>::contains_key(root));
	}

	impl_benchmark_test_suite!(Store, crate::mock::new_test_ext(), crate::mock::Test);
}
