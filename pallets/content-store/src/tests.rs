//! The store as its users see it: balances, storage and events.

use crate::{mock::*, Error, Event, Expiries, Expiring, ItemChunks, Items, Manifest, NextExpiry, Uploads};
use codec::Encode;
use frame_support::{
	assert_noop, assert_ok,
	dispatch::DispatchResultWithPostInfo,
	traits::{fungible::InspectHold, Hooks},
	BoundedVec,
};
use veriml_primitives::content::{ChunkHash, ContentRoot};

type ChunkData = BoundedVec<u8, frame_support::traits::ConstU32<CHUNK>>;

fn hashes_arg(hashes: &[ChunkHash]) -> BoundedVec<ChunkHash, frame_support::traits::ConstU32<MAX_CHUNKS>> {
	BoundedVec::try_from(hashes.to_vec()).unwrap()
}

/// `chunk` as `storeChunk(root, index, chunk)`'s argument, the call noted as the block's current
/// transaction (as `Executive` notes it before applying it), with `tail` after it (a wrapper's).
fn noted_with_tail(root: ContentRoot, index: u32, chunk: &[u8], tail: &[u8]) -> ChunkData {
	let data: ChunkData = BoundedVec::try_from(chunk.to_vec()).unwrap();
	let call = RuntimeCall::ContentStore(crate::Call::store_chunk { root, index, data: data.clone() });
	let mut transaction = call.encode();
	transaction.extend_from_slice(tail);
	System::note_extrinsic(transaction);
	data
}

fn noted(root: ContentRoot, index: u32, chunk: &[u8]) -> ChunkData {
	noted_with_tail(root, index, chunk, &[])
}

/// Sends chunk `index` of `root` as a transaction of its own.
fn send_chunk(owner: u64, root: ContentRoot, index: u32, chunk: &[u8]) -> DispatchResultWithPostInfo {
	let data = noted(root, index, chunk);
	ContentStore::store_chunk(RuntimeOrigin::signed(owner), root, index, data)
}

fn held(who: u64) -> u64 {
	Balances::balance_on_hold(&crate::HoldReason::ContentStorage.into(), &who)
}

fn pot() -> u64 {
	Balances::free_balance(ContentStore::account())
}

fn begin(owner: u64, data: &[u8], retain_for: u64) -> (Vec<Vec<u8>>, ContentRoot) {
	let (chunks, hashes, root) = split(data);
	assert_ok!(ContentStore::begin_store(
		RuntimeOrigin::signed(owner),
		data.len() as u32,
		hashes_arg(&hashes),
		retain_for
	));
	(chunks, root)
}

/// Stores `data` for `retain_for` blocks, its chunks in order; returns its root.
fn store(owner: u64, data: &[u8], retain_for: u64) -> ContentRoot {
	let (chunks, root) = begin(owner, data, retain_for);
	for (index, chunk) in chunks.iter().enumerate() {
		assert_ok!(send_chunk(owner, root, index as u32, chunk));
	}
	root
}

fn deposit_of(chunks: u64) -> u64 {
	DEPOSIT_PER_ITEM + chunks * DEPOSIT_PER_CHUNK
}

