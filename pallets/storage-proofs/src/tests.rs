//! Storage proofs as nodes and their operators see them: challenges, balances, strikes and
//! events.

use crate::{mock::*, Challenges, Error, Event};
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold, BoundedVec};
use sp_core::H256;
use veriml_primitives::content::{segment_count, segment_proof};

type Segment = BoundedVec<u8, frame_support::traits::ConstU32<{ crate::SEGMENT_BYTES }>>;
type Path = BoundedVec<H256, crate::MaxProofHashes>;

/// The proof of `node`'s open challenge, made from the stand-in store's bytes.
fn proof_for(node: &AccountId) -> (Segment, Path) {
	let challenge = Challenges::<Test>::get(node).expect("challenged");
	let bytes = chunk_bytes(challenge.root, challenge.chunk);
	let (segment, path) = segment_proof(&bytes, challenge.segment).unwrap();
	(segment.try_into().unwrap(), path.try_into().unwrap())
}

fn prove(node: &AccountId) -> frame_support::dispatch::DispatchResult {
	let (segment, path) = proof_for(node);
	StorageProofs::prove(RuntimeOrigin::signed(*node), segment, path)
}

fn bond(node: &AccountId) -> u64 {
	pallet_bonded_nodes::Nodes::<Test>::get(node).unwrap().bond
}

fn strikes(node: &AccountId) -> u32 {
	pallet_bonded_nodes::Nodes::<Test>::get(node).unwrap().strikes
}

fn item(seed: u8, len: usize) -> Vec<u8> {
	(0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed).rotate_left((i / 256) as u32)).collect()
}

#[test]
fn each_period_every_active_storage_node_is_challenged_on_a_stored_segment() {
	run_test(|| {
		register(0);
		register(1);
		// Nothing stored: nothing to prove.
		run_to(PERIOD);
		assert!(Challenges::<Test>::iter().next().is_none());
		let first = store(&item(1, 3 * CHUNK + 10));
		let second = store(&item(2, CHUNK));
		run_to(2 * PERIOD);
		for index in [0, 1] {
			let challenge = Challenges::<Test>::get(node(index)).expect("every node is challenged");
			assert!(challenge.root == first || challenge.root == second);
			let bytes = chunk_bytes(challenge.root, challenge.chunk);
			assert_eq!(challenge.chunk_hash, veriml_primitives::content::chunk_hash(&bytes));
			assert!(challenge.segment < segment_count(bytes.len() as u32));
			assert_eq!(challenge.issued_at, 2 * PERIOD);
			assert!(events().contains(&Event::Challenged {
				node: node(index),
				root: challenge.root,
				chunk: challenge.chunk,
				chunk_hash: challenge.chunk_hash,
				segment: challenge.segment,
			}));
		}
		// Between period starts nothing is drawn.
		let before = Challenges::<Test>::get(node(0));
		run_to(2 * PERIOD + 1);
		assert_eq!(Challenges::<Test>::get(node(0)), before);
	});
}

#[test]
fn challenges_reach_every_chunk_and_segment() {
	run_test(|| {
		register(0);
		let root = store(&item(3, 2 * CHUNK));
		let mut seen = std::collections::BTreeSet::new();
		for period in 1..=40u64 {
			set_random(Some(H256::from_low_u64_be(period)));
			run_to(period * PERIOD);
			let challenge = Challenges::<Test>::get(node(0)).unwrap();
			assert_eq!(challenge.root, root);
			seen.insert((challenge.chunk, challenge.segment));
			assert_ok!(prove(&node(0)));
		}
		// Two chunks of four segments: eight places, each drawn in forty periods.
		assert_eq!(seen.len(), 8, "{seen:?}");
	});
}

