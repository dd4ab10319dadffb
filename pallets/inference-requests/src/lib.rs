//! # Inference requests
//!
//! A user pays for an inference; a bonded inference node computes it; every node that applies
//! the block verifies it by re-execution; the fee is settled from escrow.
//!
//! 1. [`request`](Pallet::request): the user names a registered model, gives inputs that
//!    match its input specs and a `max_fee`. The fee — the model's price, the execution fee
//!    for the model's measured cost and the protocol's share ([`Fee`]) — is held in escrow,
//!    and at the end of the block the request is assigned to [`Config::Replication`]
//!    inference nodes serving the model, drawn from that block's randomness
//!    ([`Config::Randomness`]: the block's BABE VRF output, unknown when the request was
//!    signed) for the request's own subject, not its place in the block (every serving node
//!    equally likely; see [`Pallet::assignment_seed`]). With no node available the request
//!    waits, `Pending`, and is assigned at the end of the first block in which one is.
//! 2. An assigned node's off-chain worker runs the model through the node's deterministic
//!    engine and sends [`submit_result`](Pallet::submit_result) (or
//!    [`report_failure`](Pallet::report_failure) when the engine refuses the input), signed
//!    with its `infr` key. An answer of an active node that passes the checks of dispatch
//!    (from a node assigned to the open request, outputs a result may carry, made with the chain's engine) is
//!    marked `feeless_if` ([`Pallet::answers_without_fee`]): with the runtime's
//!    `SkipCheckIfFeeless` the node needs no balance for the fee of the verification it asks
//!    for, and an answer that would fail pays its fee.
//! 3. The result goes to verification ([`Config::Verifier`], pallet-verification) in the
//!    mode of the model's terms, which decides now or later:
//!    - [`Verification::InBlock`]: applying the transaction re-executes the model. A match
//!      stores the result and its receipt and pays the model owner, the node's operator and
//!      the protocol. A mismatch slashes the node's bond (part of it to the requester) and
//!      reassigns the request to another node.
//!    - [`Verification::Optimistic`] (models too costly to re-execute every result): the
//!      result is proposed and the request waits, `Verifying`, for verification's decision
//!      (unchallenged through its window, or a challenge decided by re-execution), which
//!      reaches this pallet through [`VerifiedJobs`](veriml_primitives::verification::VerifiedJobs):
//!      a confirmed result settles as above, a refuted one slashes its node (part of it to
//!      the challenger's operator) and the request goes to another node with a new deadline.
//! 4. A request not completed by its deadline ([`Config::RequestTimeout`]) expires and its fee
//!    is refunded; a request no node has taken can be [`cancel`](Pallet::cancel)led.
//!
//! 5. A generation request ([`generate`](Pallet::generate)) asks a decoder for tokens; its
//!    node answers with the tokens and every step's state hash
//!    ([`submit_generation`](Pallet::submit_generation)), which anyone may show wrong at one
//!    link, judged in the transaction by one step
//!    ([`challenge_generation`](Pallet::challenge_generation)); unchallenged through
//!    [`Config::GenerationChallengePeriod`] it settles (`generations.rs`).
//!
//! Settled, expired and cancelled requests leave no state behind in this pallet; the receipt
//! of a completed one is kept by pallet-verification for its retention period.
//!
//! ## Layout
//!
//! `lib.rs` holds the declarations (types, config, storage, events, errors, hooks, calls);
//! `impls.rs` the lifecycle (fees and weights, creating, assigning, judging, settling,
//! closing and expiring requests) and the interfaces other pallets use (among them
//! verification's [`VerifiedJobs`](veriml_primitives::verification::VerifiedJobs));
//! `generations.rs` generation requests, their answers, disputes and settlement;
//! `views.rs` the runtime API and what clients read; `try_state.rs` the invariants;
//! `offchain.rs` the inference node's off-chain worker.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod generations;
mod impls;
pub mod migrations;
mod offchain;
mod try_state;
mod views;

pub use views::{runtime_api, GenerationAnswerInfo, GenerationInfo, OpenRequest, OpenStatus, RequestInfo};
#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use scale_info::TypeInfo;
use sp_core::crypto::KeyTypeId;
use veriml_primitives::Fuel;

/// Key type of the keys with which inference nodes sign their results.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"infr");

/// What tells apart the draws of identical requests (one requester's, of one model on the same
/// inputs, as many of their nodes refuted) at the end of one block: their nodes and a
/// generation's sampling seed ([`Pallet::assignment_seed`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub enum DrawSalt {
	/// A request made in this block: its requester's account nonce when it made it, fixed by
	/// its signature.
	Nonce(u64),
	/// A request made in an earlier block (drawn from the queue of those waiting for a node,
	/// which draws none in the block it was made in, or drawn again after a node failed it):
	/// its id, fixed before this block's randomness was known, so no author of this block
	/// chose it.
	Made(RequestId),
}

/// Most models [`PreparedInBlock`] remembers in one block.
pub const MAX_PREPARED_IN_BLOCK: u32 = 64;

