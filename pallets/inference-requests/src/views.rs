//! Requests as clients read them: the runtime API, its views, and the reads behind them.

use crate::*;
use alloc::vec::Vec;
use frame_system::pallet_prelude::*;
use veriml_inference_primitives::generation::TokenId;
use veriml_primitives::verification::ResultVerifier;

/// The runtime API clients (and the node's `veriml_*` RPC methods) read requests through.
pub mod runtime_api {
	use super::{Fee, GenerationInfo, QuoteError, RequestId, RequestInfo};
	use alloc::vec::Vec;
	use veriml_inference_primitives::{ModelHash, Tensor, H256};
	use veriml_primitives::verification::{ArchiveError, ArchivedReceipt};

	sp_api::decl_runtime_apis! {
		/// Inference requests as clients see them: what one costs, where it stands, its
		/// receipt and outputs. Version 2 added `request`, `outputs` and `receipt_key`;
		/// version 3 (spec 110) reads an open request's proposal from verification, with the
		/// model and input hash it answers (statuses as before); version 4 (spec 113) added
		/// `assignments`; version 5 (spec 114) added `archived_receipt`; version 6 (spec 133)
		/// added `generation`.
		#[api_version(4)]
		pub trait InferenceApi<AccountId, Balance, BlockNumber>
		where
			AccountId: codec::Codec,
			Balance: codec::Codec,
			BlockNumber: codec::Codec,
		{
			/// What a request of `model` costs now (held in escrow when it is made), or why
			/// it cannot be requested.
			fn quote(model: ModelHash) -> Result<Fee<Balance>, QuoteError>;
			/// Where request `request` stands: open (pending, assigned, proposed or
			/// disputed), verified (its receipt: completed or failed), or closed; `None` if
			/// no request with this id was made.
			fn request(request: RequestId) -> Option<RequestInfo<AccountId, Balance, BlockNumber>>;
			/// The outputs of `request`'s verified result, while its receipt is retained.
			fn outputs(request: RequestId) -> Option<Vec<Tensor>>;
			/// The storage key of `request`'s receipt: what a read proof of it against a
			/// block's state root proves (`veriml_receiptProof`).
			fn receipt_key(request: RequestId) -> Vec<u8>;
			/// The requests assigned to `node` that it has not answered yet (what its off-chain
			/// worker has still to compute), in id order.
			#[api_version(4)]
			fn assignments(node: AccountId) -> Vec<RequestId>;
			/// The receipt of `request` kept in block `verified_in`, read from the node's
			/// archive (its off-chain database: call with `OffchainDbExt` registered), with the
			/// proof of its block's leaf in the Merkle Mountain Range whose root this block's
			/// header carries: what proves a receipt after its retention in state.
			#[api_version(5)]
			fn archived_receipt(
				request: RequestId,
				verified_in: BlockNumber,
			) -> Result<ArchivedReceipt<RequestId, AccountId, BlockNumber, H256>, ArchiveError>;
			/// Generation request `request`'s terms and its answer, while it is open; `None`
			/// if it is not an open generation (its receipt, once settled, is `request`'s).
			#[api_version(6)]
			fn generation(request: RequestId) -> Option<GenerationInfo<AccountId, BlockNumber>>;
		}
	}
}

/// Where a request stands, as clients read it ([`runtime_api::InferenceApi::request`]): a view
/// kept apart from the storage items it is read from, so that they may change without it.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub enum RequestInfo<AccountId, Balance, BlockNumber> {
	/// Not verified yet.
	Open(OpenRequest<AccountId, Balance, BlockNumber>),
	/// Verified: completed with outputs or failed with the engine's error, as the receipt's
	/// outcome says.
	Verified(veriml_primitives::verification::Receipt<RequestId, AccountId, BlockNumber>),
	/// Expired, cancelled or abandoned, or verified and its receipt pruned after its retention.
	Closed,
}

/// Where a request not verified yet stands, as clients read it.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo)]
pub enum OpenStatus {
	/// No node serving the model was available; assigned as soon as one is.
	Pending,
	/// Assigned to nodes that are computing it.
	Assigned,
	/// An optimistic model's result was proposed and waits through its challenge window.
	Proposed,
	/// The proposed result was challenged; the chain re-executes it to decide.
	Disputed,
}

