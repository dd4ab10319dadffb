use crate::{
	mock::*,
	pallet::{Config, Error, FeedCount, History, HoldReason, NextFeedId, RoundEnds, Submissions},
	Event, FeedId, FeedValue, FeedValues, RoundValue,
};
use frame_support::{
	assert_noop, assert_ok,
	dispatch::Pays,
	traits::{fungible::InspectHold, Hooks},
	BoundedVec,
};
use pallet_bonded_nodes::{Error as NodeError, Event as NodeEvent, NodeStatus, NodesByService};
use sp_runtime::{DispatchError, Perbill};

type Served = BoundedVec<FeedId, ConstU32<2>>;
use frame_support::traits::ConstU32;

fn data_node(index: u8) -> pallet_bonded_nodes::NodeOf<Test> {
	pallet_bonded_nodes::Nodes::<Test>::get(node(index)).unwrap()
}

fn serving(feed: FeedId) -> Vec<AccountId> {
	NodesByService::<Test>::get(feed).into_inner()
}

const ROUND: u64 = 4;

fn name(text: &str) -> BoundedVec<u8, ConstName> {
	text.as_bytes().to_vec().try_into().unwrap()
}
type ConstName = <Test as Config>::MaxNameLength;

/// A feed of `owner()`, whose data nodes `operator()` is approved to run.
fn register_feed(min_submissions: u32) -> FeedId {
	let feed = NextFeedId::<Test>::get();
	assert_ok!(Feeds::register_feed(
		RuntimeOrigin::signed(owner()),
		name("BTC/USD"),
		b"median of spot prices".to_vec().try_into().unwrap(),
		2,
		ROUND,
		min_submissions,
		Perbill::from_percent(10),
	));
	assert_ok!(Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, operator()));
	feed
}

fn register_nodes(feed: FeedId, count: u8) {
	for i in 0..count {
		assert_ok!(DataNodes::register(
			RuntimeOrigin::signed(operator()),
			node(i),
			vec![feed].try_into().unwrap(),
			MIN_BOND,
			node_proof(i, &operator()),
		));
	}
}

fn submit(i: u8, feed: FeedId, value: FeedValue) {
	let round = Feeds::round_of(System::block_number(), ROUND);
	let info = Feeds::submit(RuntimeOrigin::signed(node(i)), feed, round, value).unwrap();
	assert_eq!(info.pays_fee, Pays::No, "an accepted submission is free");
}

fn bond_held() -> u64 {
	Balances::balance_on_hold(&pallet_bonded_nodes::HoldReason::NodeBond.into(), &operator())
}

#[test]
fn a_feed_is_registered_with_its_deposit_and_its_first_round_scheduled() {
	run_test(|| {
		let feed = register_feed(2);
		assert_eq!(feed, 0);
		let info = crate::pallet::Feeds::<Test>::get(feed).unwrap();
		assert_eq!((info.owner, info.decimals, info.round_length, info.min_submissions), (owner(), 2, ROUND, 2));
		assert_eq!(Balances::balance_on_hold(&HoldReason::FeedDeposit.into(), &owner()), FEED_DEPOSIT);
		assert_eq!(RoundEnds::<Test>::get(4).into_inner(), vec![feed]);
		assert!(feed_events().contains(&Event::FeedRegistered {
			feed,
			owner: owner(),
			name: name("BTC/USD"),
			decimals: 2,
			round_length: ROUND,
			first_round_ends: 4,
		}));
		assert_eq!(NextFeedId::<Test>::get(), 1);
	});
}

#[test]
fn bad_feeds_are_refused_and_nothing_is_held() {
	run_test(|| {
		let source = || b"x".to_vec().try_into().unwrap();
		let ten = Perbill::from_percent(10);
		let register = |who, feed_name: &str, round, min| {
			Feeds::register_feed(RuntimeOrigin::signed(who), name(feed_name), source(), 2, round, min, ten)
		};
		assert_noop!(register(owner(), "", ROUND, 1), Error::<Test>::EmptyName);
		assert_noop!(register(owner(), "A", 1, 1), Error::<Test>::RoundTooShort);
		assert_noop!(register(owner(), "A", ROUND, 0), Error::<Test>::InvalidMinSubmissions);
		assert_noop!(register(owner(), "A", ROUND, 4), Error::<Test>::InvalidMinSubmissions);
		assert_noop!(register(poor(), "A", ROUND, 1), Error::<Test>::InsufficientBalance);
		for _ in 0..4 {
			assert_ok!(register(owner(), "A", ROUND, 1));
		}
		assert_noop!(register(owner(), "A", ROUND, 1), Error::<Test>::TooManyFeeds);
		assert_eq!(Balances::balance_on_hold(&HoldReason::FeedDeposit.into(), &poor()), 0);
	});
}