#[test]
fn a_valid_proof_is_free_pays_the_operator_and_clears_strikes() {
	run_test(|| {
		register(0);
		store(&item(4, CHUNK));
		run_to(PERIOD);
		// A missed period: one strike.
		run_to(2 * PERIOD);
		assert_eq!(strikes(&node(0)), 1);
		let (segment, path) = proof_for(&node(0));
		assert!(StorageProofs::proves_without_fee(&RuntimeOrigin::signed(node(0)), &segment, &path));
		let operator_before = Balances::free_balance(operator());
		let challenge = Challenges::<Test>::get(node(0)).unwrap();
		assert_ok!(StorageProofs::prove(RuntimeOrigin::signed(node(0)), segment, path));
		assert_eq!(Balances::free_balance(operator()), operator_before + REWARD);
		assert_eq!(Balances::free_balance(Pot::get()), POT - REWARD);
		assert_eq!(strikes(&node(0)), 0);
		assert!(Challenges::<Test>::get(node(0)).is_none());
		assert_eq!(
			events().last(),
			Some(&Event::Proven {
				node: node(0),
				operator: operator(),
				root: challenge.root,
				chunk: challenge.chunk,
				reward: REWARD
			})
		);
		// Proven: the next period starts without a strike.
		run_to(3 * PERIOD);
		assert_eq!(strikes(&node(0)), 0);
		// One proof per challenge.
		assert_ok!(prove(&node(0)));
		assert_noop!(prove_again(&node(0)), Error::<Test>::NoChallenge);
	});
}

fn prove_again(node: &AccountId) -> frame_support::dispatch::DispatchResult {
	StorageProofs::prove(RuntimeOrigin::signed(*node), Segment::default(), Path::default())
}

#[test]
fn a_wrong_proof_is_refused_and_not_free() {
	run_test(|| {
		register(0);
		register(1);
		store(&item(5, 2 * CHUNK));
		// No challenge yet.
		assert_noop!(prove_again(&node(0)), Error::<Test>::NoChallenge);
		run_to(PERIOD);
		let (segment, path) = proof_for(&node(0));
		let origin = RuntimeOrigin::signed(node(0));
		let mut changed = segment.clone();
		changed[0] ^= 1;
		assert!(!StorageProofs::proves_without_fee(&origin, &changed, &path));
		assert_noop!(StorageProofs::prove(origin.clone(), changed, path.clone()), Error::<Test>::InvalidProof);
		let mut wrong_path = path.clone();
		wrong_path[0].0[0] ^= 1;
		assert_noop!(StorageProofs::prove(origin.clone(), segment.clone(), wrong_path), Error::<Test>::InvalidProof);
		let short: Path = path[1..].to_vec().try_into().unwrap();
		assert_noop!(StorageProofs::prove(origin.clone(), segment.clone(), short), Error::<Test>::InvalidProof);
		// Another node's proof proves nothing for this one (unless both drew the same place).
		let (theirs, their_path) = proof_for(&node(1));
		if Challenges::<Test>::get(node(1)).map(|c| (c.root, c.chunk, c.segment))
			!= Challenges::<Test>::get(node(0)).map(|c| (c.root, c.chunk, c.segment))
		{
			assert_noop!(StorageProofs::prove(origin.clone(), theirs, their_path), Error::<Test>::InvalidProof);
		}
		// An account that is not a storage node has no challenge.
		assert_noop!(
			StorageProofs::prove(RuntimeOrigin::signed(account(9)), segment, path),
			Error::<Test>::NoChallenge
		);
	});
}

#[test]
fn missed_proofs_are_strikes_and_max_strikes_slash_the_bond() {
	run_test(|| {
		register(0);
		register(1);
		store(&item(6, CHUNK));
		run_to(PERIOD);
		// Node 1 proves every period; node 0 never does.
		assert_ok!(prove(&node(1)));
		run_to(2 * PERIOD);
		assert_eq!(strikes(&node(0)), 1);
		let missed = Event::ProofMissed {
			node: node(0),
			root: Challenges::<Test>::get(node(0)).map(|c| c.root).unwrap(),
			chunk: 0,
			slashed: 0,
		};
		assert!(events().contains(&missed));
		assert_ok!(prove(&node(1)));
		let held_before = Balances::balance_on_hold(&pallet_bonded_nodes::HoldReason::NodeBond.into(), &operator());
		run_to(3 * PERIOD);
		// The second strike in a row: a tenth of the bond to the protocol.
		let slash = MIN_BOND / 10;
		assert_eq!(bond(&node(0)), MIN_BOND - slash);
		assert_eq!(bond(&node(1)), MIN_BOND);
		assert_eq!(
			Balances::balance_on_hold(&pallet_bonded_nodes::HoldReason::NodeBond.into(), &operator()),
			held_before - slash
		);
		assert!(events()
			.iter()
			.any(|e| matches!(e, Event::ProofMissed { node: n, slashed, .. } if *n == node(0) && *slashed == slash)));
		// Below the minimum bond the node is suspended: no more challenges for it.
		assert!(node_events()
			.iter()
			.any(|e| matches!(e, pallet_bonded_nodes::Event::Suspended { node: n, .. } if *n == node(0))));
		assert!(Challenges::<Test>::get(node(0)).is_none());
		assert!(Challenges::<Test>::get(node(1)).is_some());
	});
}