/// The `infr` key: sr25519, kept in an inference node's keystore
/// (`veriml-node key insert --key-type infr --scheme sr25519`).
pub mod crypto {
	use super::KEY_TYPE;
	veriml_offchain::node_key_crypto!(
		KEY_TYPE,
		#[doc = "Signs an inference node's transactions with its `infr` key."]
		InferenceNodeId
	);
}

/// Makes registered models and bonded nodes for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// A registered model whose outputs are as large as its one `[1, width]` float input
	/// (Relu), distinct for each `index`.
	fn model(
		index: u32,
		width: u32,
	) -> (veriml_inference_primitives::ModelHash, veriml_inference_primitives::TensorSpec);
	/// A registered model summing its one `[1, width]` float input into one float: large
	/// inputs with small outputs, distinct for each `index`.
	fn sum_model(
		index: u32,
		width: u32,
	) -> (veriml_inference_primitives::ModelHash, veriml_inference_primitives::TensorSpec);
	/// A new bonded node serving `model`, distinct for each `index`.
	fn node(model: veriml_inference_primitives::ModelHash, index: u32) -> AccountId;
	/// `bytes` uploaded by `who` (funded for the deposit) where `Config::Uploads` takes them;
	/// returns their hash.
	fn upload(who: &AccountId, bytes: &[u8]) -> veriml_inference_primitives::H256;
}

pub use veriml_primitives::requests::{Fee, InferenceRequests, QuoteError, RequestId};

/// Where an open request stands. Completed, expired and cancelled requests are removed (their
/// events and, for completed ones, their receipt remain).
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub enum RequestStatus {
	/// No node serving the model was available; assigned as soon as one is.
	Pending,
	/// Assigned to nodes that are computing it.
	Assigned,
	/// A result was submitted and its verification mode decides later (an optimistic
	/// proposal, in its challenge window or disputed): it no longer expires.
	Verifying,
}

/// A generation request: what to generate, and the seed its sampling draws from (drawn from the
/// block's randomness when its first nodes are, after it was made).
#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxTokens, MaxStop))]
pub struct GenerationRequest<MaxTokens: frame_support::traits::Get<u32>, MaxStop: frame_support::traits::Get<u32>> {
	/// The prompt's tokens (at least one).
	pub prompt: frame_support::BoundedVec<veriml_inference_primitives::generation::TokenId, MaxTokens>,
	/// The most tokens to generate (at least one).
	pub max_tokens: u32,
	/// Tokens that end the generation (kept as its last token).
	pub stop_tokens: frame_support::BoundedVec<veriml_inference_primitives::generation::TokenId, MaxStop>,
	/// How each token is chosen.
	pub sampling: veriml_primitives::generation::SamplingChoice,
	/// The seed of its sampling; none until its first nodes are drawn.
	pub seed: Option<[u8; 32]>,
}

