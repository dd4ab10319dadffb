//! Challenges of a generation's answer, judged one step at a time.
//!
//! A node answering a generation commits to its tokens and to the Merkle root of the hash of
//! the decoder's state after each step
//! ([`steps_root`](veriml_inference_primitives::generation::steps_root): the step's outputs,
//! logits and cache). The answer is right exactly when
//! - its tokens are of the request's shape ([`GenerationAnswer::check_shape`]: at least one,
//!   at most `max_tokens`, a stop token only last, fewer than `max_tokens` only after a stop
//!   token),
//! - step 0's state is what running the decoder on the prompt's first token with an empty cache
//!   gives, and each later step's state what running it from the state before it (the cache),
//!   fed the prompt's next token or the answer's token, gives, and
//! - each token is the one the request's sampling chooses from the logits of the state after the
//!   step that chose it.
//!
//! So a wrong answer has a first wrong link, and one step shows it: a [`StepChallenge`] names
//! a state step (`State`: the state before it, proven to be the answer's own, is run one step
//! and compared with the answer's leaf) or a token (`Token`: the state it was chosen from,
//! proven to be the answer's, and the choice made again). [`judge`] decides either with at most
//! one run of the engine, whatever the generation's length. It never judges the challenger's
//! own claims: every state it runs from or chooses from is proven against the answer's root, so
//! an honest answer is upheld against every challenge.

use crate::Fuel;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use veriml_inference_primitives::{
	generation::{choose_token, step_hash, verify_step, DecoderLayout, Sampling, TokenId},
	EngineError, Execution, Tensor, TensorSpec, H256,
};

/// How a generation request asks its tokens to be chosen: [`Sampling`] without its seed, which
/// the chain draws after the request is made (neither the requester nor a node chooses it).
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum SamplingChoice {
	/// The token of the largest logit.
	Greedy,
	/// Drawn from the softmax of the logits divided by the temperature (in thousandths, above
	/// 0), among the `top_k` largest (all where 0) and the fewest of those whose probabilities
	/// add up to `top_p_micro` millionths (1 to 1,000,000).
	Seeded { temperature_milli: u32, top_k: u32, top_p_micro: u32 },
}

impl SamplingChoice {
	/// The sampling with `seed`.
	pub fn with_seed(self, seed: [u8; 32]) -> Sampling {
		match self {
			Self::Greedy => Sampling::Greedy,
			Self::Seeded { temperature_milli, top_k, top_p_micro } => {
				Sampling::Seeded { temperature_milli, top_k, top_p_micro, seed }
			},
		}
	}

	/// Why these parameters cannot sample, if they cannot ([`Sampling::check`]).
	pub fn check(self) -> Result<(), &'static str> {
		self.with_seed([0; 32]).check()
	}
}

/// A generation request and a node's answer to it, as a challenge is judged against them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GenerationAnswer<'a> {
	/// The prompt's tokens.
	pub prompt: &'a [TokenId],
	/// How each token is chosen (the seed included).
	pub sampling: Sampling,
	/// The most tokens the request allows.
	pub max_tokens: u32,
	/// Tokens that end the generation.
	pub stop_tokens: &'a [TokenId],
	/// The answer's tokens.
	pub tokens: &'a [TokenId],
	/// The answer's root over its steps' state hashes.
	pub steps_root: H256,
}

/// Why an answer's tokens are not of its request's shape, seen without running anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShapeFault {
	/// The request has no prompt.
	EmptyPrompt,
	/// The answer has no token.
	NoTokens,
	/// More tokens than `max_tokens`.
	TooManyTokens,
	/// A stop token before the last token: the generation ends at a stop token.
	StopTokenBeforeEnd,
	/// Fewer than `max_tokens` tokens without a stop token last.
	EndedEarly,
}

