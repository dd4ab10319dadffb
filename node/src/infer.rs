//! `veriml-node infer`: runs a model locally with the engine the chain uses, so a model author
//! can check a model, its outputs and its cost before paying to register it.

use std::path::PathBuf;
use veriml_engine::json::{describe, parse_inputs, tensor_to_json};
use veriml_engine::{tokenizer::Tokenizer, Engine, GenerateError, GenerationRequest, Stop, ENGINE_VERSION};
use veriml_inference_primitives::{
	generation::{decoder_layout, Sampling},
	input_hash, model_hash, result_hash, EngineError, Execution, RunError, Tensor,
};
use veriml_primitives::models::{decoder_figures, decoder_step_preparation_limit};

/// Run an ONNX model locally with the chain's deterministic engine.
#[derive(Debug, clap::Parser)]
pub struct InferCmd {
	/// The ONNX model file.
	#[arg(long)]
	pub model: PathBuf,

	/// The inputs, as JSON: `{"inputs": [{"dtype": "f32", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}]}`.
	/// dtypes: f32, i64, i32, i8, u8, bool; f32 values may also be "NaN", "inf" or "-inf".
	#[arg(long, required_unless_present = "generate")]
	pub input: Option<PathBuf>,

	/// Generate text instead: the model is a decoder in Hugging Face's layout (`input_ids`,
	/// `attention_mask`, `position_ids`, `past_key_values.N.key/value` → `logits`,
	/// `present.N.key/value`), run one token a step with its cache, tokens chosen greedily and
	/// printed as they are chosen; then the generation's steps root and receipt hash.
	#[arg(long, requires_all = ["tokenizer", "prompt"], conflicts_with_all = ["input", "pin"])]
	pub generate: bool,

	/// The decoder's `tokenizer.json` (a BPE: GPT-2's, Llama 3's and Qwen 2's byte-level family,
	/// or Llama 2's and Mistral's SentencePiece BPE), for `--generate`.
	#[arg(long, requires = "generate")]
	pub tokenizer: Option<PathBuf>,

	/// The prompt, for `--generate`: its tokens with the special tokens the tokenizer's
	/// post-processor puts around them (Llama's `<s>`, Llama 3's `<|begin_of_text|>`), as
	/// `transformers`' `tokenizer(prompt)` gives them.
	#[arg(long, requires = "generate")]
	pub prompt: Option<String>,

	/// The prompt's tokens alone, without the post-processor's special tokens (for a prompt
	/// that writes them itself).
	#[arg(long, requires = "prompt")]
	pub raw_prompt: bool,

	/// The most tokens `--generate` generates.
	#[arg(long, default_value_t = 64, requires = "generate")]
	pub max_tokens: u32,

	/// Sample instead of choosing greedily, at this temperature (above 0; 1: the logits as they
	/// are), with `--seed` (in thousandths: three decimals kept).
	#[arg(long, requires_all = ["generate", "seed"])]
	pub temperature: Option<f64>,

	/// With `--temperature`: draw among the K largest logits only (0: all).
	#[arg(long, default_value_t = 0, requires = "temperature")]
	pub top_k: u32,

	/// With `--temperature`: draw among the fewest largest whose probabilities add up to P
	/// (above 0, at most 1; six decimals kept).
	#[arg(long, default_value_t = 1.0, requires = "temperature")]
	pub top_p: f64,

	/// With `--temperature`: the seed, 32 bytes in hex (`0x…`); on chain it is drawn after the
	/// request is made.
	#[arg(long, requires = "temperature")]
	pub seed: Option<String>,

	/// The context length the decoder is registered with (or would be), for `--generate`: the
	/// chain measures a decoder at its context's first and last steps and refuses a step whose
	/// preparation takes more than an eighth above the larger figure; `--generate` measures it
	/// and refuses so too, so it prints the text the chain's nodes give (default: the prompt's
	/// tokens and `--max-tokens`, the shortest context the generation fits).
	#[arg(long, requires = "generate")]
	pub context_length: Option<u32>,

	/// Tokens that end `--generate`'s generation, by their text in the tokenizer (repeatable;
	/// default: the tokenizer's special tokens, such as `<|endoftext|>`).
	#[arg(long, requires = "generate")]
	pub stop: Vec<String>,

