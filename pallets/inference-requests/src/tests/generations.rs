//! Generation requests from request to settlement, with the real engine: a decoder registered
//! with its tokenizer, the sampling seed drawn with the request's nodes, the answer (tokens and
//! every step's state hash) proposed, a lie shown by one step and its node struck, an honest
//! answer settled after its window with its receipt, and every refusal.

use super::*;
use crate::{GenerationAnswers, GenerationWindows, Generations};
use frame_support::assert_err_ignore_postinfo;
use veriml_engine::{Engine, GenerationRequest as NativeRequest};
use veriml_inference_primitives::{
	generation::{generation_hash, step_hash, steps_proof, Sampling, TokenId},
	model_hash, onnx_builder,
};
use veriml_primitives::generation::{ProvenState, SamplingChoice, StepChallenge, StreamEnd, TokenStream};

const CONTEXT: u32 = 16;
const PROMPT: [TokenId; 2] = [3, 4];
/// Greedy from `PROMPT`, the test decoder gives 5, 6, 7, 0, 1, 2: with stop token 0 it stops
/// after four tokens.
const STOP: TokenId = 0;

fn decoder_bytes() -> Vec<u8> {
	onnx_builder::decoder_model(8, 2, 3)
}

const TOKENIZER: &[u8] = br#"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#;

fn upload(bytes: &[u8]) -> H256 {
	let hash = model_hash(bytes);
	let who = RuntimeOrigin::signed(owner());
	assert_ok!(Models::begin_upload(who.clone(), hash, bytes.len() as u32));
	assert_ok!(Models::upload_chunk(who, hash, 0, BoundedVec::truncate_from(bytes.to_vec())));
	hash
}

/// The test decoder registered by `owner()` with its tokenizer, for a context of 16 tokens at
/// `PRICE` a token; and `nodes`, serving it.
fn register_decoder(nodes: &[AccountId]) -> H256 {
	register_decoder_of(&decoder_bytes(), nodes)
}

/// [`register_decoder`] for the decoder whose file is `bytes`.
fn register_decoder_of(bytes: &[u8], nodes: &[AccountId]) -> H256 {
	let model = upload(bytes);
	let tokenizer = upload(TOKENIZER);
	assert_ok!(Models::register_decoder(
		RuntimeOrigin::signed(owner()),
		model,
		BoundedVec::truncate_from(b"tiny".to_vec()),
		1,
		CONTEXT,
		tokenizer,
		PRICE
	));
	for node in nodes {
		register_node_of(operator(), *node, model);
	}
	model
}

/// `alice()` asks `model` for `max_tokens` tokens after `PROMPT`, stopping at `STOP`, and the
/// block ends (its node and seed drawn).
fn generate(model: H256, max_tokens: u32, sampling: SamplingChoice) -> u64 {
	let id = crate::NextRequestId::<Test>::get();
	assert_ok!(Inference::generate(
		RuntimeOrigin::signed(alice()),
		model,
		PROMPT.to_vec(),
		max_tokens,
		vec![STOP],
		sampling,
		1_000_000
	));
	end_block();
	id
}

/// Request `id`'s generation with its drawn seed, as the node's engine runs it.
fn native_request(id: u64) -> NativeRequest {
	let generation = Generations::<Test>::get(id).unwrap();
	NativeRequest {
		prompt: generation.prompt.to_vec(),
		max_tokens: generation.max_tokens,
		stop_tokens: generation.stop_tokens.to_vec(),
		sampling: generation.sampling.with_seed(generation.seed.expect("drawn with its nodes")),
	}
}

/// An honest generation of request `id`: its tokens and the state after each step, computed by
/// the node's engine natively, as an inference node does.
fn honest(id: u64) -> (Vec<TokenId>, Vec<Vec<Tensor>>) {
	native_generation(&decoder_bytes(), id)
}

/// [`honest`] for the decoder whose file is `bytes`: the node's engine generates it within its
/// own cap alone.
fn native_generation(bytes: &[u8], id: u64) -> (Vec<TokenId>, Vec<Vec<Tensor>>) {
	let request = native_request(id);
	// The node's engine the mock registers (its compiled guest and prepared models shared).
	let engine: &Engine = &ENGINE;
	let generation = engine.generate(bytes, &request, u64::MAX, None, |_| {}).unwrap();
	let mut states: Vec<Vec<Tensor>> = Vec::new();
	for step in 0..generation.steps.len() as u32 {
		states
			.push(engine.replay_step(bytes, &request, step, states.last().map(Vec::as_slice), u64::MAX, None).unwrap());
	}
	assert_eq!(hashes(&states), generation.steps);
	(generation.tokens, states)
}