/// A node's answer to a generation request, waiting through its challenge window.
#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxTokens))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct GenerationAnswerOf<AccountId, BlockNumber, MaxTokens: frame_support::traits::Get<u32>>
where
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
{
	/// The inference node that answered.
	pub node: AccountId,
	/// The tokens it generated.
	pub tokens: frame_support::BoundedVec<veriml_inference_primitives::generation::TokenId, MaxTokens>,
	/// The hash of the decoder's state after each step, in order: published, so that a
	/// challenger finds the first step where its own generation differs without asking.
	pub steps: frame_support::BoundedVec<veriml_inference_primitives::H256, MaxTokens>,
	/// The Merkle root over `steps`, which challenges prove states and leaves against.
	pub steps_root: veriml_inference_primitives::H256,
	/// The engine version the chain ran when it was submitted.
	pub engine_version: veriml_inference_primitives::EngineVersion,
	/// It settles at the start of this block unless a challenge shows it wrong before.
	pub settles_at: BlockNumber,
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use codec::DecodeAll;
	use frame_support::{dispatch::PostDispatchInfo, pallet_prelude::*, traits::fungible::Inspect};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use sp_runtime::Perbill;
	use veriml_inference_primitives::{EngineError, ModelHash, Tensor, H256};
	use veriml_primitives::{
		escrow::Escrow,
		models::{ModelCatalog, UploadedBytes, Verification},
		nodes::BondedNodes,
		verification::{Claim, ResultVerifier},
	};

	/// Balance of the currency fees are paid in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A generation request of this runtime.
	pub type GenerationOf<T> = GenerationRequest<<T as Config>::MaxGenerationTokens, <T as Config>::MaxStopTokens>;

	/// A generation's answer of this runtime.
	pub type AnswerOf<T> = GenerationAnswerOf<
		<T as frame_system::Config>::AccountId,
		BlockNumberFor<T>,
		<T as Config>::MaxGenerationTokens,
	>;

	/// A request of this runtime.
	pub type RequestOf<T> = Request<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::Replication,
		<T as Config>::MaxRefutedNodes,
	>;

	/// An open inference request.
	#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(MaxAssigned, MaxRefuted))]
	#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
	pub struct Request<AccountId, Balance, BlockNumber, MaxAssigned: Get<u32>, MaxRefuted: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// Who pays, and receives part of the bond of a node that lies to them.
		pub requester: AccountId,
		/// The model to run.
		pub model: ModelHash,
		/// `blake2_256(SCALE(inputs))`; the inputs are in [`Inputs`].
		pub input_hash: H256,
		/// Length of the SCALE-encoded inputs: verification reads and hashes them.
		pub input_bytes: u32,
		/// The fee held in escrow.
		pub fee: Fee<Balance>,
		/// Most engine fuel one execution may use: the model's measured fuel per run with
		/// [`Config::FuelMargin`].
		pub fuel_limit: Fuel,
		/// Re-executed at submission, or proposed and challengeable (the model's mode when
		/// the request was made).
		pub verification: Verification,
		/// Pending, assigned or verifying.
		pub status: RequestStatus,
		/// The nodes that may answer it.
		pub assigned: BoundedVec<AccountId, MaxAssigned>,
		/// The nodes whose results for this request were refuted or whose assignment lapsed;
		/// none is assigned to it again.
		pub refuted: BoundedVec<AccountId, MaxRefuted>,
		/// The block it was made in.
		pub created_at: BlockNumber,
		/// The block at whose start it expires if it is not completed.
		pub deadline: BlockNumber,
		/// The model's fuel to prepare when the request was made (as the registry measured it
		/// then): a run for it prepares the model within this fuel, on every node, or fails
		/// with `FuelExhausted`, and verifying a result charges preparing at it. Measuring the
		/// model again (`models.remeasureModel`, after an engine guest switch) changes neither
		/// for an open request. (A generation's steps prepare within their decoder's step
		/// limit instead.)
		pub fuel_to_prepare: Fuel,
	}

	/// The storage version. Version 1 (spec 135): a request keeps its model's fuel to prepare
	/// ([`Request::fuel_to_prepare`]); it read the registry's figure, which measuring the
	/// model again could change under it.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency fees are paid and receipt deposits held in.
		type Currency: frame_support::traits::fungible::Mutate<Self::AccountId>
			+ frame_support::traits::fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The registered models.
		type Models: ModelCatalog<Self::AccountId, BalanceOf<Self>>;

		/// Complete uploads (in the model registry) that requests take as their inputs.
		type Uploads: UploadedBytes<Self::AccountId>;

		/// The bonded inference nodes.
		type Nodes: BondedNodes<Self::AccountId, BalanceOf<Self>, BlockNumberFor<Self>, Service = ModelHash>;

		/// Holds fees until settlement.
		type Escrow: Escrow<RequestId, Self::AccountId, BalanceOf<Self>>;

		/// Randomness no block author can choose, from which requests are assigned: in the
		/// runtime the VRF output of the parent block's BABE author
		/// (`pallet_babe::ParentBlockRandomness`). Where there is none, the parent hash stands
		/// in.
		type Randomness: frame_support::traits::Randomness<Option<Self::Hash>, BlockNumberFor<Self>>;

		/// Executes inferences with the deterministic engine and verifies results in their
		/// model's mode.
		type Verifier: ResultVerifier<RequestId, Self::AccountId, BlockNumberFor<Self>>;

		/// The key inference nodes sign their results with.
		type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

		/// Where the protocol's share of fees goes.
		type ProtocolAccount: Get<Self::AccountId>;

		/// The protocol's share, on top of the model price and the execution fee.
		#[pallet::constant]
		type ProtocolShare: Get<Perbill>;

		/// Execution fee per request, whatever the model.
		#[pallet::constant]
		type ExecutionBaseFee: Get<BalanceOf<Self>>;

		/// Execution fee per unit of engine fuel of the request's fuel limit.
		#[pallet::constant]
		type ExecutionFeePerFuel: Get<BalanceOf<Self>>;

		/// Margin over a model's measured fuel per run that one execution may use, in percent
		/// (a model's cost can depend on its input, for example tree ensembles).
		#[pallet::constant]
		type FuelMargin: Get<u32>;

		/// Most fuel one verification may use: models above it cannot be requested.
		#[pallet::constant]
		type MaxVerificationFuel: Get<Fuel>;

		/// Largest SCALE-encoded inputs of one request, in bytes.
		#[pallet::constant]
		type MaxInputBytes: Get<u32>;

		/// Largest SCALE-encoded inputs of one request given as an upload
		/// ([`request_uploaded`](Pallet::request_uploaded)), in bytes.
		#[pallet::constant]
		type MaxUploadedInputBytes: Get<u32>;

		/// Largest SCALE-encoded outputs of one result, in bytes.
		#[pallet::constant]
		type MaxOutputBytes: Get<u32>;

		/// Held from the requester per request for keeping its receipt in state, with
		/// [`ReceiptDepositPerByte`](Config::ReceiptDepositPerByte) for each byte of the model's
		/// outputs: from the request until its receipt is pruned (`ReceiptRetention` blocks
		/// after verification) or the request ends without one.
		#[pallet::constant]
		type ReceiptDepositBase: Get<BalanceOf<Self>>;

		/// Held from the requester per byte of the model's outputs (their SCALE size from its
		/// output specs), kept with the receipt.
		#[pallet::constant]
		type ReceiptDepositPerByte: Get<BalanceOf<Self>>;

		/// Nodes each request is assigned to; the first verified result completes it.
		#[pallet::constant]
		type Replication: Get<u32>;

		/// Most nodes whose results for one request may be refuted; at the next wrong result
		/// the request is abandoned and its fee refunded ([`Event::Abandoned`]).
		#[pallet::constant]
		type MaxRefutedNodes: Get<u32>;

		/// Blocks a request stays open before it expires and its fee is refunded.
		#[pallet::constant]
		type RequestTimeout: Get<BlockNumberFor<Self>>;

		/// Blocks an assigned node has to answer (a result or a failure report) before its
		/// assignment lapses: it is struck, as for a wrong result, and the request goes to
		/// another node. An assignment made later than `AnswerWithin` blocks before the
		/// request's deadline runs until the deadline and does not lapse.
		#[pallet::constant]
		type AnswerWithin: Get<BlockNumberFor<Self>>;

		/// Most requests waiting for a node.
		#[pallet::constant]
		type MaxPending: Get<u32>;

		/// Blocks an inference node's off-chain worker waits for its submission to land
		/// before it submits again.
		#[pallet::constant]
		type ResubmitAfter: Get<BlockNumberFor<Self>>;

		/// Most tokens one generation feeds and chooses together (its prompt and `max_tokens`):
		/// bounds the tokens and step hashes it keeps (with the decoder's context length).
		#[pallet::constant]
		type MaxGenerationTokens: Get<u32>;

		/// Most stop tokens of one generation request.
		#[pallet::constant]
		type MaxStopTokens: Get<u32>;

		/// Blocks anyone has to challenge a generation's answer
		/// ([`challenge_generation`](Pallet::challenge_generation)) before it settles.
		#[pallet::constant]
		type GenerationChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Registers models and nodes for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// The id the next request gets.
	#[pallet::storage]
	pub type NextRequestId<T: Config> = StorageValue<_, RequestId, ValueQuery>;

	/// Open requests.
	#[pallet::storage]
	pub type Requests<T: Config> = StorageMap<_, Twox64Concat, RequestId, RequestOf<T>>;

	/// The inputs of open requests (their SCALE size is at most `MaxInputBytes`).
	#[pallet::storage]
	#[pallet::unbounded]
	pub type Inputs<T: Config> = StorageMap<_, Twox64Concat, RequestId, Vec<Tensor>>;

	/// Open requests by assigned node: what each node's off-chain worker must compute.
	#[pallet::storage]
	pub type Assignments<T: Config> = StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, RequestId, ()>;

	/// Open requests by the block at whose start they expire.
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, RequestId, ()>;

	/// Assignments by the block at whose start they lapse unless the node has answered: the
	/// request and the node. Kept until that block even if the request ends first.
	#[pallet::storage]
	pub type Lapses<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Blake2_128Concat, (RequestId, T::AccountId), ()>;

	/// Requests waiting for a node serving their model, oldest first.
	#[pallet::storage]
	pub type PendingQueue<T: Config> = StorageValue<_, BoundedVec<RequestId, T::MaxPending>, ValueQuery>;

	/// Requests made in this block, or left short of nodes in it (a node refuted or silent),
	/// whose nodes are drawn at its end ([`Hooks::on_finalize`]), from randomness no one knew
	/// when the block's transactions were signed: see [`Pallet::assignment_seed`]. With each,
	/// its draw's salt ([`DrawSalt`]: a new request's requester's nonce, a redraw's id), so
	/// that identical requests are drawn apart. Empty between blocks; each entry is paid for
	/// by the call or hook that made it.
	#[pallet::storage]
	pub type Undrawn<T: Config> = StorageMap<_, Twox64Concat, RequestId, DrawSalt>;

	/// The models re-executed so far in this block. The first re-execution of a model in a
	/// block is charged preparing it, since an importing node whose engine has not prepared
	/// it (after a restart, say) prepares it inside the block; later ones in the block are
	/// not. Past [`MAX_PREPARED_IN_BLOCK`] models every re-execution is charged. Emptied at
	/// the start of every block.
	#[pallet::storage]
	pub type PreparedInBlock<T: Config> =
		StorageValue<_, BoundedVec<ModelHash, ConstU32<MAX_PREPARED_IN_BLOCK>>, ValueQuery>;

	/// What each request holds from its requester for its receipt and outputs
	/// ([`HoldReason::ReceiptDeposit`]): from the request until its receipt is pruned, or until
	/// it ends without one (expired, cancelled, abandoned). None for a deposit of zero.
	#[pallet::storage]
	pub type ReceiptDeposits<T: Config> = StorageMap<_, Twox64Concat, RequestId, (T::AccountId, BalanceOf<T>)>;

	/// What each open generation request asks (its request is in [`Requests`]).
	#[pallet::storage]
	pub type Generations<T: Config> = StorageMap<_, Twox64Concat, RequestId, GenerationOf<T>>;

	/// Generations' answers in their challenge window.
	#[pallet::storage]
	pub type GenerationAnswers<T: Config> = StorageMap<_, Twox64Concat, RequestId, AnswerOf<T>>;

	/// Generations' answers by the block at whose start they settle.
	#[pallet::storage]
	pub type GenerationWindows<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, RequestId, ()>;

	/// Open requests per model: a model with open requests cannot be removed.
	#[pallet::storage]
	pub type OpenRequests<T: Config> = StorageMap<_, Identity, ModelHash, u32, ValueQuery>;

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Held from a requester while its request's receipt and outputs are kept in state.
		ReceiptDeposit,
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `requester` asked for an inference of `model`; `fee` is held in escrow until it
		/// completes or expires at the start of block `deadline`, and `receipt_deposit` until
		/// its receipt is pruned (or it ends without one).
		Requested {
			request: RequestId,
			requester: T::AccountId,
			model: ModelHash,
			input_hash: H256,
			fee: Fee<BalanceOf<T>>,
			receipt_deposit: BalanceOf<T>,
			deadline: BlockNumberFor<T>,
		},
		/// The request was assigned to `nodes`: at the end of the block that made it (or left
		/// it short of nodes), or of the block in which a node for it became available.
		Assigned { request: RequestId, nodes: Vec<T::AccountId> },
		/// No node serving the model is available: the request waits for one.
		AwaitingNode { request: RequestId },
		/// `node`'s result was verified: `result_hash` is final; the fee was paid out.
		Completed { request: RequestId, node: T::AccountId, result_hash: H256, fee: Fee<BalanceOf<T>> },
		/// `node` showed, verified by re-execution, that the engine refuses this input with
		/// `error`; the model price was refunded, execution and protocol fees paid.
		Failed { request: RequestId, node: T::AccountId, error: EngineError },
		/// `node`'s result did not match re-execution: it was slashed `slashed` and the
		/// request stays open for another node.
		ResultRejected { request: RequestId, node: T::AccountId, slashed: BalanceOf<T> },
		/// `node` did not answer `request` within `AnswerWithin` blocks of its assignment: it
		/// was struck (`slashed`, part of it to the requester) and the request went to another
		/// node.
		AssignmentLapsed { request: RequestId, node: T::AccountId, slashed: BalanceOf<T> },
		/// The request was not completed in time; `refunded` went back to the requester.
		Expired { request: RequestId, refunded: BalanceOf<T> },
		/// `MaxRefutedNodes` nodes gave wrong results for the request and one more did: it was
		/// closed and `refunded` went back to the requester.
		Abandoned { request: RequestId, refunded: BalanceOf<T> },
		/// The requester cancelled the request before any node took it.
		Cancelled { request: RequestId, refunded: BalanceOf<T> },
		/// `requester` asked `model` (a decoder) for at most `max_tokens` tokens after a prompt
		/// of `prompt_tokens` tokens: request `request` (also announced by `Requested`, whose
		/// `input_hash` is [`Pallet::generation_request_hash`]).
		GenerationRequested { request: RequestId, model: ModelHash, prompt_tokens: u32, max_tokens: u32 },
		/// The generation's sampling draws from `seed`, drawn from the block's randomness with
		/// its first nodes.
		SamplingSeedDrawn { request: RequestId, seed: [u8; 32] },
		/// `node` answered the generation with `tokens` and the root over its steps' state
		/// hashes: it settles at the start of block `challenge_until` unless a challenge shows
		/// it wrong before.
		GenerationProposed {
			request: RequestId,
			node: T::AccountId,
			tokens: Vec<veriml_inference_primitives::generation::TokenId>,
			steps_root: H256,
			challenge_until: BlockNumberFor<T>,
		},
		/// `challenger` showed `node`'s answer wrong at one link, judged by one step: the node
		/// was struck (`ResultRejected`, part of its slash to the challenger) and the request
		/// went to another node.
		GenerationRefuted { request: RequestId, node: T::AccountId, challenger: T::AccountId },
		/// `node`'s answer was computed with an engine guest the chain has replaced since (found
		/// by a challenge or at its settlement): it was dropped without a strike and `node`
		/// computes the generation again with the chain's guest.
		GenerationRecomputed { request: RequestId, node: T::AccountId },
		/// `node`'s generation went unchallenged through its window: its receipt is kept
		/// (`result_hash`: the generation's hash), `fee` was paid out for the tokens generated
		/// and the rest of the held fee refunded.
		GenerationCompleted {
			request: RequestId,
			node: T::AccountId,
			tokens: Vec<veriml_inference_primitives::generation::TokenId>,
			steps_root: H256,
			result_hash: H256,
			fee: Fee<BalanceOf<T>>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No model with this hash is registered.
		UnknownModel,
		/// The model is deprecated and takes no new requests.
		ModelDeprecated,
		/// The inputs do not match the model's input specs: count, dtype or shape.
		InputDoesNotMatchModel,
		/// A tensor's byte length does not match its dtype and shape.
		MalformedTensor,
		/// The SCALE-encoded inputs are larger than `MaxInputBytes`.
		InputTooLarge,
		/// The uploaded inputs are not the SCALE encoding of a list of tensors.
		UndecodableInputs,
		/// The submitted outputs, or the outputs of the requested model, are larger than
		/// `MaxOutputBytes`.
		OutputTooLarge,
		/// The model costs more fuel than one verification may use, or re-executing its result
		/// on these inputs (with reading a large model's bytes) would not fit one transaction.
		ModelTooCostlyToVerify,
		/// The fee is higher than the request's `max_fee`.
		FeeAboveMax,
		/// The requester's free balance cannot cover the fee and the receipt deposit.
		InsufficientBalance,
		/// No node serves the model and the queue of waiting requests is full.
		NoNodeAvailable,
		/// No request with this id was ever made.
		UnknownRequest,
		/// The request is closed: completed, expired or cancelled.
		RequestClosed,
		/// The caller is not assigned to this request.
		NotAssigned,
		/// Only the requester may cancel a request.
		NotRequester,
		/// A node has taken the request; it can no longer be cancelled.
		AlreadyAssigned,
		/// The result hash commits to the engine version of the guest the chain has just
		/// replaced: the result was computed before the switch. Refused without a slash; the
		/// node computes it again with the chain's guest.
		ComputedWithReplacedEngine,
		/// The model is not registered as a decoder (`models.registerDecoder`).
		NotADecoder,
		/// A generation needs a prompt of one token at least and one token to generate.
		EmptyGeneration,
		/// The prompt and `max_tokens` together are more than the decoder's context length or
		/// `MaxGenerationTokens`.
		GenerationTooLong,
		/// More stop tokens than `MaxStopTokens`.
		TooManyStopTokens,
		/// A prompt token is not in the decoder's vocabulary.
		TokenOutsideVocabulary,
		/// The sampling parameters cannot sample: a temperature of 0, or top-p outside (0, 1].
		InvalidSampling,
		/// A generation request is answered with `submitGeneration`, not a result or a
		/// failure report.
		IsAGeneration,
		/// The request is not a generation request.
		NotAGeneration,
		/// The generation's sampling seed is not drawn yet (no node has taken it).
		SeedNotDrawn,
		/// The answer's tokens are not of the request's shape: none, more than `max_tokens`, a
		/// stop token before the last, or fewer than `max_tokens` without a stop token last.
		AnswerNotOfShape,
		/// An answer has one step hash per token fed: the prompt's and every generated token but
		/// the last.
		StepsDoNotMatchTokens,
		/// The generation has no answer in its challenge window.
		NoAnswerToChallenge,
		/// The challenge names a step the answer does not have.
		NoSuchStep,
		/// The challenge names a token the answer does not have.
		NoSuchToken,
		/// A state the challenge gives is not the answer's (its hash is not that step's leaf
		/// under the answer's root), or one was given for step 0 or none for a later step.
		StateNotTheAnswers,
		/// The leaf the challenge gives is not the answer's leaf for its step.
		LeafNotTheAnswers,
		/// A state the challenge gives, the answer's own, is not a state of this decoder after
		/// its step: challenge that step instead.
		NotADecoderState,
		/// The challenged link of the answer holds: the step's run gives the answer's leaf, or
		/// the sampling chooses the answer's token. The challenger pays for the judgement.
		AnswerUpheld,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			PreparedInBlock::<T>::kill();
			let settled = Self::settle_generations(now);
			let (lapsed, stale) = Self::lapse_assignments(now);
			let expired = Self::expire_requests(now);
			// The waiting requests are tried again at the end of the block (`on_finalize`),
			// with the requests the block makes or leaves short of nodes; those are charged by
			// the calls (and lapses) that made them.
			let assigned = PendingQueue::<T>::decode_len().unwrap_or(0) as u32;
			// A lapse is handled as a refuted failure report is: the node struck, the request
			// reassigned.
			T::WeightInfo::on_initialize(expired, assigned)
				.saturating_add(Self::unbenchmarked_weight().saturating_mul(assigned.saturating_add(expired).into()))
				.saturating_add(
					T::WeightInfo::report_failure()
						.saturating_add(Self::unbenchmarked_weight())
						.saturating_mul(lapsed.into()),
				)
				.saturating_add(T::DbWeight::get().reads_writes(1, 1).saturating_mul(stale.into()))
				.saturating_add(T::DbWeight::get().writes(1))
				.saturating_add(settled)
		}

		/// Draws the nodes of the requests made or left short of nodes in this block, and of
		/// the waiting ones, from this block's randomness: in the runtime BABE's VRF output of
		/// this block, which pallet Babe's `on_finalize` (declared before this pallet, so run
		/// before it) has just revealed.
		fn on_finalize(_now: BlockNumberFor<T>) {
			Self::assign_pending();
			Self::draw_undrawn();
		}

		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::Replication::get() > 0, "Replication must be at least 1");
			// MaxVerificationFuel bounds a run's fuel limit and the model's preparation together;
			// preparing it also reads the model's bytes. (A model in the content store may take
			// longer to read: its requests are each checked, `Pallet::verifiable`.)
			// Weighed as `submitResult` weighs an answer re-executed in block, with the largest
			// model in state read and prepared (`preparation_weight`'s reads beyond the fuel), at
			// the highest price of fuel.
			let verification = Self::answer_weight(
				Self::submit_result_base(),
				Verification::InBlock,
				T::MaxUploadedInputBytes::get(),
				T::MaxVerificationFuel::get(),
				None,
			)
			.saturating_add(Self::price_rise(T::MaxVerificationFuel::get()))
			.saturating_add(T::Models::max_state_model_read_weight())
			.saturating_add(T::DbWeight::get().reads_writes(2, 1));
			let max_extrinsic = Self::max_call_weight();
			assert!(
				verification.all_lte(max_extrinsic),
				"verifying a result at MaxVerificationFuel with the largest inputs and outputs \
				 ({verification}) exceeds a transaction's maximum ({max_extrinsic}): lower \
				 MaxVerificationFuel or MaxUploadedInputBytes"
			);
			let decisions = T::Verifier::decision_weight();
			assert!(
				verification.all_lte(decisions),
				"re-executing a result at MaxVerificationFuel with the largest inputs and outputs \
				 ({verification}) exceeds what verification's decisions may take at the start of a \
				 block ({decisions}): a dispute of it could never be decided"
			);
			let largest_upload = T::WeightInfo::request_uploaded(T::MaxUploadedInputBytes::get());
			assert!(
				largest_upload.all_lte(max_extrinsic),
				"a request with MaxUploadedInputBytes of uploaded inputs ({largest_upload}) exceeds a \
				 transaction's maximum ({max_extrinsic}): lower MaxUploadedInputBytes"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Request an inference of `model` on `inputs`, paying at most `max_fee`.
		///
		/// The inputs must match the model's registered input specs. The fee (see `Fee`) is
		/// held in escrow; the request is assigned to bonded nodes serving the model and
		/// expires after `RequestTimeout` blocks with the fee refunded.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::request(inputs.encoded_size() as u32).saturating_add(Pallet::<T>::unbenchmarked_weight()))]
		pub fn request(
			origin: OriginFor<T>,
			model: ModelHash,
			inputs: Vec<Tensor>,
			max_fee: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let requester = ensure_signed(origin)?;
			let input_bytes = inputs.encoded_size() as u32;
			ensure!(input_bytes <= T::MaxInputBytes::get(), Error::<T>::InputTooLarge);
			Self::create_request(requester, model, inputs, max_fee)?;
			Ok(Some(T::WeightInfo::request(input_bytes).saturating_add(Self::unbenchmarked_weight())).into())
		}

		/// Request an inference of `model` on the inputs uploaded to the model registry as
		/// `inputs_hash` (`models.beginUpload` and `models.uploadChunk` with the SCALE encoding
		/// of the input tensors), paying at most `max_fee`: for inputs larger than one
		/// transaction, up to `MaxUploadedInputBytes`.
		///
		/// The upload must be the caller's and complete; it is taken (its chunks deleted, its
		/// deposit released) and the request proceeds as [`request`](Pallet::request) does.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::request_uploaded(T::MaxUploadedInputBytes::get()).saturating_add(Pallet::<T>::unbenchmarked_weight()))]
		pub fn request_uploaded(
			origin: OriginFor<T>,
			model: ModelHash,
			inputs_hash: H256,
			max_fee: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let requester = ensure_signed(origin)?;
			let bytes = T::Uploads::take(&requester, &inputs_hash, T::MaxUploadedInputBytes::get())?;
			let input_bytes = bytes.len() as u32;
			let inputs = Vec::<Tensor>::decode_all(&mut &bytes[..]).map_err(|_| Error::<T>::UndecodableInputs)?;
			Self::create_request(requester, model, inputs, max_fee)?;
			Ok(Some(T::WeightInfo::request_uploaded(input_bytes).saturating_add(Self::unbenchmarked_weight())).into())
		}

		/// Submit the result of `request` as computed by the caller, an assigned inference
		/// node: the canonical `outputs` and their `result_hash`
		/// (`blake2_256(SCALE(engine_version, model_hash, input_hash, outputs))`).
		///
		/// Applying it re-executes the model. A matching result completes the request, pays
		/// the fee out and costs the node nothing; a wrong one slashes the node's bond and
		/// reopens the request for another node.
		#[pallet::call_index(1)]
		#[pallet::feeless_if(|origin: &OriginFor<T>, request: &RequestId, outputs: &Vec<Tensor>, result_hash: &H256| -> bool {
			Pallet::<T>::answers_without_fee(origin, *request, Some((outputs, result_hash)))
		})]
		#[pallet::weight(Pallet::<T>::verification_weight(*request, Pallet::<T>::submit_result_base()))]
		pub fn submit_result(
			origin: OriginFor<T>,
			request: RequestId,
			outputs: Vec<Tensor>,
			result_hash: H256,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			let output_bytes = outputs.encoded_size() as u32;
			Self::judge(
				node,
				request,
				Claim::Outputs { outputs, result_hash },
				T::WeightInfo::submit_result(output_bytes).saturating_add(Self::unbenchmarked_weight()),
			)
		}

		/// Report, as an assigned inference node, that the engine refuses `request`'s input
		/// with `error` (for example: it needs more fuel than the request allows).
		///
		/// Verified by re-execution like a result: a true report completes the request
		/// (model price refunded, execution and protocol fees paid); a false one slashes.
		#[pallet::call_index(2)]
		#[pallet::feeless_if(|origin: &OriginFor<T>, request: &RequestId, _error: &EngineError| -> bool {
			Pallet::<T>::answers_without_fee(origin, *request, None)
		})]
		#[pallet::weight(Pallet::<T>::verification_weight(
			*request,
			T::WeightInfo::report_failure().saturating_add(Pallet::<T>::unbenchmarked_weight())
		))]
		pub fn report_failure(
			origin: OriginFor<T>,
			request: RequestId,
			error: EngineError,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			Self::judge(
				node,
				request,
				Claim::Failure(error),
				T::WeightInfo::report_failure().saturating_add(Self::unbenchmarked_weight()),
			)
		}

		/// Ask `model`, a decoder registered with `models.registerDecoder`, to generate at most
		/// `max_tokens` tokens after `prompt` (token ids of its tokenizer), ending early at any
		/// of `stop_tokens`, each chosen by `sampling` (greedy, or seeded sampling whose seed the
		/// chain draws when the request's nodes are drawn), paying at most `max_fee`.
		///
		/// The fee is quoted per token: the model's price per token and the execution fee for
		/// every step's fuel, for `max_tokens` tokens, held in escrow; a generation that stops
		/// early pays for the tokens and steps it made and gets the rest back. The assigned
		/// node answers with `submitGeneration`; the answer settles after
		/// `GenerationChallengePeriod` blocks unless `challengeGeneration` shows it wrong.
		#[pallet::call_index(5)]
		#[pallet::weight(Pallet::<T>::generate_weight(prompt.len(), stop_tokens.len()))]
		pub fn generate(
			origin: OriginFor<T>,
			model: ModelHash,
			prompt: Vec<veriml_inference_primitives::generation::TokenId>,
			max_tokens: u32,
			stop_tokens: Vec<veriml_inference_primitives::generation::TokenId>,
			sampling: veriml_primitives::generation::SamplingChoice,
			max_fee: BalanceOf<T>,
		) -> DispatchResult {
			let requester = ensure_signed(origin)?;
			Self::create_generation(requester, model, prompt, max_tokens, stop_tokens, sampling, max_fee)?;
			Ok(())
		}

		/// Answer generation `request` as its assigned inference node: the `tokens` generated
		/// and `steps`, the hash of the decoder's state (its outputs: logits and cache) after
		/// each step, one per token fed (the prompt's, then every generated token but the
		/// last), computed with the engine guest of `engine_version`, which must be the chain's
		/// (`ComputedWithReplacedEngine` otherwise, without a strike: computed before a switch
		/// of guest, it is computed again).
		///
		/// The answer is proposed, not re-executed: it settles after `GenerationChallengePeriod`
		/// blocks, and until then anyone may show one of its links wrong with
		/// `challengeGeneration`, which strikes the node.
		#[pallet::call_index(6)]
		#[pallet::feeless_if(|origin: &OriginFor<T>, request: &RequestId, tokens: &Vec<veriml_inference_primitives::generation::TokenId>, steps: &Vec<H256>, engine_version: &veriml_inference_primitives::EngineVersion| -> bool {
			Pallet::<T>::answers_generation_without_fee(origin, *request, tokens, steps, *engine_version)
		})]
		#[pallet::weight(Pallet::<T>::submit_generation_weight(tokens.len(), steps.len()))]
		pub fn submit_generation(
			origin: OriginFor<T>,
			request: RequestId,
			tokens: Vec<veriml_inference_primitives::generation::TokenId>,
			steps: Vec<H256>,
			engine_version: veriml_inference_primitives::EngineVersion,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			Self::propose_generation(node, request, tokens, steps, engine_version)?;
			Ok(PostDispatchInfo { actual_weight: None, pays_fee: Pays::No })
		}

		/// Show one link of generation `request`'s answer wrong, before it settles: a step's
		/// state (`State`: the answer's state before it, proven against its root, is run one
		/// step and does not give the answer's leaf) or a token (`Token`: the sampling does not
		/// choose it from the answer's state that chose it). Find the link by comparing the
		/// answer's published step hashes with a generation of your own: the first step whose
		/// hash differs, or, where the step before it fed a token, that token.
		///
		/// Judged in this transaction with at most one step of the decoder, whatever the
		/// generation's length. A wrong answer's node is struck (part of its slash paid to the
		/// caller), its answer dropped and the request given to another node, and the call is
		/// free; a challenge of a link that holds fails with `AnswerUpheld` and pays for its
		/// judgement. Operational, so that filling blocks cannot keep a challenge out of a
		/// window.
		#[pallet::call_index(7)]
		#[pallet::weight((
			Pallet::<T>::challenge_generation_weight(*request, challenge),
			DispatchClass::Operational
		))]
		pub fn challenge_generation(
			origin: OriginFor<T>,
			request: RequestId,
			challenge: veriml_primitives::generation::StepChallenge,
		) -> DispatchResultWithPostInfo {
			let challenger = ensure_signed(origin)?;
			Self::judge_generation(challenger, request, challenge)
		}

		/// Cancel a request no node has taken yet; its fee is refunded.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::cancel(T::MaxPending::get()).saturating_add(Pallet::<T>::unbenchmarked_weight()))]
		pub fn cancel(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let record = Self::open_request(request)?;
			ensure!(record.requester == who, Error::<T>::NotRequester);
			ensure!(record.status == RequestStatus::Pending, Error::<T>::AlreadyAssigned);
			PendingQueue::<T>::mutate(|queue| queue.retain(|id| *id != request));
			let refunded = Self::close_without_receipt(request, &record);
			Self::deposit_event(Event::Cancelled { request, refunded });
			Ok(())
		}
	}
}
