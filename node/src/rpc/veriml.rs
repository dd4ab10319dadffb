//! `veriml_*` JSON-RPC methods: what a user needs to check what they pay for and what they
//! got without trusting the node that answers — a model's bytes by content hash, and a
//! receipt with a storage proof against a block's state root.
//!
//! Each method calls the runtime's APIs (`InferenceApi`, `ModelsApi`) at the block asked about
//! and turns the answer into JSON: the node decodes no storage item of the runtime, so a runtime
//! upgrade that changes them changes nothing here. The receipt proof reads the one key the
//! runtime names (`InferenceApi::receipt_key`) and proves it against the block's state root.
//! `veriml_subscribeTokens` also reads what the node's own inference worker writes to its
//! off-chain storage as it generates (`veriml_primitives::generation::TokenStream`, a record
//! whose key carries its version).

use std::{marker::PhantomData, sync::Arc};

use codec::{Decode, Encode};
use futures::{future, StreamExt};
use jsonrpsee::{
	core::{async_trait, RpcResult, SubscriptionResult},
	proc_macros::rpc,
	types::ErrorObjectOwned,
	PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink,
};
use pallet_inference_requests::{
	runtime_api::InferenceApi, GenerationAnswerInfo, GenerationInfo, OpenStatus, RequestInfo,
};
use pallet_model_registry::runtime_api::ModelsApi;
use sc_client_api::{Backend, BlockBackend, BlockchainEvents, ProofProvider, StorageProvider};
use sp_api::{ApiError, ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_core::{
	offchain::{storage::OffchainDb, DbExternalities, OffchainDbExt, StorageKind},
	storage::StorageKey,
	Bytes, H256,
};
use sp_runtime::traits::Block as BlockT;
use veriml_engine::tokenizer::Tokenizer;
use veriml_inference_primitives::generation::TokenId;
use veriml_primitives::{
	generation::{token_stream_key, SamplingChoice, StreamEnd, TokenStream},
	requests::{Fee, QuoteError, RequestId},
	verification::{ArchiveError, Outcome},
};
use veriml_runtime::{AccountId, Balance, BlockNumber};

/// The longest text `veriml_tokenize` tokenizes.
const MAX_TOKENIZE_BYTES: usize = 1 << 20;

/// How often `veriml_subscribeTokens` looks for the tokens this node's worker chose.
const TOKEN_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Error codes of the `veriml_*` methods (JSON-RPC `error.code`).
pub mod error_code {
	/// No model with this hash is registered at the block asked about.
	pub const UNKNOWN_MODEL: i32 = 7001;
	/// No receipt for this request is kept at the block asked about.
	pub const UNKNOWN_RECEIPT: i32 = 7002;
	/// The node's state could not be read at the block asked about (unknown or pruned block).
	pub const STATE_UNAVAILABLE: i32 = 7003;
	/// Stored bytes do not hash to their key: the node's database is damaged.
	pub const CORRUPT_STATE: i32 = 7004;
	/// The model is deprecated and takes no new requests.
	pub const MODEL_DEPRECATED: i32 = 7005;
	/// The model costs more fuel than one verification may use.
	pub const MODEL_TOO_COSTLY: i32 = 7006;
	/// No request with this id was ever made (at the block asked about).
	pub const UNKNOWN_REQUEST: i32 = 7007;
	/// The runtime API call failed.
	pub const RUNTIME_API: i32 = 7008;
	/// The node keeps no archive of that block's receipts (it ran without off-chain indexing
	/// then, or synced past that block from a snapshot).
	pub const NOT_ARCHIVED: i32 = 7009;
	/// The block has no leaf in the Merkle Mountain Range of the header asked about (not yet
	/// appended: a block's leaf is appended at the start of the next one; or before the range).
	pub const NOT_IN_RANGE: i32 = 7010;
	/// The node keeps no chunk under this hash (never stored, or stored in blocks whose
	/// bodies it pruned or never synced).
	pub const UNKNOWN_CHUNK: i32 = 7011;
	/// The request is not an open generation at the block asked about (not a generation, or
	/// settled: its receipt is the request's, `veriml_request`).
	pub const NOT_A_GENERATION: i32 = 7012;
}

/// A failed runtime API call: the block's state unavailable (unknown or pruned) as when the
/// methods read storage themselves, anything else as the call's failure.
fn api_error(at: impl core::fmt::Debug, failure: ApiError) -> ErrorObjectOwned {
	match failure {
		ApiError::UnknownBlock(_) => {
			error(error_code::STATE_UNAVAILABLE, format!("state at block {at:?} is unavailable: {failure}"))
		},
		_ => error(error_code::RUNTIME_API, format!("the runtime API call failed at block {at:?}: {failure}")),
	}
}

/// Refuses (7008) a runtime at `at` whose API `A` (named `name`) is older than `needed`, saying
/// what it `lacks`: the methods that call an API's later functions check it first.
fn require_api_version<Block: BlockT, A: sp_api::RuntimeApiInfo + ?Sized>(
	api: &impl ApiExt<Block>,
	at: Block::Hash,
	needed: u32,
	name: &str,
	lacks: &str,
) -> RpcResult<()> {
	let version = api.api_version::<A>(at).map_err(|e| api_error(at, e))?;
	if version.unwrap_or(0) < needed {
		return Err(error(
			error_code::RUNTIME_API,
			format!("the runtime at block {at:?} {lacks} ({name} version {version:?}, {needed} needed)"),
		));
	}
	Ok(())
}

/// The `veriml` namespace.
#[rpc(server)]
pub trait VerimlApi<BlockHash> {
	/// The ONNX bytes of the registered model `model_hash`, as stored on chain at block `at`
	/// (default: the best block). The node checks them against the hash before answering;
	/// the caller can (and should) check again: `blake2_256(bytes) == model_hash`.
	#[method(name = "veriml_modelBytes")]
	fn model_bytes(&self, model_hash: H256, at: Option<BlockHash>) -> RpcResult<Bytes>;

	/// The receipt of inference `request` (SCALE-encoded `veriml_primitives::verification::Receipt`) with a
	/// storage read proof against the state root of block `at` (default: the last finalised
	/// block): `{ at, key, receipt, proof }`. Whoever has that block's header can check it:
	/// the proof's trie nodes lead from the header's `stateRoot` to `key` with value `receipt`.
	#[method(name = "veriml_receiptProof")]
	fn receipt_proof(&self, request: RequestId, at: Option<BlockHash>) -> RpcResult<serde_json::Value>;

	/// The receipt of inference `request` kept in block `verified_in` (its `verifiedIn`), read
	/// from the node's archive, so also after its retention in state, with what proves it
	/// against the Merkle Mountain Range root in the header of block `at` (default: the last
	/// finalised block; a `vmmr` consensus digest item): `{ at, leaf, leafIndex, leafCount,
	/// items, receipt, before, after }`. `leaf` (SCALE `BlockLeaf`: block, block hash, receipt
	/// count, receipt log head) is in the range by the proof `items`; `blake2_256(receipt)`
	/// folded after `before` and followed by the hashes `after` gives the leaf's head. A client
	/// that trusts the header checks it all itself, deriving the leaf's index from the leaf's
	/// block and the range's leaf count at `at` (`mmr.numberOfLeaves`, provable against its
	/// state root), not taking `leafIndex` and `leafCount` on trust.
	#[method(name = "veriml_archivedReceipt")]
	fn archived_receipt(
		&self,
		request: RequestId,
		verified_in: BlockNumber,
		at: Option<BlockHash>,
	) -> RpcResult<serde_json::Value>;

	/// The bytes of the content-store chunk whose blake2-256 is `chunk_hash`, as this node
	/// keeps them beside the block that stored them (indexed transaction data; the chunk hashes
	/// of an item are in `contentStore.itemChunks`). The node checks them against the hash
	/// before answering; the caller can (and should) check again.
	#[method(name = "veriml_contentChunk")]
	fn content_chunk(&self, chunk_hash: H256) -> RpcResult<Bytes>;

	/// What a request of `model` would cost at block `at` (default: the best block):
	/// `{ modelPrice, execution, protocol, total }` in planck, as decimal strings — the fee
	/// `inference.request` holds in escrow (give at least `total` as `max_fee`).
	#[method(name = "veriml_quote")]
	fn quote(&self, model: H256, at: Option<BlockHash>) -> RpcResult<serde_json::Value>;

	/// Where inference `request` stands at block `at` (default: the best block): `status` is
	/// `pending` or `assigned` (open: with model, requester, fee, deadline and assigned nodes),
	/// `completed` or `failed` (verified: with the receipt's fields and, when completed, the
	/// SCALE-encoded outputs), or `closed` (expired, cancelled or abandoned, or its receipt was
	/// pruned after its retention).
	#[method(name = "veriml_request")]
	fn request(&self, request: RequestId, at: Option<BlockHash>) -> RpcResult<serde_json::Value>;

	/// Yields, once, what `veriml_request` answers for `request` at the first finalised block
	/// where it is `completed`, `failed` or `closed` (with `finalizedIn`, that block's hash),
	/// then ends. Refused at once (7007) if the request does not exist at the best block.
	#[subscription(
		name = "veriml_subscribeResult" => "veriml_result",
		unsubscribe = "veriml_unsubscribeResult",
		item = serde_json::Value
	)]
	async fn subscribe_result(&self, request: RequestId) -> SubscriptionResult;

	/// The prompt tokens of `text` for the registered decoder `model` at block `at` (default:
	/// the best block), by its registered `tokenizer.json` as `veriml-node infer --generate`
	/// encodes a prompt (with the special tokens its post-processor adds): `{ tokens,
	/// stopTokens }`, `stopTokens` being the tokenizer's special tokens (where the CLI stops by
	/// default). 7001 if `model` is not a registered decoder at `at`; -32602 for a text above
	/// 1 MiB.
	#[method(name = "veriml_tokenize")]
	fn tokenize(&self, model: H256, text: String, at: Option<BlockHash>) -> RpcResult<serde_json::Value>;

	/// Generation request `request` at block `at` (default: the best block), while it is open:
	/// `{ request, prompt, maxTokens, stopTokens, sampling, seed, answer }`, `answer` being the
	/// node's answer in its challenge window (`{ node, tokens, stepsRoot, engineVersion,
	/// settlesAt }`) or null. Refused with 7007 if no such request was made, with 7012 if it is
	/// not an open generation (once settled, its receipt is the request's: `veriml_request`).
	#[method(name = "veriml_generation")]
	fn generation(&self, request: RequestId, at: Option<BlockHash>) -> RpcResult<serde_json::Value>;

	/// Streams generation `request` as it is made and settled, each item an object with a
	/// `kind`:
	/// - `tokens` (`{ from, tokens, text }`): the tokens this node's inference worker chose,
	///   from index `from` on, as it chooses them, and the text they settle by the decoder's
	///   tokenizer (only where this node generates the request: the node assigned to it; other
	///   nodes stream no tokens);
	/// - `generated` (`{ tokens, end, text }`): its run ended (`end`: `stopToken`,
	///   `maxTokens`, or `failed`: a step was refused and the node does not answer), with the
	///   rest of the text;
	/// - `proposed` (`{ at, answer }`): an answer entered the best block `at` (what the
	///   chain settles on: compare its tokens with the streamed ones); again if a challenge
	///   reopened the request and another answer entered;
	/// - `result`: what `veriml_request` answers at the first finalised block where the
	///   request is `completed` (its outputs the tokens and the steps root), `failed` or
	///   `closed`, with `finalizedIn`; then the stream ends.
	///
	/// Refused at once with 7007 if the request does not exist at the best block, with 7012 if
	/// it is open and not a generation.
	#[subscription(
		name = "veriml_subscribeTokens" => "veriml_tokens",
		unsubscribe = "veriml_unsubscribeTokens",
		item = serde_json::Value
	)]
	async fn subscribe_tokens(&self, request: RequestId) -> SubscriptionResult;
}

