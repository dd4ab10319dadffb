//! Token generation with the test decoder (`generative/tiny_decoder`: Hugging Face's layout,
//! a byte-level tokenizer): the tokens onnxruntime's greedy loop gives, streamed as chosen,
//! the same hashes every run, and named errors.

mod common;

use veriml_engine::{guest_hash, tokenizer::Tokenizer, GenerateError, GenerationRequest, Stop};
use veriml_inference_interface::{InferenceEngine, Lane};
use veriml_inference_primitives::{
	generation::{decoder_layout, step_hash, steps_proof, verify_step, DecoderInput, LayoutError, Sampling, TokenId},
	model_hash, EngineError, Execution, ModelHash, RunError, Tensor, TensorSpec,
};

/// The test decoder, its tokenizer, its `generation.json`, and the request that file describes
/// (greedy, stopping at the tokenizer's special tokens).
fn decoder() -> (Vec<u8>, Tokenizer, serde_json::Value, GenerationRequest) {
	let (model, tokenizer, generation) = common::generative("tiny_decoder");
	let tokenizer = Tokenizer::from_json(&tokenizer).unwrap();
	let request = GenerationRequest {
		prompt: tokenizer.encode(generation["prompt"].as_str().unwrap()),
		max_tokens: generation["max_tokens"].as_u64().unwrap() as u32,
		stop_tokens: tokenizer.special_tokens(),
		sampling: Sampling::Greedy,
	};
	(model, tokenizer, generation, request)
}

#[test]
fn the_test_decoder_has_hugging_faces_layout() {
	let (model, _, _, _) = decoder();
	let layout = decoder_layout(&model).unwrap();
	assert_eq!(
		layout.inputs,
		[
			DecoderInput::InputIds,
			DecoderInput::AttentionMask,
			DecoderInput::PositionIds,
			DecoderInput::PastKey(0),
			DecoderInput::PastValue(0)
		]
	);
	assert_eq!((layout.layers, layout.heads, layout.head_size), (1, 4, 32));
	// A model that is no decoder is refused with the input it has no place for.
	let squeezenet = common::model("light_squeezenet");
	assert!(matches!(decoder_layout(&squeezenet.bytes), Err(LayoutError::UnknownInput(_))));
}

#[test]
fn greedy_generation_streams_onnxruntimes_tokens_and_hashes_the_same_every_run() {
	let (model, tokenizer, generation, request) = decoder();
	let engine = common::new_engine();
	let mut streamed = Vec::new();
	let first = engine.generate(&model, &request, u64::MAX, None, |token| streamed.push(token)).unwrap();

	let expected: Vec<TokenId> =
		generation["onnxruntime_tokens"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as TokenId).collect();
	assert_eq!(first.tokens, expected, "the engine's greedy tokens are onnxruntime's");
	assert_eq!(streamed, first.tokens, "each token streamed as it was chosen");
	assert_eq!(first.stop, Stop::MaxTokens);
	assert_eq!(first.tokens.len(), 64);
	assert_eq!(first.steps.len(), request.prompt.len() + first.tokens.len() - 1);
	assert_eq!(
		String::from_utf8(tokenizer.decode(&first.tokens).unwrap()).unwrap(),
		generation["onnxruntime_text"].as_str().unwrap()
	);
	assert!(first.fuel_used > 0);

	// Again from the cache of prepared models, and on a fresh engine: the same bits.
	assert_eq!(engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap(), first);
	assert_eq!(common::new_engine().generate(&model, &request, u64::MAX, None, |_| {}).unwrap(), first);
}

#[test]
fn the_test_decoder_and_its_greedy_generation_are_pinned() {
	// The test-model stage writes the decoder's bytes alike on every machine (each weight on a
	// grid far coarser than the last bits numpy's and LAPACK's kernels differ in from one CPU to
	// another: the same file here and under qemu's Nehalem, Skylake-Server and max), and the
	// engine generates the same tokens and step states from it everywhere; a change of either
	// (the generator, the engine's version, the steps' hashing) shows here.
	let (model, _, _, request) = decoder();
	assert_eq!(
		format!("{:?}", veriml_inference_primitives::model_hash(&model)),
		"0x2553ddf8c5b9963ae593687f06d2c2f3988f9d2b6f393ad32040f8e62269b8d2"
	);
	let generation = common::new_engine().generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	assert_eq!(format!("{:?}", generation.hash), "0x4854e6a1abb7a4b96edd0c4e0970ba8682b81ed78c4c380e5466a5f20d4a2efa");
}

