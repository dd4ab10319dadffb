//! Token generation with a decoder exported in Hugging Face's layout (`optimum`'s export of a
//! causal language model), defined once for every node: the decoder's inputs and outputs, what
//! one step feeds it, which token a step chooses, and the hashes a generation commits to.
//!
//! A generation is a sequence of steps, one token fed per step (the prompt's tokens first, then
//! each chosen token), the decoder's key/value cache carried from each step's `present.N.*`
//! outputs to the next step's `past_key_values.N.*` inputs. The steps from the prompt's last
//! token on each choose a token. Each step is one deterministic run of the engine, so its
//! outputs (logits and cache: the decoder's state after the step) hash the same on every
//! honest node; a generation commits to the Merkle root of those hashes ([`steps_root`]).

use crate::{merkle, output_hash, DType, EngineVersion, ModelHash, Tensor, TensorSpec, H256};
use alloc::{format, string::String, vec::Vec};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// A token of a decoder's vocabulary: its row in the logits.
pub type TokenId = u32;

/// One of the inputs of a decoder in Hugging Face's layout.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum DecoderInput {
	/// `input_ids`: i64 `[1, 1]`, the token fed.
	InputIds,
	/// `attention_mask`: i64 `[1, past + 1]`, all ones.
	AttentionMask,
	/// `position_ids`: i64 `[1, 1]`, the step's position (the tokens before it).
	PositionIds,
	/// `past_key_values.N.key`: f32 `[1, heads, past, head_size]`.
	PastKey(u32),
	/// `past_key_values.N.value`: f32 `[1, heads, past, head_size]`.
	PastValue(u32),
}

/// A decoder's inputs in the order the model declares them, and the shape of its cache, read
/// from the model's graph ([`decoder_layout`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecoderLayout {
	/// The inputs, in the model's order.
	pub inputs: Vec<DecoderInput>,
	/// Decoder layers: pairs of `past_key_values.N.key/value` inputs, N from 0.
	pub layers: u32,
	/// Key/value heads of each layer's cache.
	pub heads: u32,
	/// Elements of one head's key or value.
	pub head_size: u32,
}

/// Why a model is not a decoder in Hugging Face's layout.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LayoutError {
	/// The bytes are not an ONNX model with a graph.
	NotAModel,
	/// An input of the graph the layout has no place for.
	UnknownInput(String),
	/// An input the layout needs is missing (`input_ids`, `attention_mask`, a layer's key or
	/// value).
	MissingInput(String),
	/// The outputs are not `logits` then `present.N.key`, `present.N.value` for each layer.
	Outputs(String),
	/// A cache input's type or shape is not f32 `[batch, heads, past, head_size]` with heads
	/// and head size fixed and the same for every layer.
	CacheShape(String),
}

impl core::fmt::Display for LayoutError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			Self::NotAModel => f.write_str("not an ONNX model with a graph"),
			Self::UnknownInput(name) => write!(
				f,
				"input {name:?} is not one of a decoder's (input_ids, attention_mask, position_ids, \
				 past_key_values.N.key/value)"
			),
			Self::MissingInput(name) => write!(f, "the decoder has no input {name:?}"),
			Self::Outputs(why) => write!(f, "outputs: {why}"),
			Self::CacheShape(why) => write!(f, "cache: {why}"),
		}
	}
}

/// The field numbers of ONNX's protobuf messages read here.
mod onnx {
	pub const MODEL_GRAPH: u32 = 7;
	pub const GRAPH_INITIALIZER: u32 = 5;
	pub const GRAPH_INPUT: u32 = 11;
	pub const GRAPH_OUTPUT: u32 = 12;
	pub const TENSOR_NAME: u32 = 8;
	pub const VALUE_INFO_NAME: u32 = 1;
	pub const VALUE_INFO_TYPE: u32 = 2;
	pub const TYPE_TENSOR: u32 = 1;
	pub const TENSOR_TYPE_ELEM: u32 = 1;
	pub const TENSOR_TYPE_SHAPE: u32 = 2;
	pub const SHAPE_DIM: u32 = 1;
	pub const DIM_VALUE: u32 = 1;
	pub const FLOAT: u64 = 1;
}

/// A protobuf field's value: a varint or length-delimited bytes (the other wire types skipped).
enum Field<'a> {
	Varint(u64),
	Bytes(&'a [u8]),
	Other,
}