#[test]
fn data_nodes_are_bonded_for_existing_feeds_only() {
	run_test(|| {
		let feed = register_feed(2);
		let feeds = |list: Vec<FeedId>| -> Served { list.try_into().unwrap() };
		let register = |who, n: u8, list, bond| {
			DataNodes::register(RuntimeOrigin::signed(who), node(n), feeds(list), bond, node_proof(n, &who))
		};
		assert_noop!(register(operator(), 0, vec![feed], MIN_BOND - 1), NodeError::<Test>::BondTooLow);
		assert_noop!(register(operator(), 0, vec![], MIN_BOND), NodeError::<Test>::NoServices);
		assert_noop!(register(operator(), 0, vec![7], MIN_BOND), NodeError::<Test>::UnknownService);
		assert_noop!(register(operator(), 0, vec![feed, feed], MIN_BOND), NodeError::<Test>::DuplicateService);
		// Only operators the feed's owner approved.
		assert_noop!(register(poor(), 0, vec![feed], MIN_BOND), NodeError::<Test>::NotAdmitted);
		assert_ok!(Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, poor()));
		assert_noop!(register(poor(), 0, vec![feed], MIN_BOND), NodeError::<Test>::InsufficientBalance);
		register_nodes(feed, 3);
		assert_eq!(bond_held(), 3 * MIN_BOND);
		assert_eq!(serving(feed), vec![node(0), node(1), node(2)]);
		assert_noop!(register(operator(), 0, vec![feed], MIN_BOND), NodeError::<Test>::AlreadyRegistered);
		assert_noop!(register(operator(), 3, vec![feed], MIN_BOND), NodeError::<Test>::TooManyNodesForService);
		assert_eq!(bond_held(), 3 * MIN_BOND);
	});
}

#[test]
fn bad_submissions_are_refused_with_the_reason() {
	run_test(|| {
		let feed = register_feed(2);
		let other = register_feed(1);
		register_nodes(feed, 1);
		let round = Feeds::round_of(System::block_number(), ROUND);
		let submit_as = |who, feed, round| Feeds::submit(RuntimeOrigin::signed(who), feed, round, 100);
		assert_noop!(submit_as(operator(), feed, round), Error::<Test>::NotADataNode);
		assert_noop!(submit_as(node(0), 9, round), Error::<Test>::UnknownFeed);
		assert_noop!(submit_as(node(0), other, round), Error::<Test>::NotServingFeed);
		assert_noop!(submit_as(node(0), feed, round + 1), Error::<Test>::WrongRound);
		submit(0, feed, 100);
		assert_noop!(submit_as(node(0), feed, round), Error::<Test>::AlreadySubmitted);
		assert_eq!(Submissions::<Test>::get(feed).unwrap().1.into_inner(), vec![(node(0), 100)]);
		assert!(feed_events().contains(&Event::ValueSubmitted { feed, round, node: node(0), value: 100 }));
	});
}

#[test]
fn a_serving_nodes_submission_is_sent_without_a_fee_and_one_dispatch_refuses_pays() {
	use frame_support::dispatch::CheckIfFeeless;
	run_test(|| {
		let feed = register_feed(2);
		let other = register_feed(1);
		register_nodes(feed, 1);
		let round = Feeds::round_of(System::block_number(), ROUND);
		let feeless = |who, feed, round| {
			RuntimeCall::Feeds(crate::Call::submit { feed, round, value: 100 }).is_feeless(&RuntimeOrigin::signed(who))
		};
		assert!(feeless(node(0), feed, round));
		// Every submission dispatch would refuse pays its fee.
		assert!(!feeless(operator(), feed, round));
		assert!(!feeless(node(0), 9, round));
		assert!(!feeless(node(0), other, round));
		assert!(!feeless(node(0), feed, round + 1));
		assert!(!RuntimeCall::Feeds(crate::Call::submit { feed, round, value: 100 }).is_feeless(&RuntimeOrigin::none()));
		submit(0, feed, 100);
		assert!(!feeless(node(0), feed, round), "a second value in the round");
		// An operator no longer approved: its node's values pay (and are refused).
		run_to(System::block_number() + ROUND);
		let round = Feeds::round_of(System::block_number(), ROUND);
		assert!(feeless(node(0), feed, round));
		assert_ok!(Feeds::revoke_operator(RuntimeOrigin::signed(owner()), feed, operator()));
		assert!(!feeless(node(0), feed, round));
	});
}