/// `node` answers generation `id` with `tokens` and `steps`, computed with the chain's guest;
/// the answer must be proposed.
fn answer(node: AccountId, id: u64, tokens: Vec<TokenId>, steps: Vec<H256>) {
	assert_ok!(Inference::submit_generation(RuntimeOrigin::signed(node), id, tokens, steps, ENGINE_VERSION));
}

fn hashes(states: &[Vec<Tensor>]) -> Vec<H256> {
	states.iter().map(|state| step_hash(state)).collect()
}

/// The challenge of step `step` of an answer with step hashes `steps`, with `before` as the
/// answer's state before it.
fn state_challenge(steps: &[H256], step: u32, before: Option<Vec<Tensor>>) -> StepChallenge {
	StepChallenge::State {
		step,
		before: before.map(|outputs| ProvenState { outputs, proof: steps_proof(steps, step - 1).unwrap() }),
		leaf: steps[step as usize],
		proof: steps_proof(steps, step).unwrap(),
	}
}

fn last_event() -> RuntimeEvent {
	System::events().pop().unwrap().event
}

#[test]
fn a_generation_gets_its_seed_with_its_node_and_its_unchallenged_answer_settles_with_its_receipt() {
	run_test(|| {
		let node = account(10);
		let model = register_decoder(&[node]);
		let (alice_before, owner_before) = (Balances::balance(&alice()), Balances::balance(&owner()));
		let id = generate(model, 6, SamplingChoice::Greedy);
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.assigned.to_vec(), vec![node]);
		assert!(!Inputs::<Test>::contains_key(id));
		// Fuel per step with the margin; the fee quoted for six tokens in seven steps.
		let fuel_limit = request.fuel_limit;
		let held = Inference::generation_fee(PRICE, fuel_limit, 6, 7);
		assert_eq!(request.fee, held);
		assert_eq!(held.model_price, 6 * PRICE);
		assert_eq!(escrowed(alice()), held.total());
		let generation = Generations::<Test>::get(id).unwrap();
		let seed = generation.seed.expect("drawn with the node");
		System::assert_has_event(Event::SamplingSeedDrawn { request: id, seed }.into());

		let (tokens, states) = honest(id);
		assert_eq!(tokens, [5, 6, 7, STOP]);
		let steps = hashes(&states);
		assert_eq!(steps.len(), 5);
		answer(node, id, tokens.clone(), steps.clone());
		let root = GenerationAnswers::<Test>::get(id).unwrap().steps_root;
		let until = System::block_number() + GENERATION_CHALLENGE_PERIOD;
		System::assert_last_event(
			Event::GenerationProposed {
				request: id,
				node,
				tokens: tokens.clone(),
				steps_root: root,
				challenge_until: until,
			}
			.into(),
		);
		assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Verifying);
		assert!(Assignments::<Test>::iter_prefix(node).next().is_none());

		run_to_block(until - 1);
		assert!(GenerationAnswers::<Test>::contains_key(id), "in its window until its last block");
		run_to_block(until);

		// Paid for four tokens in five steps; the rest refunded.
		let paid = Inference::generation_fee(PRICE, fuel_limit, 4, 5);
		let sampling = Sampling::Greedy;
		let result_hash = generation_hash(ENGINE_VERSION, &model, &PROMPT, sampling, 6, &[STOP], &tokens, &root);
		System::assert_has_event(
			Event::GenerationCompleted {
				request: id,
				node,
				tokens: tokens.clone(),
				steps_root: root,
				result_hash,
				fee: paid,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&alice()), alice_before - paid.total());
		assert_eq!(escrowed(alice()), 0);
		assert_eq!(Balances::balance(&owner()), owner_before + paid.model_price);
		let receipt = Receipts::<Test>::get(id).unwrap();
		assert_eq!(receipt.executor, node);
		assert_eq!(receipt.verified_by, pallet_verification::VerifiedBy::Unchallenged);
		let Outcome::Outputs { result_hash: kept, .. } = receipt.outcome else { panic!("outputs") };
		assert_eq!(kept, result_hash);
		let outputs = pallet_verification::Outputs::<Test>::get(id).unwrap();
		let ids: Vec<u8> = tokens.iter().flat_map(|t| i64::from(*t).to_le_bytes()).collect();
		assert_eq!(outputs[0].data, ids);
		assert_eq!(outputs[1].data, root.as_bytes());
		// The receipt's input hash is the generation's with its seed.
		assert_eq!(receipt.input_hash, Inference::generation_request_hash(&generation));
		assert_ne!(request.input_hash, receipt.input_hash, "the request's was made before its seed");
		assert!(Requests::<Test>::get(id).is_none() && Generations::<Test>::get(id).is_none());
		assert!(
			GenerationAnswers::<Test>::iter().next().is_none() && GenerationWindows::<Test>::iter().next().is_none()
		);
	});
}

