//! Challenges of a generation's answer judged one step at a time
//! (`veriml_primitives::generation::judge`) through the chain's engine: a registered decoder run
//! by `Pallet::run` on the inputs its terms' layout builds, as a dispute runs it. An honest
//! answer is upheld at every step and token; a lie is found at its link by one run; evidence
//! that is not the answer's decides nothing.

use super::{
	decoders::{decoder, register_decoder, TOKENIZER},
	*,
};
use crate::Decoders;
use veriml_engine::{Engine, GenerationRequest};
use veriml_inference_primitives::{
	generation::{step_hash, steps_proof, steps_root, DecoderLayout, Sampling, TokenId},
	Tensor, H256,
};
use veriml_primitives::generation::{judge, ChallengeError, GenerationAnswer, Judgement, ProvenState, StepChallenge};

const PROMPT: [TokenId; 2] = [3, 4];

/// The decoder registered for a context of 16; its hash and its layout as its terms keep it.
fn registered() -> (ModelHash, DecoderLayout) {
	let model = upload(ALICE, &decoder());
	let tokenizer = upload(ALICE, TOKENIZER);
	assert_ok!(register_decoder(ALICE, model, 16, tokenizer));
	(model, Decoders::<Test>::get(model).unwrap().layout())
}

/// An honest generation of `request`: its tokens and the state after each step, computed by
/// the node's engine (natively, off chain) as an inference node does.
fn generated(request: &GenerationRequest) -> (Vec<TokenId>, Vec<Vec<Tensor>>) {
	let engine = Engine::default();
	let bytes = decoder();
	let generation = engine.generate(&bytes, request, u64::MAX, None, |_| {}).unwrap();
	let mut states: Vec<Vec<Tensor>> = Vec::new();
	for step in 0..generation.steps.len() as u32 {
		let state =
			engine.replay_step(&bytes, request, step, states.last().map(Vec::as_slice), u64::MAX, None).unwrap();
		states.push(state);
	}
	assert_eq!(hashes(&states), generation.steps, "replaying each step gives the generation's states");
	(generation.tokens, states)
}

fn answer_of<'a>(request: &'a GenerationRequest, tokens: &'a [TokenId], steps: &[H256]) -> GenerationAnswer<'a> {
	GenerationAnswer {
		prompt: &request.prompt,
		sampling: request.sampling,
		max_tokens: request.max_tokens,
		stop_tokens: &request.stop_tokens,
		tokens,
		steps_root: steps_root(steps),
	}
}

fn proven(states: &[Vec<Tensor>], steps: &[H256], step: u32) -> ProvenState {
	ProvenState { outputs: states[step as usize].clone(), proof: steps_proof(steps, step).unwrap() }
}

/// The challenge of step `step`'s state, with the answer's state before it.
fn state_challenge(states: &[Vec<Tensor>], steps: &[H256], step: u32) -> StepChallenge {
	StepChallenge::State {
		step,
		before: step.checked_sub(1).map(|before| proven(states, steps, before)),
		leaf: steps[step as usize],
		proof: steps_proof(steps, step).unwrap(),
	}
}

/// Judges `challenge` with the registered decoder run through the chain's engine, as a
/// dispute's decision runs it, within its registered fuel per run and a step's preparation
/// limit.
fn judged(
	model: ModelHash,
	layout: &DecoderLayout,
	answer: &GenerationAnswer<'_>,
	challenge: &StepChallenge,
) -> Result<Judgement, ChallengeError> {
	let record = Models::model(&model).unwrap();
	let preparation = Some(veriml_primitives::models::decoder_step_preparation_limit(record.fuel_to_prepare));
	judge(layout, answer, challenge, |specs, inputs| {
		Models::run(&model, specs, inputs, record.fuel_per_run, preparation)
	})
}

fn hashes(states: &[Vec<Tensor>]) -> Vec<H256> {
	states.iter().map(|state| step_hash(state)).collect()
}

#[test]
fn an_honest_answer_is_upheld_at_every_step_and_token() {
	let greedy =
		GenerationRequest { prompt: PROMPT.to_vec(), max_tokens: 6, stop_tokens: vec![], sampling: Sampling::Greedy };
	let seeded = GenerationRequest {
		prompt: PROMPT.to_vec(),
		max_tokens: 8,
		stop_tokens: vec![0],
		sampling: Sampling::Seeded { temperature_milli: 1500, top_k: 0, top_p_micro: 1_000_000, seed: [7; 32] },
	};
	for request in [greedy, seeded] {
		let (tokens, states) = generated(&request);
		if request.sampling == Sampling::Greedy {
			assert_eq!(tokens, [5, 6, 7, 0, 1, 2]);
		}
		let steps = hashes(&states);
		run_test(|| {
			let (model, layout) = registered();
			let answer = answer_of(&request, &tokens, &steps);
			assert_eq!(answer.step_count() as usize, steps.len());
			for step in 0..steps.len() as u32 {
				let judgement = judged(model, &layout, &answer, &state_challenge(&states, &steps, step)).unwrap();
				assert!(!judgement.answer_wrong, "step {step} of an honest answer judged wrong");
				assert!(judgement.fuel_used > 0, "one run of the decoder");
			}
			for index in 0..tokens.len() as u32 {
				let step = answer.choosing_step(index).unwrap();
				let challenge = StepChallenge::Token { index, state: proven(&states, &steps, step) };
				let judgement = judged(model, &layout, &answer, &challenge).unwrap();
				assert_eq!(judgement, Judgement { answer_wrong: false, fuel_used: 0 }, "token {index}");
			}
		});
	}
}

