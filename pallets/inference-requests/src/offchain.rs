//! The inference node's off-chain worker: computes the requests assigned to the node's `infr`
//! keys and submits their results, signed. (Re-executing other nodes' proposed results of
//! optimistic models and challenging the wrong ones is the verification pallet's worker; the
//! two share the role's lock and nonce records, [`veriml_offchain::inference`].)
//!
//! Restart-safe and exactly-once in effect: a persistent marker per (key, request) records the
//! block a result was submitted in, so a restarted node neither forgets nor re-sends work
//! already in the pool; after `ResubmitAfter` blocks without the request closing, the result is
//! sent again (the transaction may have been dropped). The chain refuses anything that is not
//! the first verified result of an open request it is assigned, so a duplicate costs nothing
//! but its fee. One worker runs at a time (a storage lock), and the worker numbers its own
//! transactions, so many results from one key can enter the same block.

use crate::{pallet::*, RequestId};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::traits::Get;
use frame_system::{offchain::Account, pallet_prelude::BlockNumberFor};
use sp_runtime::{
	offchain::storage::{MutateStorageError, StorageValueRef},
	traits::Saturating,
};
use veriml_inference_primitives::generation::{steps_proof, StepFault, TokenId};
use veriml_inference_primitives::{result_hash, EngineError};
use veriml_offchain::inference::LOG_TARGET;
use veriml_offchain::{inference::WORKER_LOCK, run_with_keys, send_signed, CheckMarker, NonceTracker, NONCE};
use veriml_primitives::{
	generation::{token_stream_key, ProvenState, StepChallenge, StreamEnd, TokenStream},
	models::ModelCatalog,
	nodes::BondedNodes as _,
	verification::ResultVerifier,
};

const SUBMITTED: &[u8] = b"veriml/inference/submitted";

/// Marks a generation's answer a key has checked: the block, and whether it was wrong.
const GENERATION_CHECKED: &[u8] = b"veriml/inference/generation-checked";

/// The requests whose tokens this node streams ([`token_stream_key`]), so that each stream is
/// cleared once its request closes.
pub(crate) const TOKEN_STREAMS: &[u8] = b"veriml/inference/token-streams";

/// How often, at most, a generation's stream is written while it runs (what the RPC polls at):
/// each write is the whole record, so writing at every token of a long generation would write
/// its square.
const STREAM_WRITE_EVERY_MS: u64 = 100;

/// A generation's [`TokenStream`] in the node's off-chain storage, written when it starts, at
/// most every [`STREAM_WRITE_EVERY_MS`] while it runs, and when it ends.
struct TokenStreamWriter {
	id: RequestId,
	key: Vec<u8>,
	stream: TokenStream,
	written_at: sp_core::offchain::Timestamp,
}

impl TokenStreamWriter {
	/// Starts request `id`'s stream again from no tokens, listing it to be cleared.
	fn start(id: RequestId) -> Self {
		list_token_stream(id);
		let mut writer =
			Self { id, key: token_stream_key(id), stream: TokenStream::default(), written_at: Default::default() };
		writer.flush();
		writer
	}

	fn push(&mut self, token: TokenId) {
		self.stream.tokens.push(token);
		if sp_io::offchain::timestamp().diff(&self.written_at).millis() >= STREAM_WRITE_EVERY_MS {
			self.flush();
		}
	}

	/// Writes the run's last tokens and its `end` (none: it stopped, to be tried again).
	fn finish(mut self, end: Option<StreamEnd>) {
		self.stream.end = end;
		self.flush();
		// Listed again: a worker run beside this one (without the lock: it clears closed
		// streams before taking it) may have cleared it while it ran, if its request closed.
		list_token_stream(self.id);
	}

	/// Writes the tokens so far.
	fn flush(&mut self) {
		StorageValueRef::persistent(&self.key).set(&self.stream);
		self.written_at = sp_io::offchain::timestamp();
	}
}

/// Whether a run of generation `id` on this node ended in a failed step (its stream's end).
fn failed_here(id: RequestId) -> bool {
	StorageValueRef::persistent(&token_stream_key(id))
		.get::<TokenStream>()
		.is_ok_and(|stream| stream.is_some_and(|stream| stream.end == Some(StreamEnd::Failed)))
}