#[test]
fn a_wrong_state_is_shown_by_one_step_its_node_struck_and_another_node_answers() {
	run_test(|| {
		let (liar, honest_node) = (account(10), account(11));
		let model = register_decoder(&[liar, honest_node]);
		let id = generate(model, 6, SamplingChoice::Greedy);
		let assigned = assigned_to(id)[0];
		let other = if assigned == liar { honest_node } else { liar };
		let (tokens, states) = honest(id);
		let honest_steps = hashes(&states);
		// The assigned node lies from step 3 on: its state there differs (one bit), and so
		// every leaf after.
		let mut steps = honest_steps.clone();
		for leaf in steps.iter_mut().skip(3) {
			leaf.0[0] ^= 1;
		}
		answer(assigned, id, tokens.clone(), steps.clone());

		// A challenge of a link that holds (step 2) is refused, and pays.
		let upheld = state_challenge(&steps, 2, Some(states[1].clone()));
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		assert_err_ignore_postinfo!(
			Inference::challenge_generation(RuntimeOrigin::signed(bob()), id, upheld),
			Error::<Test>::AnswerUpheld
		);
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root, "nothing changed");
		// Evidence that is not the answer's decides nothing: the state before step 3 with a
		// bit flipped; step 7 of 7.
		let mut forged = states[2].clone();
		forged[0].data[0] ^= 1;
		assert_err_ignore_postinfo!(
			Inference::challenge_generation(RuntimeOrigin::signed(bob()), id, state_challenge(&steps, 3, Some(forged))),
			Error::<Test>::StateNotTheAnswers
		);
		let beyond = StepChallenge::State { step: 7, before: None, leaf: H256::zero(), proof: vec![] };
		assert_err_ignore_postinfo!(
			Inference::challenge_generation(RuntimeOrigin::signed(bob()), id, beyond),
			Error::<Test>::NoSuchStep
		);

		// The first differing step, from the honest state before it (its hash the answer's
		// leaf 2): one run shows it wrong.
		let bond = bond_of(assigned);
		let bob_before = Balances::balance(&bob());
		let shown = Inference::challenge_generation(
			RuntimeOrigin::signed(bob()),
			id,
			state_challenge(&steps, 3, Some(states[2].clone())),
		)
		.unwrap();
		assert_eq!(shown.pays_fee, frame_support::dispatch::Pays::No);
		assert!(shown.actual_weight.unwrap().ref_time() > 0);
		assert_eq!(last_event(), Event::GenerationRefuted { request: id, node: assigned, challenger: bob() }.into());
		let slashed = bond - bond_of(assigned);
		assert!(slashed > 0, "the liar is struck");
		assert!(Balances::balance(&bob()) > bob_before, "part of the slash goes to the challenger");
		assert!(GenerationAnswers::<Test>::get(id).is_none());
		assert_eq!(Requests::<Test>::get(id).unwrap().refuted.to_vec(), vec![assigned]);

		// Another node is drawn; its honest answer settles.
		end_block();
		assert_eq!(assigned_to(id), vec![other]);
		answer(other, id, tokens.clone(), honest_steps);
		// The honest answer holds at every link, the first step included.
		let steps = GenerationAnswers::<Test>::get(id).unwrap().steps.into_inner();
		for step in 0..steps.len() as u32 {
			let before = step.checked_sub(1).map(|b| states[b as usize].clone());
			assert_err_ignore_postinfo!(
				Inference::challenge_generation(
					RuntimeOrigin::signed(bob()),
					id,
					state_challenge(&steps, step, before)
				),
				Error::<Test>::AnswerUpheld
			);
		}
		for index in 0..tokens.len() as u32 {
			let step = PROMPT.len() as u32 - 1 + index;
			let state =
				ProvenState { outputs: states[step as usize].clone(), proof: steps_proof(&steps, step).unwrap() };
			assert_err_ignore_postinfo!(
				Inference::challenge_generation(
					RuntimeOrigin::signed(bob()),
					id,
					StepChallenge::Token { index, state }
				),
				Error::<Test>::AnswerUpheld
			);
		}
		run_to_block(System::block_number() + GENERATION_CHALLENGE_PERIOD);
		assert!(Receipts::<Test>::get(id).is_some_and(|receipt| receipt.executor == other));
	});
}