/// Implements [`VerimlApiServer`] over a full client.
pub struct Veriml<C, Block: BlockT, BE: Backend<Block>> {
	client: Arc<C>,
	/// The node's off-chain database, given to the runtime API that reads the archive.
	offchain_db: Option<OffchainDb<BE::OffchainStorage>>,
	_marker: PhantomData<(Block, BE)>,
}

impl<C, Block: BlockT, BE: Backend<Block>> Veriml<C, Block, BE> {
	/// The `veriml` methods over `client`, reading the archive from `offchain_storage`.
	pub fn new(client: Arc<C>, offchain_storage: Option<BE::OffchainStorage>) -> Self {
		Self { client, offchain_db: offchain_storage.map(OffchainDb::new), _marker: PhantomData }
	}
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
	ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

impl<C, Block, BE> Veriml<C, Block, BE>
where
	Block: BlockT<Hash = H256>,
	BE: Backend<Block> + 'static,
	C: StorageProvider<Block, BE> + HeaderBackend<Block> + 'static,
{
	fn read(&self, at: Block::Hash, key: Vec<u8>) -> RpcResult<Option<Vec<u8>>> {
		self.client
			.storage(at, &StorageKey(key))
			.map(|value| value.map(|data| data.0))
			.map_err(|e| error(error_code::STATE_UNAVAILABLE, format!("state at block {at:?} is unavailable: {e}")))
	}
}

impl<C, Block, BE> Veriml<C, Block, BE>
where
	Block: BlockT<Hash = H256>,
	BE: Backend<Block> + 'static,
	C: ProvideRuntimeApi<Block> + 'static,
	C::Api: InferenceApi<Block, AccountId, Balance, BlockNumber>,
{
	/// Generation `request` at `at` through `InferenceApi::generation` (version 6).
	fn generation_at(
		&self,
		at: Block::Hash,
		request: RequestId,
	) -> RpcResult<Option<GenerationInfo<AccountId, BlockNumber>>> {
		let api = self.client.runtime_api();
		require_api_version::<Block, dyn InferenceApi<Block, AccountId, Balance, BlockNumber>>(
			&*api,
			at,
			6,
			"InferenceApi",
			"has no generations",
		)?;
		api.generation(at, request).map_err(|e| api_error(at, e))
	}

	/// The registered `tokenizer.json` of decoder `model` at `at`, checked against its hash.
	fn tokenizer_at(&self, at: Block::Hash, model: H256) -> RpcResult<Tokenizer>
	where
		C::Api: ModelsApi<Block, AccountId, Balance, BlockNumber>,
	{
		let api = self.client.runtime_api();
		require_api_version::<Block, dyn ModelsApi<Block, AccountId, Balance, BlockNumber>>(
			&*api,
			at,
			3,
			"ModelsApi",
			"has no decoders",
		)?;
		let not_a_decoder =
			|| error(error_code::UNKNOWN_MODEL, format!("no decoder {model:?} is registered at block {at:?}"));
		let terms = api.decoder(at, model).map_err(|e| api_error(at, e))?.ok_or_else(not_a_decoder)?;
		let bytes = api.tokenizer(at, model).map_err(|e| api_error(at, e))?.ok_or_else(not_a_decoder)?;
		if veriml_inference_primitives::model_hash(&bytes) != terms.tokenizer_hash {
			return Err(error(
				error_code::CORRUPT_STATE,
				format!("the stored tokenizer of decoder {model:?} does not hash to its tokenizer hash"),
			));
		}
		std::str::from_utf8(&bytes)
			.map_err(|e| e.to_string())
			.and_then(Tokenizer::from_json)
			.map_err(|e| error(error_code::RUNTIME_API, format!("the tokenizer of decoder {model:?}: {e}")))
	}

	/// The tokens this node's inference worker has chosen for `request`, if it generates it.
	fn token_stream(&self, request: RequestId) -> Option<TokenStream> {
		let mut db = self.offchain_db.clone()?;
		let bytes = db.local_storage_get(StorageKind::PERSISTENT, &token_stream_key(request))?;
		TokenStream::decode(&mut &bytes[..])
			.inspect_err(
				|e| log::debug!(target: "veriml::rpc", "request {request}'s token stream does not decode: {e}"),
			)
			.ok()
	}
}

fn generation_answer_json(answer: &GenerationAnswerInfo<AccountId, BlockNumber>) -> serde_json::Value {
	serde_json::json!({
		"node": answer.node,
		"tokens": answer.tokens,
		"stepsRoot": answer.steps_root,
		"engineVersion": answer.engine_version,
		"settlesAt": answer.settles_at,
	})
}

fn generation_json(request: RequestId, generation: &GenerationInfo<AccountId, BlockNumber>) -> serde_json::Value {
	let sampling = match generation.sampling {
		SamplingChoice::Greedy => serde_json::json!({ "greedy": null }),
		SamplingChoice::Seeded { temperature_milli, top_k, top_p_micro } => serde_json::json!({
			"seeded": { "temperatureMilli": temperature_milli, "topK": top_k, "topPMicro": top_p_micro },
		}),
	};
	serde_json::json!({
		"request": request,
		"prompt": generation.prompt,
		"maxTokens": generation.max_tokens,
		"stopTokens": generation.stop_tokens,
		"sampling": sampling,
		"seed": generation.seed.map(|seed| Bytes(seed.to_vec())),
		"answer": generation.answer.as_ref().map(generation_answer_json),
	})
}

/// Sends `item` to a subscription's client.
async fn send_json(sink: &SubscriptionSink, item: &serde_json::Value) -> SubscriptionResult {
	sink.send(SubscriptionMessage::from_json(item)?).await?;
	Ok(())
}

/// What `veriml_request` answers for `request` at finalised block `at`, with `finalizedIn`,
/// if it is final there (not yet in that block's state, 7007, counts as not final yet).
fn final_result(rpc: &impl VerimlApiServer<H256>, request: RequestId, at: H256) -> Option<serde_json::Value> {
	let mut answer = rpc.request(request, Some(at)).ok().filter(is_final)?;
	answer["finalizedIn"] = serde_json::json!(at);
	Some(answer)
}

/// Whether `veriml_request`'s `answer` is one that no later block changes.
fn is_final(answer: &serde_json::Value) -> bool {
	matches!(answer["status"].as_str(), Some("completed" | "failed" | "closed"))
}

fn fee_json(fee: &Fee<Balance>) -> serde_json::Value {
	serde_json::json!({
		"modelPrice": fee.model_price.to_string(),
		"execution": fee.execution.to_string(),
		"protocol": fee.protocol.to_string(),
		"total": fee.total().to_string(),
	})
}

#[async_trait]
impl<C, Block, BE> VerimlApiServer<Block::Hash> for Veriml<C, Block, BE>
where
	Block: BlockT<Hash = H256>,
	BE: Backend<Block> + Send + Sync + 'static,
	C: StorageProvider<Block, BE> + ProofProvider<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C: BlockchainEvents<Block> + BlockBackend<Block>,
	C: ProvideRuntimeApi<Block>,
	C::Api: InferenceApi<Block, AccountId, Balance, BlockNumber> + ModelsApi<Block, AccountId, Balance, BlockNumber>,
{
	fn model_bytes(&self, model_hash: H256, at: Option<Block::Hash>) -> RpcResult<Bytes> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let bytes =
			self.client.runtime_api().model_code(at, model_hash).map_err(|e| api_error(at, e))?.ok_or_else(|| {
				error(error_code::UNKNOWN_MODEL, format!("no model {model_hash:?} is registered at block {at:?}"))
			})?;
		if veriml_inference_primitives::model_hash(&bytes) != model_hash {
			return Err(error(
				error_code::CORRUPT_STATE,
				format!("the stored bytes of model {model_hash:?} do not hash to it"),
			));
		}
		Ok(Bytes(bytes))
	}