#[test]
fn an_item_is_stored_chunk_by_chunk_in_any_order() {
	test(|| {
		let data = bytes(3 * CHUNK + 10, 1);
		let (chunks, hashes, root) = split(&data);
		let pot_before = pot();
		let (_, begun) = begin(ALICE, &data, 50);
		assert_eq!(begun, root);
		let deposit = deposit_of(4);
		let fee = 4 * 50 * FEE_PER_CHUNK_BLOCK;
		assert_eq!(held(ALICE), deposit);
		assert_eq!(pot() - pot_before, fee);
		assert_eq!(Balances::free_balance(ALICE), ENDOWMENT - deposit - fee);
		System::assert_last_event(
			Event::UploadStarted {
				root,
				owner: ALICE,
				byte_len: data.len() as u32,
				chunk_count: 4,
				deposit,
				fee,
				retain_for: 50,
			}
			.into(),
		);

		for index in [3u32, 0, 2] {
			assert_ok!(send_chunk(ALICE, root, index, &chunks[index as usize]));
			assert!(!Items::<Test>::contains_key(root));
		}
		System::assert_last_event(
			Event::ChunkStored { root, owner: ALICE, index: 2, chunk_hash: hashes[2], chunks_received: 3 }.into(),
		);
		run_to_block(4);
		assert_ok!(send_chunk(ALICE, root, 1, &chunks[1]));
		System::assert_last_event(
			Event::ContentStored {
				root,
				owner: ALICE,
				byte_len: data.len() as u32,
				chunk_count: 4,
				retained_until: 54,
			}
			.into(),
		);
		assert_eq!(
			Items::<Test>::get(root),
			Some(Manifest {
				owner: ALICE,
				byte_len: data.len() as u32,
				chunk_count: 4,
				stored_at: 4,
				retained_until: 54,
				deposit
			})
		);
		assert_eq!(ItemChunks::<Test>::get(root).unwrap().to_vec(), hashes);
		assert!(!Uploads::<Test>::contains_key(ALICE, root));
		assert!(Expiries::<Test>::contains_key(54, Expiring::Item(root)));
		assert_eq!(held(ALICE), deposit);
	});
}

#[test]
fn each_chunk_is_indexed_under_its_hash() {
	let mut ext = new_test_ext();
	let data = bytes(CHUNK + 3, 11);
	let (chunks, hashes, root) = split(&data);
	ext.execute_with(|| {
		begin(ALICE, &data, 10);
		System::set_extrinsic_index(3);
		assert_ok!(send_chunk(ALICE, root, 1, &chunks[1]));
	});
	// What the node is told to keep: the last 3 bytes of transaction 3, under chunk 1's hash.
	match ext.overlayed_changes().transaction_index_ops() {
		[sp_state_machine::IndexOperation::Insert { extrinsic: 3, hash, size: 3 }] => assert_eq!(hash, &hashes[1].0),
		other => panic!("indexed: {other:?}"),
	}
}

#[test]
fn a_bad_beginning_is_refused_and_changes_nothing() {
	test(|| {
		let data = bytes(2 * CHUNK, 2);
		let (_, hashes, _) = split(&data);
		let len = data.len() as u32;
		let alice = || RuntimeOrigin::signed(ALICE);
		// Lengths that do not take exactly the given chunks, or none.
		assert_noop!(ContentStore::begin_store(alice(), 0, hashes_arg(&[]), 10), Error::<Test>::InvalidLength);
		assert_noop!(
			ContentStore::begin_store(alice(), len + 1, hashes_arg(&hashes), 10),
			Error::<Test>::InvalidLength
		);
		assert_noop!(ContentStore::begin_store(alice(), CHUNK, hashes_arg(&hashes), 10), Error::<Test>::InvalidLength);
		assert_noop!(
			ContentStore::begin_store(alice(), len, hashes_arg(&hashes), MIN_RETENTION - 1),
			Error::<Test>::InvalidRetention
		);
		assert_noop!(
			ContentStore::begin_store(alice(), len, hashes_arg(&hashes), MAX_RETENTION + 1),
			Error::<Test>::InvalidRetention
		);
		assert_noop!(
			ContentStore::begin_store(RuntimeOrigin::signed(POOR), len, hashes_arg(&hashes), 10),
			Error::<Test>::InsufficientDeposit
		);
		// Enough for the deposit, not for the fee as well.
		assert_ok!(Balances::transfer_allow_death(alice(), 7, deposit_of(2) + 10));
		assert_noop!(
			ContentStore::begin_store(RuntimeOrigin::signed(7), len, hashes_arg(&hashes), 10),
			Error::<Test>::InsufficientFee
		);

		let root = store(ALICE, &data, 10);
		assert_noop!(
			ContentStore::begin_store(RuntimeOrigin::signed(BOB), len, hashes_arg(&hashes), 10),
			Error::<Test>::AlreadyStored
		);
		assert_ok!(ContentStore::remove(alice(), root));
		begin(ALICE, &data, 10);
		assert_noop!(ContentStore::begin_store(alice(), len, hashes_arg(&hashes), 10), Error::<Test>::UploadInProgress);
	});
}

