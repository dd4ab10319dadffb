//! Optimistic models: proposals, challenges, disputes and their settlement.

use super::*;

use crate::OpenStatus;
use pallet_verification::{
	ChallengeWindows, Disputes, Error as VerificationError, Event as VerificationEvent, Proposals, ProposedOutputs,
	VerifiedBy,
};

/// A test externalities whose Relu model is registered as optimistic.
fn optimistic_ext() -> sp_io::TestExternalities {
	OptimisticAboveFuel::set(0);
	let mut ext = new_test_ext();
	ext.execute_with(|| {
		assert_eq!(
			pallet_model_registry::Models::<Test>::get(relu_hash()).unwrap().verification,
			pallet_model_registry::Verification::Optimistic
		);
	});
	ext
}

/// Registers `node`, operated by `operator`, serving `model`, its key funded.
fn register_funded_node_of(operator: AccountId, node: AccountId, model: H256) {
	register_node_of(operator, node, model);
	// Its operator funds its key for challenge deposits.
	assert_ok!(Balances::transfer_keep_alive(RuntimeOrigin::signed(operator), node, 10 * CHALLENGE_DEPOSIT));
}

/// Wrong outputs with a result hash that commits to them: only re-execution shows it.
fn wrong_but_consistent() -> (Vec<Tensor>, H256) {
	let outputs = vec![Tensor::from_f32(&[1, WIDTH], &[1.0; WIDTH as usize])];
	let hash = honest_hash(&sample_input(), &outputs);
	(outputs, hash)
}

/// Where open request `id` stands, as clients read it.
fn status(id: u64) -> OpenStatus {
	Inference::open_request_info(id).unwrap().status
}

fn challenge(who: AccountId, id: u64) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Verification::challenge(RuntimeOrigin::signed(who), id)
}