impl GenerationAnswer<'_> {
	/// Its steps: one per token fed, the prompt's and every generated token but the last
	/// (which is chosen, never fed). Saturating: a shape-checked answer has at least one.
	pub fn step_count(&self) -> u32 {
		let fed = self.prompt.len().saturating_add(self.tokens.len()).saturating_sub(1);
		u32::try_from(fed).unwrap_or(u32::MAX)
	}

	/// Whether its tokens are of the request's shape.
	pub fn check_shape(&self) -> Result<(), ShapeFault> {
		let Some((last, before)) = self.tokens.split_last() else {
			return Err(if self.prompt.is_empty() { ShapeFault::EmptyPrompt } else { ShapeFault::NoTokens });
		};
		if self.prompt.is_empty() {
			return Err(ShapeFault::EmptyPrompt);
		}
		if self.tokens.len() as u64 > u64::from(self.max_tokens) {
			return Err(ShapeFault::TooManyTokens);
		}
		if before.iter().any(|token| self.stop_tokens.contains(token)) {
			return Err(ShapeFault::StopTokenBeforeEnd);
		}
		if (self.tokens.len() as u64) < u64::from(self.max_tokens) && !self.stop_tokens.contains(last) {
			return Err(ShapeFault::EndedEarly);
		}
		Ok(())
	}

	/// The token step `step` feeds: the prompt's, then the answer's; `None` past the last step.
	pub fn fed(&self, step: u32) -> Option<TokenId> {
		if step >= self.step_count() {
			return None;
		}
		let step = step as usize;
		self.prompt.get(step).or_else(|| self.tokens.get(step - self.prompt.len())).copied()
	}

	/// The step that chose token `index`: the one that fed the prompt's last token, or the
	/// token before it.
	pub fn choosing_step(&self, index: u32) -> Option<u32> {
		if index as usize >= self.tokens.len() || self.prompt.is_empty() {
			return None;
		}
		u32::try_from(self.prompt.len() - 1).ok()?.checked_add(index)
	}

	/// Whether `state` is the answer's state after step `step`, by `proof`.
	fn proves(&self, step: u32, state: &[Tensor], proof: &[H256]) -> bool {
		verify_step(&self.steps_root, self.step_count(), step, &step_hash(state), proof)
	}
}

/// A state after a step, with the Merkle proof that it is the answer's (its hash the answer's
/// leaf for that step: [`steps_proof`](veriml_inference_primitives::generation::steps_proof)).
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct ProvenState {
	/// The step's outputs: logits, then each layer's key and value.
	pub outputs: Vec<Tensor>,
	/// Its leaf's proof under the answer's root.
	pub proof: Vec<H256>,
}

/// The link of an answer a challenger says is wrong.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub enum StepChallenge {
	/// The answer's state after step `step`, its leaf `leaf` (proven by `proof`), is not what
	/// running that step gives from `before`: the answer's state after the step before
	/// (`None` for step 0, which starts from an empty cache), fed the step's token.
	State { step: u32, before: Option<ProvenState>, leaf: H256, proof: Vec<H256> },
	/// The answer's token `index` is not what the request's sampling chooses from `state`,
	/// the answer's state after the step that chose it.
	Token { index: u32, state: ProvenState },
}

impl StepChallenge {
	/// The bytes of the states it carries: what judging it reads and hashes.
	pub fn state_bytes(&self) -> u64 {
		let bytes = |state: &ProvenState| state.outputs.iter().map(|t| t.data.len() as u64).sum::<u64>();
		match self {
			Self::State { before, .. } => before.as_ref().map_or(0, bytes),
			Self::Token { state, .. } => bytes(state),
		}
	}
}

/// Why a challenge cannot be judged: it shows nothing about the answer (the challenger's
/// evidence is not the answer's, or names a link the answer does not have).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChallengeError {
	/// The answer has no such step.
	NoSuchStep,
	/// The answer has no such token.
	NoSuchToken,
	/// A state given is not the answer's state after its step (its hash is not that step's
	/// leaf under the answer's root), or a state was given for step 0 or none for a later step.
	StateNotTheAnswers,
	/// The leaf given is not the answer's leaf for the step.
	LeafNotTheAnswers,
	/// A state given (proven to be the answer's) is not a state of this decoder after its
	/// step: its outputs are not the layout's.
	NotADecoderState,
}

/// What judging a challenge found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Judgement {
	/// Whether the answer is wrong at the challenged link (or its tokens are not of the
	/// request's shape).
	pub answer_wrong: bool,
	/// Engine fuel the step's run used (0 where nothing ran).
	pub fuel_used: Fuel,
}