#[test]
fn a_token_the_node_chose_itself_is_shown_by_its_choice_alone() {
	run_test(|| {
		let node = account(10);
		let model = register_decoder(&[node, account(11)]);
		let id = generate(model, 4, SamplingChoice::Greedy);
		let (mut tokens, states) = honest(id);
		assert_eq!(tokens, [5, 6, 7, STOP]);
		// Every state the decoder's for the tokens fed, but the last token not the one greedy
		// chooses (and not a stop token: it still ends at max_tokens).
		*tokens.last_mut().unwrap() = 3;
		let steps = hashes(&states);
		let node = assigned_to(id)[0];
		answer(node, id, tokens, steps.clone());
		let state = ProvenState { outputs: states[4].clone(), proof: steps_proof(&steps, 4).unwrap() };
		assert_ok!(Inference::challenge_generation(
			RuntimeOrigin::signed(bob()),
			id,
			StepChallenge::Token { index: 3, state }
		));
		System::assert_has_event(Event::GenerationRefuted { request: id, node, challenger: bob() }.into());
	});
}

#[test]
fn generation_requests_are_checked_before_anything_is_held() {
	run_test(|| {
		let model = register_decoder(&[account(10)]);
		let ask = |model, prompt: Vec<TokenId>, max_tokens, stop: Vec<TokenId>, sampling, max_fee| {
			Inference::generate(RuntimeOrigin::signed(alice()), model, prompt, max_tokens, stop, sampling, max_fee)
		};
		let greedy = SamplingChoice::Greedy;
		assert_noop!(ask(relu_hash(), vec![1], 4, vec![], greedy, 1_000_000), Error::<Test>::NotADecoder);
		assert_noop!(ask(H256::repeat_byte(9), vec![1], 4, vec![], greedy, 1_000_000), Error::<Test>::UnknownModel);
		assert_noop!(ask(model, vec![], 4, vec![], greedy, 1_000_000), Error::<Test>::EmptyGeneration);
		assert_noop!(ask(model, vec![1], 0, vec![], greedy, 1_000_000), Error::<Test>::EmptyGeneration);
		// Prompt and tokens together beyond the context of 16.
		assert_noop!(ask(model, vec![1; 10], 7, vec![], greedy, 1_000_000), Error::<Test>::GenerationTooLong);
		assert_ok!(ask(model, vec![1; 10], 6, vec![], greedy, 1_000_000));
		assert_noop!(ask(model, vec![1, 8], 4, vec![], greedy, 1_000_000), Error::<Test>::TokenOutsideVocabulary);
		let cold = SamplingChoice::Seeded { temperature_milli: 0, top_k: 0, top_p_micro: 1_000_000 };
		assert_noop!(ask(model, vec![1], 4, vec![], cold, 1_000_000), Error::<Test>::InvalidSampling);
		let no_mass = SamplingChoice::Seeded { temperature_milli: 1000, top_k: 0, top_p_micro: 0 };
		assert_noop!(ask(model, vec![1], 4, vec![], no_mass, 1_000_000), Error::<Test>::InvalidSampling);
		assert_noop!(ask(model, vec![1], 4, vec![0; 5], greedy, 1_000_000), Error::<Test>::TooManyStopTokens);
		let fee = Inference::generation_fee(PRICE, Requests::<Test>::get(0).unwrap().fuel_limit, 4, 4);
		assert_noop!(ask(model, vec![1], 4, vec![], greedy, fee.total() - 1), Error::<Test>::FeeAboveMax);
		assert_noop!(
			Inference::generate(RuntimeOrigin::signed(poor()), model, vec![1], 4, vec![], greedy, 1_000_000),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn answers_of_the_wrong_kind_shape_or_node_are_refused() {
	run_test(|| {
		let node = account(10);
		let model = register_decoder(&[node]);
		let id = generate(model, 4, SamplingChoice::Greedy);
		let (tokens, states) = honest(id);
		let steps = hashes(&states);
		let signed = RuntimeOrigin::signed(node);
		assert_noop!(Inference::submit_result(signed.clone(), id, vec![], H256::zero()), Error::<Test>::IsAGeneration);
		assert_noop!(
			Inference::report_failure(signed.clone(), id, EngineError::ExecutionFailed),
			Error::<Test>::IsAGeneration
		);
		assert_noop!(
			Inference::submit_generation(
				RuntimeOrigin::signed(bob()),
				id,
				tokens.clone(),
				steps.clone(),
				ENGINE_VERSION
			),
			Error::<Test>::NotAssigned
		);
		// Three tokens of four without a stop token; five tokens of four.
		assert_noop!(
			Inference::submit_generation(signed.clone(), id, vec![5, 6, 7], steps[..4].to_vec(), ENGINE_VERSION),
			Error::<Test>::AnswerNotOfShape
		);
		assert_noop!(
			Inference::submit_generation(signed.clone(), id, vec![5, 6, 7, 1, 2], steps.clone(), ENGINE_VERSION),
			Error::<Test>::AnswerNotOfShape
		);
		assert_noop!(
			Inference::submit_generation(signed.clone(), id, tokens.clone(), steps[..4].to_vec(), ENGINE_VERSION),
			Error::<Test>::StepsDoNotMatchTokens
		);
		assert_noop!(
			Inference::challenge_generation(
				RuntimeOrigin::signed(bob()),
				id,
				StepChallenge::State { step: 0, before: None, leaf: steps[0], proof: vec![] }
			),
			Error::<Test>::NoAnswerToChallenge
		);
		assert!(Inference::answers_generation_without_fee(&signed, id, &tokens, &steps, ENGINE_VERSION));
		assert!(!Inference::answers_generation_without_fee(&signed, id, &tokens, &steps[..4], ENGINE_VERSION));
		// A plain request is not answered as a generation.
		register_node(account(12));
		let plain = request_from(alice(), sample_input());
		let plain_node = assigned_to(plain)[0];
		assert_noop!(
			Inference::submit_generation(RuntimeOrigin::signed(plain_node), plain, tokens, steps, ENGINE_VERSION),
			Error::<Test>::NotAGeneration
		);
	});
}

#[test]
fn identical_sampled_generations_waiting_for_a_node_are_drawn_different_seeds() {
	run_test(|| {
		// Two identical sampled generations, signed one after the other (their requester's
		// nonce apart), wait: no node serves the decoder yet.
		let model = register_decoder(&[]);
		let sampling = SamplingChoice::Seeded { temperature_milli: 800, top_k: 4, top_p_micro: 900_000 };
		let first = generate(model, 6, sampling);
		frame_system::Pallet::<Test>::inc_account_nonce(alice());
		let second = generate(model, 6, sampling);
		for id in [first, second] {
			assert!(crate::PendingQueue::<Test>::get().contains(&id));
			assert_eq!(Generations::<Test>::get(id).unwrap().seed, None);
		}
		// A node comes; both are drawn from the queue in the same block (the one after theirs),
		// each its own seed.
		let node = account(10);
		register_node_of(operator(), node, model);
		run_to_block(System::block_number() + 1);
		assert_eq!(Generations::<Test>::get(first).unwrap().seed, None, "not in the block they were made in");
		run_to_block(System::block_number() + 1);
		let seed = |id| Generations::<Test>::get(id).unwrap().seed.expect("drawn with its node");
		assert_eq!((assigned_to(first), assigned_to(second)), (vec![node], vec![node]));
		assert_ne!(seed(first), seed(second));
		check_invariants();
	});
}

#[test]
fn a_silent_generation_node_is_replaced_without_a_strike() {
	AnswerWithin::set(2);
	run_test(|| {
		let model = register_decoder(&[account(10), account(11)]);
		let id = generate(model, 4, SamplingChoice::Greedy);
		let silent = assigned_to(id)[0];
		let seed = Generations::<Test>::get(id).unwrap().seed;
		run_to_block(System::block_number() + 2);
		System::assert_has_event(Event::AssignmentLapsed { request: id, node: silent, slashed: 0 }.into());
		// Its next node is drawn at the end of the block.
		end_block();
		assert_eq!(bond_of(silent), 2 * MIN_BOND);
		let request = Requests::<Test>::get(id).unwrap();
		assert_eq!(request.refuted.to_vec(), vec![silent]);
		assert_eq!(request.assigned.len(), 1);
		assert_ne!(request.assigned[0], silent);
		assert_eq!(Generations::<Test>::get(id).unwrap().seed, seed, "drawn once");
	});
	AnswerWithin::set(TIMEOUT);
}

#[test]
fn a_step_dearer_to_prepare_than_its_decoder_measured_is_refused_by_every_node_and_judged_so() {
	// A decoder as a hostile author exports it: cheap to prepare at its first and its last
	// step (all its registration measures), dearer for every cache length between, its runs
	// within a request's fuel at every step. Within the step preparation limit the chain gives
	// its steps, the engine refuses those: a judgement never prepares for longer than it is
	// charged, and no node's answer can claim such a step.
	let bytes = onnx_builder::decoder_model_costly_midway(8, 2, 3, CONTEXT, 10, 250_000);
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	ext.execute_with(|| {
		let node: AccountId = key;
		let model = register_decoder_of(&bytes, &[node]);
		let measured = Models::model(&model).unwrap().fuel_to_prepare;
		let limit = veriml_primitives::models::decoder_step_preparation_limit(measured);
		let engine: &Engine = &ENGINE;
		let layout = veriml_inference_primitives::generation::decoder_layout(&bytes).unwrap();
		let second = engine.inspect_model(&bytes, &layout.step_specs(1), u64::MAX).unwrap();
		assert!(second.fuel_to_prepare > limit + limit / 4, "{} to prepare, within {limit}", second.fuel_to_prepare);
		// One token: two steps, the prompt's.
		let id = generate(model, 1, SamplingChoice::Greedy);
		assert!(second.fuel_per_run <= Requests::<Test>::get(id).unwrap().fuel_limit, "its run is within the fuel");

		// The assigned node's worker stops at step 1 and sends nothing; its stream says so.
		<Inference as Hooks<u64>>::offchain_worker(1);
		assert!(sent_transactions().is_empty());
		assert_eq!(token_stream(id), Some(TokenStream { tokens: vec![], end: Some(StreamEnd::Failed) }));
		// Nor does it run the generation again in the blocks after (the same step fails on
		// every run): a run would start its stream afresh, over this one's marked tokens.
		let marked = TokenStream { tokens: vec![7], end: Some(StreamEnd::Failed) };
		let key = veriml_primitives::generation::token_stream_key(id);
		sp_io::offchain::local_storage_set(
			sp_core::offchain::StorageKind::PERSISTENT,
			&key,
			&codec::Encode::encode(&marked),
		);
		<Inference as Hooks<u64>>::offchain_worker(2);
		assert!(sent_transactions().is_empty());
		assert_eq!(token_stream(id), Some(marked));

		// An answer generated without the limit (the node's engine natively, within its cap)
		// claims the state after step 1; the chain's engine refuses that step, however many
		// times this engine prepared it before, so the claim is shown wrong from the state
		// before it, and its node struck.
		let (tokens, states) = native_generation(&bytes, id);
		assert_eq!(tokens, [5]);
		let steps = hashes(&states);
		answer(node, id, tokens, steps.clone());
		let challenge = state_challenge(&steps, 1, Some(states[0].clone()));
		let charged = Inference::challenge_generation_weight(id, &challenge);
		// The step's preparation is charged at the limit, which the engine holds it to.
		use veriml_primitives::models::ModelCatalog;
		assert!(charged.ref_time() > <Models as ModelCatalog<_, _>>::fuel_weight(limit).ref_time());
		let bond = bond_of(node);
		let shown = Inference::challenge_generation(RuntimeOrigin::signed(bob()), id, challenge).unwrap();
		assert_eq!(shown.pays_fee, frame_support::dispatch::Pays::No);
		assert!(shown.actual_weight.unwrap().all_lte(charged));
		assert_eq!(last_event(), Event::GenerationRefuted { request: id, node, challenger: bob() }.into());
		assert!(bond_of(node) < bond);
		end_block();
		check_invariants();
	});
}

#[test]
fn an_inference_nodes_worker_generates_its_assignment_and_its_answer_settles() {
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	ext.execute_with(|| {
		let node: AccountId = key;
		let model = register_decoder(&[node]);
		let id = generate(model, 6, SamplingChoice::Seeded { temperature_milli: 800, top_k: 4, top_p_micro: 900_000 });
		<Inference as Hooks<u64>>::offchain_worker(1);
		let sent = sent_transactions();
		assert_eq!(sent.len(), 1);
		let RuntimeCall::Inference(crate::Call::submit_generation { request, tokens, steps, engine_version }) =
			sent[0].function.clone()
		else {
			panic!("a generation's answer")
		};
		// What the node's engine generates natively, step for step.
		let (expected, states) = honest(id);
		assert_eq!((request, &tokens, &steps, engine_version), (id, &expected, &hashes(&states), ENGINE_VERSION));
		// Streamed to the node's RPC as they were chosen, and how the run ended.
		let end = if expected.last() == Some(&STOP) { StreamEnd::StopToken } else { StreamEnd::MaxTokens };
		assert_eq!(token_stream(id), Some(TokenStream { tokens: expected.clone(), end: Some(end) }));
		let before = Inference::generation_info(id).unwrap();
		assert_eq!((&before.prompt[..], before.max_tokens, &before.stop_tokens[..]), (&PROMPT[..], 6, &[STOP][..]));
		assert!(before.seed.is_some() && before.answer.is_none());
		answer(node, id, tokens, steps.clone());
		// Clients read the answer through the runtime API's view.
		let proposed = Inference::generation_info(id).unwrap().answer.unwrap();
		assert_eq!(
			(proposed.node, &proposed.tokens, proposed.steps_root),
			(node, &expected, veriml_inference_primitives::generation::steps_root(&steps))
		);
		run_to_block(System::block_number() + GENERATION_CHALLENGE_PERIOD);
		assert!(Receipts::<Test>::contains_key(id));
		assert_eq!(Inference::generation_info(id), None, "settled: its receipt is the request's");
		// Settled: its stream is cleared at the worker's next run (the tokens are on chain).
		assert!(token_stream(id).is_some());
		<Inference as Hooks<u64>>::offchain_worker(System::block_number());
		assert_eq!(token_stream(id), None);
		check_invariants();
	});
}

#[test]
fn a_generation_stopped_by_a_stop_token_streams_its_end_and_an_open_ones_stream_is_kept() {
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	ext.execute_with(|| {
		let node: AccountId = key;
		let model = register_decoder(&[node]);
		// Greedy from the prompt stops at its fourth token, the stop token.
		let stopped = generate(model, 6, SamplingChoice::Greedy);
		<Inference as Hooks<u64>>::offchain_worker(1);
		assert_eq!(sent_transactions().len(), 1);
		let stream = TokenStream { tokens: vec![5, 6, 7, STOP], end: Some(StreamEnd::StopToken) };
		assert_eq!(token_stream(stopped), Some(stream.clone()));
		// Another request's close clears only its own stream.
		let other = generate(model, 2, SamplingChoice::Greedy);
		<Inference as Hooks<u64>>::offchain_worker(System::block_number());
		assert_eq!(sent_transactions().len(), 1);
		let (tokens, states) = honest(other);
		answer(node, other, tokens, hashes(&states));
		run_to_block(System::block_number() + GENERATION_CHALLENGE_PERIOD);
		assert!(Receipts::<Test>::contains_key(other));
		assert!(crate::Requests::<Test>::contains_key(stopped), "still open: its answer never landed");
		assert_eq!(streams_listed(), vec![stopped, other]);
		<Inference as Hooks<u64>>::offchain_worker(System::block_number());
		assert_eq!(token_stream(other), None);
		assert_eq!(token_stream(stopped), Some(stream));
		assert_eq!(streams_listed(), vec![stopped], "listed until its request closes");
	});
}

/// The requests whose streams the worker clears once they close.
fn streams_listed() -> Vec<u64> {
	use codec::Decode;
	let bytes =
		sp_io::offchain::local_storage_get(sp_core::offchain::StorageKind::PERSISTENT, crate::offchain::TOKEN_STREAMS)
			.unwrap_or_default();
	Vec::<u64>::decode(&mut &bytes[..]).unwrap_or_default()
}

/// The tokens the worker streamed for request `id` (what `veriml_subscribeTokens` reads).
fn token_stream(id: u64) -> Option<TokenStream> {
	use codec::Decode;
	let key = veriml_primitives::generation::token_stream_key(id);
	let bytes = sp_io::offchain::local_storage_get(sp_core::offchain::StorageKind::PERSISTENT, &key)?;
	Some(TokenStream::decode(&mut &bytes[..]).unwrap())
}

#[test]
fn a_watching_node_challenges_each_wrong_generation_at_its_first_wrong_link_and_no_right_one() {
	let (mut ext, key, sent_transactions) = offchain_ext("//infr");
	ext.execute_with(|| {
		// The watcher serves another model: it is never assigned the generations it checks.
		let watcher: AccountId = key;
		register_node(watcher);
		// The liar is another operator's node.
		let liar = account(10);
		let model = register_decoder(&[]);
		register_node_of(alice(), liar, model);
		let (wrong_state, wrong_token, right) = (
			generate(model, 6, SamplingChoice::Greedy),
			generate(model, 4, SamplingChoice::Greedy),
			generate(model, 5, SamplingChoice::Greedy),
		);
		for id in [wrong_state, wrong_token, right] {
			assert_eq!(assigned_to(id), vec![liar]);
		}
		// From step 3 on, states that are not the decoder's.
		let (tokens, states) = honest(wrong_state);
		let mut steps = hashes(&states);
		for leaf in steps.iter_mut().skip(3) {
			leaf.0[0] ^= 1;
		}
		answer(liar, wrong_state, tokens, steps);
		// Every state the decoder's, the last token not greedy's.
		let (mut tokens, states) = honest(wrong_token);
		*tokens.last_mut().unwrap() = 3;
		answer(liar, wrong_token, tokens, hashes(&states));
		let (tokens, states) = honest(right);
		answer(liar, right, tokens, hashes(&states));

		<Inference as Hooks<u64>>::offchain_worker(System::block_number());
		let sent = sent_transactions();
		assert_eq!(sent.len(), 2, "one challenge for each wrong answer");
		let mut challenged = Vec::new();
		for xt in sent {
			let RuntimeCall::Inference(crate::Call::challenge_generation { request, challenge }) = xt.function else {
				panic!("a challenge")
			};
			match (&challenge, request) {
				(StepChallenge::State { step, .. }, id) if id == wrong_state => assert_eq!(*step, 3),
				(StepChallenge::Token { index, .. }, id) if id == wrong_token => assert_eq!(*index, 3),
				other => panic!("unexpected challenge {other:?}"),
			}
			assert_ok!(Inference::challenge_generation(RuntimeOrigin::signed(watcher), request, challenge));
			challenged.push(request);
		}
		for id in [wrong_state, wrong_token] {
			System::assert_has_event(Event::GenerationRefuted { request: id, node: liar, challenger: watcher }.into());
		}
		assert!(GenerationAnswers::<Test>::contains_key(right));
		// Checked once: nothing is sent again.
		<Inference as Hooks<u64>>::offchain_worker(System::block_number());
		assert!(sent_transactions().is_empty());
	});
}

#[test]
fn the_first_wrong_link_is_the_first_differing_state_up_to_the_first_differing_token() {
	use crate::offchain::{first_wrong_link, WrongLink};
	let h = |n: u8| H256::repeat_byte(n);
	// Prompt of 2 tokens: token i is chosen by step 1 + i; steps feed the prompt then tokens.
	let own_tokens = [5, 6, 7];
	let own_steps = [h(0), h(1), h(2), h(3)];
	assert_eq!(first_wrong_link(2, &own_tokens, &own_steps, &own_tokens, &own_steps), None);
	assert_eq!(
		first_wrong_link(2, &own_tokens, &[h(0), h(1), h(9), h(9)], &own_tokens, &own_steps),
		Some(WrongLink::State(2))
	);
	// A token chosen wrong from right states: the token; its later states differ too.
	assert_eq!(
		first_wrong_link(2, &[5, 9, 7], &[h(0), h(1), h(2), h(9)], &own_tokens, &own_steps),
		Some(WrongLink::Token(1))
	);
	// A state wrong before the differing token was chosen: the state.
	assert_eq!(
		first_wrong_link(2, &[5, 9, 7], &[h(9), h(1), h(2), h(9)], &own_tokens, &own_steps),
		Some(WrongLink::State(0))
	);
	// Right tokens from a wrong last state.
	assert_eq!(
		first_wrong_link(2, &own_tokens, &[h(0), h(1), h(2), h(9)], &own_tokens, &own_steps),
		Some(WrongLink::State(3))
	);
	// Stopped early at a token greedy did not choose (0, a stop token): the token.
	assert_eq!(first_wrong_link(2, &[5, 0], &[h(0), h(1), h(2)], &own_tokens, &own_steps), Some(WrongLink::Token(1)));
}

#[test]
fn an_answer_of_a_replaced_engine_guest_is_computed_again_unpunished() {
	run_test(|| {
		let node = account(10);
		let model = register_decoder(&[node]);
		let (challenged, unchallenged) =
			(generate(model, 4, SamplingChoice::Greedy), generate(model, 5, SamplingChoice::Greedy));
		for id in [challenged, unchallenged] {
			let (tokens, states) = honest(id);
			answer(node, id, tokens, hashes(&states));
		}
		// The chain switches its guest while both answers wait.
		let (_, after) = switch_to_next_engine_version();
		let bond = bond_of(node);
		// A challenge cannot be judged by the new guest: the answer is dropped, not judged.
		let (_, states) = honest(challenged);
		let steps = hashes(&states);
		assert_ok!(Inference::challenge_generation(
			RuntimeOrigin::signed(bob()),
			challenged,
			state_challenge(&steps, 1, Some(states[0].clone()))
		));
		System::assert_last_event(Event::GenerationRecomputed { request: challenged, node }.into());
		// Unchallenged, at its settlement: dropped too, no receipt naming a guest that did not
		// compute it.
		let until = GenerationAnswers::<Test>::get(unchallenged).unwrap().settles_at;
		run_to_block(until);
		System::assert_has_event(Event::GenerationRecomputed { request: unchallenged, node }.into());
		// Drawn again at the end of the block: the only node serving the decoder.
		end_block();
		for id in [challenged, unchallenged] {
			assert!(Receipts::<Test>::get(id).is_none() && GenerationAnswers::<Test>::get(id).is_none());
			assert_eq!(assigned_to(id), vec![node], "its node computes it again");
			assert_eq!(Requests::<Test>::get(id).unwrap().status, RequestStatus::Assigned);
		}
		assert_eq!(bond_of(node), bond, "unpunished");
		// An answer computed before the switch that lands after it is refused, unpunished.
		let (tokens, states) = honest(challenged);
		assert_noop!(
			Inference::submit_generation(
				RuntimeOrigin::signed(node),
				challenged,
				tokens.clone(),
				hashes(&states),
				ENGINE_VERSION
			),
			Error::<Test>::ComputedWithReplacedEngine
		);
		assert!(!Inference::answers_generation_without_fee(
			&RuntimeOrigin::signed(node),
			challenged,
			&tokens,
			&hashes(&states),
			ENGINE_VERSION
		));
		// Computed again with the chain's guest, it settles.
		assert_ok!(Inference::submit_generation(
			RuntimeOrigin::signed(node),
			challenged,
			tokens,
			hashes(&states),
			after.version
		));
		run_to_block(System::block_number() + GENERATION_CHALLENGE_PERIOD);
		assert!(Receipts::<Test>::get(challenged).is_some());
	});
}