#[test]
fn an_unchallenged_result_settles_when_its_window_ends_without_re_execution() {
	optimistic_ext().execute_with(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let fee = relu_fee();
		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);

		// A hash that does not commit to the outputs is refused outright.
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), H256::repeat_byte(1)),
			VerificationError::<Test>::ResultHashMismatch
		);
		let post = Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), hash).unwrap();
		assert_eq!(post.pays_fee, frame_support::dispatch::Pays::No);
		let until = 1 + CHALLENGE_PERIOD;
		let outcome = Outcome::Outputs { output_hash: output_hash(&outputs), result_hash: hash };
		System::assert_has_event(
			VerificationEvent::ResultProposed { request: id, node, outcome, challenge_until: until }.into(),
		);
		assert_eq!(status(id), OpenStatus::Proposed);
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Verifying);
		assert!(!Assignments::<Test>::contains_key(node, id));
		assert_eq!(Deadlines::<Test>::iter().count(), 0, "a proposal does not expire");
		assert!(ChallengeWindows::<Test>::contains_key(until, id));
		assert_eq!(escrowed(alice()), fee.total(), "nothing is paid before the window ends");
		assert!(Receipts::<Test>::get(id).is_none());
		// Submitting again is refused.
		assert_noop!(
			Inference::submit_result(RuntimeOrigin::signed(node), id, outputs.clone(), hash),
			Error::<Test>::NotAssigned
		);

		let operator_before = Balances::balance(&operator());
		run_to_block(until - 1);
		assert_eq!(status(id), OpenStatus::Proposed);
		run_to_block(until + TIMEOUT);
		System::assert_has_event(Event::Completed { request: id, node, result_hash: hash, fee }.into());
		System::assert_has_event(
			pallet_verification::Event::ResultAccepted { request: id, executor: node, outcome }.into(),
		);
		let receipt = Receipts::<Test>::get(id).unwrap();
		assert_eq!(receipt.verified_by, VerifiedBy::Unchallenged);
		assert_eq!(receipt.verified_at, until);
		assert_eq!(pallet_verification::Outputs::<Test>::get(id), Some(outputs));
		assert_eq!(Balances::balance(&operator()), operator_before + fee.execution);
		assert_eq!(escrowed(alice()), 0);
		assert!(!Requests::<Test>::contains_key(id));
		assert!(!Proposals::<Test>::contains_key(id));
		assert!(!ProposedOutputs::<Test>::contains_key(id));
		assert_eq!(ChallengeWindows::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_wrong_result_is_challenged_and_its_node_slashed_to_pay_the_challenger() {
	optimistic_ext().execute_with(|| {
		let liar = account(10);
		register_node(liar);
		let id = request_from(alice(), sample_input());
		assert_eq!(assigned_to(id), vec![liar]);
		// Bob operates a node that serves the model too; it re-executes and challenges.
		let challenger = account(11);
		register_funded_node_of(bob(), challenger, relu_hash());
		let (wrong, wrong_hash) = wrong_but_consistent();
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), id, wrong, wrong_hash));

		// Who may challenge, and when.
		assert_noop!(challenge(alice(), id), VerificationError::<Test>::NotANode);
		assert_noop!(challenge(liar, id), VerificationError::<Test>::OwnResult);
		assert_noop!(challenge(challenger, 99), VerificationError::<Test>::NothingToChallenge);
		assert_ok!(challenge(challenger, id));
		System::assert_has_event(
			VerificationEvent::Challenged { request: id, node: liar, challenger, deposit: CHALLENGE_DEPOSIT }.into(),
		);
		assert_eq!(status(id), OpenStatus::Disputed);
		assert_eq!(Disputes::<Test>::get().into_inner(), vec![id]);
		assert_eq!(ChallengeWindows::<Test>::iter().count(), 0, "a disputed result does not settle");
		assert_noop!(challenge(challenger, id), VerificationError::<Test>::AlreadyChallenged);

		let bob_before = Balances::balance(&bob());
		let treasury_before = Balances::balance(&Treasury::get());
		run_to_block(2);
		// 50% of the liar's 2000 bond: 20% of it to the challenger's operator.
		System::assert_has_event(Event::ResultRejected { request: id, node: liar, slashed: 1_000 }.into());
		System::assert_has_event(
			VerificationEvent::ChallengeUpheld { request: id, node: liar, challenger, slashed: 1_000 }.into(),
		);
		assert_eq!(bond_of(liar), 1_000);
		assert_eq!(bond_of(challenger), MIN_BOND * 2);
		assert_eq!(Balances::balance(&bob()), bob_before + 200);
		assert_eq!(Balances::balance(&Treasury::get()), treasury_before + 800);
		assert!(Disputes::<Test>::get().is_empty());
		assert!(!Proposals::<Test>::contains_key(id));
		assert!(Receipts::<Test>::get(id).is_none());
		// The request went to the honest node (drawn at the end of the block), with a fresh
		// deadline; the escrow is intact.
		end_block();
		assert_eq!(assigned_to(id), vec![challenger]);
		assert_eq!(status(id), OpenStatus::Assigned);
		assert_eq!(Requests::<Test>::get(id).unwrap().deadline, 2 + TIMEOUT);
		assert_eq!(escrowed(alice()), relu_fee().total());

		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(challenger), id, outputs, hash));
		run_to_block(2 + CHALLENGE_PERIOD);
		System::assert_has_event(
			Event::Completed { request: id, node: challenger, result_hash: hash, fee: relu_fee() }.into(),
		);
	});
}

#[test]
fn a_wrong_challenge_is_slashed_and_the_result_settles_verified_by_re_execution() {
	optimistic_ext().execute_with(|| {
		let node = account(10);
		register_node(node);
		let id = request_from(alice(), sample_input());
		let troll = account(11);
		register_funded_node_of(bob(), troll, relu_hash());
		let outputs = sample_output();
		let hash = honest_hash(&sample_input(), &outputs);
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(node), id, outputs, hash));
		assert_ok!(challenge(troll, id));

		let operator_before = Balances::balance(&operator());
		run_to_block(2);
		System::assert_has_event(
			VerificationEvent::ChallengeRejected {
				request: id,
				node,
				challenger: troll,
				slashed: 1_000,
				forfeited: CHALLENGE_DEPOSIT,
			}
			.into(),
		);
		assert_eq!(bond_of(troll), 1_000);
		assert_eq!(bond_of(node), MIN_BOND * 2);
		// The node's operator gets 20% of the slash, the troll's deposit and the execution fee.
		assert_eq!(Balances::balance(&operator()), operator_before + 200 + CHALLENGE_DEPOSIT + relu_fee().execution);
		System::assert_has_event(Event::Completed { request: id, node, result_hash: hash, fee: relu_fee() }.into());
		assert_eq!(Receipts::<Test>::get(id).unwrap().verified_by, VerifiedBy::ReExecution);
		assert!(!Requests::<Test>::contains_key(id));
		assert!(Disputes::<Test>::get().is_empty());

		// The window is over: nothing left to challenge.
		assert_noop!(challenge(troll, id), VerificationError::<Test>::NothingToChallenge);
	});
}