#[test]
fn a_chunk_must_be_the_one_its_place_names() {
	test(|| {
		let data = bytes(2 * CHUNK + 5, 3);
		let (chunks, _, root) = begin_split(ALICE, &data);
		let alice = || RuntimeOrigin::signed(ALICE);
		let attempt = |index: u32, chunk: &[u8]| {
			let data = noted(root, index, chunk);
			(index, data)
		};
		let (i, d) = attempt(0, &chunks[0]);
		assert_noop!(ContentStore::store_chunk(RuntimeOrigin::signed(BOB), root, i, d), Error::<Test>::UnknownUpload);
		let (i, d) = attempt(3, &chunks[0]);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::ChunkOutOfRange);
		// The last chunk is the rest, every other one a whole chunk.
		let (i, d) = attempt(2, &chunks[0]);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::WrongChunkLength);
		let (i, d) = attempt(0, &chunks[2]);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::WrongChunkLength);
		// The right length, other bytes (another chunk's, or one bit changed).
		let (i, d) = attempt(1, &chunks[0]);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::ChunkMismatch);
		let mut changed = chunks[0].clone();
		changed[7] ^= 1;
		let (i, d) = attempt(0, &changed);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::ChunkMismatch);

		assert_ok!(send_chunk(ALICE, root, 0, &chunks[0]));
		let (i, d) = attempt(0, &chunks[0]);
		assert_noop!(ContentStore::store_chunk(alice(), root, i, d), Error::<Test>::ChunkAlreadyStored);
	});
}

#[test]
fn a_chunk_that_does_not_end_its_transaction_is_refused() {
	test(|| {
		let data = bytes(2 * CHUNK, 12);
		let (chunks, _, root) = begin_split(ALICE, &data);
		let alice = || RuntimeOrigin::signed(ALICE);
		// Wrapped in a call that adds bytes after it (sudo's `sudoUncheckedWeight` adds a
		// weight, a batch the next calls): nodes would index those bytes under the chunk's hash.
		let d = noted_with_tail(root, 0, &chunks[0], &[0, 1, 2, 3]);
		assert_noop!(ContentStore::store_chunk(alice(), root, 0, d), Error::<Test>::ChunkNotAtEnd);
		// Another transaction's bytes (a batch of two chunks: the first is not at the end).
		noted(root, 1, &chunks[1]);
		let first: ChunkData = BoundedVec::try_from(chunks[0].clone()).unwrap();
		assert_noop!(ContentStore::store_chunk(alice(), root, 0, first), Error::<Test>::ChunkNotAtEnd);
		// Outside a block's transactions nothing can be indexed.
		let d = noted(root, 0, &chunks[0]);
		frame_support::storage::unhashed::kill(b":extrinsic_index");
		assert_noop!(ContentStore::store_chunk(alice(), root, 0, d), Error::<Test>::NotInBlock);
		System::set_extrinsic_index(0);
		assert_ok!(send_chunk(ALICE, root, 0, &chunks[0]));
	});
}

fn begin_split(owner: u64, data: &[u8]) -> (Vec<Vec<u8>>, Vec<ChunkHash>, ContentRoot) {
	let (chunks, hashes, root) = split(data);
	begin(owner, data, 10);
	(chunks, hashes, root)
}

#[test]
fn whoever_completes_second_adds_their_retention_to_the_item() {
	test(|| {
		let data = bytes(2 * CHUNK, 4);
		// Bob begins Alice's item too (its hashes are public once she begins) and races her.
		let (chunks, _, root) = begin_split(ALICE, &data);
		begin(BOB, &data, 30);
		for (index, chunk) in chunks.iter().enumerate() {
			assert_ok!(send_chunk(BOB, root, index as u32, chunk));
		}
		assert_eq!(Items::<Test>::get(root).unwrap().owner, BOB);
		assert_eq!(Items::<Test>::get(root).unwrap().retained_until, 31);
		// Alice completes hers: nothing she paid for is lost.
		run_to_block(5);
		assert_ok!(send_chunk(ALICE, root, 0, &chunks[0]));
		let alice_free = Balances::free_balance(ALICE);
		assert_ok!(send_chunk(ALICE, root, 1, &chunks[1]));
		System::assert_last_event(
			Event::UploadJoined { root, owner: ALICE, deposit: deposit_of(2), retained_until: 41 }.into(),
		);
		assert_eq!(Items::<Test>::get(root).unwrap().retained_until, 41);
		assert!(Expiries::<Test>::contains_key(41, Expiring::Item(root)));
		assert!(!Expiries::<Test>::contains_key(31, Expiring::Item(root)));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::free_balance(ALICE), alice_free + deposit_of(2));
		assert!(!Uploads::<Test>::contains_key(ALICE, root));
		run_to_block(40);
		assert!(Items::<Test>::contains_key(root));
		run_to_block(41);
		assert!(!Items::<Test>::contains_key(root));
	});
}