#[test]
fn a_challenge_on_a_removed_item_is_dropped_without_a_strike() {
	run_test(|| {
		register(0);
		let root = store(&item(7, CHUNK));
		run_to(PERIOD);
		let (segment, path) = proof_for(&node(0));
		remove(root);
		assert_noop!(StorageProofs::prove(RuntimeOrigin::signed(node(0)), segment, path), Error::<Test>::ItemGone);
		run_to(2 * PERIOD);
		assert_eq!(strikes(&node(0)), 0);
		assert!(!events().iter().any(|e| matches!(e, Event::ProofMissed { .. })));
		// Nothing stored any more: no new challenge.
		assert!(Challenges::<Test>::get(node(0)).is_none());
	});
}

#[test]
fn rewards_stop_at_what_the_pot_holds_beyond_its_existential_deposit() {
	run_test(|| {
		register(0);
		store(&item(8, CHUNK));
		let mut paid = 0;
		for period in 1..=20u64 {
			run_to(period * PERIOD);
			let before = Balances::free_balance(operator());
			assert_ok!(prove(&node(0)));
			paid += Balances::free_balance(operator()) - before;
		}
		// 100 in the pot, 5 of it its existential deposit: 95 paid, 7 a proof while it lasts.
		assert_eq!(paid, POT - 5);
		assert_eq!(Balances::free_balance(Pot::get()), 5);
		// Proofs go on being accepted, unpaid.
		run_to(21 * PERIOD);
		assert_ok!(prove(&node(0)));
		assert!(matches!(events().last(), Some(Event::Proven { reward: 0, .. })));
	});
}

#[test]
fn without_randomness_challenges_are_drawn_from_the_parent_hash() {
	run_test(|| {
		register(0);
		store(&item(9, 2 * CHUNK));
		set_random(None);
		run_to(PERIOD);
		assert!(Challenges::<Test>::get(node(0)).is_some());
		assert_ok!(prove(&node(0)));
	});
}

#[test]
fn an_unbonding_node_is_not_challenged_again_but_answers_for_its_open_challenge() {
	run_test(|| {
		register(0);
		store(&item(10, CHUNK));
		run_to(PERIOD);
		assert_ok!(StorageNodes::unbond(RuntimeOrigin::signed(operator()), node(0)));
		run_to(2 * PERIOD);
		// Missed while it was challenged: a strike, though it is leaving.
		assert_eq!(strikes(&node(0)), 1);
		assert!(Challenges::<Test>::get(node(0)).is_none());
	});
}

mod offchain_worker {
	use super::*;
	use codec::Decode;
	use sp_core::offchain::{testing, OffchainDbExt, OffchainWorkerExt, StorageKind, TransactionPoolExt};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use std::sync::Arc;
	use veriml_content_interface::{ChunkSource, ChunkSourceExt};
	use veriml_inference_interface::{in_lane, Lane};

	type Shared<T> = Arc<parking_lot::RwLock<T>>;

	/// What a node's database keeps: the chunks given.
	struct Kept(Vec<(H256, Vec<u8>)>);
	impl ChunkSource for Kept {
		fn chunk(&self, hash: &H256) -> Option<Vec<u8>> {
			self.0.iter().find(|(h, _)| h == hash).map(|(_, bytes)| bytes.clone())
		}
	}

	struct Setup {
		ext: sp_io::TestExternalities,
		pool: Shared<testing::PoolState>,
		node: AccountId,
	}