/// The fields of a protobuf message, in order; `None` where the bytes are malformed.
fn fields(mut bytes: &[u8]) -> Option<Vec<(u32, Field<'_>)>> {
	fn varint(bytes: &mut &[u8]) -> Option<u64> {
		let mut value = 0u64;
		for shift in (0..64).step_by(7) {
			let (&byte, rest) = bytes.split_first()?;
			*bytes = rest;
			value |= u64::from(byte & 0x7f) << shift;
			if byte & 0x80 == 0 {
				return Some(value);
			}
		}
		None
	}
	let mut out = Vec::new();
	while !bytes.is_empty() {
		let key = varint(&mut bytes)?;
		let number = u32::try_from(key >> 3).ok()?;
		let field = match key & 7 {
			0 => Field::Varint(varint(&mut bytes)?),
			1 | 5 => {
				let width = if key & 7 == 1 { 8 } else { 4 };
				bytes = bytes.get(width..)?;
				Field::Other
			},
			2 => {
				let length = usize::try_from(varint(&mut bytes)?).ok()?;
				let (value, rest) = (bytes.get(..length)?, bytes.get(length..)?);
				bytes = rest;
				Field::Bytes(value)
			},
			_ => return None,
		};
		out.push((number, field));
	}
	Some(out)
}

fn bytes_of<'a>(fields: &[(u32, Field<'a>)], number: u32) -> Vec<&'a [u8]> {
	fields
		.iter()
		.filter_map(|(n, f)| match f {
			Field::Bytes(b) if *n == number => Some(*b),
			_ => None,
		})
		.collect()
}

fn first_bytes<'a>(fields: &[(u32, Field<'a>)], number: u32) -> Option<&'a [u8]> {
	bytes_of(fields, number).first().copied()
}

/// A graph input's or output's name, element type and dimensions (`None`: symbolic).
struct ValueInfo {
	name: String,
	elem_type: Option<u64>,
	dims: Vec<Option<u64>>,
}

fn value_info(bytes: &[u8]) -> Option<ValueInfo> {
	let info = fields(bytes)?;
	let name = String::from_utf8(first_bytes(&info, onnx::VALUE_INFO_NAME)?.to_vec()).ok()?;
	let mut elem_type = None;
	let mut dims = Vec::new();
	if let Some(type_proto) = first_bytes(&info, onnx::VALUE_INFO_TYPE) {
		let type_fields = fields(type_proto)?;
		if let Some(tensor) = first_bytes(&type_fields, onnx::TYPE_TENSOR) {
			let tensor = fields(tensor)?;
			elem_type = tensor.iter().find_map(|(n, f)| match f {
				Field::Varint(v) if *n == onnx::TENSOR_TYPE_ELEM => Some(*v),
				_ => None,
			});
			if let Some(shape) = first_bytes(&tensor, onnx::TENSOR_TYPE_SHAPE) {
				for dim in bytes_of(&fields(shape)?, onnx::SHAPE_DIM) {
					dims.push(fields(dim)?.iter().find_map(|(n, f)| match f {
						Field::Varint(v) if *n == onnx::DIM_VALUE => Some(*v),
						_ => None,
					}));
				}
			}
		}
	}
	Some(ValueInfo { name, elem_type, dims })
}