/// Lists request `id`'s stream to be cleared once the request closes (compare-and-set, tried
/// again if another worker changed the list meanwhile).
fn list_token_stream(id: RequestId) {
	for _ in 0..3 {
		let listed = StorageValueRef::persistent(TOKEN_STREAMS).mutate(|streams: Result<Option<Vec<RequestId>>, _>| {
			let mut streams = streams.ok().flatten().unwrap_or_default();
			if streams.contains(&id) {
				return Err(());
			}
			streams.push(id);
			Ok(streams)
		});
		if !matches!(listed, Err(MutateStorageError::ConcurrentModification(_))) {
			return;
		}
	}
}

/// Clears the token streams of requests that closed (settled, expired or cancelled): what
/// they streamed is on chain, or void. Run by every worker run, with keys or without (a node
/// whose `infr` key was removed still clears what it streamed).
fn forget_closed_token_streams<T: Config>() {
	let _ = StorageValueRef::persistent(TOKEN_STREAMS).mutate(|streams: Result<Option<Vec<RequestId>>, _>| {
		let streams = streams.ok().flatten().ok_or(())?;
		let (open, closed): (Vec<RequestId>, Vec<RequestId>) =
			streams.into_iter().partition(|id| Requests::<T>::contains_key(id));
		if closed.is_empty() {
			return Err(());
		}
		for id in closed {
			StorageValueRef::persistent(&token_stream_key(id)).clear();
		}
		Ok(open)
	});
}

impl<T: Config> Pallet<T> {
	pub(crate) fn run_offchain_worker(now: BlockNumberFor<T>) {
		// Not an inference node without an `infr` key in the keystore.
		forget_closed_token_streams::<T>();
		run_with_keys::<T, T::AuthorityId>(WORKER_LOCK, 20, 120_000, LOG_TARGET, now, |accounts| {
			for account in &accounts {
				Self::work_for(now, account);
			}
			// One key is enough to challenge; the first active one does.
			if let Some(account) = accounts.iter().find(|account| T::Nodes::is_active(&account.id)) {
				Self::challenge_wrong_generations(now, account);
			}
		});
	}