#[test]
fn a_stop_token_ends_the_generation_and_is_kept() {
	let (model, _, _, mut request) = decoder();
	let engine = common::new_engine();
	request.max_tokens = 8;
	let full = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	request.stop_tokens = vec![full.tokens[2]];
	let stopped = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	let first_stop = full.tokens.iter().position(|t| *t == full.tokens[2]).unwrap();
	assert_eq!(stopped.tokens, full.tokens[..=first_stop]);
	assert_eq!(stopped.stop, Stop::StopToken);
	assert_eq!(stopped.steps, full.steps[..stopped.steps.len()]);
	assert_ne!(stopped.hash, full.hash, "the receipt commits to the stop tokens and the tokens");
}

#[test]
fn a_seeded_generation_is_the_same_every_run_and_its_seed_decides_it() {
	let (model, _, _, mut request) = decoder();
	let engine = common::new_engine();
	request.max_tokens = 24;
	let greedy = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	let seeded = |seed| Sampling::Seeded { temperature_milli: 900, top_k: 8, top_p_micro: 950_000, seed: [seed; 32] };
	request.sampling = seeded(1);
	let first = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	assert_eq!(common::new_engine().generate(&model, &request, u64::MAX, None, |_| {}).unwrap(), first);
	assert_ne!(first.tokens, greedy.tokens, "sampled, not greedy");
	request.sampling = seeded(2);
	let other = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	assert_ne!(other.tokens, first.tokens, "another seed, other tokens");
	assert_ne!(other.hash, first.hash);
	// Up to the step that chose their first different token, the two generations' steps are
	// the same (the prompt's, then those that fed the same tokens); the states differ after.
	let same = first.tokens.iter().zip(&other.tokens).take_while(|(a, b)| a == b).count();
	let shared = request.prompt.len() + same;
	assert_eq!(first.steps[..shared], other.steps[..shared]);
	assert_ne!(first.steps[shared..], other.steps[shared..]);
}

#[test]
fn one_step_replayed_from_the_state_before_it_gives_that_steps_leaf_and_a_liars_does_not_verify() {
	let (model, _, _, mut request) = decoder();
	let engine = common::new_engine();
	request.max_tokens = 12;
	request.sampling = Sampling::Seeded { temperature_milli: 900, top_k: 8, top_p_micro: 950_000, seed: [3; 32] };
	let generation = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	let count = generation.steps.len() as u32;

	// Each step, replayed from the outputs of the step before (as a dispute is given them),
	// has the generation's leaf: one step's work, never the steps before it.
	let mut before: Option<Vec<Tensor>> = None;
	for step in 0..count {
		let outputs = engine.replay_step(&model, &request, step, before.as_deref(), u64::MAX, None).unwrap();
		let state = step_hash(&outputs);
		assert_eq!(state, generation.steps[step as usize], "step {step}");
		let proof = steps_proof(&generation.steps, step).unwrap();
		assert!(verify_step(&generation.steps_root, count, step, &state, &proof));
		before = Some(outputs);
	}
	// No step after the last: the last token chosen is never fed.
	assert_eq!(
		engine.replay_step(&model, &request, count, before.as_deref(), u64::MAX, None),
		Err(GenerateError::NoSuchStep { step: count })
	);

	// A liar's state before a step (one float of its cache changed) is not the leaf the root
	// proves, and the step replayed from it is not the honest one.
	let step = count - 3;
	let mut honest = None;
	for replayed in 0..step {
		honest = Some(engine.replay_step(&model, &request, replayed, honest.as_deref(), u64::MAX, None).unwrap());
	}
	let mut forged = honest.clone().unwrap();
	forged[1].data[0] ^= 1;
	let proof = steps_proof(&generation.steps, step - 1).unwrap();
	assert!(!verify_step(&generation.steps_root, count, step - 1, &step_hash(&forged), &proof));
	let from_forged = engine.replay_step(&model, &request, step, Some(&forged), u64::MAX, None).unwrap();
	assert_ne!(step_hash(&from_forged), generation.steps[step as usize]);

	// Step 0 has no state before it; any later step needs one of the layout's shapes.
	assert_eq!(
		engine.replay_step(&model, &request, 0, honest.as_deref(), u64::MAX, None),
		Err(GenerateError::NoSuchStep { step: 0 })
	);
	assert_eq!(
		engine.replay_step(&model, &request, 3, None, u64::MAX, None),
		Err(GenerateError::NoSuchStep { step: 3 })
	);
	assert!(matches!(
		engine.replay_step(&model, &request, step + 1, honest.as_deref(), u64::MAX, None),
		Err(GenerateError::Outputs { .. })
	));
	// A state whose logits' bytes are not their shape's is refused, not read.
	let mut short = honest.clone().unwrap();
	short[0].data.truncate(8);
	assert!(matches!(
		engine.replay_step(&model, &request, step, Some(&short), u64::MAX, None),
		Err(GenerateError::Outputs { .. })
	));
}