/// Reads the decoder layout of `model`: its graph's inputs must be `input_ids`,
/// `attention_mask`, optionally `position_ids`, and `past_key_values.N.key` and `.value` for
/// N = 0, 1, … (f32 `[batch, heads, past, head_size]`, heads and head size fixed); its outputs
/// `logits` then `present.N.key`, `present.N.value` for each layer.
pub fn decoder_layout(model: &[u8]) -> Result<DecoderLayout, LayoutError> {
	let model_fields = fields(model).ok_or(LayoutError::NotAModel)?;
	let graph = first_bytes(&model_fields, onnx::MODEL_GRAPH).ok_or(LayoutError::NotAModel)?;
	let graph = fields(graph).ok_or(LayoutError::NotAModel)?;
	// Models of IR version 3 list their initializers among the inputs too.
	let initializers: Vec<String> = bytes_of(&graph, onnx::GRAPH_INITIALIZER)
		.into_iter()
		.filter_map(|tensor| {
			let tensor = fields(tensor)?;
			let name = first_bytes(&tensor, onnx::TENSOR_NAME)?;
			String::from_utf8(name.to_vec()).ok()
		})
		.collect();
	let read = |number| -> Result<Vec<ValueInfo>, LayoutError> {
		bytes_of(&graph, number).into_iter().map(|b| value_info(b).ok_or(LayoutError::NotAModel)).collect()
	};
	let inputs: Vec<ValueInfo> =
		read(onnx::GRAPH_INPUT)?.into_iter().filter(|input| !initializers.contains(&input.name)).collect();
	let outputs = read(onnx::GRAPH_OUTPUT)?;

	let mut layout = Vec::with_capacity(inputs.len());
	let mut cache_shape: Option<(u64, u64)> = None;
	for input in &inputs {
		let kind = match input.name.as_str() {
			"input_ids" => DecoderInput::InputIds,
			"attention_mask" => DecoderInput::AttentionMask,
			"position_ids" => DecoderInput::PositionIds,
			name => {
				let layer_of = |suffix: &str| {
					name.strip_prefix("past_key_values.")
						.and_then(|rest| rest.strip_suffix(suffix))
						.and_then(|layer| layer.parse::<u32>().ok())
				};
				let kind = match (layer_of(".key"), layer_of(".value")) {
					(Some(layer), _) => DecoderInput::PastKey(layer),
					(_, Some(layer)) => DecoderInput::PastValue(layer),
					_ => return Err(LayoutError::UnknownInput(name.into())),
				};
				let shape = match (input.elem_type, input.dims.as_slice()) {
					(Some(onnx::FLOAT), [_, Some(heads), _, Some(size)]) if *heads > 0 && *size > 0 => (*heads, *size),
					_ => {
						return Err(LayoutError::CacheShape(format!(
							"{name} is not f32 [batch, heads, past, head_size] with heads and head size fixed"
						)))
					},
				};
				if cache_shape.is_some_and(|known| known != shape) {
					return Err(LayoutError::CacheShape(format!(
						"{name}'s heads or head size differ from another layer's"
					)));
				}
				cache_shape = Some(shape);
				kind
			},
		};
		if layout.contains(&kind) {
			return Err(LayoutError::UnknownInput(input.name.clone()));
		}
		layout.push(kind);
	}
	for needed in [DecoderInput::InputIds, DecoderInput::AttentionMask] {
		if !layout.contains(&needed) {
			let name = if needed == DecoderInput::InputIds { "input_ids" } else { "attention_mask" };
			return Err(LayoutError::MissingInput(name.into()));
		}
	}
	let layers = layout.iter().filter(|k| matches!(k, DecoderInput::PastKey(_))).count() as u32;
	for layer in 0..layers {
		for (kind, suffix) in [(DecoderInput::PastKey(layer), "key"), (DecoderInput::PastValue(layer), "value")] {
			if !layout.contains(&kind) {
				return Err(LayoutError::MissingInput(format!("past_key_values.{layer}.{suffix}")));
			}
		}
	}
	if layout.len() != 2 + usize::from(layout.contains(&DecoderInput::PositionIds)) + 2 * layers as usize {
		return Err(LayoutError::MissingInput("past_key_values.N.key for each past_key_values.N.value".into()));
	}
	let (heads, head_size) = cache_shape.ok_or(LayoutError::MissingInput("past_key_values.0.key".into()))?;

	let mut expected = alloc::vec![String::from("logits")];
	for layer in 0..layers {
		expected.push(format!("present.{layer}.key"));
		expected.push(format!("present.{layer}.value"));
	}
	let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
	if names != expected.iter().map(String::as_str).collect::<Vec<_>>() {
		return Err(LayoutError::Outputs(format!("{names:?}, expected {expected:?}")));
	}
	let narrow = |v: u64| u32::try_from(v).map_err(|_| LayoutError::CacheShape("heads or head size too large".into()));
	Ok(DecoderLayout { inputs: layout, layers, heads: narrow(heads)?, head_size: narrow(head_size)? })
}

fn i64_tensor(values: &[i64]) -> Tensor {
	Tensor {
		dtype: DType::I64,
		shape: alloc::vec![1, values.len() as u32],
		data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
	}
}

impl DecoderLayout {
	/// The empty cache of the first step: per layer, key then value, f32 `[1, heads, 0, head_size]`.
	pub fn empty_cache(&self) -> Vec<Tensor> {
		let empty =
			Tensor { dtype: DType::F32, shape: alloc::vec![1, self.heads, 0, self.head_size], data: Vec::new() };
		(0..2 * self.layers).map(|_| empty.clone()).collect()
	}