#[test]
fn a_round_ends_with_the_median_and_reports_the_outlier() {
	run_test(|| {
		let feed = register_feed(2);
		register_nodes(feed, 3);
		submit(0, feed, 6_412_345);
		submit(1, feed, 6_410_000);
		// 20 % above the others: beyond the feed's 10 %.
		submit(2, feed, 7_700_000);
		run_to(4);
		assert_eq!(
			History::<Test>::get(feed).into_inner(),
			vec![RoundValue { round: 0, value: 6_412_345, submissions: 3, at: 4 }]
		);
		let events = feed_events();
		assert!(events.contains(&Event::RoundAggregated { feed, round: 0, value: 6_412_345, submissions: 3 }));
		assert!(events.contains(&Event::OutlierReported {
			feed,
			round: 0,
			node: node(2),
			value: 7_700_000,
			median: 6_412_345,
		}));
		assert_eq!(data_node(2).strikes, 1);
		assert_eq!(data_node(0).strikes, 0);
		// The open round is cleared and the next end scheduled.
		assert!(Submissions::<Test>::get(feed).is_none());
		assert_eq!(RoundEnds::<Test>::get(8).into_inner(), vec![feed]);
		assert_eq!(<Feeds as FeedValues>::latest(feed, 5), vec![6_412_345]);
		assert_eq!(<Feeds as FeedValues>::decimals(feed), Some(2));
	});
}

#[test]
fn a_round_with_too_few_values_has_none_and_the_silent_nodes_get_a_strike() {
	run_test(|| {
		let feed = register_feed(2);
		register_nodes(feed, 3);
		run_to(4);
		// Round 1 (blocks 4..8): one value, two nodes silent.
		submit(0, feed, 100);
		run_to(8);
		let events = feed_events();
		assert!(events.contains(&Event::RoundWithoutValue { feed, round: 1, submissions: 1, needed: 2 }));
		assert!(events.contains(&Event::RoundMissed { feed, round: 1, node: node(1) }));
		assert!(events.contains(&Event::RoundMissed { feed, round: 1, node: node(2) }));
		assert!(History::<Test>::get(feed).is_empty());
		assert_eq!(data_node(1).strikes, 1);
		// Nodes registered during round 0 are not held to it.
		assert!(!events.contains(&Event::RoundMissed { feed, round: 0, node: node(1) }));
	});
}

#[test]
fn strikes_in_a_row_slash_the_bond_and_a_good_value_clears_them() {
	run_test(|| {
		let feed = register_feed(2);
		register_nodes(feed, 3);
		run_to(4);
		let protocol_before = Balances::free_balance(Protocol::get());
		// Round 1: node 2 silent (strike 1). Round 2: node 2 good (cleared). Rounds 3, 4:
		// node 2 an outlier, then silent: strikes 1, 2 -> slashed.
		for (round_end, node2) in [(8, None), (12, Some(100)), (16, Some(500)), (20, None)] {
			submit(0, feed, 100);
			submit(1, feed, 101);
			if let Some(value) = node2 {
				submit(2, feed, value);
			}
			run_to(round_end);
			if round_end == 12 {
				assert_eq!(data_node(2).strikes, 0, "a good value clears strikes");
			}
		}
		let slash = Perbill::from_percent(10) * MIN_BOND;
		let record = data_node(2);
		assert_eq!(record.bond, MIN_BOND - slash);
		assert_eq!(record.strikes, 0);
		assert_eq!(record.status, NodeStatus::Suspended);
		assert_eq!(bond_held(), 3 * MIN_BOND - slash);
		assert_eq!(Balances::free_balance(Protocol::get()), protocol_before + slash);
		let events = node_events();
		assert!(events.contains(&NodeEvent::Slashed {
			node: node(2),
			operator: operator(),
			wronged: None,
			to_wronged: 0,
			to_protocol: slash,
			bond: MIN_BOND - slash,
		}));
		assert!(events.contains(&NodeEvent::Suspended { node: node(2), bond: MIN_BOND - slash }));
		// Suspended: out of the feed, refused, and no more strikes.
		assert_eq!(serving(feed), vec![node(0), node(1)]);
		let round = Feeds::round_of(System::block_number(), ROUND);
		assert_noop!(Feeds::submit(RuntimeOrigin::signed(node(2)), feed, round, 100), Error::<Test>::NodeNotActive);
		// Bonding back to the minimum brings it back.
		assert_ok!(DataNodes::bond_extra(RuntimeOrigin::signed(operator()), node(2), slash));
		assert_eq!(data_node(2).status, NodeStatus::Active);
		assert_eq!(serving(feed), vec![node(0), node(1), node(2)]);
		submit(2, feed, 100);
	});
}