#[test]
fn bad_requests_get_named_errors() {
	let (model, _, _, mut request) = decoder();
	let engine = common::new_engine();

	// Half the fuel the generation takes: a later step than the first runs out (its steps
	// take more fuel as the cache grows).
	let enough = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	let short = engine.generate(&model, &request, enough.fuel_used / 2, None, |_| {}).unwrap_err();
	let steps = enough.steps.len() as u32;
	assert!(
		matches!(
			short,
			GenerateError::Run { step, error: RunError::Verdict(EngineError::FuelExhausted) } if step > steps / 3 && step < steps
		) || matches!(short, GenerateError::OutOfFuel { step } if step > steps / 3 && step < steps),
		"half the fuel: {short}"
	);

	let squeezenet = common::model("light_squeezenet");
	assert!(matches!(
		engine.generate(&squeezenet.bytes, &request, u64::MAX, None, |_| {}),
		Err(GenerateError::Layout(_))
	));

	let mut cold = request.clone();
	cold.sampling = Sampling::Seeded { temperature_milli: 0, top_k: 0, top_p_micro: 1_000_000, seed: [0; 32] };
	assert!(matches!(engine.generate(&model, &cold, u64::MAX, None, |_| {}), Err(GenerateError::Sampling(_))));

	request.prompt.clear();
	assert_eq!(engine.generate(&model, &request, u64::MAX, None, |_| {}), Err(GenerateError::EmptyPrompt));

	// A token past the embedding's rows: the engine's verdict on the step that feeds it.
	request.prompt = vec![100_000];
	assert!(matches!(
		engine.generate(&model, &request, u64::MAX, None, |_| {}),
		Err(GenerateError::Run { step: 0, .. })
	));
}

#[test]
fn the_decoder_built_in_code_generates_and_is_measured_at_a_steps_specs() {
	// The one-layer decoder pallet tests register (no file needed): token t makes t + 1 likeliest.
	let model = veriml_inference_primitives::onnx_builder::decoder_model(8, 2, 3);
	let layout = decoder_layout(&model).unwrap();
	assert_eq!((layout.layers, layout.heads, layout.head_size), (1, 2, 3));
	let engine = common::new_engine();
	let request =
		GenerationRequest { prompt: vec![3, 4], max_tokens: 6, stop_tokens: vec![], sampling: Sampling::Greedy };
	let generation = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	assert_eq!(generation.tokens, [5, 6, 7, 0, 1, 2]);
	assert_eq!(generation.steps.len(), 7);
	// The specs of a step are those of the inputs it is fed: the chain inspects a decoder at its
	// context's last step with them.
	for position in [0, 1, 5] {
		let past = Tensor::from_f32(&[1, 2, position, 3], &vec![0.0; 6 * position as usize]);
		let inputs = layout.step_inputs(1, position, &[past.clone(), past]);
		let specs: Vec<_> = inputs.iter().map(|input| input.spec().unwrap()).collect();
		assert_eq!(layout.step_specs(position), specs);
	}
	let specs = layout.step_specs(15);
	let info = engine.inspect_model(&model, &specs, u64::MAX).unwrap();
	assert_eq!(info.outputs[1].shape.to_vec(), [1, 2, 16, 3]);
}

