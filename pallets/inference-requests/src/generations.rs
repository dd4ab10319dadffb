//! Generation requests: a decoder asked for tokens after a prompt, answered by its assigned
//! node with the tokens and the hash of the decoder's state after every step, and verified
//! optimistically, a dispute judged by one step.
//!
//! A generation is a request ([`Requests`]) with what it asks in [`Generations`]: its fee and
//! receipt deposit held, its nodes drawn, its lapses and expiry as any request's (a silent node
//! is replaced but not struck: see [`Pallet::reject`]). When its first nodes are drawn, the seed
//! its sampling draws from is drawn with them, from the same randomness. The node answers with
//! [`submit_generation`](Pallet::submit_generation): the tokens and every step's state hash,
//! all published, so that anyone who generated the same request finds the first step where
//! its own hashes differ (or, where that step fed a token, the token) by comparing, without a
//! round on chain. [`challenge_generation`](Pallet::challenge_generation) brings that link
//! ([`StepChallenge`]) with the answer's own state before it, proven against the answer's root,
//! and the runtime judges it in the same transaction with at most one step of the decoder
//! ([`judge`]): a wrong answer strikes its node and the request goes to another node; an answer
//! unchallenged through [`Config::GenerationChallengePeriod`] settles: the fee for the tokens
//! and steps made is paid, the rest refunded, and its receipt kept by verification.

use crate::{
	impls::{Opened, TermsOf},
	*,
};
use alloc::vec::Vec;
use frame_support::{
	dispatch::{DispatchErrorWithPostInfo, PostDispatchInfo},
	pallet_prelude::*,
};
use frame_system::pallet_prelude::*;
use sp_runtime::{traits::Saturating, SaturatedConversion};
use veriml_inference_primitives::{
	generation::{generation_hash, steps_root, GenerationTerms, Sampling, StepFault, TokenId},
	output_hash, DType, EngineVersion, ModelHash, Tensor, TensorSpec, H256,
};
use veriml_primitives::{
	escrow::Escrow,
	generation::{judge, ChallengeError, GenerationAnswer, SamplingChoice, StepChallenge},
	models::{decoder_step_preparation_limit, encoded_outputs_len, DecoderSpec, ModelCatalog, Verification},
	nodes::BondedNodes,
	verification::{Job, Outcome, ResultVerifier},
};

/// An open generation as an inference node's off-chain worker runs it: its terms, its
/// decoder's, and its sampling with the seed drawn.
pub(crate) struct GenerationToRun<T: Config> {
	pub generation: GenerationOf<T>,
	pub decoder: DecoderSpec,
	pub sampling: Sampling,
}

impl<T: Config> Pallet<T> {
	/// Checks a generation request of `model` and opens it; returns its id.
	pub(crate) fn create_generation(
		requester: T::AccountId,
		model: ModelHash,
		prompt: Vec<TokenId>,
		max_tokens: u32,
		stop_tokens: Vec<TokenId>,
		sampling: SamplingChoice,
		max_fee: BalanceOf<T>,
	) -> Result<RequestId, DispatchError> {
		let terms = Self::requestable(&model)?;
		let decoder = T::Models::decoder(&model).ok_or(Error::<T>::NotADecoder)?;
		ensure!(!prompt.is_empty() && max_tokens > 0, Error::<T>::EmptyGeneration);
		let fed_and_chosen = (prompt.len() as u64).saturating_add(max_tokens.into());
		ensure!(
			fed_and_chosen <= u64::from(decoder.context_length.min(T::MaxGenerationTokens::get())),
			Error::<T>::GenerationTooLong
		);
		ensure!(prompt.iter().all(|token| *token < decoder.vocabulary), Error::<T>::TokenOutsideVocabulary);
		sampling.check().map_err(|_| Error::<T>::InvalidSampling)?;
		let prompt: BoundedVec<_, _> = prompt.try_into().map_err(|_| Error::<T>::GenerationTooLong)?;
		let stop_tokens: BoundedVec<_, _> = stop_tokens.try_into().map_err(|_| Error::<T>::TooManyStopTokens)?;
		let fuel_limit = Self::fuel_limit(&terms)?;
		// A dispute runs one step from a state the challenge carries: the decoder's outputs
		// at its last step are the largest, read and hashed as a request's inputs are.
		let state_bytes = terms.output_bytes;
		ensure!(
			state_bytes <= T::MaxInputBytes::get() && Self::verifiable(&terms, state_bytes, fuel_limit),
			Error::<T>::ModelTooCostlyToVerify
		);
		let steps = Self::most_steps(prompt.len() as u32, max_tokens);
		let fee = Self::generation_fee(terms.price_per_inference, fuel_limit, max_tokens, steps);
		let prompt_tokens = prompt.len() as u32;
		let generation = GenerationRequest { prompt, max_tokens, stop_tokens, sampling, seed: None };
		let opened = Opened {
			input_hash: Self::generation_request_hash(&generation),
			input_bytes: 0,
			fee,
			fuel_limit,
			fuel_to_prepare: terms.fuel_to_prepare,
			verification: Verification::Optimistic,
			receipt_deposit: Self::generation_receipt_deposit(prompt_tokens, max_tokens, steps),
		};
		let id = Self::open(requester, model, opened, max_fee)?;
		Generations::<T>::insert(id, generation);
		Self::deposit_event(Event::GenerationRequested { request: id, model, prompt_tokens, max_tokens });
		Ok(id)
	}