#[test]
fn an_aborted_upload_releases_its_deposit_not_its_fee() {
	test(|| {
		let data = bytes(2 * CHUNK, 13);
		let (chunks, _, root) = begin_split(BOB, &data);
		assert_ok!(send_chunk(BOB, root, 0, &chunks[0]));
		let before = Balances::free_balance(BOB);
		assert_ok!(ContentStore::abort_store(RuntimeOrigin::signed(BOB), root));
		assert_eq!(Balances::free_balance(BOB), before + deposit_of(2));
		assert_eq!(Balances::free_balance(BOB), ENDOWMENT - 2 * 10 * FEE_PER_CHUNK_BLOCK);
		assert_eq!(held(BOB), 0);
		System::assert_last_event(
			Event::UploadEnded { root, owner: BOB, deposit: deposit_of(2), expired: false }.into(),
		);
		assert!(!Expiries::<Test>::contains_key(1 + UPLOAD_PERIOD, Expiring::Upload(BOB, root)));
		assert_noop!(ContentStore::abort_store(RuntimeOrigin::signed(BOB), root), Error::<Test>::UnknownUpload);
	});
}

#[test]
fn an_upload_not_completed_in_time_expires() {
	test(|| {
		let data = bytes(2 * CHUNK, 5);
		let (chunks, _, root) = begin_split(ALICE, &data);
		assert_ok!(send_chunk(ALICE, root, 0, &chunks[0]));
		let fee = 2 * 10 * FEE_PER_CHUNK_BLOCK;
		run_to_block(UPLOAD_PERIOD);
		assert!(Uploads::<Test>::contains_key(ALICE, root));
		run_to_block(1 + UPLOAD_PERIOD);
		assert!(!Uploads::<Test>::contains_key(ALICE, root));
		System::assert_last_event(
			Event::UploadEnded { root, owner: ALICE, deposit: deposit_of(2), expired: true }.into(),
		);
		// The deposit is back; the fee is not.
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::free_balance(ALICE), ENDOWMENT - fee);
		let d = noted(root, 1, &chunks[1]);
		assert_noop!(ContentStore::store_chunk(RuntimeOrigin::signed(ALICE), root, 1, d), Error::<Test>::UnknownUpload);
	});
}

#[test]
fn an_item_leaves_state_when_its_retention_ends_unless_renewed() {
	test(|| {
		let data = bytes(CHUNK, 6);
		let root = store(ALICE, &data, 10);
		assert_eq!(Items::<Test>::get(root).unwrap().retained_until, 11);

		// Anyone may pay for more blocks; the old end no longer removes it.
		let pot_before = pot();
		assert_ok!(ContentStore::renew(RuntimeOrigin::signed(BOB), root, 20));
		assert_eq!(pot() - pot_before, 20 * FEE_PER_CHUNK_BLOCK);
		System::assert_last_event(Event::Renewed { root, payer: BOB, fee: 20, retained_until: 31 }.into());
		run_to_block(11);
		assert!(Items::<Test>::contains_key(root));
		run_to_block(30);
		assert!(Items::<Test>::contains_key(root));
		run_to_block(31);
		assert!(!Items::<Test>::contains_key(root));
		assert!(!ItemChunks::<Test>::contains_key(root));
		System::assert_last_event(
			Event::ContentRemoved { root, owner: ALICE, deposit: deposit_of(1), expired: true }.into(),
		);
		assert_eq!(held(ALICE), 0);
		assert_noop!(ContentStore::renew(RuntimeOrigin::signed(BOB), root, 20), Error::<Test>::UnknownItem);
	});
}