	/// The inputs of the step that feeds `token` at `position` (the number of tokens fed
	/// before it) with `cache`, the previous step's `present.N.key/value` outputs in order.
	pub fn step_inputs(&self, token: TokenId, position: u32, cache: &[Tensor]) -> Vec<Tensor> {
		self.inputs
			.iter()
			.map(|input| match *input {
				DecoderInput::InputIds => i64_tensor(&[i64::from(token)]),
				DecoderInput::AttentionMask => i64_tensor(&alloc::vec![1; position as usize + 1]),
				DecoderInput::PositionIds => i64_tensor(&[i64::from(position)]),
				DecoderInput::PastKey(layer) => cache[2 * layer as usize].clone(),
				DecoderInput::PastValue(layer) => cache[2 * layer as usize + 1].clone(),
			})
			.collect()
	}

	/// The input specs of the step at `position` (the number of tokens fed before it): what
	/// [`step_inputs`](Self::step_inputs) gives at that position has these dtypes and shapes.
	/// A decoder registered with a context of `n` tokens is measured at its last step,
	/// `position = n - 1`, whose cache is the longest.
	pub fn step_specs(&self, position: u32) -> Vec<TensorSpec> {
		let spec = |dtype, dims: &[u32]| TensorSpec::new(dtype, dims).expect("rank 4 at most");
		let cache = spec(DType::F32, &[1, self.heads, position, self.head_size]);
		self.inputs
			.iter()
			.map(|input| match *input {
				DecoderInput::InputIds | DecoderInput::PositionIds => spec(DType::I64, &[1, 1]),
				DecoderInput::AttentionMask => spec(DType::I64, &[1, position.saturating_add(1)]),
				DecoderInput::PastKey(_) | DecoderInput::PastValue(_) => cache.clone(),
			})
			.collect()
	}

	/// Checks a step's outputs: logits f32 `[1, 1, vocabulary]`, then each layer's key and
	/// value f32 `[1, heads, position + 1, head_size]`.
	pub fn check_step_outputs(&self, position: u32, outputs: &[Tensor]) -> Result<(), String> {
		if outputs.len() != 1 + 2 * self.layers as usize {
			return Err(format!("{} outputs, expected {}", outputs.len(), 1 + 2 * self.layers));
		}
		// A state handed to a step (a dispute's) may be anyone's: its bytes must be its shape's.
		if let Some(index) = outputs.iter().position(|output| output.check_well_formed().is_err()) {
			return Err(format!("output {index}'s bytes are not of its dtype and shape"));
		}
		let logits = &outputs[0];
		if logits.dtype != DType::F32 || logits.shape.len() != 3 || logits.shape[..2] != [1, 1] || logits.shape[2] == 0
		{
			return Err(format!("logits {:?} {:?}, expected f32 [1, 1, vocabulary]", logits.dtype, logits.shape));
		}
		let cache = [1, self.heads, position + 1, self.head_size];
		for present in &outputs[1..] {
			if present.dtype != DType::F32 || present.shape != cache {
				return Err(format!(
					"a present key or value is {:?} {:?}, expected f32 {cache:?}",
					present.dtype, present.shape
				));
			}
		}
		Ok(())
	}
}

/// How a step chooses its token from the logits.
#[derive(Encode, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sampling {
	/// The token of the largest logit (the lowest id of equal ones; NaN never chosen).
	Greedy,
	/// A token drawn from the softmax of the logits divided by the temperature, among the
	/// `top_k` largest (all where 0) and, of those, the fewest whose probabilities add up to
	/// `top_p`, with the randomness of `blake2_256(SCALE(seed, n))` for the n-th token
	/// generated ([`draw`]). The same token on every machine: f64 arithmetic in a fixed order
	/// and this module's own `exp`.
	Seeded {
		/// The temperature in thousandths (1000: the logits as they are), above 0.
		temperature_milli: u32,
		/// How many of the largest logits may be drawn; 0: all.
		top_k: u32,
		/// The probability mass drawn from, in millionths: 1 to 1_000_000.
		top_p_micro: u32,
		/// The seed (on chain: drawn after the request is made).
		seed: [u8; 32],
	},
}

impl Sampling {
	/// Why these parameters cannot sample, if they cannot.
	pub fn check(&self) -> Result<(), &'static str> {
		match *self {
			Self::Seeded { temperature_milli: 0, .. } => Err("the temperature must be above 0 (greedy: no temperature)"),
			Self::Seeded { top_p_micro, .. } if top_p_micro == 0 || top_p_micro > 1_000_000 =>
				Err("top-p must be above 0 and at most 1"),
			_ => Ok(()),
		}
	}
}