/// Judges `challenge` of `answer`, a generation of the decoder of layout `layout`. A state
/// challenge runs the step once with `run` (the decoder on inputs of the given specs: on
/// chain, the registered model through the engine within the request's fuel per step); an
/// engine error running a step the answer claims a state for makes the answer wrong (the
/// engine's errors are verdicts, the same on every node).
pub fn judge(
	layout: &DecoderLayout,
	answer: &GenerationAnswer<'_>,
	challenge: &StepChallenge,
	run: impl FnOnce(&[TensorSpec], &[Tensor]) -> Result<Execution, EngineError>,
) -> Result<Judgement, ChallengeError> {
	let wrong = |fuel_used| Ok(Judgement { answer_wrong: true, fuel_used });
	if answer.check_shape().is_err() {
		return wrong(0);
	}
	match challenge {
		StepChallenge::State { step, before, leaf, proof } => {
			let step = *step;
			let fed = answer.fed(step).ok_or(ChallengeError::NoSuchStep)?;
			if !verify_step(&answer.steps_root, answer.step_count(), step, leaf, proof) {
				return Err(ChallengeError::LeafNotTheAnswers);
			}
			let cache = match (step, before) {
				(0, None) => layout.empty_cache(),
				(0, Some(_)) | (_, None) => return Err(ChallengeError::StateNotTheAnswers),
				(_, Some(before)) => {
					if !answer.proves(step - 1, &before.outputs, &before.proof) {
						return Err(ChallengeError::StateNotTheAnswers);
					}
					layout
						.check_step_outputs(step - 1, &before.outputs)
						.map_err(|_| ChallengeError::NotADecoderState)?;
					before.outputs[1..].to_vec()
				},
			};
			let inputs = layout.step_inputs(fed, step, &cache);
			match run(&layout.step_specs(step), &inputs) {
				Ok(execution) => {
					let right = layout.check_step_outputs(step, &execution.outputs).is_ok()
						&& step_hash(&execution.outputs) == *leaf;
					Ok(Judgement { answer_wrong: !right, fuel_used: execution.fuel_used })
				},
				// The engine's errors carry no fuel figure; the caller charges the step's limit.
				Err(_) => wrong(0),
			}
		},
		StepChallenge::Token { index, state } => {
			let step = answer.choosing_step(*index).ok_or(ChallengeError::NoSuchToken)?;
			if !answer.proves(step, &state.outputs, &state.proof) {
				return Err(ChallengeError::StateNotTheAnswers);
			}
			layout.check_step_outputs(step, &state.outputs).map_err(|_| ChallengeError::NotADecoderState)?;
			let chosen = choose_token(answer.sampling, &state.outputs[0], *index);
			Ok(Judgement { answer_wrong: chosen != answer.tokens.get(*index as usize).copied(), fuel_used: 0 })
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn answer<'a>(prompt: &'a [TokenId], stop: &'a [TokenId], tokens: &'a [TokenId], max: u32) -> GenerationAnswer<'a> {
		GenerationAnswer {
			prompt,
			sampling: Sampling::Greedy,
			max_tokens: max,
			stop_tokens: stop,
			tokens,
			steps_root: H256::zero(),
		}
	}

	#[test]
	fn an_answers_shape_is_checked_without_running_anything() {
		assert_eq!(answer(&[1, 2], &[], &[3, 4, 5], 3).check_shape(), Ok(()));
		assert_eq!(answer(&[1, 2], &[9], &[3, 9], 3).check_shape(), Ok(()));
		assert_eq!(answer(&[], &[], &[3], 3).check_shape(), Err(ShapeFault::EmptyPrompt));
		assert_eq!(answer(&[1], &[], &[], 3).check_shape(), Err(ShapeFault::NoTokens));
		assert_eq!(answer(&[1], &[], &[3, 4, 5, 6], 3).check_shape(), Err(ShapeFault::TooManyTokens));
		assert_eq!(answer(&[1], &[9], &[9, 4, 5], 3).check_shape(), Err(ShapeFault::StopTokenBeforeEnd));
		assert_eq!(answer(&[1], &[9], &[3, 4], 3).check_shape(), Err(ShapeFault::EndedEarly));
	}

	#[test]
	fn steps_feed_the_prompt_then_every_token_but_the_last() {
		let a = answer(&[1, 2], &[], &[3, 4, 5], 3);
		assert_eq!(a.step_count(), 4);
		let fed: Vec<_> = (0..5).map(|step| a.fed(step)).collect();
		assert_eq!(fed, [Some(1), Some(2), Some(3), Some(4), None]);
		// Token 0 is chosen by the step feeding the prompt's last token.
		assert_eq!((0..4).map(|i| a.choosing_step(i)).collect::<Vec<_>>(), [Some(1), Some(2), Some(3), None]);
	}

	#[test]
	fn a_stream_is_sent_again_only_when_a_run_made_other_tokens_or_another_end() {
		let stream = |tokens: &[TokenId], end| TokenStream { tokens: tokens.to_vec(), end };
		let sent = [5, 6, 7];
		// Catching up: the same run further on, or a run started again from none.
		assert!(!stream(&[5, 6, 7, 8], None).restarts(&sent, None));
		assert!(!stream(&[5], None).restarts(&sent, None));
		assert!(!stream(&[], None).restarts(&sent, Some(StreamEnd::StopToken)));
		assert!(!stream(&sent, Some(StreamEnd::StopToken)).restarts(&sent, Some(StreamEnd::StopToken)));
		assert!(!stream(&sent, Some(StreamEnd::MaxTokens)).restarts(&sent, None));
		// Another run: other tokens, fewer tokens with an end, more after the end, another end.
		assert!(stream(&[5, 9], None).restarts(&sent, None));
		assert!(stream(&[5, 6], Some(StreamEnd::Failed)).restarts(&sent, None));
		assert!(stream(&[5, 6, 7, 8], None).restarts(&sent, Some(StreamEnd::Failed)));
		assert!(stream(&sent, Some(StreamEnd::MaxTokens)).restarts(&sent, Some(StreamEnd::Failed)));
		// Sent again from none, it catches up without restarting.
		let again = stream(&[5, 6], Some(StreamEnd::Failed));
		assert!(!again.restarts(&[], None) && !again.restarts(&[5, 6], Some(StreamEnd::Failed)));
	}
}