	fn receipt_proof(&self, request: RequestId, at: Option<Block::Hash>) -> RpcResult<serde_json::Value> {
		let at = at.unwrap_or_else(|| self.client.info().finalized_hash);
		let key = self.client.runtime_api().receipt_key(at, request).map_err(|e| api_error(at, e))?;
		let receipt = self.read(at, key.clone())?.ok_or_else(|| {
			error(
				error_code::UNKNOWN_RECEIPT,
				format!("no receipt for request {request} at block {at:?} (not verified yet, or pruned after its retention)"),
			)
		})?;
		let proof = self
			.client
			.read_proof(at, &mut std::iter::once(key.as_slice()))
			.map_err(|e| error(error_code::STATE_UNAVAILABLE, format!("no proof at block {at:?}: {e}")))?;
		let nodes: Vec<Bytes> = proof.into_iter_nodes().map(Bytes).collect();
		Ok(serde_json::json!({
			"at": at,
			"key": Bytes(key),
			"receipt": Bytes(receipt),
			"proof": nodes,
		}))
	}

	fn archived_receipt(
		&self,
		request: RequestId,
		verified_in: BlockNumber,
		at: Option<Block::Hash>,
	) -> RpcResult<serde_json::Value> {
		let at = at.unwrap_or_else(|| self.client.info().finalized_hash);
		let offchain_db = self.offchain_db.clone().ok_or_else(|| {
			error(error_code::NOT_ARCHIVED, "this node has no off-chain database, so no archive of receipts")
		})?;
		let mut api = self.client.runtime_api();
		require_api_version::<Block, dyn InferenceApi<Block, AccountId, Balance, BlockNumber>>(
			&*api,
			at,
			5,
			"InferenceApi",
			"keeps no receipt archive",
		)?;
		api.register_extension(OffchainDbExt::new(offchain_db));
		let archived = api.archived_receipt(at, request, verified_in).map_err(|e| api_error(at, e))?.map_err(|e| {
			match e {
				ArchiveError::NotInRange => error(
					error_code::NOT_IN_RANGE,
					format!("block #{verified_in} has no leaf in the range of block {at:?} (a block's leaf is appended in the next block)"),
				),
				ArchiveError::NotArchived => error(
					error_code::NOT_ARCHIVED,
					format!("this node keeps no archive of block #{verified_in}'s receipts (it ran without off-chain indexing then)"),
				),
				ArchiveError::NoSuchReceipt => error(
					error_code::UNKNOWN_RECEIPT,
					format!("no receipt of request {request} was kept in block #{verified_in}"),
				),
			}
		})?;
		Ok(serde_json::json!({
			"at": at,
			"leaf": Bytes(archived.leaf.encode()),
			"leafIndex": archived.leaf_index,
			"leafCount": archived.leaf_count,
			"items": archived.items,
			"receipt": Bytes(archived.receipt.encode()),
			"before": archived.before,
			"after": archived.after,
		}))
	}

