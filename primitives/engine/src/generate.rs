//! Token generation: the decoding loop over a decoder in Hugging Face's layout, each step one
//! deterministic, metered run of the engine ([`veriml_inference_primitives::generation`]
//! defines the steps, the choice of token and the hashes).

use crate::Engine;
use veriml_inference_primitives::{
	generation::{
		choose_token, decoder_layout, generate_steps, generation_hash, steps_root, DecoderLayout, GenerationTerms,
		LayoutError, Sampling, StepFault, TokenId,
	},
	model_hash, RunError, Tensor, ENGINE_VERSION, H256,
};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerationRequest {
	/// The prompt's tokens (at least one).
	pub prompt: Vec<TokenId>,
	/// The most tokens to generate.
	pub max_tokens: u32,
	/// Tokens that end the generation (kept as its last token).
	pub stop_tokens: Vec<TokenId>,
	/// How each token is chosen.
	pub sampling: Sampling,
}

/// Why a generation ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stop {
	/// It generated `max_tokens` tokens.
	MaxTokens,
	/// It generated a stop token.
	StopToken,
}

/// A generation: its tokens, the hash of the decoder's state after each step, and what its
/// receipt commits to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Generation {
	/// The tokens generated, the stop token included.
	pub tokens: Vec<TokenId>,
	/// Why it ended.
	pub stop: Stop,
	/// The state hash of each step, in order (one per token fed: the prompt's, then each
	/// generated token but the last).
	pub steps: Vec<H256>,
	/// The Merkle root over `steps`.
	pub steps_root: H256,
	/// Engine fuel of every step's run together.
	pub fuel_used: u64,
	/// The receipt's hash ([`generation_hash`]).
	pub hash: H256,
}

/// Why a generation failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum GenerateError {
	/// The model is not a decoder in Hugging Face's layout.
	Layout(LayoutError),
	/// The prompt has no tokens.
	EmptyPrompt,
	/// The sampling parameters cannot sample (a temperature of 0, top-p outside (0, 1]).
	Sampling(&'static str),
	/// The engine refused or failed step `step` (from 0).
	Run { step: u32, error: RunError },
	/// Step `step`'s outputs are not the layout's.
	Outputs { step: u32, reason: String },
	/// Every logit of step `step` was NaN.
	NoToken { step: u32 },
	/// The steps used the fuel given before the generation ended.
	OutOfFuel { step: u32 },
	/// The generation has no step `step`, or the state given before it is not of the step
	/// before (none for step 0).
	NoSuchStep { step: u32 },
}

impl std::fmt::Display for GenerateError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Layout(error) => write!(f, "not a decoder in Hugging Face's layout: {error}"),
			Self::EmptyPrompt => f.write_str("the prompt has no tokens"),
			Self::Sampling(why) => write!(f, "sampling: {why}"),
			Self::Run { step, error } => write!(f, "step {step}: {error}"),
			Self::Outputs { step, reason } => write!(f, "step {step}: {reason}"),
			Self::NoToken { step } => write!(f, "step {step}: every logit is NaN"),
			Self::OutOfFuel { step } => write!(f, "step {step}: the generation's fuel is spent"),
			Self::NoSuchStep { step } => write!(f, "the generation has no step {step} after the state given"),
		}
	}
}

/// The layout of `model`, where `request` can be run on it: a prompt of one token at least and
/// sampling parameters that can sample.
fn checked(model: &[u8], request: &GenerationRequest) -> Result<DecoderLayout, GenerateError> {
	let layout = decoder_layout(model).map_err(GenerateError::Layout)?;
	if request.prompt.is_empty() {
		return Err(GenerateError::EmptyPrompt);
	}
	request.sampling.check().map_err(GenerateError::Sampling)?;
	Ok(layout)
}