/// A suspended node whose feed was removed meanwhile (its owner may: no active node serves
/// it) rejoins without it, rather than listing itself for a feed that no longer exists.
#[test]
fn a_suspended_node_rejoins_without_the_feeds_removed_meanwhile() {
	run_test(|| {
		let feed = register_feed(1);
		register_nodes(feed, 1);
		run_to(4);
		// Silent for two rounds: slashed below the minimum bond and suspended.
		run_to(12);
		let record = data_node(0);
		assert_eq!(record.status, NodeStatus::Suspended);
		assert!(serving(feed).is_empty());
		assert_ok!(Feeds::remove_feed(RuntimeOrigin::signed(owner()), feed));

		let slash = MIN_BOND - record.bond;
		assert_ok!(DataNodes::bond_extra(RuntimeOrigin::signed(operator()), node(0), slash));
		let record = data_node(0);
		assert_eq!(record.status, NodeStatus::Active);
		assert!(record.services.is_empty(), "the removed feed is dropped");
		assert!(!NodesByService::<Test>::contains_key(feed));
		check_invariants();
	});
}

#[test]
fn the_history_keeps_the_last_max_history_values() {
	run_test(|| {
		let feed = register_feed(1);
		register_nodes(feed, 1);
		for round in 0..5u64 {
			submit(0, feed, 10 * round as i128);
			run_to((round + 1) * ROUND);
		}
		let rounds: Vec<u32> = History::<Test>::get(feed).iter().map(|value| value.round).collect();
		assert_eq!(rounds, vec![2, 3, 4]);
		assert_eq!(<Feeds as FeedValues>::latest(feed, 2), vec![30, 40]);
		assert_eq!(<Feeds as FeedValues>::latest(feed, 10).len(), MAX_HISTORY as usize);
	});
}

#[test]
fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
	let mut values = [4, 1, 3, 2];
	assert_eq!(crate::median(&mut values), Some(2));
	assert_eq!(crate::median(&mut [-3, -4]), Some(-3));
	assert_eq!(crate::median(&mut [i128::MAX, i128::MAX]), Some(i128::MAX));
	assert_eq!(crate::median(&mut [7]), Some(7));
	assert_eq!(crate::median(&mut []), None);
}