#[test]
fn an_item_work_in_flight_reads_is_held_over_until_the_work_is_over() {
	test(|| {
		let data = bytes(CHUNK, 7);
		let root = store(ALICE, &data, 10);
		// A model registered from the item has open requests when its retention ends: the
		// nodes answering them are judged by re-executing it, so it stays, for free.
		set_pinned(root, true);
		let pot_before = pot();
		run_to_block(11);
		assert_eq!(Items::<Test>::get(root).unwrap().retained_until, 11 + PINNED_RETENTION);
		System::assert_last_event(Event::ContentHeldOver { root, retained_until: 11 + PINNED_RETENTION }.into());
		run_to_block(11 + PINNED_RETENTION);
		assert_eq!(Items::<Test>::get(root).unwrap().retained_until, 11 + 2 * PINNED_RETENTION);
		assert_eq!(pot(), pot_before, "no fee for the held-over blocks");

		// The work is over: the item leaves state at the next held-over end.
		set_pinned(root, false);
		run_to_block(11 + 2 * PINNED_RETENTION);
		assert!(!Items::<Test>::contains_key(root) && !ItemChunks::<Test>::contains_key(root));
		System::assert_last_event(
			Event::ContentRemoved { root, owner: ALICE, deposit: deposit_of(1), expired: true }.into(),
		);
		assert_eq!(held(ALICE), 0);
	});
}

#[test]
fn renewals_are_bounded() {
	test(|| {
		let root = store(ALICE, &bytes(CHUNK, 7), 10);
		assert_noop!(
			ContentStore::renew(RuntimeOrigin::signed(BOB), root, MIN_RETENTION - 1),
			Error::<Test>::InvalidRetention
		);
		// Ends at most MaxRetention blocks ahead: 11 + 990 = 1 + 1000 is the furthest.
		assert_noop!(ContentStore::renew(RuntimeOrigin::signed(BOB), root, 991), Error::<Test>::InvalidRetention);
		assert_ok!(ContentStore::renew(RuntimeOrigin::signed(BOB), root, 990));
		assert_noop!(ContentStore::renew(RuntimeOrigin::signed(POOR), root, 0), Error::<Test>::InvalidRetention);
		run_to_block(100);
		// A poor payer cannot pay for the blocks.
		assert_noop!(ContentStore::renew(RuntimeOrigin::signed(POOR), root, 60), Error::<Test>::InsufficientFee);
	});
}

#[test]
fn only_the_owner_removes_an_item_and_not_while_it_is_used() {
	test(|| {
		let root = store(ALICE, &bytes(2 * CHUNK, 8), 100);
		assert_noop!(ContentStore::remove(RuntimeOrigin::signed(BOB), root), Error::<Test>::NotOwner);
		set_in_use(root, true);
		assert_noop!(ContentStore::remove(RuntimeOrigin::signed(ALICE), root), Error::<Test>::ContentInUse);
		set_in_use(root, false);
		let free = Balances::free_balance(ALICE);
		assert_ok!(ContentStore::remove(RuntimeOrigin::signed(ALICE), root));
		assert_eq!(Balances::free_balance(ALICE), free + deposit_of(2));
		System::assert_last_event(
			Event::ContentRemoved { root, owner: ALICE, deposit: deposit_of(2), expired: false }.into(),
		);
		assert!(!Expiries::<Test>::contains_key(101, Expiring::Item(root)));
		assert_noop!(ContentStore::remove(RuntimeOrigin::signed(ALICE), root), Error::<Test>::UnknownItem);
		// It can be stored again.
		store(BOB, &bytes(2 * CHUNK, 8), 10);
	});
}