	/// A storage node with its `stor` key in the keystore, registered, challenged on a stored
	/// item; its database keeps the item's chunks when `keeps`.
	fn setup(keeps: bool) -> Setup {
		let keystore = MemoryKeystore::new();
		let public = keystore.sr25519_generate_new(crate::KEY_TYPE, Some("//storage-node")).unwrap();
		let message = pallet_bonded_nodes::registration_message("StorageNodes", &operator());
		let proof = keystore.sr25519_sign(crate::KEY_TYPE, &public, &message).unwrap().unwrap();
		let mut ext = new_test_ext();
		let (offchain, _) = testing::TestOffchainExt::new();
		let (pool_ext, pool) = testing::TestTransactionPoolExt::new();
		ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
		ext.register_extension(OffchainDbExt::new(offchain));
		ext.register_extension(TransactionPoolExt::new(pool_ext));
		ext.register_extension(KeystoreExt(Arc::new(keystore)));
		let node: AccountId = public;
		let kept = ext.execute_with(|| {
			assert_ok!(StorageNodes::register(
				RuntimeOrigin::signed(operator()),
				node,
				vec![crate::StorageService::AllItems].try_into().unwrap(),
				MIN_BOND,
				proof,
			));
			store(&item(11, 3 * CHUNK));
			run_to(PERIOD);
			all_chunks()
		});
		ext.register_extension(ChunkSourceExt::new(Arc::new(Kept(if keeps { kept } else { Vec::new() }))));
		Setup { ext, pool, node }
	}

	fn sent_calls(pool: &Shared<testing::PoolState>) -> Vec<(AccountId, RuntimeCall)> {
		pool.read()
			.transactions
			.iter()
			.map(|bytes| {
				let extrinsic = Extrinsic::decode(&mut &bytes[..]).unwrap();
				let (address, _, _) = extrinsic.preamble.to_signed().unwrap();
				(address, extrinsic.function)
			})
			.collect()
	}

	fn run_worker(block: u64) {
		use frame_support::traits::Hooks;
		in_lane(Lane::Offchain, || StorageProofs::offchain_worker(block));
	}

	#[test]
	fn the_worker_proves_its_challenge_from_the_chunks_the_node_keeps_once() {
		let Setup { mut ext, pool, node } = setup(true);
		ext.execute_with(|| {
			run_worker(PERIOD);
			let sent = sent_calls(&pool);
			assert_eq!(sent.len(), 1);
			assert_eq!(sent[0].0, node);
			let RuntimeCall::StorageProofs(crate::Call::prove { segment, proof }) = sent[0].1.clone() else {
				panic!("not a proof: {:?}", sent[0].1)
			};
			// What it sent is free and proves the challenge.
			assert!(StorageProofs::proves_without_fee(&RuntimeOrigin::signed(node), &segment, &proof));
			// Not sent again while it may still land.
			run_worker(PERIOD + 1);
			assert_eq!(sent_calls(&pool).len(), 1);
			assert_ok!(StorageProofs::prove(RuntimeOrigin::signed(node), segment, proof));
			// Proven: nothing more to send.
			run_worker(PERIOD + 4);
			assert_eq!(sent_calls(&pool).len(), 1);
			// The next period's challenge is answered in turn.
			run_to(2 * PERIOD);
			run_worker(2 * PERIOD);
			assert_eq!(sent_calls(&pool).len(), 2);
		});
	}

	#[test]
	fn a_proof_that_did_not_land_is_sent_again() {
		let Setup { mut ext, pool, .. } = setup(true);
		ext.execute_with(|| {
			run_worker(PERIOD);
			assert_eq!(sent_calls(&pool).len(), 1);
			// Still open three blocks later: taken as dropped.
			run_worker(PERIOD + 3);
			assert_eq!(sent_calls(&pool).len(), 2);
		});
	}

	#[test]
	fn a_node_without_the_chunk_sends_nothing_and_counts_it() {
		let Setup { mut ext, pool, node } = setup(false);
		ext.execute_with(|| {
			run_worker(PERIOD);
			assert!(sent_calls(&pool).is_empty());
			let tally =
				sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, crate::offchain::MISSING_CHUNKS_KEY)
					.map(|raw| u64::decode(&mut &raw[..]).unwrap());
			assert_eq!(tally, Some(1));
			// And is struck when the period ends.
			run_to(2 * PERIOD);
			assert_eq!(strikes(&node), 1);
		});
	}

	#[test]
	fn a_block_s_execution_never_reads_what_the_node_keeps() {
		let Setup { mut ext, .. } = setup(true);
		ext.execute_with(|| {
			let hash = all_chunks()[0].0;
			assert!(in_lane(Lane::Offchain, || veriml_content_interface::content::chunk(hash)).is_some());
			assert_eq!(in_lane(Lane::Consensus, || veriml_content_interface::content::chunk(hash)), None);
		});
	}
}