	/// The most steps a generation of `max_tokens` after `prompt_tokens` takes: one per token
	/// fed, the prompt's and every generated token but the last.
	pub(crate) fn most_steps(prompt_tokens: u32, max_tokens: u32) -> u32 {
		prompt_tokens.saturating_add(max_tokens).saturating_sub(1)
	}

	/// The fee of a generation of `tokens` tokens in `steps` steps of a decoder priced
	/// `price_per_token`, each step run within `fuel_limit`: the price per token, one
	/// execution fee for the fuel of every step, and the protocol's share.
	pub fn generation_fee(
		price_per_token: BalanceOf<T>,
		fuel_limit: Fuel,
		tokens: u32,
		steps: u32,
	) -> Fee<BalanceOf<T>> {
		let price: BalanceOf<T> = price_per_token.saturating_mul(tokens.into());
		Self::fee(price, fuel_limit.saturating_mul(steps.into()))
	}

	/// What a generation of at most `max_tokens` tokens after `prompt_tokens` in `steps` steps
	/// holds for what it keeps in state: its prompt (while open), its answer (tokens and step
	/// hashes, through the challenge window) and its receipt (the tokens and the steps' root).
	pub(crate) fn generation_receipt_deposit(prompt_tokens: u32, max_tokens: u32, steps: u32) -> BalanceOf<T> {
		let kept = encoded_outputs_len(&Self::generation_output_specs(max_tokens));
		let bytes = kept
			.saturating_add(u64::from(steps).saturating_mul(32))
			.saturating_add(4 * u64::from(max_tokens))
			.saturating_add(4 * u64::from(prompt_tokens));
		Self::deposit_for_bytes(bytes.saturated_into())
	}

	/// The specs of what a generation's receipt keeps as its outputs: its `tokens` tokens
	/// (i64) and the root over its steps (32 bytes).
	fn generation_output_specs(tokens: u32) -> [TensorSpec; 2] {
		[TensorSpec::new(DType::I64, &[tokens]).expect("rank 1"), TensorSpec::new(DType::U8, &[32]).expect("rank 1")]
	}

	/// What a generation request asks, its seed included where drawn:
	/// `blake2_256(SCALE("veriml/generation", prompt, max_tokens, stop_tokens, sampling, seed))`.
	/// The request's `input_hash` (no seed yet when it is made) and its receipt's (the seed
	/// drawn).
	pub fn generation_request_hash(generation: &GenerationOf<T>) -> H256 {
		H256(sp_io::hashing::blake2_256(
			&(
				b"veriml/generation",
				&generation.prompt,
				generation.max_tokens,
				&generation.stop_tokens,
				generation.sampling,
				generation.seed,
			)
				.encode(),
		))
	}

	/// Draws the sampling seed of generation `id`, if it is one without a seed, from the seed
	/// its first nodes were drawn from (the block's randomness, unknown when it was made).
	pub(crate) fn draw_sampling_seed(id: RequestId, assignment_seed: &[u8; 32]) {
		Generations::<T>::mutate(id, |generation| {
			if let Some(generation) = generation.as_mut().filter(|generation| generation.seed.is_none()) {
				let seed = sp_io::hashing::blake2_256(&(b"veriml/sample", assignment_seed).encode());
				generation.seed = Some(seed);
				Self::deposit_event(Event::SamplingSeedDrawn { request: id, seed });
			}
		});
	}