/// `e^x` for `x <= 0`, by the same f64 operations everywhere: `x = k·ln 2 + r` with `|r| <=
/// ln 2 / 2` (ln 2 in two parts, fdlibm's, the first times k exact), `e^r` by its Taylor
/// polynomial of degree 13, times `2^k`; 0 below -708 (where `e^x` leaves f64's normal
/// range). NaN for NaN.
fn exp_nonpositive(x: f64) -> f64 {
	const LN_2: f64 = core::f64::consts::LN_2;
	const LN_2_HIGH: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
	const LN_2_LOW: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
	if x.is_nan() {
		return x;
	}
	if x < -708.0 {
		return 0.0;
	}
	// Rounded to nearest: the cast truncates toward zero, x / ln 2 is at most 0.
	let k = -((-x / LN_2 + 0.5) as i64);
	let r = (x - k as f64 * LN_2_HIGH) - k as f64 * LN_2_LOW;
	let mut sum = 1.0f64;
	for n in (1..=13).rev() {
		sum = 1.0 + sum * r / n as f64;
	}
	// 2^k for k in -1022..=0: an f64 built from its exponent bits.
	sum * f64::from_bits(((k + 1023) as u64) << 52)
}

/// The uniform number in [0, 1) of the `index`-th token of a generation seeded with `seed`:
/// the top 53 bits of the first 8 bytes (little-endian) of `blake2_256(SCALE(seed, index))`.
pub fn draw(seed: &[u8; 32], index: u32) -> f64 {
	let hash = sp_crypto_hashing::blake2_256(&(seed, index).encode());
	let bits = u64::from_le_bytes([hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]]);
	(bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The token `sampling` chooses from `logits` (f32 `[1, 1, vocabulary]`) for the `index`-th
/// token of a generation (from 0); `None` where every logit is NaN.
pub fn choose_token(sampling: Sampling, logits: &Tensor, index: u32) -> Option<TokenId> {
	let values = logits.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
	let mut candidates: Vec<(TokenId, f32)> =
		values.enumerate().filter(|(_, value)| !value.is_nan()).map(|(id, value)| (id as TokenId, value)).collect();
	// Largest first, the lowest id first among equal logits.
	candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
	let &(best, top) = candidates.first()?;
	let Sampling::Seeded { temperature_milli, top_k, top_p_micro, seed } = sampling else {
		return Some(best);
	};
	if top_k > 0 {
		candidates.truncate(top_k as usize);
	}
	let temperature = f64::from(temperature_milli) / 1000.0;
	// Each weight e^((logit - top) / temperature), in the order above: 1 for the top logit
	// (an infinite one included), 0 for minus infinity.
	let weights: Vec<f64> = candidates
		.iter()
		.map(|&(_, value)| if value == top { 1.0 } else { exp_nonpositive((f64::from(value) - f64::from(top)) / temperature) })
		.collect();
	let total: f64 = weights.iter().sum();
	// The fewest of the largest whose weights reach top_p of the total.
	let mass = total * (f64::from(top_p_micro) / 1_000_000.0);
	let mut kept = 0.0;
	let mut count = 0;
	for weight in &weights {
		kept += weight;
		count += 1;
		if kept >= mass {
			break;
		}
	}
	let target = draw(&seed, index) * kept;
	let mut cumulative = 0.0;
	for (&(id, _), weight) in candidates.iter().zip(&weights).take(count) {
		cumulative += weight;
		if cumulative > target {
			return Some(id);
		}
	}
	Some(candidates[count - 1].0)
}

/// The hash of the decoder's state after a step: its outputs (logits and cache), as
/// [`output_hash`].
pub fn step_hash(outputs: &[Tensor]) -> H256 {
	output_hash(outputs)
}

/// The Merkle root over a generation's step hashes, in order: [`merkle::root`] (the tree the
/// content store names items by); zero for no steps.
pub fn steps_root(steps: &[H256]) -> H256 {
	merkle::root(steps)
}

/// The Merkle proof of step `index` of `steps` under [`steps_root`] ([`merkle::proof`]);
/// `None` past the end.
pub fn steps_proof(steps: &[H256], index: u32) -> Option<Vec<H256>> {
	merkle::proof(steps, index)
}

/// Whether `step` is step `index` of `count` steps under `root`, by `proof` ([`steps_proof`]).
/// `count` is the generation's (its prompt's tokens and every generated token but the last),
/// which the receipt fixes apart from the root.
pub fn verify_step(root: &H256, count: u32, index: u32, step: &H256, proof: &[H256]) -> bool {
	merkle::verify(root, count, index, step, proof)
}

/// What a generation's receipt commits to: `blake2_256(SCALE(engine_version, model_hash,
/// prompt, sampling, max_tokens, stop_tokens, tokens, steps_root))`.
#[allow(clippy::too_many_arguments)]
pub fn generation_hash(
	engine_version: EngineVersion,
	model_hash: &ModelHash,
	prompt: &[TokenId],
	sampling: Sampling,
	max_tokens: u32,
	stop_tokens: &[TokenId],
	tokens: &[TokenId],
	steps_root: &H256,
) -> H256 {
	H256(sp_crypto_hashing::blake2_256(
		&(engine_version, model_hash, prompt, sampling, max_tokens, stop_tokens, tokens, steps_root).encode(),
	))
}

/// What a generation asks for, as the decoding loop ([`generate_steps`]) reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GenerationTerms<'a> {
	/// The prompt's tokens (at least one).
	pub prompt: &'a [TokenId],
	/// The most tokens to generate.
	pub max_tokens: u32,
	/// Tokens that end the generation (kept as its last token).
	pub stop_tokens: &'a [TokenId],
	/// How each token is chosen (the seed included).
	pub sampling: Sampling,
}