#[test]
fn disputes_of_cheap_models_are_decided_several_a_block_and_their_queue_is_bounded() {
	optimistic_ext().execute_with(|| {
		let liar = account(10);
		register_node(liar);
		let ids: Vec<u64> = (0..3).map(|_| request_from(alice(), sample_input())).collect();
		let challenger = account(11);
		register_funded_node_of(bob(), challenger, register_unary("Abs"));
		let (wrong, wrong_hash) = wrong_but_consistent();
		for id in &ids {
			assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), *id, wrong.clone(), wrong_hash));
		}
		assert_ok!(challenge(challenger, ids[0]));
		assert_ok!(challenge(challenger, ids[1]));
		assert_noop!(challenge(challenger, ids[2]), VerificationError::<Test>::TooManyDisputes);
		assert_eq!(status(ids[1]), OpenStatus::Disputed);
		// A Relu re-execution is a sliver of a transaction's weight: both are decided at the
		// start of the next block, and both deposits come back.
		run_to_block(2);
		assert!(Disputes::<Test>::get().is_empty());
		assert_eq!(Balances::balance(&challenger), 10 * CHALLENGE_DEPOSIT);
		// Both refuted; no other node serves Relu, so they wait for one.
		for id in &ids[..2] {
			assert_eq!(status(*id), OpenStatus::Pending);
		}
	});
}

#[test]
fn a_node_re_executes_proposals_in_its_offchain_worker_and_challenges_the_wrong_one() {
	OptimisticAboveFuel::set(0);
	let (mut ext, key, sent_transactions) = offchain_ext("//watcher");

	ext.execute_with(|| {
		let (liar, honest) = (account(10), account(12));
		register_node(liar);
		let wrong_id = request_from(alice(), sample_input());
		register_funded_node_of(bob(), honest, relu_hash());
		// The watching node serves another model: it is never assigned these.
		let watcher: AccountId = key;
		register_funded_node_of(bob(), watcher, register_unary("Abs"));
		let (wrong, wrong_hash) = wrong_but_consistent();
		assert_ok!(Inference::submit_result(RuntimeOrigin::signed(liar), wrong_id, wrong, wrong_hash));
		let right_id = request_from(bob(), sample_input());
		let right_node = assigned_to(right_id)[0];
		submit_honest_result(right_node, right_id);

		// Both inference workers run, as the node runs every pallet's.
		<Inference as Hooks<u64>>::offchain_worker(1);
		<Verification as Hooks<u64>>::offchain_worker(1);
		let sent = sent_transactions();
		assert_eq!(sent.len(), 1, "only the wrong result is challenged");
		// Checked once: the next run sends nothing.
		<Inference as Hooks<u64>>::offchain_worker(2);
		<Verification as Hooks<u64>>::offchain_worker(2);
		assert!(sent_transactions().is_empty());

		let xt = sent.into_iter().next().unwrap();
		let sp_runtime::generic::Preamble::Signed(who, _, ()) = xt.preamble else { panic!("unsigned") };
		assert_eq!(who, watcher);
		let RuntimeCall::Verification(pallet_verification::Call::challenge { request }) = xt.function else {
			panic!("not a challenge")
		};
		assert_eq!(request, wrong_id);
		assert_ok!(challenge(watcher, request));
		run_to_block(2);
		System::assert_has_event(
			VerificationEvent::ChallengeUpheld { request: wrong_id, node: liar, challenger: watcher, slashed: 1_000 }
				.into(),
		);
	});
}