impl Engine {
	/// Generates from `model` (a decoder in Hugging Face's layout) as `request` says, within
	/// `fuel_limit` for all steps' runs together, calling `on_token` with each token as it is
	/// chosen (a stream). The same tokens, step hashes and fuel on every machine.
	///
	/// Each step prepares the model for its cache's length (a cache of prepared models keeps
	/// them): the preparation is not counted in `fuel_used`. With a `preparation_limit`, a step
	/// whose preparation takes more fuel is refused (`FuelExhausted`), whether this engine
	/// prepared it before or not, as the chain refuses it: the chain gives each step of a
	/// registered decoder `veriml_primitives::models::decoder_step_preparation_limit` of its
	/// registered figure.
	pub fn generate(
		&self,
		model: &[u8],
		request: &GenerationRequest,
		fuel_limit: u64,
		preparation_limit: Option<u64>,
		on_token: impl FnMut(TokenId),
	) -> Result<Generation, GenerateError> {
		let layout = checked(model, request)?;
		// Hashed once: each step finds its prepared model by this hash and its inputs' shapes.
		let hash = model_hash(model);
		let terms = GenerationTerms {
			prompt: &request.prompt,
			max_tokens: request.max_tokens,
			stop_tokens: &request.stop_tokens,
			sampling: request.sampling,
		};
		let run = |_step: u32, inputs: &[Tensor], fuel_left: u64| {
			self.run_model_hashed(model, hash, inputs, fuel_left, preparation_limit)
		};
		let generated = generate_steps(&layout, terms, fuel_limit, run, on_token).map_err(|fault| match fault {
			StepFault::EmptyPrompt => GenerateError::EmptyPrompt,
			StepFault::Run { step, error } => GenerateError::Run { step, error },
			StepFault::Outputs { step, reason } => GenerateError::Outputs { step, reason },
			StepFault::NoToken { step } => GenerateError::NoToken { step },
			StepFault::OutOfFuel { step } => GenerateError::OutOfFuel { step },
		})?;
		let root = steps_root(&generated.steps);
		let receipt = generation_hash(
			ENGINE_VERSION,
			&hash,
			&request.prompt,
			request.sampling,
			request.max_tokens,
			&request.stop_tokens,
			&generated.tokens,
			&root,
		);
		Ok(Generation {
			tokens: generated.tokens,
			stop: if generated.stopped { Stop::StopToken } else { Stop::MaxTokens },
			steps: generated.steps,
			steps_root: root,
			fuel_used: generated.fuel_used,
			hash: receipt,
		})
	}

	/// Re-executes step `step` of the generation `request` asks of `model`, from the state
	/// before it: `before`, the outputs of step `step - 1` (logits and cache; `None` for step
	/// 0), which a dispute first checks against that step's leaf of the steps root
	/// ([`verify_step`](veriml_inference_primitives::generation::verify_step)). The token the
	/// step feeds follows from `request` and `before`: the prompt's, or the one chosen from
	/// `before`'s logits. Returns the step's outputs: their
	/// [`step_hash`](veriml_inference_primitives::generation::step_hash) is the leaf step
	/// `step` must have. One step's work, whatever the generation's length. A
	/// `preparation_limit` refuses the step as [`generate`](Self::generate) does.
	pub fn replay_step(
		&self,
		model: &[u8],
		request: &GenerationRequest,
		step: u32,
		before: Option<&[Tensor]>,
		fuel_limit: u64,
		preparation_limit: Option<u64>,
	) -> Result<Vec<Tensor>, GenerateError> {
		let layout = checked(model, request)?;
		let prompt = request.prompt.len() as u64;
		// The steps are the prompt's tokens and every generated token but the last.
		if u64::from(step) >= prompt + u64::from(request.max_tokens.max(1)) - 1 {
			return Err(GenerateError::NoSuchStep { step });
		}
		let (fed, cache) = match (step, before) {
			(0, None) => (request.prompt[0], layout.empty_cache()),
			(0, Some(_)) | (_, None) => return Err(GenerateError::NoSuchStep { step }),
			(_, Some(before)) => {
				layout
					.check_step_outputs(step - 1, before)
					.map_err(|reason| GenerateError::Outputs { step: step - 1, reason })?;
				let fed = match request.prompt.get(step as usize) {
					Some(token) => *token,
					None => {
						let index = (u64::from(step) - prompt) as u32;
						choose_token(request.sampling, &before[0], index)
							.ok_or(GenerateError::NoToken { step: step - 1 })?
					},
				};
				// A stop token ends the generation: no step feeds it.
				if u64::from(step) >= prompt && request.stop_tokens.contains(&fed) {
					return Err(GenerateError::NoSuchStep { step });
				}
				(fed, before[1..].to_vec())
			},
		};
		let inputs = layout.step_inputs(fed, step, &cache);
		let execution = self
			.run_model_hashed(model, model_hash(model), &inputs, fuel_limit, preparation_limit)
			.map_err(|error| GenerateError::Run { step, error })?;
		layout
			.check_step_outputs(step, &execution.outputs)
			.map_err(|reason| GenerateError::Outputs { step, reason })?;
		Ok(execution.outputs)
	}
}