/// Zero inputs of `specs`.
fn zeros(specs: &[TensorSpec]) -> Vec<Tensor> {
	specs.iter().map(|spec| Tensor::zeros(spec).unwrap()).collect()
}

/// `model` (of hash `hash`) run on zeros of `specs` as the chain runs it, with the built-in
/// guest and no fuel limit but the engine's own, its preparation within `limit`.
fn run_on_zeros(
	engine: &veriml_engine::Engine,
	model: &[u8],
	hash: ModelHash,
	specs: &[TensorSpec],
	limit: Option<u64>,
) -> Result<Execution, RunError> {
	InferenceEngine::run(
		engine,
		Lane::Consensus,
		guest_hash(),
		hash,
		&mut || Some(model.to_vec()),
		specs,
		&zeros(specs),
		u64::MAX,
		limit,
	)
}

#[test]
fn a_preparation_limit_refuses_a_dearer_step_whether_this_engine_prepared_it_before_or_not() {
	// A decoder as a hostile author exports it: cheap to prepare for an empty cache and a full
	// one (what a decoder's registration measures), dear for every length between.
	let model = veriml_inference_primitives::onnx_builder::decoder_model_costly_midway(8, 2, 3, 16, 10, 250_000);
	let (hash, layout) = (model_hash(&model), decoder_layout(&model).unwrap());
	let measure = |engine: &veriml_engine::Engine, position| {
		engine.inspect_model(&model, &layout.step_specs(position), u64::MAX).unwrap().fuel_to_prepare
	};
	let engine = common::new_engine();
	let (ends, middle) = (measure(&engine, 0).max(measure(&engine, 15)), measure(&engine, 7));
	assert!(middle > 8 * ends, "{middle} against {ends}");
	// Its tokens are the test decoder's.
	let request =
		GenerationRequest { prompt: vec![3, 4], max_tokens: 6, stop_tokens: vec![], sampling: Sampling::Greedy };
	assert_eq!(engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap().tokens, [5, 6, 7, 0, 1, 2]);

	let run = |engine: &veriml_engine::Engine, position, limit| {
		run_on_zeros(engine, &model, hash, &layout.step_specs(position), limit)
	};
	let refused = Err(RunError::Verdict(EngineError::FuelExhausted));
	// Prepared now: within exactly its fuel it runs, as without a limit; within one less, not.
	let unlimited = run(&common::new_engine(), 7, None).unwrap();
	let exact = common::new_engine();
	assert_eq!(run(&exact, 7, Some(middle)).unwrap(), unlimited);
	assert_eq!(run(&common::new_engine(), 7, Some(middle - 1)), refused);
	// Prepared before, within a limit or without one: the same verdicts.
	assert_eq!(run(&exact, 7, Some(middle - 1)), refused);
	assert_eq!(run(&exact, 7, Some(middle)).unwrap(), unlimited);
	let capped = common::new_engine();
	assert_eq!(run(&capped, 7, None).unwrap(), unlimited);
	assert_eq!(run(&capped, 7, Some(ends)), refused);
	assert_eq!(run(&capped, 7, Some(middle)).unwrap(), unlimited);
	// Its ends run within what they measured.
	for position in [0, 15] {
		assert_eq!(run(&capped, position, Some(ends)).unwrap(), run(&capped, position, None).unwrap());
	}

	// A generation within the chain's limit for it (an eighth above its ends' figure,
	// `decoder_step_preparation_limit`) stops at the first step dearer than that, the tokens
	// chosen before it streamed, on an engine that prepared every step before and on one that
	// did not (`veriml-node infer --generate` so refuses it). One prompt token: each step
	// chooses a token.
	let limit = ends + ends / 8;
	let request = GenerationRequest { prompt: vec![3], ..request };
	let unlimited = engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap();
	let dear = (0..7).find(|&position| measure(&engine, position) > limit).unwrap();
	assert!(dear >= 1);
	for engine in [&engine, &common::new_engine()] {
		let mut streamed = Vec::new();
		assert_eq!(
			engine.generate(&model, &request, u64::MAX, Some(limit), |token| streamed.push(token)),
			Err(GenerateError::Run { step: dear, error: RunError::Verdict(EngineError::FuelExhausted) })
		);
		assert_eq!(streamed, unlimited.tokens[..dear as usize]);
	}
	// A dispute's replay of that step within the limit is refused too, from the honest state
	// before it; the step before runs within it.
	let mut states: Vec<Vec<Tensor>> = Vec::new();
	for step in 0..dear {
		states.push(
			engine
				.replay_step(&model, &request, step, states.last().map(Vec::as_slice), u64::MAX, Some(limit))
				.unwrap(),
		);
	}
	assert_eq!(
		engine.replay_step(&model, &request, dear, states.last().map(Vec::as_slice), u64::MAX, Some(limit)),
		Err(GenerateError::Run { step: dear, error: RunError::Verdict(EngineError::FuelExhausted) })
	);
	assert!(engine.replay_step(&model, &request, dear, states.last().map(Vec::as_slice), u64::MAX, None).is_ok());
}