#[test]
fn leaving_takes_the_unbonding_delay_and_a_feed_is_removed_once_unserved() {
	run_test(|| {
		let feed = register_feed(1);
		register_nodes(feed, 1);
		submit(0, feed, 1);
		run_to(4);
		assert_noop!(Feeds::remove_feed(RuntimeOrigin::signed(owner()), feed), Error::<Test>::FeedInUse);
		assert_noop!(Feeds::remove_feed(RuntimeOrigin::signed(operator()), feed), Error::<Test>::NotFeedOwner);
		assert_noop!(DataNodes::withdraw(RuntimeOrigin::signed(operator()), node(0)), NodeError::<Test>::NotUnbonding);
		assert_noop!(DataNodes::unbond(RuntimeOrigin::signed(owner()), node(0)), NodeError::<Test>::NotOperator);
		assert_ok!(DataNodes::unbond(RuntimeOrigin::signed(operator()), node(0)));
		assert_noop!(
			DataNodes::withdraw(RuntimeOrigin::signed(operator()), node(0)),
			NodeError::<Test>::StillUnbonding
		);
		// Leaving: no submissions, no strikes for silence.
		let round = Feeds::round_of(System::block_number(), ROUND);
		assert_noop!(Feeds::submit(RuntimeOrigin::signed(node(0)), feed, round, 1), Error::<Test>::NodeNotActive);
		run_to(4 + UNBONDING);
		assert_ok!(DataNodes::withdraw(RuntimeOrigin::signed(operator()), node(0)));
		assert_eq!(bond_held(), 0);
		assert!(pallet_bonded_nodes::Nodes::<Test>::get(node(0)).is_none());
		assert!(!feed_events().iter().any(|event| matches!(event, Event::RoundMissed { .. })));

		assert_ok!(Feeds::remove_feed(RuntimeOrigin::signed(owner()), feed));
		assert_eq!(Balances::balance_on_hold(&HoldReason::FeedDeposit.into(), &owner()), 0);
		assert!(crate::pallet::Feeds::<Test>::get(feed).is_none());
		assert!(History::<Test>::get(feed).is_empty());
		assert_eq!(FeedCount::<Test>::get(), 0);
		// Its scheduled round end passes without effect.
		let before = feed_events().len();
		run_to(System::block_number() + 2 * ROUND);
		assert_eq!(feed_events().len(), before);
	});
}

#[test]
fn set_feeds_moves_a_node_between_feeds() {
	run_test(|| {
		let a = register_feed(1);
		let b = register_feed(1);
		register_nodes(a, 1);
		assert_noop!(
			DataNodes::set_services(RuntimeOrigin::signed(owner()), node(0), vec![b].try_into().unwrap()),
			NodeError::<Test>::NotOperator
		);
		assert_ok!(DataNodes::set_services(RuntimeOrigin::signed(operator()), node(0), vec![b].try_into().unwrap()));
		assert!(serving(a).is_empty());
		assert_eq!(serving(b), vec![node(0)]);
		assert!(node_events()
			.contains(&NodeEvent::ServicesChanged { node: node(0), services: vec![b].try_into().unwrap() }));
	});
}

#[test]
fn unsigned_origins_are_refused() {
	run_test(|| {
		let feed = register_feed(1);
		assert_noop!(Feeds::submit(RuntimeOrigin::none(), feed, 0, 1), DispatchError::BadOrigin);
		let _ = Feeds::on_initialize(1);
	});
}

mod offchain_worker {
	use super::*;
	use crate::{source_storage_key, FeedSource};
	use codec::{Decode, Encode};
	use sp_core::offchain::{testing, OffchainDbExt, OffchainWorkerExt, StorageKind, TransactionPoolExt};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	use std::sync::Arc;

	const URL: &str = "http://127.0.0.1:8089/price";

	type Shared<T> = Arc<parking_lot::RwLock<T>>;

	struct Setup {
		ext: sp_io::TestExternalities,
		http: Shared<testing::OffchainState>,
		pool: Shared<testing::PoolState>,
		node: AccountId,
	}

	/// A data node with its `feed` key in the keystore, registered for feed 0, whose source
	/// (when `configured`) is `price.usd` at `URL`.
	fn setup(configured: bool) -> Setup {
		let keystore = MemoryKeystore::new();
		let public = keystore.sr25519_generate_new(crate::KEY_TYPE, Some("//data-node")).unwrap();
		let message = pallet_bonded_nodes::registration_message("DataNodes", &operator());
		let proof = keystore.sr25519_sign(crate::KEY_TYPE, &public, &message).unwrap().unwrap();
		let mut ext = new_test_ext();
		let (offchain, http) = testing::TestOffchainExt::new();
		let (pool_ext, pool) = testing::TestTransactionPoolExt::new();
		ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
		ext.register_extension(OffchainDbExt::new(offchain));
		ext.register_extension(TransactionPoolExt::new(pool_ext));
		ext.register_extension(KeystoreExt(Arc::new(keystore)));
		let node: AccountId = public;
		ext.execute_with(|| {
			let feed = register_feed(1);
			assert_ok!(DataNodes::register(
				RuntimeOrigin::signed(operator()),
				node,
				vec![feed].try_into().unwrap(),
				MIN_BOND,
				proof,
			));
			if configured {
				// What the node's `--data-source 0=URL#price.usd` writes.
				let source = FeedSource { url: URL.as_bytes().to_vec(), json_path: b"price.usd".to_vec() };
				sp_io::offchain::local_storage_set(
					StorageKind::PERSISTENT,
					&source_storage_key(feed),
					&source.encode(),
				);
			}
		});
		Setup { ext, http, pool, node }
	}