	/// The sampling of `generation`: its choice with its seed (zeros before it is drawn).
	pub(crate) fn sampling_of(generation: &GenerationOf<T>) -> Sampling {
		generation.sampling.with_seed(generation.seed.unwrap_or_default())
	}

	/// `generation`'s request with `tokens` and the root over its steps, as a challenge is
	/// judged against it.
	fn answer_view<'a>(generation: &'a GenerationOf<T>, tokens: &'a [TokenId], root: H256) -> GenerationAnswer<'a> {
		GenerationAnswer {
			prompt: &generation.prompt,
			sampling: Self::sampling_of(generation),
			max_tokens: generation.max_tokens,
			stop_tokens: &generation.stop_tokens,
			tokens,
			steps_root: root,
		}
	}

	/// What an answer of `node` to generation `id` must be before it is proposed: from a node
	/// assigned to the open generation (its seed drawn), computed with the chain's engine guest,
	/// its tokens of the request's shape, one step hash per token fed. Returns the request, the generation and the steps' root.
	pub(crate) fn check_generation_answer(
		node: &T::AccountId,
		id: RequestId,
		tokens: &[TokenId],
		steps: &[H256],
		engine_version: EngineVersion,
	) -> Result<(RequestOf<T>, GenerationOf<T>, H256), DispatchError> {
		let request = Self::open_request(id)?;
		let generation = Generations::<T>::get(id).ok_or(Error::<T>::NotAGeneration)?;
		ensure!(request.assigned.contains(node), Error::<T>::NotAssigned);
		// Its step hashes do not name the guest that computed them: the node says which, and
		// an answer computed before a switch of guest (landing after it) is refused, not judged
		// by a guest whose states may differ.
		ensure!(engine_version == T::Models::engine_versions().0, Error::<T>::ComputedWithReplacedEngine);
		ensure!(generation.seed.is_some(), Error::<T>::SeedNotDrawn);
		let root = steps_root(steps);
		let answer = Self::answer_view(&generation, tokens, root);
		answer.check_shape().map_err(|_| Error::<T>::AnswerNotOfShape)?;
		ensure!(steps.len() as u64 == u64::from(answer.step_count()), Error::<T>::StepsDoNotMatchTokens);
		Ok((request, generation, root))
	}

	/// Whether `origin`'s answer to generation `request` is sent without a transaction fee: an
	/// active node's answer that passes [`check_generation_answer`](Self::check_generation_answer)
	/// (a wrong one passes: it is challenged, and its node struck).
	pub fn answers_generation_without_fee(
		origin: &OriginFor<T>,
		id: RequestId,
		tokens: &[TokenId],
		steps: &[H256],
		engine_version: EngineVersion,
	) -> bool {
		let Ok(node) = ensure_signed(origin.clone()) else { return false };
		T::Nodes::is_active(&node) && Self::check_generation_answer(&node, id, tokens, steps, engine_version).is_ok()
	}

	/// Proposes `node`'s answer to generation `id`: kept, with its window, until it settles or
	/// a challenge shows it wrong.
	pub(crate) fn propose_generation(
		node: T::AccountId,
		id: RequestId,
		tokens: Vec<TokenId>,
		steps: Vec<H256>,
		engine_version: EngineVersion,
	) -> DispatchResult {
		let (request, _, steps_root) = Self::check_generation_answer(&node, id, &tokens, &steps, engine_version)?;
		// Both fit: at most `max_tokens` tokens, and steps one fewer than the prompt's and the
		// tokens' together, which the request checked against `MaxGenerationTokens`.
		let bounded_tokens = BoundedVec::try_from(tokens.clone()).map_err(|_| Error::<T>::AnswerNotOfShape)?;
		let steps = BoundedVec::try_from(steps).map_err(|_| Error::<T>::StepsDoNotMatchTokens)?;
		let now = frame_system::Pallet::<T>::block_number();
		let settles_at = now.saturating_add(T::GenerationChallengePeriod::get()).max(now.saturating_add(1u32.into()));
		GenerationAnswers::<T>::insert(
			id,
			GenerationAnswerOf {
				node: node.clone(),
				tokens: bounded_tokens,
				steps,
				steps_root,
				engine_version,
				settles_at,
			},
		);
		GenerationWindows::<T>::insert(settles_at, id, ());
		Self::await_verdict(id, request);
		Self::deposit_event(Event::GenerationProposed {
			request: id,
			node,
			tokens,
			steps_root,
			challenge_until: settles_at,
		});
		Ok(())
	}