	fn work_for(now: BlockNumberFor<T>, account: &Account<T>) {
		let node = &account.id;
		let assigned: Vec<RequestId> = Assignments::<T>::iter_key_prefix(node).collect();
		if assigned.is_empty() {
			return;
		}
		if T::Nodes::operator(node).is_none() {
			log::warn!(target: LOG_TARGET, "infr key {node:?} has assignments but is not a registered node");
			return;
		}
		let nonces = NonceTracker::<T>::load(NONCE, node, now, T::ResubmitAfter::get());
		let mut sent = 0u32;

		for id in assigned {
			let marker_key = (SUBMITTED, node, id).encode();
			let marker = StorageValueRef::persistent(&marker_key);
			if let Ok(Some(at)) = marker.get::<BlockNumberFor<T>>() {
				if now < at.saturating_add(T::ResubmitAfter::get()) {
					continue;
				}
				log::info!(target: LOG_TARGET, "request {id}: result sent at block {at:?} has not landed; sending it again");
			}
			let Some(request) = Requests::<T>::get(id) else { continue };
			let started = sp_io::offchain::timestamp();
			if Generations::<T>::contains_key(id) {
				// Not a generation to run yet (its seed is drawn with its nodes, so it is), or
				// not a decoder any more: nothing to answer.
				let Some(to_run) = Self::generation_to_run(id, &request) else { continue };
				// A run of it here failed already: the engine refuses the same step on every
				// run, so it is not run again every block until the assignment lapses (to
				// another node, without a strike). Its stream, which says so, is cleared when
				// the request closes.
				if failed_here(id) {
					continue;
				}
				// Streamed to the node's `veriml_subscribeTokens` as the tokens are chosen.
				let mut stream = TokenStreamWriter::start(id);
				match Self::run_generation(id, &request, &to_run, node, None, |token| stream.push(token)) {
					Ok((generated, _)) => {
						stream.finish(Some(if generated.stopped {
							StreamEnd::StopToken
						} else {
							StreamEnd::MaxTokens
						}));
						log::info!(
							target: LOG_TARGET,
							"request {id}: generated {} tokens in {} steps of model {:?} in {} ms ({} fuel)",
							generated.tokens.len(),
							generated.steps.len(),
							request.model,
							sp_io::offchain::timestamp().diff(&started).millis(),
							generated.fuel_used,
						);
						let call = Call::<T>::submit_generation {
							request: id,
							tokens: generated.tokens,
							steps: generated.steps,
							engine_version: T::Models::engine_versions().0,
						};
						sent += Self::send_answer(call, account, &nonces, &marker, now, id);
					},
					// No failure report for generations yet: the node leaves it (it lapses to
					// another node, without a strike), and does not run it again (`failed_here`).
					Err(fault) => {
						log::warn!(target: LOG_TARGET, "request {id}: the generation stopped: {fault:?}");
						stream.finish(match fault {
							// The model's bytes are not readable here: tried again later, the
							// stream left open (no end yet).
							StepFault::Run { error: Some(EngineError::ModelUnavailable), .. } => None,
							_ => Some(StreamEnd::Failed),
						});
					},
				}
				continue;
			}
			let Some(terms) = T::Models::terms(&request.model) else { continue };
			let job = Self::job_of(id, &request, terms.inputs, node.clone());
			let call = match T::Verifier::execute(&job) {
				Ok(execution) => {
					let hash = result_hash(
						T::Models::engine_versions().0,
						&job.model,
						&request.input_hash,
						&execution.outputs,
					);
					log::info!(
						target: LOG_TARGET,
						"request {id}: ran model {:?} in {} ms ({} fuel), result {hash:?}",
						job.model,
						sp_io::offchain::timestamp().diff(&started).millis(),
						execution.fuel_used,
					);
					Call::<T>::submit_result { request: id, outputs: execution.outputs, result_hash: hash }
				},
				// The model's bytes are not readable here: leave the request for later or for
				// another node. (A fault of this node's engine never reaches here: the host
				// aborts the worker's runtime call instead of answering.)
				Err(error @ EngineError::ModelUnavailable) => {
					log::warn!(target: LOG_TARGET, "request {id}: cannot run the model here: {error:?}");
					continue;
				},
				Err(error) => {
					log::info!(target: LOG_TARGET, "request {id}: the engine refuses the input: {error:?}");
					Call::<T>::report_failure { request: id, error }
				},
			};
			sent += Self::send_answer(call, account, &nonces, &marker, now, id);
		}

		if sent > 0 {
			log::debug!(target: LOG_TARGET, "block {now:?}: sent {sent} results from {node:?}");
		}
	}