/// A request not verified yet, as clients read it.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct OpenRequest<AccountId, Balance, BlockNumber> {
	/// Pending, assigned, proposed or disputed.
	pub status: OpenStatus,
	/// The model to run.
	pub model: veriml_inference_primitives::ModelHash,
	/// Who pays.
	pub requester: AccountId,
	/// `blake2_256(SCALE(inputs))`.
	pub input_hash: sp_core::H256,
	/// The fee held in escrow.
	pub fee: Fee<Balance>,
	/// Most engine fuel one execution may use.
	pub fuel_limit: Fuel,
	/// Re-executed at submission, or proposed and challengeable.
	pub verification: veriml_primitives::models::Verification,
	/// The nodes that may answer it.
	pub assigned: alloc::vec::Vec<AccountId>,
	/// The block it was made in.
	pub created_at: BlockNumber,
	/// The block at whose start it expires if it is not completed.
	pub deadline: BlockNumber,
	/// An optimistic result proposed for it, in its challenge window or disputed.
	pub proposal: Option<veriml_primitives::verification::Proposal<AccountId, BlockNumber>>,
}

/// An open generation request as clients read it ([`runtime_api::InferenceApi::generation`]);
/// where it stands is its request's ([`RequestInfo`]).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct GenerationInfo<AccountId, BlockNumber> {
	/// The prompt's tokens.
	pub prompt: Vec<TokenId>,
	/// The most tokens to generate.
	pub max_tokens: u32,
	/// Tokens that end the generation (kept as its last token).
	pub stop_tokens: Vec<TokenId>,
	/// How each token is chosen.
	pub sampling: veriml_primitives::generation::SamplingChoice,
	/// The seed of its sampling, drawn with its first nodes.
	pub seed: Option<[u8; 32]>,
	/// The answer waiting through its challenge window, if a node gave one.
	pub answer: Option<GenerationAnswerInfo<AccountId, BlockNumber>>,
}

/// A node's answer to a generation as clients read it.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct GenerationAnswerInfo<AccountId, BlockNumber> {
	/// The inference node that answered.
	pub node: AccountId,
	/// The tokens it generated.
	pub tokens: Vec<TokenId>,
	/// The Merkle root over its steps' state hashes.
	pub steps_root: sp_core::H256,
	/// The engine version it was submitted under.
	pub engine_version: veriml_inference_primitives::EngineVersion,
	/// It settles at the start of this block unless a challenge shows it wrong before.
	pub settles_at: BlockNumber,
}

impl<T: Config> Pallet<T> {
	/// Generation request `request` as clients read it, while it is open.
	pub fn generation_info(request: RequestId) -> Option<GenerationInfo<T::AccountId, BlockNumberFor<T>>> {
		let generation = Generations::<T>::get(request)?;
		let answer = GenerationAnswers::<T>::get(request).map(|answer| GenerationAnswerInfo {
			node: answer.node,
			tokens: answer.tokens.into_inner(),
			steps_root: answer.steps_root,
			engine_version: answer.engine_version,
			settles_at: answer.settles_at,
		});
		Some(GenerationInfo {
			prompt: generation.prompt.into_inner(),
			max_tokens: generation.max_tokens,
			stop_tokens: generation.stop_tokens.into_inner(),
			sampling: generation.sampling,
			seed: generation.seed,
			answer,
		})
	}

	/// Request `request` as clients read it, while it is open (not verified yet).
	pub fn open_request_info(request: RequestId) -> Option<OpenRequest<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
		let open = Requests::<T>::get(request)?;
		let proposal = T::Verifier::proposal(request);
		let status = match (open.status, &proposal) {
			(RequestStatus::Pending, _) => OpenStatus::Pending,
			(RequestStatus::Assigned, _) => OpenStatus::Assigned,
			(RequestStatus::Verifying, Some(proposal)) if proposal.challenger.is_some() => OpenStatus::Disputed,
			(RequestStatus::Verifying, _) => OpenStatus::Proposed,
		};
		Some(OpenRequest {
			status,
			model: open.model,
			requester: open.requester,
			input_hash: open.input_hash,
			fee: open.fee,
			fuel_limit: open.fuel_limit,
			verification: open.verification,
			assigned: open.assigned.into_inner(),
			created_at: open.created_at,
			deadline: open.deadline,
			proposal,
		})
	}

	/// The requests assigned to `node` and not answered yet, in id order.
	pub fn assignments_of(node: &T::AccountId) -> Vec<RequestId> {
		let mut requests: Vec<RequestId> = Assignments::<T>::iter_key_prefix(node).collect();
		requests.sort_unstable();
		requests
	}

	/// Whether a request with id `request` was ever made.
	pub fn was_made(request: RequestId) -> bool {
		request < NextRequestId::<T>::get()
	}
}