	/// Judges `challenger`'s `challenge` of generation `id`'s answer with at most one step of
	/// its decoder: a wrong answer's node is struck and the request reopened; an answer that
	/// holds at the link refuses the challenge (`AnswerUpheld`), which pays for the judgement.
	pub(crate) fn judge_generation(
		challenger: T::AccountId,
		id: RequestId,
		challenge: StepChallenge,
	) -> DispatchResultWithPostInfo {
		let request = Self::open_request(id)?;
		let generation = Generations::<T>::get(id).ok_or(Error::<T>::NotAGeneration)?;
		let answer = GenerationAnswers::<T>::get(id).ok_or(Error::<T>::NoAnswerToChallenge)?;
		let terms = T::Models::terms(&request.model).ok_or(Error::<T>::UnknownModel)?;
		let DecoderSpec { layout, step_preparation_limit, .. } =
			T::Models::decoder(&request.model).ok_or(Error::<T>::NotADecoder)?;
		// Computed with a guest the chain has replaced since: the chain's guest cannot judge it
		// (its states may differ bit for bit), so its node computes it again, unpunished.
		if answer.engine_version != T::Models::engine_versions().0 {
			Self::recompute_generation(id, request, answer);
			return Ok(PostDispatchInfo {
				actual_weight: Some(Self::judgement_base_weight(challenge.encoded_size() as u32)),
				pays_fee: Pays::No,
			});
		}
		let view = Self::answer_view(&generation, &answer.tokens, answer.steps_root);
		let mut ran = false;
		let judgement = judge(&layout, &view, &challenge, |specs, inputs| {
			ran = true;
			Self::run_step(id, &request, step_preparation_limit, specs.to_vec(), inputs, &answer.node)
		})
		.map_err(|error| match error {
			ChallengeError::NoSuchStep => Error::<T>::NoSuchStep,
			ChallengeError::NoSuchToken => Error::<T>::NoSuchToken,
			ChallengeError::StateNotTheAnswers => Error::<T>::StateNotTheAnswers,
			ChallengeError::LeafNotTheAnswers => Error::<T>::LeafNotTheAnswers,
			ChallengeError::NotADecoderState => Error::<T>::NotADecoderState,
		})?;
		// A run the engine refused reports no fuel: charged at the step's limit.
		let fuel = match (ran, judgement.fuel_used) {
			(false, _) => 0,
			(true, 0) => request.fuel_limit,
			(true, used) => used,
		};
		let mut weight = Self::judgement_base_weight(challenge.encoded_size() as u32);
		if ran {
			// Each step's cache length is a shape of its own, prepared apart: always charged.
			weight.saturating_accrue(Self::fuel_weight(fuel).saturating_add(Self::step_preparation_weight(terms)));
		}
		if !judgement.answer_wrong {
			return Err(DispatchErrorWithPostInfo {
				post_info: PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::Yes },
				error: Error::<T>::AnswerUpheld.into(),
			});
		}
		GenerationAnswers::<T>::remove(id);
		GenerationWindows::<T>::remove(answer.settles_at, id);
		Self::refute(id, request, &answer.node, &challenger);
		Self::deposit_event(Event::GenerationRefuted { request: id, node: answer.node, challenger });
		Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::No })
	}

	/// Drops `answer` to generation `id`, computed with an engine guest the chain has replaced
	/// since, without a strike, and opens the request again with a full timeout: its nodes are
	/// drawn at the end of the block (the same node may be drawn; its assignment lapses as any
	/// other's), to compute it with the chain's guest.
	pub(crate) fn recompute_generation(id: RequestId, mut request: RequestOf<T>, answer: AnswerOf<T>) {
		GenerationAnswers::<T>::remove(id);
		GenerationWindows::<T>::remove(answer.settles_at, id);
		let now = frame_system::Pallet::<T>::block_number();
		request.deadline = now.saturating_add(T::RequestTimeout::get());
		Deadlines::<T>::insert(request.deadline, id, ());
		request.status = RequestStatus::Pending;
		Undrawn::<T>::insert(id, DrawSalt::Made(id));
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::GenerationRecomputed { request: id, node: answer.node });
	}

	/// Settles the generations whose window ends at the start of block `now`; returns the
	/// weight used.
	pub(crate) fn settle_generations(now: BlockNumberFor<T>) -> Weight {
		let due: Vec<RequestId> = GenerationWindows::<T>::iter_key_prefix(now).collect();
		let mut weight = T::DbWeight::get().reads(1);
		for id in due {
			GenerationWindows::<T>::remove(now, id);
			weight.saturating_accrue(Self::settle_generation_weight());
			let (Some(answer), Some(request), Some(generation)) =
				(GenerationAnswers::<T>::take(id), Requests::<T>::get(id), Generations::<T>::get(id))
			else {
				continue;
			};
			// An open request's model stays registered (the registry refuses to remove it): were
			// it gone, the request is closed and refunded rather than left waiting for nothing.
			let Some(terms) = T::Models::terms(&request.model) else {
				frame_support::defensive!("a generation's decoder is gone before its settlement");
				let refunded = Self::close_without_receipt(id, &request);
				Self::deposit_event(Event::Abandoned { request: id, refunded });
				continue;
			};
			// Computed with a guest replaced during its window: its receipt would name a guest
			// that did not compute it, and no challenge could have been judged.
			if answer.engine_version != T::Models::engine_versions().0 {
				Self::recompute_generation(id, request, answer);
				continue;
			}
			Self::settle_generation(id, &request, &generation, answer, &terms.owner, terms.price_per_inference);
		}
		weight
	}

	/// Pays the fee of generation `id`'s unchallenged `answer` for the tokens and steps it
	/// made, keeps its receipt and closes it (the rest of the fee refunded).
	fn settle_generation(
		id: RequestId,
		request: &RequestOf<T>,
		generation: &GenerationOf<T>,
		answer: AnswerOf<T>,
		owner: &T::AccountId,
		price_per_token: BalanceOf<T>,
	) {
		let tokens = answer.tokens.len() as u32;
		let steps = answer.steps.len() as u32;
		let made = Self::generation_fee(price_per_token, request.fuel_limit, tokens, steps);
		// Never more than was held for `max_tokens`.
		let fee = Fee {
			model_price: made.model_price.min(request.fee.model_price),
			execution: made.execution.min(request.fee.execution),
			protocol: made.protocol.min(request.fee.protocol),
		};
		let operator = T::Nodes::operator(&answer.node).unwrap_or_else(|| answer.node.clone());
		let _ = T::Escrow::pay(id, &operator, fee.execution);
		let _ = T::Escrow::pay(id, &T::ProtocolAccount::get(), fee.protocol);
		let _ = T::Escrow::pay(id, owner, fee.model_price);

		let sampling = Self::sampling_of(generation);
		let result_hash = generation_hash(
			answer.engine_version,
			&request.model,
			&generation.prompt,
			sampling,
			generation.max_tokens,
			&generation.stop_tokens,
			&answer.tokens,
			&answer.steps_root,
		);
		let ids: Vec<i64> = answer.tokens.iter().map(|token| i64::from(*token)).collect();
		let outputs = alloc::vec![
			Tensor {
				dtype: DType::I64,
				shape: alloc::vec![tokens],
				data: ids.iter().flat_map(|id| id.to_le_bytes()).collect(),
			},
			Tensor { dtype: DType::U8, shape: alloc::vec![32], data: answer.steps_root.as_bytes().to_vec() },
		];
		let outcome = Outcome::Outputs { output_hash: output_hash(&outputs), result_hash };
		T::Verifier::keep_receipt(
			id,
			request.model,
			Self::generation_request_hash(generation),
			answer.node.clone(),
			outcome,
			outputs,
		);
		Self::close(id, request);
		Self::deposit_event(Event::GenerationCompleted {
			request: id,
			node: answer.node,
			tokens: answer.tokens.into_inner(),
			steps_root: answer.steps_root,
			result_hash,
			fee,
		});
	}

	/// `generate`'s weight: a request's (its prompt and stop tokens read as its inputs would
	/// be), what the benchmark does not cover, and the decoder's terms read.
	pub(crate) fn generate_weight(prompt_tokens: usize, stop_tokens: usize) -> Weight {
		let bytes = prompt_tokens.saturating_add(stop_tokens).saturating_mul(4).saturated_into::<u32>();
		T::WeightInfo::request(bytes)
			.saturating_add(Self::unbenchmarked_weight())
			.saturating_add(T::DbWeight::get().reads_writes(2, 1))
	}

	/// `submitGeneration`'s weight: a submission's with its tokens and step hashes read and
	/// hashed into their root (a Merkle tree hashes about twice the leaves' bytes), its answer
	/// and window written; and its settlement at the start of a later block, which no other
	/// call pays for (so the answers of one block settle within the weight they paid).
	pub(crate) fn submit_generation_weight(tokens: usize, steps: usize) -> Weight {
		let bytes = tokens.saturating_mul(4).saturating_add(steps.saturating_mul(32 * 3)).saturated_into::<u32>();
		T::WeightInfo::submit_result(bytes)
			.saturating_add(Self::unbenchmarked_weight())
			.saturating_add(T::DbWeight::get().reads_writes(3, 3))
			.saturating_add(Self::settle_generation_weight())
	}

	/// A challenge's weight before its step's run: reading the request, its generation, its
	/// answer and the decoder's terms; the evidence (`evidence_bytes`) read, its state hashed
	/// and its proofs checked (about twice its bytes); striking the node and reassigning the
	/// request as a refuted failure report does.
	fn judgement_base_weight(evidence_bytes: u32) -> Weight {
		T::WeightInfo::report_failure()
			.saturating_add(Self::unbenchmarked_weight())
			.saturating_add(Self::input_weight(evidence_bytes.saturating_mul(2)))
			.saturating_add(T::DbWeight::get().reads_writes(5, 3))
	}

	/// The most `challengeGeneration` of request `id` with `challenge` weighs: its judgement
	/// and one step of the decoder at the request's fuel limit, prepared for the step's cache.
	pub(crate) fn challenge_generation_weight(id: RequestId, challenge: &StepChallenge) -> Weight {
		let base = Self::judgement_base_weight(challenge.encoded_size() as u32);
		let Some(request) = Requests::<T>::get(id) else { return base };
		let Some(terms) = T::Models::terms(&request.model) else { return base };
		base.saturating_add(Self::fuel_weight(request.fuel_limit)).saturating_add(Self::step_preparation_weight(terms))
	}

	/// Preparing a step of the decoder of `terms` in an engine that has not prepared that
	/// step's cache length: its bytes read and, at most, its step preparation limit's fuel (a
	/// preparation that would take more is stopped there and refused).
	fn step_preparation_weight(terms: TermsOf<T>) -> Weight {
		let fuel_to_prepare = decoder_step_preparation_limit(terms.fuel_to_prepare);
		Self::preparation_weight(&TermsOf::<T> { fuel_to_prepare, ..terms })
	}

	/// Settling one generation: paying its fee (as a verified submission with its tokens and
	/// root), keeping its receipt and closing it.
	fn settle_generation_weight() -> Weight {
		T::WeightInfo::submit_result(T::MaxGenerationTokens::get().saturating_mul(8).saturating_add(32))
			.saturating_add(Self::unbenchmarked_weight())
			.saturating_add(T::DbWeight::get().reads_writes(4, 4))
	}

	/// Runs one step of generation `id`'s decoder on `inputs` (of `specs`) with the chain's
	/// engine within the request's fuel limit, and its preparation for the step's cache within
	/// `preparation_limit` (the decoder's [`DecoderSpec::step_preparation_limit`]), as
	/// `executor`: as a challenge is judged and as a node's worker generates.
	fn run_step(
		id: RequestId,
		request: &RequestOf<T>,
		preparation_limit: Fuel,
		specs: Vec<TensorSpec>,
		inputs: &[Tensor],
		executor: &T::AccountId,
	) -> Result<veriml_inference_primitives::Execution, veriml_inference_primitives::EngineError> {
		T::Verifier::execute(&Job {
			id,
			model: request.model,
			input_specs: specs,
			inputs: inputs.to_vec(),
			input_hash: request.input_hash,
			fuel_limit: request.fuel_limit,
			preparation_limit: Some(preparation_limit),
			// A step's outputs are its state, never a result: no bound but the fuel's.
			max_output_bytes: u32::MAX,
			executor: executor.clone(),
		})
	}

	/// The decoder terms, seed and sampling of open generation `id`, for an inference node's
	/// off-chain worker: `None` where it is not a generation or its seed is not drawn.
	pub(crate) fn generation_to_run(id: RequestId, request: &RequestOf<T>) -> Option<GenerationToRun<T>> {
		let generation = Generations::<T>::get(id)?;
		generation.seed?;
		let decoder = T::Models::decoder(&request.model)?;
		let sampling = Self::sampling_of(&generation);
		Some(GenerationToRun { generation, decoder, sampling })
	}

	/// Generates `generation` of `request` with the chain's engine, each step within the
	/// request's fuel limit (as a challenge runs it), as `node`: its tokens and step hashes;
	/// with `keep` a step, only up to that step, and the state after it.
	#[allow(clippy::type_complexity)]
	pub(crate) fn run_generation(
		id: RequestId,
		request: &RequestOf<T>,
		to_run: &GenerationToRun<T>,
		node: &T::AccountId,
		keep: Option<u32>,
		on_token: impl FnMut(TokenId),
	) -> Result<
		(veriml_inference_primitives::generation::Generated, Option<Vec<Tensor>>),
		StepFault<Option<veriml_inference_primitives::EngineError>>,
	> {
		use veriml_inference_primitives::generation::generate_steps;
		let GenerationToRun { generation, decoder, sampling } = to_run;
		let sampling = *sampling;
		let terms = GenerationTerms {
			prompt: &generation.prompt,
			max_tokens: generation.max_tokens,
			stop_tokens: &generation.stop_tokens,
			sampling,
		};
		let mut kept = None;
		// `None` as the error: the step kept is run, the loop stops there.
		let run = |step: u32, inputs: &[Tensor], _fuel_left: u64| {
			if keep.is_some_and(|keep| step > keep) {
				return Err(None::<veriml_inference_primitives::EngineError>);
			}
			let specs = decoder.layout.step_specs(step);
			let limit = decoder.step_preparation_limit;
			let execution = Self::run_step(id, request, limit, specs, inputs, node).map_err(Some)?;
			if keep == Some(step) {
				kept = Some(execution.outputs.clone());
			}
			Ok(execution)
		};
		match generate_steps(&decoder.layout, terms, u64::MAX, run, on_token) {
			Ok(generated) => Ok((generated, kept)),
			Err(StepFault::Run { error: None, .. }) if kept.is_some() => Ok((
				veriml_inference_primitives::generation::Generated {
					tokens: Vec::new(),
					stopped: false,
					steps: Vec::new(),
					fuel_used: 0,
				},
				kept,
			)),
			Err(fault) => Err(fault),
		}
	}

	/// Whether every stored generation is consistent: its request open, its seed drawn once
	/// nodes took it, an answer only while its request waits for it, in its window.
	pub(crate) fn check_generations() -> Result<(), sp_runtime::TryRuntimeError> {
		for (id, generation) in Generations::<T>::iter() {
			let request = Requests::<T>::get(id).ok_or("a generation without its request")?;
			ensure!(!generation.prompt.is_empty() && generation.max_tokens > 0, "an empty generation");
			ensure!(
				request.status == RequestStatus::Pending || generation.seed.is_some(),
				"a generation taken by nodes without its seed"
			);
			ensure!(request.input_bytes == 0 && !Inputs::<T>::contains_key(id), "a generation with inputs");
		}
		for (id, answer) in GenerationAnswers::<T>::iter() {
			let request = Requests::<T>::get(id).ok_or("an answer without its request")?;
			ensure!(Generations::<T>::contains_key(id), "an answer to a request that is not a generation");
			ensure!(request.status == RequestStatus::Verifying, "an answer to a request not waiting for it");
			ensure!(GenerationWindows::<T>::contains_key(answer.settles_at, id), "an answer without its window");
			ensure!(
				answer.settles_at > frame_system::Pallet::<T>::block_number(),
				"an answer whose window ended without its settlement"
			);
			ensure!(steps_root(&answer.steps) == answer.steps_root, "an answer whose root is not its steps'");
		}
		for (_, id, ()) in GenerationWindows::<T>::iter() {
			ensure!(GenerationAnswers::<T>::contains_key(id), "a window without its answer");
		}
		Ok(())
	}
}