#[test]
fn a_wrong_state_or_token_is_found_at_its_link_by_one_step() {
	let request =
		GenerationRequest { prompt: PROMPT.to_vec(), max_tokens: 6, stop_tokens: vec![], sampling: Sampling::Greedy };
	let (tokens, states) = generated(&request);
	run_test(|| {
		let (model, layout) = registered();
		// A node whose state after step 3 is not the decoder's (a cache value changed, as a node
		// running other weights or skipping work would give), and whose later states follow on.
		let mut lying = states.clone();
		let mut cache = lying[3][1].clone();
		cache.data[0] ^= 1;
		lying[3][1] = cache;
		let steps = hashes(&lying);
		let answer = answer_of(&request, &tokens, &steps);
		let verdict = |step| judged(model, &layout, &answer, &state_challenge(&lying, &steps, step)).unwrap();
		// Step 3 is run from the answer's own state after step 2: its state is not the leaf.
		assert!(verdict(3).answer_wrong);
		// Each link before it is the decoder's: a challenge there is lost.
		assert!(!verdict(2).answer_wrong && !verdict(0).answer_wrong);

		// A node that chose its last token itself (every state the decoder's): only the token's
		// challenge shows it, from the state that chose it.
		let steps = hashes(&states);
		let mut chosen = tokens.clone();
		chosen[5] = 4;
		let answer = answer_of(&request, &chosen, &steps);
		let token = |index: u32| StepChallenge::Token {
			index,
			state: proven(&states, &steps, answer.choosing_step(index).unwrap()),
		};
		assert!(judged(model, &layout, &answer, &token(5)).unwrap().answer_wrong);
		assert!(!judged(model, &layout, &answer, &token(4)).unwrap().answer_wrong);
		for step in 0..steps.len() as u32 {
			assert!(!judged(model, &layout, &answer, &state_challenge(&states, &steps, step)).unwrap().answer_wrong);
		}

		// Tokens not of the request's shape (one more than max_tokens) are wrong whatever is
		// challenged, without a run.
		let mut long = tokens.clone();
		long.push(3);
		let answer = answer_of(&request, &long, &steps);
		assert_eq!(judged(model, &layout, &answer, &token(0)).unwrap(), Judgement { answer_wrong: true, fuel_used: 0 });
	});
}

#[test]
fn evidence_that_is_not_the_answers_decides_nothing() {
	let request =
		GenerationRequest { prompt: PROMPT.to_vec(), max_tokens: 6, stop_tokens: vec![], sampling: Sampling::Greedy };
	let (tokens, states) = generated(&request);
	let steps = hashes(&states);
	run_test(|| {
		let (model, layout) = registered();
		let answer = answer_of(&request, &tokens, &steps);
		let judge = |challenge: &StepChallenge| judged(model, &layout, &answer, challenge);
		// The steps are the prompt's 2 tokens and 5 of the 6 generated: no step 7, no token 6.
		let step_7 = StepChallenge::State {
			step: 7,
			before: Some(proven(&states, &steps, 6)),
			leaf: steps[6],
			proof: steps_proof(&steps, 6).unwrap(),
		};
		assert_eq!(judge(&step_7), Err(ChallengeError::NoSuchStep));
		let token_6 = StepChallenge::Token { index: 6, state: proven(&states, &steps, 6) };
		assert_eq!(judge(&token_6), Err(ChallengeError::NoSuchToken));
		// A state before step 4 that is not the answer's (one bit of a key flipped), another
		// step's state, or a state before step 0 (which starts from an empty cache).
		let StepChallenge::State { leaf, proof, before: Some(mut before), .. } = state_challenge(&states, &steps, 4)
		else {
			unreachable!()
		};
		before.outputs[1].data[5] ^= 0x80;
		let flipped = StepChallenge::State { step: 4, before: Some(before), leaf, proof: proof.clone() };
		assert_eq!(judge(&flipped), Err(ChallengeError::StateNotTheAnswers));
		let other_step = StepChallenge::State { step: 4, before: Some(proven(&states, &steps, 2)), leaf, proof };
		assert_eq!(judge(&other_step), Err(ChallengeError::StateNotTheAnswers));
		let StepChallenge::State { leaf, proof, .. } = state_challenge(&states, &steps, 0) else { unreachable!() };
		let before_0 = StepChallenge::State { step: 0, before: Some(proven(&states, &steps, 0)), leaf, proof };
		assert_eq!(judge(&before_0), Err(ChallengeError::StateNotTheAnswers));
		// A leaf that is not the answer's for the step.
		let StepChallenge::State { before, proof, .. } = state_challenge(&states, &steps, 4) else { unreachable!() };
		let wrong_leaf = StepChallenge::State { step: 4, before, leaf: steps[3], proof };
		assert_eq!(judge(&wrong_leaf), Err(ChallengeError::LeafNotTheAnswers));
	});
	// An answer that committed to a state that is not a decoder's after its step (a cache one
	// token short) is challenged at that step, not from it.
	let mut lying = states.clone();
	let short = &mut lying[2][1];
	short.shape[2] -= 1;
	short.data.truncate(short.data.len() - 4 * 3);
	let steps = hashes(&lying);
	run_test(|| {
		let (model, layout) = registered();
		let answer = answer_of(&request, &tokens, &steps);
		assert_eq!(
			judged(model, &layout, &answer, &state_challenge(&lying, &steps, 3)),
			Err(ChallengeError::NotADecoderState)
		);
		assert!(judged(model, &layout, &answer, &state_challenge(&lying, &steps, 2)).unwrap().answer_wrong);
	});
}