	/// Sends `call`, `account`'s answer to request `id`, with the next of `nonces`, and marks
	/// it sent at `now`; returns how many were sent (0 or 1).
	fn send_answer(
		call: Call<T>,
		account: &Account<T>,
		nonces: &NonceTracker<T>,
		marker: &StorageValueRef<'_>,
		now: BlockNumberFor<T>,
		id: RequestId,
	) -> u32 {
		let nonce = nonces.claim();
		match send_signed::<T, T::AuthorityId, _>(call, account, nonce) {
			Ok(()) => {
				marker.set(&now);
				1
			},
			Err(why) => {
				nonces.give_back(nonce);
				log::warn!(target: LOG_TARGET, "request {id}: the answer was not sent: {why:?}");
				0
			},
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Generates the answers in their window that `account`'s node may challenge (not of its
	/// own operator), once each, and challenges each wrong one at its first wrong link.
	fn challenge_wrong_generations(now: BlockNumberFor<T>, account: &Account<T>) {
		let node = &account.id;
		let operator = T::Nodes::operator(node);
		let mut open: Vec<(BlockNumberFor<T>, RequestId)> = GenerationAnswers::<T>::iter()
			.filter(|(_, answer)| T::Nodes::operator(&answer.node) != operator)
			.map(|(id, answer)| (answer.settles_at, id))
			.collect();
		if open.is_empty() {
			return;
		}
		open.sort_by_key(|(until, _)| *until);
		let nonces = NonceTracker::<T>::load(NONCE, node, now, T::ResubmitAfter::get());
		for (_, id) in open {
			let Some(call) = Self::check_generation(now, node, id) else { continue };
			let nonce = nonces.claim();
			if let Err(why) = send_signed::<T, T::AuthorityId, _>(call, account, nonce) {
				nonces.give_back(nonce);
				log::warn!(target: LOG_TARGET, "generation {id}: the challenge was not sent: {why:?}");
			}
		}
	}

	/// Generates request `id` and compares it with its answer (once per key and answer, again
	/// after `ResubmitAfter` blocks if a challenge did not land): the challenge of the answer's
	/// first wrong link, if it has one.
	fn check_generation(now: BlockNumberFor<T>, node: &T::AccountId, id: RequestId) -> Option<Call<T>> {
		let answer = GenerationAnswers::<T>::get(id)?;
		let marker_key = (GENERATION_CHECKED, node, id, answer.steps_root).encode();
		let marker = CheckMarker::due(marker_key, now, T::ResubmitAfter::get())?;
		let request = Requests::<T>::get(id)?;
		let to_run = Self::generation_to_run(id, &request)?;
		let started = sp_io::offchain::timestamp();
		let own = match Self::run_generation(id, &request, &to_run, node, None, |_| {}) {
			Ok((own, _)) => own,
			Err(fault) => {
				log::warn!(target: LOG_TARGET, "generation {id}: cannot generate it here: {fault:?}");
				return None;
			},
		};
		let link = first_wrong_link(
			to_run.generation.prompt.len() as u32,
			&answer.tokens,
			&answer.steps,
			&own.tokens,
			&own.steps,
		);
		log::info!(
			target: LOG_TARGET,
			"generation {id} by {:?}: generated again in {} ms: {}",
			answer.node,
			sp_io::offchain::timestamp().diff(&started).millis(),
			match link {
				None => alloc::string::String::from("right"),
				Some(link) => alloc::format!("WRONG at {link:?}, challenging it"),
			},
		);
		marker.record(now, link.is_some());
		let link = link?;
		// The answer's state after this step, which is this node's (their hashes agree).
		let state_after = |step: u32| -> Option<Vec<veriml_inference_primitives::Tensor>> {
			let (_, state) = Self::run_generation(id, &request, &to_run, node, Some(step), |_| {}).ok()?;
			state
		};
		let proven = |step: u32| -> Option<ProvenState> {
			Some(ProvenState { outputs: state_after(step)?, proof: steps_proof(&answer.steps, step)? })
		};
		let challenge = match link {
			WrongLink::State(step) => StepChallenge::State {
				step,
				before: match step.checked_sub(1) {
					Some(before) => Some(proven(before)?),
					None => None,
				},
				leaf: *answer.steps.get(step as usize)?,
				proof: steps_proof(&answer.steps, step)?,
			},
			WrongLink::Token(index) => StepChallenge::Token {
				index,
				state: proven((to_run.generation.prompt.len() as u32).saturating_sub(1).saturating_add(index))?,
			},
		};
		Some(Call::<T>::challenge_generation { request: id, challenge })
	}
}

/// The first link of an answer that a generation of the same request shows wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WrongLink {
	/// The state after this step (every token it and the steps before it fed agree).
	State(u32),
	/// This token (every state up to the step that chose it agrees).
	Token(u32),
}

/// Where an answer (`tokens`, `steps`) to a generation with a prompt of `prompt` tokens first
/// differs from a right generation of it (`own_tokens`, `own_steps`): the first step whose
/// hash differs up to the step that chose the first differing token, else that token; `None`
/// where they are the same. (An answer of the request's shape cannot end before the right
/// generation or go on after it without a differing token.)
pub(crate) fn first_wrong_link(
	prompt: u32,
	tokens: &[veriml_inference_primitives::generation::TokenId],
	steps: &[veriml_inference_primitives::H256],
	own_tokens: &[veriml_inference_primitives::generation::TokenId],
	own_steps: &[veriml_inference_primitives::H256],
) -> Option<WrongLink> {
	let first_token = (0..tokens.len().max(own_tokens.len())).find(|&i| tokens.get(i) != own_tokens.get(i));
	let last_step = match first_token {
		Some(index) => (prompt as usize).saturating_sub(1).saturating_add(index),
		None => steps.len().max(own_steps.len()).saturating_sub(1),
	};
	if let Some(step) = (0..=last_step).find(|&k| steps.get(k) != own_steps.get(k)) {
		return Some(WrongLink::State(step as u32));
	}
	first_token.map(|index| WrongLink::Token(index as u32))
}