#[test]
fn a_kept_preparation_that_used_all_its_fuel_is_judged_within_a_limit_as_a_fresh_one() {
	// An engine whose cap on preparing is exactly what a step takes prepares it without a limit
	// with no fuel left: its measure is then only a lower bound, so within a limit the step is
	// prepared again (and refused, the limit being at most the cap less one), as an engine that
	// never prepared it refuses it. (A step dear to prepare, so that the cap leaves the engine's
	// own check of its kernels at start the fuel it takes: 4·10⁹ to 8·10⁹.)
	let model = veriml_inference_primitives::onnx_builder::decoder_model_costly_midway(8, 2, 3, 16, 50, 0);
	let (hash, layout) = (model_hash(&model), decoder_layout(&model).unwrap());
	let specs = layout.step_specs(7);
	let exact = common::new_engine().inspect_model(&model, &specs, u64::MAX).unwrap().fuel_to_prepare;
	assert!(exact > 8_000_000_000, "{exact}");
	let capped = || common::new_engine_with(veriml_engine::Limits { max_fuel_to_prepare: exact, ..Default::default() });
	let run = |engine: &veriml_engine::Engine, limit| run_on_zeros(engine, &model, hash, &specs, limit);
	let refused = Err(RunError::Verdict(EngineError::FuelExhausted));
	let kept = capped();
	let unlimited = run(&kept, None).unwrap();
	assert_eq!(run(&kept, Some(exact)), refused);
	assert_eq!(run(&capped(), Some(exact)), refused);
	// Kept still, without a limit it runs as before.
	assert_eq!(run(&kept, None).unwrap(), unlimited);
	// With room for one more fuel, the measure is exact and the same limit runs it.
	let roomy = common::new_engine_with(veriml_engine::Limits { max_fuel_to_prepare: exact + 2, ..Default::default() });
	assert_eq!(run(&roomy, None).unwrap(), unlimited);
	assert_eq!(run(&roomy, Some(exact)).unwrap(), unlimited);
}

#[test]
fn an_honest_decoder_prepares_no_step_for_more_than_its_ends() {
	// A decoder's steps are given an eighth more than its registered figure (the larger of its
	// first and last step's: `veriml_primitives::models::decoder_step_preparation_limit`); the
	// test decoder, as `optimum` exports one, needs no more than the figure at any length.
	let (model, _, _, request) = decoder();
	let layout = decoder_layout(&model).unwrap();
	let engine = common::new_engine();
	// The shortest context its generation fits.
	let context = request.prompt.len() as u32 + request.max_tokens;
	let fuel: Vec<u64> = (0..context)
		.map(|position| engine.inspect_model(&model, &layout.step_specs(position), u64::MAX).unwrap().fuel_to_prepare)
		.collect();
	let ends = fuel[0].max(fuel[context as usize - 1]);
	let most = *fuel.iter().max().unwrap();
	assert!(most <= ends, "{most} against {ends}: {fuel:?}");
	// Its generation within the chain's limit is the one without.
	assert_eq!(
		engine.generate(&model, &request, u64::MAX, Some(ends + ends / 8), |_| {}).unwrap(),
		engine.generate(&model, &request, u64::MAX, None, |_| {}).unwrap()
	);
}