#[test]
fn a_long_expiry_list_is_worked_off_over_several_blocks() {
	test(|| {
		MaxExpiriesPerBlock::set(2);
		let roots: Vec<_> = (0..6u8).map(|seed| store(ALICE, &bytes(CHUNK, 20 + seed), 10)).collect();
		let remaining = || roots.iter().filter(|root| Items::<Test>::contains_key(root)).count();
		run_to_block(10);
		assert_eq!(remaining(), 6);
		System::set_block_number(11);
		let weight = ContentStore::on_initialize(11);
		assert!(weight.all_gte(<() as crate::WeightInfo>::expire_one().saturating_mul(2)));
		assert_eq!(remaining(), 4);
		// The cursor waits at the block until its list is done.
		assert_eq!(NextExpiry::<Test>::get(), 11);
		ContentStore::do_try_state().unwrap();
		// Items still waiting can be removed or renewed (from now: their end has passed).
		let waiting: Vec<_> = roots.iter().filter(|root| Items::<Test>::contains_key(root)).copied().collect();
		assert_ok!(ContentStore::remove(RuntimeOrigin::signed(ALICE), waiting[0]));
		assert_ok!(ContentStore::renew(RuntimeOrigin::signed(BOB), waiting[1], MIN_RETENTION));
		assert_eq!(Items::<Test>::get(waiting[1]).unwrap().retained_until, 11 + MIN_RETENTION);
		ContentStore::do_try_state().unwrap();
		run_to_block(12);
		assert_eq!(remaining(), 1);
		assert!(Items::<Test>::contains_key(waiting[1]));
		// Then it catches up with the chain.
		run_to_block(13);
		assert_eq!(NextExpiry::<Test>::get(), 14);
		run_to_block(11 + MIN_RETENTION);
		assert_eq!(remaining(), 0);
		assert_eq!(held(ALICE), 0);
	});
}

#[test]
fn the_stores_account_and_cursor_come_with_the_upgrade_that_adds_the_store() {
	test(|| {
		let minimum = <Balances as frame_support::traits::fungible::Inspect<u64>>::minimum_balance();
		assert_eq!(pot(), minimum);
		assert!(NextExpiry::<Test>::exists());
		// A chain that gains the store by an upgrade at block 1000: no account, no cursor yet.
		run_to_block(1_000);
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), ContentStore::account(), 0));
		NextExpiry::<Test>::kill();
		assert_eq!(pot(), 0);
		ContentStore::on_runtime_upgrade();
		assert_eq!(pot(), minimum);
		// Expiry starts at the upgrade's block, not at block 0.
		assert_eq!(NextExpiry::<Test>::get(), 1_000);
		// Once there, a second upgrade changes nothing.
		ContentStore::on_runtime_upgrade();
		assert_eq!(pot(), minimum);
		assert_eq!(NextExpiry::<Test>::get(), 1_000);
		// The smallest fee (below the existential deposit) can be paid into it.
		let root = store(ALICE, &bytes(1, 9), MIN_RETENTION);
		assert_eq!(pot(), minimum + MIN_RETENTION * FEE_PER_CHUNK_BLOCK);
		run_to_block(1_000 + MIN_RETENTION);
		assert!(!Items::<Test>::contains_key(root));
	});
}

#[test]
fn the_invariants_catch_broken_state() {
	test(|| {
		let root = store(ALICE, &bytes(2 * CHUNK, 10), 10);
		let (chunks, _, other) = split(&bytes(3 * CHUNK, 14));
		begin(BOB, &bytes(3 * CHUNK, 14), 10);
		assert_ok!(send_chunk(BOB, other, 0, &chunks[0]));
		ContentStore::do_try_state().unwrap();
		let broken = |change: &dyn Fn()| {
			frame_support::storage::transactional::with_transaction(|| {
				change();
				assert!(ContentStore::do_try_state().is_err());
				sp_runtime::TransactionOutcome::Rollback(Ok::<(), sp_runtime::DispatchError>(()))
			})
			.unwrap();
			ContentStore::do_try_state().unwrap();
		};
		broken(&|| Items::<Test>::mutate(root, |item| item.as_mut().unwrap().chunk_count = 3));
		broken(&|| Items::<Test>::mutate(root, |item| item.as_mut().unwrap().deposit += 1));
		broken(&|| Items::<Test>::mutate(root, |item| item.as_mut().unwrap().retained_until += 1));
		broken(&|| ItemChunks::<Test>::mutate(root, |hashes| hashes.as_mut().unwrap()[0].0[0] ^= 1));
		broken(&|| ItemChunks::<Test>::remove(root));
		broken(&|| Uploads::<Test>::mutate(BOB, other, |upload| upload.as_mut().unwrap().chunks_received = 2));
		broken(&|| Expiries::<Test>::remove(11, Expiring::Item(root)));
		broken(&|| Expiries::<Test>::insert(12, Expiring::Item(other), ()));
		broken(&|| NextExpiry::<Test>::put(100));
		broken(&|| {
			assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), ContentStore::account(), 0));
		});
	});
}