/// What the decoding loop made: the tokens and the hash of the state after each step.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Generated {
	/// The tokens generated, the stop token included.
	pub tokens: Vec<TokenId>,
	/// Whether it ended with a stop token (rather than at `max_tokens`).
	pub stopped: bool,
	/// The state hash of each step, in order ([`step_hash`]).
	pub steps: Vec<H256>,
	/// Engine fuel of every step's run together.
	pub fuel_used: u64,
}

/// Why the decoding loop stopped short, `E` being the run's error.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StepFault<E> {
	/// The prompt has no tokens.
	EmptyPrompt,
	/// The run of step `step` (from 0) failed.
	Run { step: u32, error: E },
	/// Step `step`'s outputs are not the layout's.
	Outputs { step: u32, reason: String },
	/// Every logit of step `step` was NaN.
	NoToken { step: u32 },
	/// The steps used the fuel given before the generation ended.
	OutOfFuel { step: u32 },
}

/// The decoding loop, the same wherever it runs (the node's engine natively, an inference
/// node's off-chain worker through the runtime's engine): feeds the prompt's tokens and then
/// each chosen token, one step each, carrying the cache, until `max_tokens` tokens or a stop
/// token, within `fuel_limit` for all runs together. `run(step, inputs, fuel_left)` runs the
/// decoder on one step's inputs ([`DecoderLayout::step_inputs`]); `on_token` hears each token
/// as it is chosen (a stream).
pub fn generate_steps<E>(
	layout: &DecoderLayout,
	terms: GenerationTerms<'_>,
	fuel_limit: u64,
	mut run: impl FnMut(u32, &[Tensor], u64) -> Result<crate::Execution, E>,
	mut on_token: impl FnMut(TokenId),
) -> Result<Generated, StepFault<E>> {
	let Some(&first) = terms.prompt.first() else { return Err(StepFault::EmptyPrompt) };
	let mut cache = layout.empty_cache();
	let mut generated = Generated { tokens: Vec::new(), stopped: false, steps: Vec::new(), fuel_used: 0 };
	let mut fed = first;
	for step in 0u32.. {
		let prompt_step = (step as usize) < terms.prompt.len() - 1;
		if !prompt_step && generated.tokens.len() >= terms.max_tokens as usize {
			break;
		}
		let left = fuel_limit.saturating_sub(generated.fuel_used);
		if left == 0 {
			return Err(StepFault::OutOfFuel { step });
		}
		let execution = run(step, &layout.step_inputs(fed, step, &cache), left)
			.map_err(|error| StepFault::Run { step, error })?;
		layout.check_step_outputs(step, &execution.outputs).map_err(|reason| StepFault::Outputs { step, reason })?;
		generated.fuel_used = generated.fuel_used.saturating_add(execution.fuel_used);
		generated.steps.push(step_hash(&execution.outputs));
		let mut outputs = execution.outputs.into_iter();
		let logits = outputs.next().expect("checked: logits first");
		cache = outputs.collect();
		if prompt_step {
			fed = terms.prompt[step as usize + 1];
			continue;
		}
		let token = choose_token(terms.sampling, &logits, generated.tokens.len() as u32)
			.ok_or(StepFault::NoToken { step })?;
		generated.tokens.push(token);
		on_token(token);
		if terms.stop_tokens.contains(&token) {
			generated.stopped = true;
			break;
		}
		fed = token;
	}
	// The last token chosen is never fed: the steps end with the step that chose it.
	Ok(generated)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn logits(values: &[f32]) -> Tensor {
		Tensor::from_f32(&[1, 1, values.len() as u32], values)
	}

	#[test]
	fn greedy_chooses_the_largest_logit_the_lowest_id_of_equal_ones_and_never_nan() {
		assert_eq!(choose_token(Sampling::Greedy, &logits(&[0.5, 2.0, -1.0]), 0), Some(1));
		assert_eq!(choose_token(Sampling::Greedy, &logits(&[3.0, 1.0, 3.0]), 0), Some(0));
		assert_eq!(choose_token(Sampling::Greedy, &logits(&[f32::NAN, -7.0, f32::NAN]), 0), Some(1));
		assert_eq!(choose_token(Sampling::Greedy, &logits(&[f32::NAN, f32::NAN]), 0), None);
		assert_eq!(choose_token(Sampling::Greedy, &logits(&[f32::NEG_INFINITY, -1e30]), 0), Some(1));
	}

	fn seeded(temperature_milli: u32, top_k: u32, top_p_micro: u32) -> Sampling {
		Sampling::Seeded { temperature_milli, top_k, top_p_micro, seed: [7; 32] }
	}

	#[test]
	fn exp_is_close_to_the_standard_librarys_and_zero_far_below() {
		for x in [0.0, -1e-9, -0.3, -core::f64::consts::LN_2, -1.0, -2.5, -17.25, -100.0, -700.0] {
			let (ours, std) = (exp_nonpositive(x), std::primitive::f64::exp(x));
			assert!((ours - std).abs() <= 8.0 * f64::EPSILON * std, "e^{x}: {ours} against {std}");
		}
		assert_eq!(exp_nonpositive(-709.0), 0.0);
		assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
		assert!(exp_nonpositive(f64::NAN).is_nan());
	}

	#[test]
	fn seeded_sampling_draws_in_proportion_to_the_softmax_within_top_k_and_top_p() {
		// Probabilities 1/2, 1/4, 1/8, 1/8 at temperature 1 (logits in ln 2 steps).
		let ln2 = core::f32::consts::LN_2;
		let four = logits(&[-2.0 * ln2, 0.0, -ln2, -2.0 * ln2]);
		let mut counts = [0u32; 4];
		for index in 0..8000 {
			counts[choose_token(seeded(1000, 0, 1_000_000), &four, index).unwrap() as usize] += 1;
		}
		for (id, expected) in [(1, 4000.0), (2, 2000.0), (0, 1000.0), (3, 1000.0)] {
			let drawn = f64::from(counts[id]);
			assert!((drawn - expected).abs() < 0.08 * expected, "token {id}: {drawn} draws, about {expected} expected");
		}
		// top-k 2 and top-p 0.7 both leave tokens 1 and 2 only.
		for sampling in [seeded(1000, 2, 1_000_000), seeded(1000, 0, 700_000)] {
			let drawn: Vec<TokenId> = (0..200).map(|i| choose_token(sampling, &four, i).unwrap()).collect();
			assert!(drawn.iter().all(|id| [1, 2].contains(id)) && drawn.contains(&1) && drawn.contains(&2), "{sampling:?}");
		}
		// A low temperature is all but greedy; top-k 1 is greedy.
		assert!((0..200).all(|i| choose_token(seeded(10, 0, 1_000_000), &four, i) == Some(1)));
		assert!((0..200).all(|i| choose_token(seeded(5000, 1, 1_000_000), &four, i) == Some(1)));
		// The same seed and index, the same token; NaN never drawn; infinities handled.
		let drawn = |index| choose_token(seeded(1000, 0, 1_000_000), &four, index);
		assert_eq!((0..64).map(drawn).collect::<Vec<_>>(), (0..64).map(drawn).collect::<Vec<_>>());
		let odd = logits(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.0]);
		assert!((0..100).all(|i| choose_token(seeded(1000, 0, 1_000_000), &odd, i) == Some(1)));
	}

	#[test]
	fn sampling_parameters_that_cannot_sample_are_refused() {
		assert_eq!(Sampling::Greedy.check(), Ok(()));
		assert_eq!(seeded(700, 40, 900_000).check(), Ok(()));
		assert!(seeded(0, 40, 900_000).check().is_err());
		assert!(seeded(700, 40, 0).check().is_err());
		assert!(seeded(700, 40, 1_000_001).check().is_err());
	}

	#[test]
	fn the_steps_root_commits_to_every_step_and_its_place() {
		let steps: Vec<H256> = (0u8..5).map(|i| H256::repeat_byte(i + 1)).collect();
		let root = steps_root(&steps);
		assert_ne!(root, H256::zero());
		for changed in 0..steps.len() {
			let mut other = steps.clone();
			other[changed] = H256::repeat_byte(0xee);
			assert_ne!(steps_root(&other), root, "step {changed} changed");
		}
		let mut swapped = steps.clone();
		swapped.swap(0, 1);
		assert_ne!(steps_root(&swapped), root);
		assert_ne!(steps_root(&steps[..4]), root);
		assert_eq!(steps_root(&[]), H256::zero());
		// A leaf is not its own root: a one-step root differs from the step's hash.
		assert_ne!(steps_root(&steps[..1]), steps[0]);
	}

	#[test]
	fn each_step_is_proven_under_the_root_and_nothing_else_is() {
		for count in 1u32..=9 {
			let steps: Vec<H256> = (0..count).map(|i| H256::repeat_byte(i as u8 + 1)).collect();
			let root = steps_root(&steps);
			for index in 0..count {
				let proof = steps_proof(&steps, index).unwrap();
				assert!(verify_step(&root, count, index, &steps[index as usize], &proof), "{index} of {count}");
				assert!(!verify_step(&root, count, index, &H256::repeat_byte(0xee), &proof));
				if count > 1 {
					let other = (index + 1) % count;
					assert!(!verify_step(&root, count, other, &steps[index as usize], &proof), "{index} as {other} of {count}");
				}
				let mut longer = proof.clone();
				longer.push(H256::zero());
				assert!(!verify_step(&root, count, index, &steps[index as usize], &longer));
			}
			assert_eq!(steps_proof(&steps, count), None);
			assert!(!verify_step(&root, count, count, &steps[0], &[]));
		}
	}

	#[test]
	fn a_model_that_is_not_a_decoder_is_refused_with_the_input_it_cannot_place() {
		let model = crate::onnx_builder::unary_model("Relu", 4, 0);
		assert_eq!(decoder_layout(&model), Err(LayoutError::UnknownInput("x".into())));
		assert_eq!(decoder_layout(b"\xff\xff not protobuf"), Err(LayoutError::NotAModel));
		assert_eq!(decoder_layout(&[]), Err(LayoutError::NotAModel));
	}

	#[test]
	fn a_step_feeds_its_token_position_and_the_cache_in_the_models_order() {
		let layout = DecoderLayout {
			inputs: alloc::vec![
				DecoderInput::InputIds,
				DecoderInput::PastKey(0),
				DecoderInput::PastValue(0),
				DecoderInput::AttentionMask,
				DecoderInput::PositionIds,
			],
			layers: 1,
			heads: 2,
			head_size: 3,
		};
		let cache = layout.empty_cache();
		assert_eq!(cache[0].shape, [1, 2, 0, 3]);
		let inputs = layout.step_inputs(65, 2, &cache);
		assert_eq!(inputs[0], i64_tensor(&[65]));
		assert_eq!(inputs[1], cache[0]);
		assert_eq!(inputs[3], i64_tensor(&[1, 1, 1]));
		assert_eq!(inputs[4], i64_tensor(&[2]));
		let outputs = [
			logits(&[0.0; 4]),
			Tensor::from_f32(&[1, 2, 3, 3], &[0.0; 18]),
			Tensor::from_f32(&[1, 2, 3, 3], &[0.0; 18]),
		];
		assert_eq!(layout.check_step_outputs(2, &outputs), Ok(()));
		assert!(layout.check_step_outputs(1, &outputs).unwrap_err().contains("expected f32 [1, 2, 2, 3]"));
		let mut short = outputs.clone();
		short[0].data.pop();
		assert!(layout.check_step_outputs(2, &short).unwrap_err().contains("output 0's bytes"));
	}
}