	/// Fuel the inference may use (the engine's own cap applies too).
	#[arg(long, default_value_t = 200_000_000_000)]
	pub fuel_limit: u64,

	/// Pin these inputs (their positions in `--input`, from 0; comma-separated or repeated) into
	/// the model before preparing it: each becomes an initializer of its value in the input file,
	/// and the run takes the other inputs. For inputs whose value decides a shape (a Reshape's
	/// target, a reduction's axes, Slice's starts, TopK's k, Resize's sizes, Pad's pads): the
	/// chain prepares a model for fixed shapes, so such a model is registered pinned.
	#[arg(long, value_delimiter = ',')]
	pub pin: Vec<usize>,

	/// Write the model with its inputs pinned (`--pin`) to this file: the file to register.
	#[arg(long, requires = "pin")]
	pub write_model: Option<PathBuf>,

	/// Print the result as JSON instead of text.
	#[arg(long)]
	pub json: bool,

	/// Also time the model, this many times each: the check registration makes (preparing the
	/// model and a trial run, as on a cache miss) and a run of the prepared model; prints the
	/// medians (`scripts/bench-engine-adversarial.sh` compares them with the weight charged).
	/// With `--generate`: the generation again this many times, its prepared models cached,
	/// and the median (`scripts/bench-generation.sh`).
	#[arg(long, default_value_t = 0)]
	pub timings: u32,
}

/// Median wall times of the engine's work on one model, in milliseconds.
struct Timings {
	inspect_ms: f64,
	run_ms: f64,
}

fn median_ms(runs: u32, mut work: impl FnMut()) -> f64 {
	let mut times: Vec<f64> = (0..runs)
		.map(|_| {
			let started = std::time::Instant::now();
			work();
			started.elapsed().as_secs_f64() * 1000.0
		})
		.collect();
	times.sort_by(f64::total_cmp);
	times[times.len() / 2]
}