#[test]
fn stored_chunks_are_proven_against_segment_roots_computed_from_their_bytes() {
	use crate::{ProvableContent, ProvableCount, UploadSegments};
	use veriml_primitives::content::{segment_proof, segment_root, verify_segment};
	test(|| {
		let data = bytes(2 * CHUNK + 5, 7);
		let (chunks, root) = begin(ALICE, &data, 50);
		assert_ok!(send_chunk(ALICE, root, 1, &chunks[1]));
		// The upload keeps the segment root of what arrived, and nothing yet is proven.
		let pending = UploadSegments::<Test>::get(ALICE, root).unwrap();
		assert_eq!(pending[1], segment_root(&chunks[1]));
		assert!(pending[0].is_zero() && pending[2].is_zero());
		assert_eq!(ContentStore::provable_count(), 0);
		for index in [0, 2] {
			assert_ok!(send_chunk(ALICE, root, index, &chunks[index as usize]));
		}
		assert!(UploadSegments::<Test>::get(ALICE, root).is_none());
		assert_eq!(ContentStore::provable_count(), 1);
		assert_eq!(ContentStore::provable(0), Some((root, 3)));
		assert!(ContentStore::is_provable(&root));
		for (index, chunk) in chunks.iter().enumerate() {
			let proven = ContentStore::chunk(&root, index as u32).unwrap();
			assert_eq!(proven.hash, veriml_primitives::content::chunk_hash(chunk));
			assert_eq!(proven.len as usize, chunk.len());
			// What a storage node holding the bytes proves checks against the stored root.
			let (segment, proof) = segment_proof(chunk, 0).unwrap();
			assert!(verify_segment(&proven.segment_root, proven.len, 0, &segment, &proof));
		}
		assert_eq!(ContentStore::chunk(&root, 3), None);

		// Three items; removing the first moves the last into its place.
		let second = store(BOB, &bytes(CHUNK, 8), 50);
		let third = store(BOB, &bytes(CHUNK, 9), 50);
		assert_eq!(ProvableCount::<Test>::get(), 3);
		assert_ok!(ContentStore::remove(RuntimeOrigin::signed(ALICE), root));
		assert_eq!(ContentStore::provable_count(), 2);
		assert_eq!(ContentStore::provable(0).map(|(r, _)| r), Some(third));
		assert_eq!(ContentStore::provable(1).map(|(r, _)| r), Some(second));
		assert_eq!(ContentStore::chunk(&root, 0), None);
		assert!(!ContentStore::is_provable(&root) && ContentStore::is_provable(&second));
		// An item that expires leaves the proven items too.
		run_to_block(60);
		assert_eq!(ContentStore::provable_count(), 0);
	});
}

#[test]
fn an_aborted_or_expired_upload_leaves_no_segment_roots() {
	use crate::UploadSegments;
	test(|| {
		let data = bytes(2 * CHUNK, 3);
		let (chunks, root) = begin(ALICE, &data, 50);
		assert_ok!(send_chunk(ALICE, root, 0, &chunks[0]));
		assert_ok!(ContentStore::abort_store(RuntimeOrigin::signed(ALICE), root));
		assert!(UploadSegments::<Test>::get(ALICE, root).is_none());
		let (chunks, root) = begin(BOB, &data, 50);
		assert_ok!(send_chunk(BOB, root, 1, &chunks[1]));
		run_to_block(1 + UPLOAD_PERIOD);
		assert!(UploadSegments::<Test>::get(BOB, root).is_none());
	});
}