	fn expect_get(http: &Shared<testing::OffchainState>, body: &[u8]) {
		http.write().expect_request(testing::PendingRequest {
			method: "GET".into(),
			uri: URL.into(),
			headers: vec![("Accept".into(), "application/json".into())],
			response: Some(body.to_vec()),
			sent: true,
			..Default::default()
		});
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

	#[test]
	fn the_worker_fetches_the_configured_source_and_submits_the_value_signed_once_per_round() {
		let Setup { mut ext, http, pool, node } = setup(true);
		expect_get(&http, br#"{"price": {"usd": "64123.45", "eur": 59000}}"#);
		ext.execute_with(|| {
			Feeds::offchain_worker(1);
			let sent = sent_calls(&pool);
			assert_eq!(sent.len(), 1);
			assert_eq!(sent[0].0, node);
			assert_eq!(sent[0].1, RuntimeCall::Feeds(crate::Call::submit { feed: 0, round: 0, value: 6_412_345 }));
			// Sent for this round: the next block's worker does not fetch again (an unexpected
			// request would fail the test).
			Feeds::offchain_worker(2);
			assert_eq!(sent_calls(&pool).len(), 1);
		});
	}

	#[test]
	fn without_a_configured_source_nothing_is_fetched_or_sent() {
		let Setup { mut ext, pool, .. } = setup(false);
		ext.execute_with(|| {
			Feeds::offchain_worker(1);
			assert!(sent_calls(&pool).is_empty());
		});
	}

	#[test]
	fn a_malformed_answer_sends_nothing() {
		for body in [&b"<html>502 Bad Gateway</html>"[..], br#"{"price": {"usd": "n/a"}}"#, br#"{"price": 5}"#] {
			let Setup { mut ext, http, pool, .. } = setup(true);
			expect_get(&http, body);
			ext.execute_with(|| {
				Feeds::offchain_worker(1);
				assert!(sent_calls(&pool).is_empty(), "{}", String::from_utf8_lossy(body));
			});
		}
	}

	/// The data node's failed fetches, as its node reads them for `veriml_feed_fetch_errors`.
	fn fetch_errors() -> Vec<((FeedId, crate::FetchErrorKind), u64)> {
		sp_io::offchain::local_storage_get(StorageKind::PERSISTENT, crate::FETCH_ERRORS_KEY)
			.map(|raw| crate::FetchErrors::decode(&mut &raw[..]).unwrap().0.into_iter().collect())
			.unwrap_or_default()
	}

	#[test]
	fn failed_fetches_are_counted_by_feed_and_kind_for_the_nodes_metrics() {
		let Setup { mut ext, http, pool, .. } = setup(true);
		expect_get(&http, b"<html>502 Bad Gateway</html>");
		ext.execute_with(|| {
			assert_eq!(fetch_errors(), vec![]);
			Feeds::offchain_worker(1);
			assert_eq!(fetch_errors(), vec![((0, crate::FetchErrorKind::Value), 1)]);
		});
		// A good answer at the next block is sent and counts nothing.
		expect_get(&http, br#"{"price": {"usd": 5}}"#);
		ext.execute_with(|| {
			Feeds::offchain_worker(2);
			assert_eq!(sent_calls(&pool).len(), 1);
			assert_eq!(fetch_errors(), vec![((0, crate::FetchErrorKind::Value), 1)]);
		});

		let Setup { mut ext, .. } = setup(false);
		ext.execute_with(|| {
			Feeds::offchain_worker(1);
			Feeds::offchain_worker(2);
			assert_eq!(fetch_errors(), vec![((0, crate::FetchErrorKind::NoSource), 2)]);
		});
	}

	#[test]
	fn a_feed_key_that_is_also_an_infr_key_numbers_its_transactions_with_the_inference_worker() {
		// One account, two roles: the inference worker sent one transaction in this run (its
		// record says so); the data node's submission must take the next nonce, not the same
		// one (before, each role kept its own record: two transactions with one nonce, one
		// dropped, a missed round and a strike).
		let Setup { mut ext, http, pool, node } = setup(true);
		expect_get(&http, br#"{"price": {"usd": 5}}"#);
		ext.execute_with(|| {
			let chain = frame_system::Pallet::<Test>::account_nonce(node);
			let inference = veriml_offchain::NonceTracker::<Test>::load(veriml_offchain::NONCE, &node, 1, 3);
			assert_eq!(inference.claim(), chain);
			Feeds::offchain_worker(1);
			assert_eq!(sent_calls(&pool).len(), 1);
			let after = veriml_offchain::NonceTracker::<Test>::load(veriml_offchain::NONCE, &node, 1, 3);
			assert_eq!(after.claim(), chain + 2, "the submission took the nonce after the inference worker's");
		});
	}

	#[test]
	fn workers_signing_for_one_account_at_once_never_take_one_nonce() {
		// A long inference run for block 1 and the data node's run for block 2, both started
		// before either sent anything (before, each read the record once at its start and
		// wrote it back at its end: both took the chain's nonce, one transaction was dropped).
		let Setup { mut ext, node, .. } = setup(true);
		ext.execute_with(|| {
			let chain = frame_system::Pallet::<Test>::account_nonce(node);
			let inference = veriml_offchain::NonceTracker::<Test>::load(veriml_offchain::NONCE, &node, 1, 3);
			let feeds = veriml_offchain::NonceTracker::<Test>::load(veriml_offchain::NONCE, &node, 2, 3);

			assert_eq!(inference.claim(), chain);
			assert_eq!(feeds.claim(), chain + 1);
			assert_eq!(inference.claim(), chain + 2);

			// A nonce whose transaction was not sent is given back while it is the last one
			// taken, and stays a gap once a later one is.
			feeds.give_back(chain + 2);
			assert_eq!(feeds.claim(), chain + 2);
			inference.give_back(chain + 1);
			assert_eq!(inference.claim(), chain + 3);
		});
	}

	#[test]
	fn numbering_restarts_from_the_chain_once_its_nonce_has_not_moved_for_a_while() {
		// Two transactions sent at block 1 never land (the chain's nonce stays put): from block
		// 1 + 3 on, numbering starts again from the chain's nonce, once.
		let Setup { mut ext, node, .. } = setup(true);
		ext.execute_with(|| {
			let chain = frame_system::Pallet::<Test>::account_nonce(node);
			let at = |block| veriml_offchain::NonceTracker::<Test>::load(veriml_offchain::NONCE, &node, block, 3);
			assert_eq!(at(1).claim(), chain);
			assert_eq!(at(1).claim(), chain + 1);
			assert_eq!(at(3).claim(), chain + 2, "not stuck yet");

			assert_eq!(at(4).claim(), chain, "stuck: the chain's nonce again");
			assert_eq!(at(4).claim(), chain + 1, "and on from there, not again from the chain's");
		});
	}

	#[test]
	fn an_oversized_answer_is_not_read_to_the_end() {
		let Setup { mut ext, http, pool, .. } = setup(true);
		let mut body = br#"{"price": {"usd": 1}, "padding": ""#.to_vec();
		body.extend(std::iter::repeat_n(b'x', crate::offchain::MAX_RESPONSE_BYTES));
		body.extend_from_slice(br#""}"#);
		expect_get(&http, &body);
		ext.execute_with(|| {
			Feeds::offchain_worker(1);
			assert!(sent_calls(&pool).is_empty());
		});
	}

	#[test]
	fn a_key_that_is_not_a_registered_data_node_does_nothing() {
		let Setup { mut ext, pool, node, .. } = setup(true);
		ext.execute_with(|| {
			pallet_bonded_nodes::Nodes::<Test>::remove(node);
			Feeds::offchain_worker(1);
			assert!(sent_calls(&pool).is_empty());
		});
	}
}

#[test]
fn a_removed_feeds_round_end_takes_no_place_another_feed_needs() {
	run_test(|| {
		// The victim: rounds of `ROUND` blocks, ending at 4, 8, 12, ...
		let victim = register_feed(1);
		run_to(5);
		// `MaxFeeds` feeds registered and removed, each with its first round ending at 12:
		// before, their ends stayed in block 12's list and filled it.
		for _ in 0..<<Test as Config>::MaxFeeds as frame_support::traits::Get<u32>>::get() {
			let feed = NextFeedId::<Test>::get();
			assert_ok!(Feeds::register_feed(
				RuntimeOrigin::signed(owner()),
				name("spam"),
				b"nothing".to_vec().try_into().unwrap(),
				0,
				3 * ROUND,
				1,
				Perbill::from_percent(10),
			));
			assert_eq!(RoundEnds::<Test>::get(3 * ROUND).into_inner(), vec![feed]);
			assert_ok!(Feeds::remove_feed(RuntimeOrigin::signed(owner()), feed));
			assert!(RoundEnds::<Test>::get(3 * ROUND).is_empty(), "removed with its feed");
		}
		// The victim's round ending at 8 schedules the next, at 12, which still comes.
		run_to(2 * ROUND);
		assert_eq!(RoundEnds::<Test>::get(3 * ROUND).into_inner(), vec![victim]);
		run_to(3 * ROUND);
		assert!(feed_events().contains(&Event::RoundWithoutValue {
			feed: victim,
			round: 2,
			submissions: 0,
			needed: 1
		}));
		assert_eq!(RoundEnds::<Test>::get(4 * ROUND).into_inner(), vec![victim]);
	});
}

#[test]
fn a_feeds_owner_decides_whose_nodes_serve_it_so_sybils_cannot_take_its_median() {
	run_test(|| {
		let feed = register_feed(1);
		let sybil = account(40);
		<Balances as frame_support::traits::fungible::Mutate<_>>::set_balance(&sybil, 100 * MIN_BOND);
		let by = |who: AccountId, n: u8| {
			DataNodes::register(
				RuntimeOrigin::signed(who),
				node(n),
				vec![feed].try_into().unwrap(),
				MIN_BOND,
				node_proof(n, &who),
			)
		};
		// An operator the owner did not approve cannot take one of the feed's node slots.
		assert_noop!(by(sybil, 0), NodeError::<Test>::NotAdmitted);
		assert!(serving(feed).is_empty());
		// Only the owner approves, once, and at most `MaxNodesPerFeed` operators.
		assert_noop!(Feeds::approve_operator(RuntimeOrigin::signed(sybil), feed, sybil), Error::<Test>::NotFeedOwner);
		assert_noop!(
			Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, operator()),
			Error::<Test>::AlreadyApproved
		);
		assert_noop!(Feeds::approve_operator(RuntimeOrigin::signed(owner()), 9, sybil), Error::<Test>::UnknownFeed);
		assert_ok!(Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, sybil));
		System::assert_has_event(crate::Event::<Test>::OperatorApproved { feed, operator: sybil }.into());
		assert_ok!(Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, account(41)));
		assert_noop!(
			Feeds::approve_operator(RuntimeOrigin::signed(owner()), feed, account(42)),
			Error::<Test>::TooManyOperators
		);
		// Approved, it serves; the owner takes the approval back mid-round: its value is
		// dropped, later ones refused, and it is not struck for the rounds it no longer serves.
		register_nodes(feed, 1);
		assert_ok!(by(sybil, 1));
		submit(0, feed, 100);
		submit(1, feed, 999);
		assert_ok!(Feeds::revoke_operator(RuntimeOrigin::signed(owner()), feed, sybil));
		System::assert_has_event(crate::Event::<Test>::OperatorRevoked { feed, operator: sybil }.into());
		assert_eq!(Submissions::<Test>::get(feed).unwrap().1.into_inner(), vec![(node(0), 100)]);
		let round = Feeds::round_of(System::block_number(), ROUND);
		assert_noop!(
			Feeds::submit(RuntimeOrigin::signed(node(1)), feed, round, 999),
			Error::<Test>::OperatorNotApproved
		);
		assert_noop!(
			Feeds::revoke_operator(RuntimeOrigin::signed(owner()), feed, sybil),
			Error::<Test>::OperatorNotApproved
		);
		run_to(ROUND);
		assert!(feed_events().contains(&Event::RoundAggregated { feed, round, value: 100, submissions: 1 }));
		run_to(2 * ROUND);
		assert_eq!(data_node(1).strikes, 0, "not struck for a feed it may no longer serve");
		assert_eq!(data_node(0).strikes, 1, "the approved node that missed the round is");
	});
}