	fn content_chunk(&self, chunk_hash: H256) -> RpcResult<Bytes> {
		let bytes = self
			.client
			.indexed_transaction(chunk_hash)
			.map_err(|e| error(error_code::STATE_UNAVAILABLE, format!("the node's database could not be read: {e}")))?
			.ok_or_else(|| error(error_code::UNKNOWN_CHUNK, format!("this node keeps no chunk {chunk_hash:?}")))?;
		if veriml_primitives::content::chunk_hash(&bytes) != chunk_hash {
			return Err(error(
				error_code::CORRUPT_STATE,
				format!("the kept bytes of chunk {chunk_hash:?} do not hash to it"),
			));
		}
		Ok(Bytes(bytes))
	}

	fn quote(&self, model: H256, at: Option<Block::Hash>) -> RpcResult<serde_json::Value> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let answer = self.client.runtime_api().quote(at, model).map_err(|e| api_error(at, e))?;
		match answer {
			Ok(fee) => Ok(fee_json(&fee)),
			Err(QuoteError::UnknownModel) => {
				Err(error(error_code::UNKNOWN_MODEL, format!("no model {model:?} is registered at block {at:?}")))
			},
			Err(QuoteError::ModelDeprecated) => Err(error(
				error_code::MODEL_DEPRECATED,
				format!("model {model:?} is deprecated: it takes no new requests"),
			)),
			Err(QuoteError::ModelTooCostlyToVerify) => Err(error(
				error_code::MODEL_TOO_COSTLY,
				format!("model {model:?} needs more fuel than one verification may use"),
			)),
		}
	}

	fn request(&self, request: RequestId, at: Option<Block::Hash>) -> RpcResult<serde_json::Value> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let api = self.client.runtime_api();
		let info = api.request(at, request).map_err(|e| api_error(at, e))?.ok_or_else(|| {
			error(error_code::UNKNOWN_REQUEST, format!("no request {request} was made by block {at:?}"))
		})?;
		match info {
			RequestInfo::Open(open) => {
				let status = match open.status {
					OpenStatus::Pending => "pending",
					OpenStatus::Assigned => "assigned",
					OpenStatus::Proposed => "proposed",
					OpenStatus::Disputed => "disputed",
				};
				let mut answer = serde_json::json!({
					"request": request,
					"status": status,
					"model": open.model,
					"requester": open.requester,
					"inputHash": open.input_hash,
					"fee": fee_json(&open.fee),
					"fuelLimit": open.fuel_limit,
					"assigned": open.assigned,
					"createdAt": open.created_at,
					"deadline": open.deadline,
					"verification": format!("{:?}", open.verification),
				});
				if let Some(proposal) = open.proposal {
					answer["proposal"] = serde_json::json!({
						"node": proposal.node,
						"outcome": format!("{:?}", proposal.outcome),
						"challengeUntil": proposal.challenge_until,
						"challenger": proposal.challenger,
					});
				}
				Ok(answer)
			},
			RequestInfo::Verified(receipt) => {
				let mut answer = serde_json::json!({
					"request": request,
					"model": receipt.model_hash,
					"inputHash": receipt.input_hash,
					"engineVersion": receipt.engine_version,
					"executor": receipt.executor,
					"verifiedIn": receipt.verified_at,
					"verifiedBy": format!("{:?}", receipt.verified_by),
				});
				match receipt.outcome {
					Outcome::Outputs { output_hash, result_hash } => {
						let outputs = api.outputs(at, request).map_err(|e| api_error(at, e))?;
						answer["status"] = "completed".into();
						answer["outputHash"] = serde_json::json!(output_hash);
						answer["resultHash"] = serde_json::json!(result_hash);
						answer["outputs"] =
							serde_json::json!(outputs.map(|outputs| Bytes(codec::Encode::encode(&outputs))));
					},
					Outcome::Failed(engine_error) => {
						answer["status"] = "failed".into();
						answer["error"] = format!("{engine_error:?}").into();
					},
				}
				Ok(answer)
			},
			RequestInfo::Closed => Ok(serde_json::json!({ "request": request, "status": "closed" })),
		}
	}

	async fn subscribe_result(&self, pending: PendingSubscriptionSink, request: RequestId) -> SubscriptionResult {
		let best = self.client.info().best_hash;
		if let Err(refusal) = self.request(request, Some(best)) {
			pending.reject(refusal).await;
			return Ok(());
		}
		// Subscribed before reading the finalised head, so no finalisation is missed between.
		let mut finalized = self.client.finality_notification_stream();
		let sink = pending.accept().await?;
		let mut at = self.client.info().finalized_hash;
		loop {
			if let Some(answer) = final_result(self, request, at) {
				send_json(&sink, &answer).await?;
				return Ok(());
			}
			match future::select(finalized.next(), Box::pin(sink.closed())).await {
				future::Either::Left((Some(notification), _)) => at = notification.hash,
				// The node is shutting down, or the client unsubscribed.
				_ => return Ok(()),
			}
		}
	}

	fn tokenize(&self, model: H256, text: String, at: Option<Block::Hash>) -> RpcResult<serde_json::Value> {
		if text.len() > MAX_TOKENIZE_BYTES {
			return Err(ErrorObjectOwned::owned(
				jsonrpsee::types::error::INVALID_PARAMS_CODE,
				format!("a text of {} bytes: at most {MAX_TOKENIZE_BYTES} are tokenized", text.len()),
				None::<()>,
			));
		}
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		let tokenizer = self.tokenizer_at(at, model)?;
		Ok(serde_json::json!({
			"tokens": tokenizer.encode_with_special_tokens(&text),
			"stopTokens": tokenizer.special_tokens(),
		}))
	}

	fn generation(&self, request: RequestId, at: Option<Block::Hash>) -> RpcResult<serde_json::Value> {
		let at = at.unwrap_or_else(|| self.client.info().best_hash);
		match self.generation_at(at, request)? {
			Some(generation) => Ok(generation_json(request, &generation)),
			None => {
				// 7007 where no such request was made.
				self.request(request, Some(at))?;
				Err(error(
					error_code::NOT_A_GENERATION,
					format!("request {request} is not an open generation at block {at:?}"),
				))
			},
		}
	}

	async fn subscribe_tokens(&self, pending: PendingSubscriptionSink, request: RequestId) -> SubscriptionResult {
		let best = self.client.info().best_hash;
		let open = self.request(request, Some(best)).and_then(|answer| {
			// Settled already: no tokens, its result as soon as it is final (as
			// `veriml_subscribeResult`'s).
			if is_final(&answer) {
				return Ok(None);
			}
			match self.generation_at(best, request)? {
				Some(_) => Ok(Some(answer)),
				None => Err(error(
					error_code::NOT_A_GENERATION,
					format!("request {request} is not an open generation at block {best:?}"),
				)),
			}
		});
		let open = match open {
			Ok(open) => open,
			Err(refusal) => {
				pending.reject(refusal).await;
				return Ok(());
			},
		};
		let settled = open.is_none();
		// The text the tokens settle, where the decoder's tokenizer can be read (not read for a
		// settled request, which streams no tokens).
		let tokenizer = open
			.and_then(|answer| serde_json::from_value(answer["model"].clone()).ok())
			.and_then(|model| self.tokenizer_at(best, model).ok());
		let mut text = tokenizer.as_ref().map(Tokenizer::stream);
		let sink = pending.accept().await?;
		// The tokens sent, the run's end if it was sent, the root of the answer last sent, and
		// the blocks last read.
		let mut sent: Vec<TokenId> = Vec::new();
		let mut ended: Option<StreamEnd> = None;
		let mut proposed = None;
		let mut read = None;
		loop {
			if let Some(stream) = (!settled).then(|| self.token_stream(request)).flatten() {
				// A run started again makes the same tokens, and only those not sent yet are
				// sent; one that does not (TokenStream::restarts) is sent again from its first
				// token, after a `restarted` item.
				if stream.restarts(&sent, ended) {
					send_json(&sink, &serde_json::json!({ "kind": "restarted" })).await?;
					sent.clear();
					ended = None;
					text = tokenizer.as_ref().map(Tokenizer::stream);
				}
				if let Some(new) = stream.tokens.get(sent.len()..).filter(|new| !new.is_empty()) {
					let settled = text.as_mut().map(|text| {
						let bytes: Vec<u8> =
							new.iter().flat_map(|token| text.push(*token).unwrap_or_default()).collect();
						String::from_utf8_lossy(&bytes).into_owned()
					});
					let item =
						serde_json::json!({ "kind": "tokens", "from": sent.len(), "tokens": new, "text": settled });
					send_json(&sink, &item).await?;
					sent.extend_from_slice(new);
				}
				if let Some(end) = stream.end.filter(|_| ended.is_none() && stream.tokens.len() == sent.len()) {
					ended = Some(end);
					let end = match end {
						StreamEnd::StopToken => "stopToken",
						StreamEnd::MaxTokens => "maxTokens",
						StreamEnd::Failed => "failed",
					};
					// The end a later token would have settled (of a clone: a restart may follow).
					let rest = text.clone().map(|text| String::from_utf8_lossy(&text.finish()).into_owned());
					let item =
						serde_json::json!({ "kind": "generated", "tokens": sent.len(), "end": end, "text": rest });
					send_json(&sink, &item).await?;
				}
			}
			let info = self.client.info();
			if read != Some((info.best_hash, info.finalized_hash)) {
				read = Some((info.best_hash, info.finalized_hash));
				let answer = self.generation_at(info.best_hash, request).ok().flatten().and_then(|g| g.answer);
				if let Some(answer) = answer.filter(|answer| proposed != Some(answer.steps_root)) {
					proposed = Some(answer.steps_root);
					let item = serde_json::json!({
						"kind": "proposed",
						"at": info.best_hash,
						"answer": generation_answer_json(&answer),
					});
					send_json(&sink, &item).await?;
				}
				if let Some(mut answer) = final_result(self, request, info.finalized_hash) {
					answer["kind"] = "result".into();
					send_json(&sink, &answer).await?;
					return Ok(());
				}
			}
			let tick = Box::pin(tokio::time::sleep(TOKEN_POLL));
			if let future::Either::Right(_) = future::select(tick, Box::pin(sink.closed())).await {
				// The node is shutting down, or the client unsubscribed.
				return Ok(());
			}
		}
	}
}