/// Where an inference node's off-chain worker streams a generation's tokens as it makes them:
/// the key, in the node's persistent off-chain storage, of request `request`'s
/// [`TokenStream`]. The node's `veriml_subscribeTokens` reads it; nothing on chain does (the
/// tokens that count are the answer's).
pub fn token_stream_key(request: crate::requests::RequestId) -> Vec<u8> {
	(TOKEN_STREAM_PREFIX, request).encode()
}

/// The prefix of [`token_stream_key`]. The record is a contract between the runtime's worker,
/// which writes it, and the node's RPC, which reads it: a change of [`TokenStream`]'s encoding
/// takes a new version here, so an older node reads no stream rather than a wrong one.
pub const TOKEN_STREAM_PREFIX: &[u8] = b"veriml/inference/token-stream/v1";

/// A generation as this node's off-chain worker is making it: the tokens chosen so far, and
/// how its run ended once it has. Rewritten from no tokens each time the worker runs the
/// generation again (it makes the same tokens, unless its engine changed between).
#[derive(Encode, Decode, Clone, Default, PartialEq, Eq, Debug)]
pub struct TokenStream {
	/// The tokens chosen so far, in order.
	pub tokens: Vec<TokenId>,
	/// How the run ended; none while it runs.
	pub end: Option<StreamEnd>,
}

impl TokenStream {
	/// Whether a reader that sent `sent` from this stream before, and `sent_end` once it was
	/// given, must send it again from its first token: the worker ran the generation again and
	/// this run chose other tokens (its engine changed between), ended with fewer tokens than
	/// were sent or another end, or made more after the end sent. A run started again that
	/// makes the same tokens never does: its record only catches up with what was sent.
	pub fn restarts(&self, sent: &[TokenId], sent_end: Option<StreamEnd>) -> bool {
		let common = self.tokens.len().min(sent.len());
		self.tokens[..common] != sent[..common]
			|| (self.end.is_some() && self.tokens.len() < sent.len())
			|| sent_end
				.is_some_and(|sent_end| self.tokens.len() > sent.len() || self.end.is_some_and(|end| end != sent_end))
	}
}

/// How a node's run of a generation ended.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug)]
pub enum StreamEnd {
	/// At a stop token (the last of the tokens).
	StopToken,
	/// At the request's `max_tokens`.
	MaxTokens,
	/// A step failed (the engine refused it): the node does not answer.
	Failed,
}