impl InferCmd {
	/// Runs the command.
	pub fn run(&self, engine: &Engine) -> sc_cli::Result<()> {
		let model = std::fs::read(&self.model).map_err(|e| format!("reading {}: {e}", self.model.display()))?;
		if self.generate {
			return self.run_generation(engine, &model);
		}
		let input = self.input.as_ref().ok_or("--input is required")?;
		let input_json = std::fs::read_to_string(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
		let inputs = parse_inputs(&input_json)?;
		let (model, inputs) = self.pinned(engine, model, inputs)?;

		let specs = inputs
			.iter()
			.enumerate()
			.map(|(i, t)| t.spec().ok_or_else(|| format!("input {i} has more than 8 dimensions")))
			.collect::<Result<Vec<_>, _>>()?;
		let info = engine.inspect_model(&model, &specs, self.fuel_limit).map_err(|error| {
			let refused = engine_error(engine, "the engine refused the model", error);
			match (&error, engine.describe_unsupported(&model)) {
				(RunError::Verdict(EngineError::UnsupportedOperator), Some(what)) => {
					format!("{refused}: {what} is not implemented by the engine").into()
				},
				(RunError::Verdict(EngineError::ModelPreparationFailed), _)
					if self.pin.is_empty() && specs.len() > 1 =>
				{
					format!(
						"{refused}; if the value of an input decides a shape (a Reshape's target, a reduction's \
						 axes, Slice's starts, TopK's k, Resize's sizes, Pad's pads), pin it with --pin INDEX"
					)
					.into()
				},
				_ => refused,
			}
		})?;
		let execution = engine
			.run_model(&model, &inputs, self.fuel_limit)
			.map_err(|e| engine_error(engine, "the inference failed", e))?;

		let timings = (self.timings > 0).then(|| Timings {
			inspect_ms: median_ms(self.timings, || {
				let _ = engine.inspect_model(&model, &specs, self.fuel_limit);
			}),
			run_ms: median_ms(self.timings, || {
				let _ = engine.run_model(&model, &inputs, self.fuel_limit);
			}),
		});

		let model_hash = model_hash(&model);
		let input_hash = input_hash(&inputs);
		let result = result_hash(ENGINE_VERSION, &model_hash, &input_hash, &execution.outputs);
		let report = Report {
			model_hash,
			model_len: model.len(),
			info_nodes: info.node_count,
			fuel_to_prepare: info.fuel_to_prepare,
			fuel_zero_input: info.fuel_per_run,
			pinned: self.pin.clone(),
			input_hash,
			result,
			execution,
			timings,
		};
		if self.json {
			println!("{}", report.to_json());
		} else {
			report.print();
		}
		Ok(())
	}

	/// `--generate`: streams the tokens to standard output as they are chosen (the text, or
	/// nothing with `--json`), then reports the generation.
	fn run_generation(&self, engine: &Engine, model: &[u8]) -> sc_cli::Result<()> {
		use std::io::Write;
		let path = self.tokenizer.as_ref().ok_or("--generate needs --tokenizer")?;
		let json = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
		let tokenizer = Tokenizer::from_json(&json).map_err(|e| format!("{}: {e}", path.display()))?;
		let prompt = self.prompt.as_deref().ok_or("--generate needs --prompt")?;
		let stop_tokens = if self.stop.is_empty() {
			tokenizer.special_tokens()
		} else {
			let mut tokens = Vec::new();
			for text in &self.stop {
				match tokenizer.encode(text).as_slice() {
					[token] => tokens.push(*token),
					other => return Err(format!("--stop {text:?} is {} tokens, not one", other.len()).into()),
				}
			}
			tokens
		};
		let request = GenerationRequest {
			prompt: if self.raw_prompt {
				tokenizer.encode(prompt)
			} else {
				tokenizer.encode_with_special_tokens(prompt)
			},
			max_tokens: self.max_tokens,
			stop_tokens,
			sampling: self.sampling()?,
		};
		// Each step within the chain's preparation limit for this decoder, measured as the chain
		// registers it.
		let layout = decoder_layout(model).map_err(|e| format!("not a decoder in Hugging Face's layout: {e}"))?;
		if request.prompt.is_empty() || request.max_tokens == 0 {
			return Err("--generate needs a prompt of one token at least and --max-tokens of one at least".into());
		}
		let shortest = (request.prompt.len() as u32).saturating_add(request.max_tokens);
		let context_length = self.context_length.unwrap_or(shortest);
		let longest =
			<<veriml_runtime::Runtime as pallet_model_registry::Config>::MaxContextLength as sp_core::Get<u32>>::get();
		if context_length < shortest || context_length > longest {
			return Err(format!(
				"--context-length {context_length}: the prompt's {} tokens and --max-tokens {} need {shortest}, \
				 and the chain registers a context of {longest} tokens at most",
				request.prompt.len(),
				request.max_tokens
			)
			.into());
		}
		// Each step within half of the registration's fuel limit, as the chain checks it.
		let registration = veriml_runtime::configs::RegistrationFuelLimit::get() / 2;
		let measure = |position: u32| {
			engine.inspect_model(model, &layout.step_specs(position), registration).map_err(|e| {
				engine_error(
					engine,
					&format!(
						"the chain would refuse to register the decoder: its step {position}, within {registration} \
						 fuel a phase"
					),
					e,
				)
			})
		};
		let figures = decoder_figures(&measure(0)?, measure(context_length - 1)?);
		let preparation_limit = decoder_step_preparation_limit(figures.fuel_to_prepare);
		let model_hash = model_hash(model);
		let mut out = std::io::stdout().lock();
		if !self.json {
			let _ = writeln!(out, "model         {model_hash:?} ({} bytes)", model.len());
			let _ = writeln!(out, "engine        version {ENGINE_VERSION}, guest {:?}", veriml_engine::guest_hash());
			let _ = writeln!(out, "prompt        {} tokens: {prompt:?}", request.prompt.len());
			let _ = match request.sampling {
				Sampling::Greedy => writeln!(out, "sampling      greedy"),
				Sampling::Seeded { temperature_milli, top_k, top_p_micro, seed } => writeln!(
					out,
					"sampling      temperature {:.3}, top-k {top_k}, top-p {:.6}, seed 0x{}",
					f64::from(temperature_milli) / 1000.0,
					f64::from(top_p_micro) / 1e6,
					seed.iter().map(|b| format!("{b:02x}")).collect::<String>()
				),
			};
			let _ = writeln!(
				out,
				"context       {context_length} tokens: {} fuel to prepare (steps 0 and {}), each step within {preparation_limit}",
				figures.fuel_to_prepare,
				context_length - 1
			);
			let _ = write!(out, "text          ");
			let _ = out.flush();
		}
		let started = std::time::Instant::now();
		// The text as it settles, token by token (a token's text alone is not its part of it).
		let mut stream = tokenizer.stream();
		let generation = engine
			.generate(model, &request, self.fuel_limit, Some(preparation_limit), |token| {
				if !self.json {
					let _ = out.write_all(&stream.push(token).unwrap_or_default());
					let _ = out.flush();
				}
			})
			.map_err(|e| match e {
				GenerateError::Run { step, error: RunError::Verdict(EngineError::FuelExhausted) } => format!(
					"the generation failed: step {step} exhausted its fuel: preparing it may take at most \
					 {preparation_limit}, as on chain, and its run what is left of --fuel-limit"
				),
				e => format!("the generation failed: {e}"),
			})?;
		if !self.json {
			let _ = out.write_all(&stream.finish());
		}
		let seconds = started.elapsed().as_secs_f64();
		let warm_seconds = (self.timings > 0).then(|| {
			median_ms(self.timings, || {
				let _ = engine.generate(model, &request, self.fuel_limit, Some(preparation_limit), |_| {});
			}) / 1000.0
		});
		let text = String::from_utf8_lossy(
			&tokenizer.decode(&generation.tokens).map_err(|id| format!("token {id} is not in the tokenizer"))?,
		)
		.into_owned();
		let stop = match generation.stop {
			Stop::MaxTokens => "max tokens",
			Stop::StopToken => "a stop token",
		};
		if self.json {
			let json = serde_json::json!({
				"model_hash": format!("{model_hash:?}"),
				"engine_version": ENGINE_VERSION,
				"engine_guest_hash": format!("{:?}", veriml_engine::guest_hash()),
				"prompt_tokens": request.prompt,
				"stop_tokens": request.stop_tokens,
				"context_length": context_length,
				"fuel_to_prepare": figures.fuel_to_prepare,
				"step_preparation_limit": preparation_limit,
				"tokens": generation.tokens,
				"text": text,
				"stop": stop,
				"steps": generation.steps.len(),
				"step_hashes": generation.steps.iter().map(|step| format!("{step:?}")).collect::<Vec<_>>(),
				"steps_root": format!("{:?}", generation.steps_root),
				"fuel_used": generation.fuel_used,
				"generation_hash": format!("{:?}", generation.hash),
				"seconds": seconds,
				"warm_seconds_median": warm_seconds,
			});
			let _ = writeln!(out, "{json}");
		} else {
			let _ = writeln!(out);
			let _ =
				writeln!(out, "tokens        {} (ended by {stop}): {:?}", generation.tokens.len(), generation.tokens);
			let _ = writeln!(
				out,
				"steps         {} (one a token fed), root {:?}",
				generation.steps.len(),
				generation.steps_root
			);
			let _ = writeln!(out, "fuel          {}", generation.fuel_used);
			let _ = writeln!(out, "generation    {:?}", generation.hash);
			let _ = writeln!(
				out,
				"time          {seconds:.3} s: {:.1} steps a second (each step prepares the model for its cache's length)",
				generation.steps.len() as f64 / seconds
			);
			if let Some(warm) = warm_seconds {
				let _ = writeln!(
					out,
					"median time   {warm:.3} s again, each length's model prepared: {:.1} steps a second",
					generation.steps.len() as f64 / warm
				);
			}
		}
		Ok(())
	}

	/// `--temperature`, `--top-k`, `--top-p` and `--seed` as the engine takes them; greedy
	/// without a temperature.
	fn sampling(&self) -> sc_cli::Result<Sampling> {
		let Some(temperature) = self.temperature else { return Ok(Sampling::Greedy) };
		let seed = self.seed.as_deref().ok_or("--temperature needs --seed")?;
		let seed: [u8; 32] = seed
			.strip_prefix("0x")
			.and_then(|hex| sp_core::bytes::from_hex(hex).ok())
			.and_then(|bytes| bytes.try_into().ok())
			.ok_or("--seed: 32 bytes in hex, 0x and 64 digits")?;
		let fixed = |value: f64, scale: f64, name: &str| -> sc_cli::Result<u32> {
			let scaled = (value * scale).round();
			if !(0.0..=f64::from(u32::MAX)).contains(&scaled) {
				return Err(format!("--{name} {value} is out of range").into());
			}
			Ok(scaled as u32)
		};
		let sampling = Sampling::Seeded {
			temperature_milli: fixed(temperature, 1000.0, "temperature")?,
			top_k: self.top_k,
			top_p_micro: fixed(self.top_p, 1_000_000.0, "top-p")?,
			seed,
		};
		sampling.check()?;
		Ok(sampling)
	}

	/// The model and inputs to run: as read, or with the `--pin` inputs pinned into the model
	/// (written to `--write-model`) and the others left to run on.
	fn pinned(&self, engine: &Engine, model: Vec<u8>, inputs: Vec<Tensor>) -> sc_cli::Result<(Vec<u8>, Vec<Tensor>)> {
		if self.pin.is_empty() {
			return Ok((model, inputs));
		}
		if let Some(index) = self.pin.iter().find(|&&index| index >= inputs.len()) {
			return Err(format!("--pin {index}: the input file has {} inputs", inputs.len()).into());
		}
		let (mut values, mut rest) = (Vec::with_capacity(inputs.len()), Vec::new());
		for (index, input) in inputs.into_iter().enumerate() {
			if self.pin.contains(&index) {
				values.push(Some(input));
			} else {
				values.push(None);
				rest.push(input);
			}
		}
		let pinned =
			engine.pin_inputs(&model, &values).map_err(|e| engine_error(engine, "pinning the inputs failed", e))?;
		if let Some(path) = &self.write_model {
			std::fs::write(path, &pinned).map_err(|e| format!("writing {}: {e}", path.display()))?;
		}
		Ok((pinned, rest))
	}
}

fn engine_error(engine: &Engine, context: &str, error: RunError) -> sc_cli::Error {
	match engine.unavailable_reason() {
		Some(reason) => format!("{context}: {error} ({error:?}): {reason}").into(),
		None => format!("{context}: {error} ({error:?})").into(),
	}
}

struct Report {
	model_hash: veriml_inference_primitives::ModelHash,
	model_len: usize,
	info_nodes: u32,
	/// Registration must prepare the model, and run it once, within the chain's
	/// `RegistrationFuelLimit` each.
	fuel_to_prepare: u64,
	fuel_zero_input: u64,
	/// The inputs pinned into the model (the model hash is the pinned file's).
	pinned: Vec<usize>,
	input_hash: veriml_inference_primitives::H256,
	result: veriml_inference_primitives::H256,
	execution: Execution,
	timings: Option<Timings>,
}

impl Report {
	fn print(&self) {
		println!("model         {:?} ({} bytes, {} ONNX nodes)", self.model_hash, self.model_len, self.info_nodes);
		if !self.pinned.is_empty() {
			println!("pinned        inputs {:?} of the input file, into the model above", self.pinned);
		}
		println!("engine        version {ENGINE_VERSION}, guest {:?}", veriml_engine::guest_hash());
		println!("input hash    {:?}", self.input_hash);
		for (index, output) in self.execution.outputs.iter().enumerate() {
			println!("output {index:<6} {}", describe(output));
		}
		println!(
			"fuel          {} (all-zero input: {}; preparing the model: {})",
			self.execution.fuel_used, self.fuel_zero_input, self.fuel_to_prepare
		);
		println!("result hash   {:?}", self.result);
		if let Some(timings) = &self.timings {
			println!(
				"median time   {:.3} ms to check the model (prepare and a trial run), {:.3} ms a prepared run",
				timings.inspect_ms, timings.run_ms
			);
		}
	}

	fn to_json(&self) -> serde_json::Value {
		serde_json::json!({
			"model_hash": format!("{:?}", self.model_hash),
			"model_bytes": self.model_len,
			"onnx_nodes": self.info_nodes,
			"pinned_inputs": self.pinned,
			"engine_version": ENGINE_VERSION,
			"engine_guest_hash": format!("{:?}", veriml_engine::guest_hash()),
			"input_hash": format!("{:?}", self.input_hash),
			"outputs": self.execution.outputs.iter().map(tensor_to_json).collect::<Vec<_>>(),
			"fuel_used": self.execution.fuel_used,
			"fuel_all_zero_input": self.fuel_zero_input,
			"fuel_to_prepare": self.fuel_to_prepare,
			"result_hash": format!("{:?}", self.result),
			"inspect_ms_median": self.timings.as_ref().map(|t| t.inspect_ms),
			"run_ms_median": self.timings.as_ref().map(|t| t.run_ms),
		})
	}
}