/// `node` as `storeFileNode(root, node)`'s argument, the call noted as the block's current
/// transaction with `tail` after it.
fn noted_node(root: ContentRoot, node: &[u8], tail: &[u8]) -> crate::FileNodeOf<Test> {
	let node: crate::FileNodeOf<Test> = BoundedVec::try_from(node.to_vec()).unwrap();
	let call = RuntimeCall::ContentStore(crate::Call::store_file_node { root, node: node.clone() });
	let mut transaction = call.encode();
	transaction.extend_from_slice(tail);
	System::note_extrinsic(transaction);
	node
}

#[test]
fn an_items_file_node_is_indexed_so_that_ipfs_clients_read_it_by_one_cid() {
	let mut ext = new_test_ext();
	let data = bytes(2 * CHUNK + 5, 13);
	let (_, hashes, root) = split(&data);
	let node = veriml_primitives::content::file_node(data.len() as u32, CHUNK, &hashes);
	let node_hash = sp_core::H256(sp_io::hashing::blake2_256(&node));
	ext.execute_with(|| {
		store(ALICE, &data, 10);
		System::set_extrinsic_index(4);
		let arg = noted_node(root, &node, &[]);
		assert_ok!(ContentStore::store_file_node(RuntimeOrigin::signed(ALICE), root, arg));
		assert_eq!(crate::FileNodes::<Test>::get(root), Some(node_hash));
		System::assert_last_event(Event::FileNodeStored { root, node_hash }.into());
		// Once.
		let arg = noted_node(root, &node, &[]);
		assert_noop!(
			ContentStore::store_file_node(RuntimeOrigin::signed(ALICE), root, arg),
			Error::<Test>::FileNodeStored
		);
		ContentStore::do_try_state().unwrap();
		// It leaves with the item.
		assert_ok!(ContentStore::remove(RuntimeOrigin::signed(ALICE), root));
		assert!(crate::FileNodes::<Test>::get(root).is_none());
	});
	// What the node is told to keep: the node's bytes, the end of transaction 4, under their hash.
	let indexed: Vec<_> = ext
		.overlayed_changes()
		.transaction_index_ops()
		.iter()
		.filter(|op| matches!(op, sp_state_machine::IndexOperation::Insert { extrinsic: 4, .. }))
		.cloned()
		.collect();
	match &indexed[..] {
		[sp_state_machine::IndexOperation::Insert { hash, size, .. }] => {
			assert_eq!((hash, *size as usize), (&node_hash.0.to_vec(), node.len()))
		},
		other => panic!("indexed: {other:?}"),
	}
}

#[test]
fn a_file_node_that_is_not_the_items_is_refused_and_anyone_may_store_the_right_one() {
	test(|| {
		let data = bytes(2 * CHUNK + 5, 14);
		let (_, hashes, root) = split(&data);
		let node = veriml_primitives::content::file_node(data.len() as u32, CHUNK, &hashes);
		let alice = || RuntimeOrigin::signed(ALICE);
		// No such item yet (an upload in progress is not one).
		begin(ALICE, &data, 10);
		let arg = noted_node(root, &node, &[]);
		assert_noop!(ContentStore::store_file_node(alice(), root, arg), Error::<Test>::UnknownItem);
		ContentStore::abort_store(alice(), root).unwrap();
		store(ALICE, &data, 10);
		// Other bytes: another length, another chunk order, one byte changed.
		for other in [
			veriml_primitives::content::file_node(data.len() as u32 - 1, CHUNK, &hashes),
			veriml_primitives::content::file_node(data.len() as u32, CHUNK, &[hashes[1], hashes[0], hashes[2]]),
			{
				let mut changed = node.clone();
				changed[10] ^= 1;
				changed
			},
		] {
			let arg = noted_node(root, &other, &[]);
			assert_noop!(ContentStore::store_file_node(alice(), root, arg), Error::<Test>::NotFileNode);
		}
		// Not at the end of its transaction.
		let arg = noted_node(root, &node, &[1, 2]);
		assert_noop!(ContentStore::store_file_node(alice(), root, arg), Error::<Test>::FileNodeNotAtEnd);
		// Anyone may store it (its bytes follow from the item): here not its owner.
		let arg = noted_node(root, &node, &[]);
		assert_ok!(ContentStore::store_file_node(RuntimeOrigin::signed(BOB), root, arg));
		assert!(crate::FileNodes::<Test>::contains_key(root));
	});
}
