//! # Inference requests
//!
//! A user pays for an inference; a bonded inference node computes it; every node that applies
//! the block verifies it by re-execution; the fee is settled from escrow.
//!
//! 1. [`request`](Pallet::request): the user names a registered model, gives inputs that
//!    match its input specs and a `max_fee`. The fee — the model's price, the execution fee
//!    for the model's measured cost and the protocol's share ([`Fee`]) — is held in escrow,
//!    and the request is assigned to [`Config::Replication`] inference nodes serving the
//!    model, chosen from the parent block hash and the request id (every serving node equally
//!    likely). With no node available the request waits, `Pending`, and is assigned as soon
//!    as one is.
//! 2. An assigned node's off-chain worker runs the model through the node's deterministic
//!    engine and sends [`submit_result`](Pallet::submit_result) (or
//!    [`report_failure`](Pallet::report_failure) when the engine refuses the input), signed
//!    with its `infr` key.
//! 3. Applying that transaction re-executes the model (pallet-verification). A match stores the
//!    result and its receipt and pays the model owner, the node's operator and the protocol;
//!    the submission is free. A mismatch slashes the node's bond (part of it to the
//!    requester) and reassigns the request to another node; the liar pays the transaction fee.
//!
//!    Results of [`Verification::Optimistic`] models (too costly to re-execute every one in
//!    the block that carries it) are not re-executed at submission: the result is proposed
//!    and waits [`Config::ChallengePeriod`] blocks. Any other bonded inference node may
//!    [`challenge`](Pallet::challenge) it in that window (nodes do so from their off-chain
//!    worker after re-executing it); the chain then decides by re-execution, at most
//!    [`Config::DisputesPerBlock`] disputes at the start of each block, and slashes the
//!    loser: a wrong proposer pays the challenger from its bond and the request goes to
//!    another node; a wrong challenger pays the proposer and the result settles. An
//!    unchallenged result settles when its window ends.
//! 4. A request not completed by its deadline ([`Config::RequestTimeout`]) expires and its fee
//!    is refunded; a request no node has taken can be [`cancel`](Pallet::cancel)led.
//!
//! Settled, expired and cancelled requests leave no state behind in this pallet; the receipt
//! of a completed one is kept by pallet-verification for its retention period.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod offchain;
pub mod weights;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(feature = "runtime-benchmarks")]
pub mod benchmark_helpers;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use weights::WeightInfo;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::crypto::KeyTypeId;

/// Key type of the keys with which inference nodes sign their results.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(*b"infr");

/// Most models [`PreparedInBlock`] remembers in one block.
pub const MAX_PREPARED_IN_BLOCK: u32 = 64;

/// The `infr` key: sr25519, kept in an inference node's keystore
/// (`veriml-node key insert --key-type infr --scheme sr25519`).
pub mod crypto {
	use super::KEY_TYPE;
	use sp_runtime::{
		app_crypto::{app_crypto, sr25519},
		MultiSignature, MultiSigner,
	};
	app_crypto!(sr25519, KEY_TYPE);

	/// Signs an inference node's transactions with its `infr` key.
	pub struct InferenceNodeId;

	impl frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for InferenceNodeId {
		type RuntimeAppPublic = Public;
		type GenericSignature = sp_core::sr25519::Signature;
		type GenericPublic = sp_core::sr25519::Public;
	}

	// For mock runtimes whose signature type is sr25519 itself.
	impl
		frame_system::offchain::AppCrypto<
			<sp_core::sr25519::Signature as sp_runtime::traits::Verify>::Signer,
			sp_core::sr25519::Signature,
		> for InferenceNodeId
	{
		type RuntimeAppPublic = Public;
		type GenericSignature = sp_core::sr25519::Signature;
		type GenericPublic = sp_core::sr25519::Public;
	}
}

/// Makes registered models and bonded nodes for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// A registered model taking one `[1, width]` float tensor, distinct for each `index`.
	fn model(index: u32, width: u32) -> (veriml_inference_primitives::ModelHash, veriml_inference_primitives::TensorSpec);
	/// A new bonded node serving `model`, distinct for each `index`.
	fn node(model: veriml_inference_primitives::ModelHash, index: u32) -> AccountId;
	/// `bytes` uploaded by `who` (funded for the deposit) where `Config::Uploads` takes them;
	/// returns their hash.
	fn upload(who: &AccountId, bytes: &[u8]) -> veriml_inference_primitives::H256;
}

/// Identifies a request; assigned in order from 0.
pub type RequestId = u64;

/// Inference requests as other pallets (workflows) make them.
pub trait InferenceRequests<AccountId, Balance> {
	/// What a request of `model` costs now, or why it cannot be requested.
	fn quote(model: &veriml_inference_primitives::ModelHash) -> Result<Fee<Balance>, QuoteError>;

	/// Requests an inference of `model` on `inputs` for `requester`, holding the fee (at most
	/// `max_fee`) from its free balance, exactly as the `request` call does.
	fn request(
		requester: AccountId,
		model: veriml_inference_primitives::ModelHash,
		inputs: alloc::vec::Vec<veriml_inference_primitives::Tensor>,
		max_fee: Balance,
	) -> Result<RequestId, sp_runtime::DispatchError>;
}

/// Why a model cannot be requested now: the answer of [`runtime_api::InferenceApi::quote`].
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo)]
pub enum QuoteError {
	/// No model with this hash is registered.
	UnknownModel,
	/// The model is deprecated and takes no new requests.
	ModelDeprecated,
	/// The model costs more fuel than one verification may use.
	ModelTooCostlyToVerify,
}

/// The runtime API clients (and the node's `veriml_*` RPC methods) read requests through.
pub mod runtime_api {
	use super::{Fee, QuoteError, RequestInfo, RequestId};
	use alloc::vec::Vec;
	use veriml_inference_primitives::{ModelHash, Tensor};

	sp_api::decl_runtime_apis! {
		/// Inference requests as clients see them: what one costs, where it stands, its
		/// receipt and outputs. Version 2 added `request`, `outputs` and `receipt_key`.
		#[api_version(2)]
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
			#[api_version(2)]
			fn request(request: RequestId) -> Option<RequestInfo<AccountId, Balance, BlockNumber>>;
			/// The outputs of `request`'s verified result, while its receipt is retained.
			#[api_version(2)]
			fn outputs(request: RequestId) -> Option<Vec<Tensor>>;
			/// The storage key of `request`'s receipt: what a read proof of it against a
			/// block's state root proves (`veriml_receiptProof`).
			#[api_version(2)]
			fn receipt_key(request: RequestId) -> Vec<u8>;
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
	Verified(pallet_verification::Receipt<RequestId, AccountId, BlockNumber>),
	/// Expired, cancelled or abandoned, or verified and its receipt pruned after its retention.
	Closed,
}

/// A request not verified yet, as clients read it.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct OpenRequest<AccountId, Balance, BlockNumber> {
	/// Pending, assigned, proposed or disputed.
	pub status: RequestStatus,
	/// The model to run.
	pub model: veriml_inference_primitives::ModelHash,
	/// Who pays.
	pub requester: AccountId,
	/// `blake2_256(SCALE(inputs))`.
	pub input_hash: sp_core::H256,
	/// The fee held in escrow.
	pub fee: Fee<Balance>,
	/// Most engine fuel one execution may use.
	pub fuel_limit: u64,
	/// Re-executed at submission, or proposed and challengeable.
	pub verification: pallet_model_registry::Verification,
	/// The nodes that may answer it.
	pub assigned: alloc::vec::Vec<AccountId>,
	/// The block it was made in.
	pub created_at: BlockNumber,
	/// The block at whose start it expires if it is not completed.
	pub deadline: BlockNumber,
	/// An optimistic result proposed for it, in its challenge window or disputed.
	pub proposal: Option<Proposal<AccountId, BlockNumber>>,
}

/// What a request costs; held in escrow when it is made.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen,
)]
pub struct Fee<Balance> {
	/// The model's price per inference, paid to its owner.
	pub model_price: Balance,
	/// Paid to the operator of the node whose result is verified: base fee plus the model's
	/// verification fuel limit at the fee per fuel.
	pub execution: Balance,
	/// The protocol's share, paid to the protocol account.
	pub protocol: Balance,
}

impl<Balance: sp_runtime::traits::Saturating + Copy> Fee<Balance> {
	/// Everything the requester pays.
	pub fn total(&self) -> Balance {
		self.model_price.saturating_add(self.execution).saturating_add(self.protocol)
	}
}

/// Where a request stands. Completed, expired and cancelled requests are removed (their
/// events and, for completed ones, their receipt remain).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum RequestStatus {
	/// No node serving the model was available; assigned as soon as one is.
	Pending,
	/// Assigned to nodes that are computing it.
	Assigned,
	/// An optimistic model's result was proposed and waits through its challenge window.
	Proposed,
	/// The proposed result was challenged; the chain re-executes it to decide.
	Disputed,
}

/// An optimistic model's result waiting through its challenge window.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Proposal<AccountId, BlockNumber> {
	/// The inference node that proposed it.
	pub node: AccountId,
	/// The outcome it claims (its outputs are in `ProposedOutputs`).
	pub outcome: pallet_verification::Outcome,
	/// Settles at the start of this block unless challenged before.
	pub challenge_until: BlockNumber,
	/// The node that challenged it, whose bond answers for a wrong challenge.
	pub challenger: Option<AccountId>,
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::{
		dispatch::PostDispatchInfo,
		pallet_prelude::*,
		traits::{fungible::Inspect, Contains},
	};
	use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
	use pallet_escrow::Escrow;
	use pallet_inference_nodes::InferenceNodes;
	use pallet_model_registry::{ModelCatalog, ModelTerms, UploadedBytes, Verification};
	use codec::DecodeAll;
	use pallet_verification::{Claim, Job, Outcome, ResultVerifier, Verdict};
	use sp_runtime::{
		traits::Saturating,
		Perbill, SaturatedConversion,
	};
	use veriml_inference_primitives::{
		check_inputs, input_hash, result_hash, EngineError, ModelHash, Tensor, H256,
	};

	/// Balance of the currency fees are paid in.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// A request of this runtime.
	pub type RequestOf<T> = Request<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::Replication,
		<T as Config>::MaxRefutedNodes,
	>;

	/// An open inference request.
	#[derive(
		Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
	)]
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
		pub fuel_limit: u64,
		/// Re-executed at submission, or proposed and challengeable (the model's mode when
		/// the request was made).
		pub verification: Verification,
		/// Pending or assigned.
		pub status: RequestStatus,
		/// The nodes that may answer it.
		pub assigned: BoundedVec<AccountId, MaxAssigned>,
		/// The nodes whose results for this request were refuted; none is assigned to it again.
		pub refuted: BoundedVec<AccountId, MaxRefuted>,
		/// The block it was made in.
		pub created_at: BlockNumber,
		/// The block at whose start it expires if it is not completed.
		pub deadline: BlockNumber,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + CreateSignedTransaction<Call<Self>> {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency fees are paid in.
		type Currency: frame_support::traits::fungible::Mutate<Self::AccountId>;

		/// The registered models.
		type Models: ModelCatalog<Self::AccountId, BalanceOf<Self>>;

		/// Complete uploads (in the model registry) that requests take as their inputs.
		type Uploads: UploadedBytes<Self::AccountId>;

		/// The bonded inference nodes.
		type Nodes: InferenceNodes<Self::AccountId, BalanceOf<Self>>;

		/// Holds fees until settlement.
		type Escrow: Escrow<RequestId, Self::AccountId, BalanceOf<Self>>;

		/// Executes and verifies inferences with the deterministic engine.
		type Verifier: ResultVerifier<RequestId, Self::AccountId>;

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
		type MaxVerificationFuel: Get<u64>;

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

		/// Most requests waiting for a node.
		#[pallet::constant]
		type MaxPending: Get<u32>;

		/// Blocks an inference node's off-chain worker waits for its submission to land
		/// before it submits again.
		#[pallet::constant]
		type ResubmitAfter: Get<BlockNumberFor<Self>>;

		/// Blocks an optimistic result waits for a challenge before it settles.
		#[pallet::constant]
		type ChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Most challenged results waiting to be decided.
		#[pallet::constant]
		type MaxDisputes: Get<u32>;

		/// Challenged results decided (each re-executed, up to `MaxVerificationFuel`) at the
		/// start of each block; the others wait for the next blocks.
		#[pallet::constant]
		type DisputesPerBlock: Get<u32>;

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
	pub type Assignments<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, RequestId, ()>;

	/// Open requests by the block at whose start they expire.
	#[pallet::storage]
	pub type Deadlines<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, RequestId, ()>;

	/// Requests waiting for a node serving their model, oldest first.
	#[pallet::storage]
	pub type PendingQueue<T: Config> = StorageValue<_, BoundedVec<RequestId, T::MaxPending>, ValueQuery>;

	/// Proposed results of optimistic models, in their challenge window or disputed.
	#[pallet::storage]
	pub type Proposals<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, Proposal<T::AccountId, BlockNumberFor<T>>>;

	/// The outputs of proposed results (their SCALE size is at most `MaxOutputBytes`).
	#[pallet::storage]
	#[pallet::unbounded]
	pub type ProposedOutputs<T: Config> = StorageMap<_, Twox64Concat, RequestId, Vec<Tensor>>;

	/// Unchallenged proposals by the block at whose start they settle.
	#[pallet::storage]
	pub type ChallengeWindows<T: Config> =
		StorageDoubleMap<_, Twox64Concat, BlockNumberFor<T>, Twox64Concat, RequestId, ()>;

	/// Challenged proposals waiting to be decided by re-execution, oldest first.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageValue<_, BoundedVec<RequestId, T::MaxDisputes>, ValueQuery>;

	/// The models re-executed so far in this block. The first re-execution of a model in a
	/// block is charged preparing it, since an importing node whose engine has not prepared
	/// it (after a restart, say) prepares it inside the block; later ones in the block are
	/// not. Past [`MAX_PREPARED_IN_BLOCK`] models every re-execution is charged. Emptied at
	/// the start of every block.
	#[pallet::storage]
	pub type PreparedInBlock<T: Config> =
		StorageValue<_, BoundedVec<ModelHash, ConstU32<MAX_PREPARED_IN_BLOCK>>, ValueQuery>;

	/// Open requests per model: a model with open requests cannot be removed.
	#[pallet::storage]
	pub type OpenRequests<T: Config> = StorageMap<_, Identity, ModelHash, u32, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `requester` asked for an inference of `model`; `fee` is held in escrow until it
		/// completes or expires at the start of block `deadline`.
		Requested {
			request: RequestId,
			requester: T::AccountId,
			model: ModelHash,
			input_hash: H256,
			fee: Fee<BalanceOf<T>>,
			deadline: BlockNumberFor<T>,
		},
		/// The request was assigned to `nodes`.
		Assigned { request: RequestId, nodes: Vec<T::AccountId> },
		/// No node serving the model is available: the request waits for one.
		AwaitingNode { request: RequestId },
		/// `node`'s result was verified: `result_hash` is final; the fee was paid out.
		Completed {
			request: RequestId,
			node: T::AccountId,
			result_hash: H256,
			fee: Fee<BalanceOf<T>>,
		},
		/// `node` showed, verified by re-execution, that the engine refuses this input with
		/// `error`; the model price was refunded, execution and protocol fees paid.
		Failed { request: RequestId, node: T::AccountId, error: EngineError },
		/// `node`'s result did not match re-execution: it was slashed `slashed` and the
		/// request stays open for another node.
		ResultRejected { request: RequestId, node: T::AccountId, slashed: BalanceOf<T> },
		/// The request was not completed in time; `refunded` went back to the requester.
		Expired { request: RequestId, refunded: BalanceOf<T> },
		/// `MaxRefutedNodes` nodes gave wrong results for the request and one more did: it was
		/// closed and `refunded` went back to the requester.
		Abandoned { request: RequestId, refunded: BalanceOf<T> },
		/// The requester cancelled the request before any node took it.
		Cancelled { request: RequestId, refunded: BalanceOf<T> },
		/// `node` proposed the result of an optimistic model's request: it settles at the start
		/// of block `challenge_until` unless a bonded node challenges it before.
		ResultProposed {
			request: RequestId,
			node: T::AccountId,
			outcome: pallet_verification::Outcome,
			challenge_until: BlockNumberFor<T>,
		},
		/// `challenger` disputes `node`'s proposed result; the chain will re-execute it.
		Challenged { request: RequestId, node: T::AccountId, challenger: T::AccountId },
		/// Re-execution proved `challenger` right: `node` was slashed `slashed` (part of it paid
		/// to the challenger) and the request went to another node.
		ChallengeUpheld {
			request: RequestId,
			node: T::AccountId,
			challenger: T::AccountId,
			slashed: BalanceOf<T>,
		},
		/// Re-execution confirmed `node`'s proposed result: `challenger` was slashed `slashed`
		/// (part of it paid to the node's operator) and the result settled.
		ChallengeRejected {
			request: RequestId,
			node: T::AccountId,
			challenger: T::AccountId,
			slashed: BalanceOf<T>,
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
		/// The submitted outputs are larger than `MaxOutputBytes`.
		OutputTooLarge,
		/// The model costs more fuel than one verification may use.
		ModelTooCostlyToVerify,
		/// The fee is higher than the request's `max_fee`.
		FeeAboveMax,
		/// The requester's free balance cannot cover the fee.
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
		/// The result hash does not commit to the outputs (`blake2_256(SCALE(engine_version,
		/// model_hash, input_hash, outputs))`).
		ResultHashMismatch,
		/// The result hash commits to the engine version of the guest the chain has just
		/// replaced: the result was computed before the switch. Refused without a slash; the
		/// node computes it again with the chain's guest.
		ComputedWithReplacedEngine,
		/// Only a registered inference node may challenge: its bond answers for a wrong
		/// challenge.
		NotANode,
		/// The request has no proposed result in its challenge window.
		NothingToChallenge,
		/// A node cannot challenge its own result.
		OwnResult,
		/// The proposed result has been challenged already.
		AlreadyChallenged,
		/// `MaxDisputes` challenges wait to be decided; try again in a few blocks.
		TooManyDisputes,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			PreparedInBlock::<T>::kill();
			let expired = Self::expire_requests(now);
			let assigned = Self::assign_pending();
			let settled = Self::settle_unchallenged(now);
			let decided = Self::decide_disputes();
			T::WeightInfo::on_initialize(expired, assigned)
				.saturating_add(settled)
				.saturating_add(decided)
				.saturating_add(T::DbWeight::get().writes(1))
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
			// preparing it also reads the model's bytes.
			let verification = Self::fuel_weight(T::MaxVerificationFuel::get())
				.saturating_add(T::Models::max_model_read_weight())
				.saturating_add(T::WeightInfo::submit_result(T::MaxOutputBytes::get()))
				.saturating_add(Self::input_weight(T::MaxUploadedInputBytes::get()));
			let max_extrinsic = T::BlockWeights::get()
				.get(frame_support::dispatch::DispatchClass::Normal)
				.max_extrinsic
				.unwrap_or_else(|| T::BlockWeights::get().max_block);
			assert!(
				verification.all_lte(max_extrinsic),
				"verifying a result at MaxVerificationFuel with the largest inputs and outputs \
				 ({verification}) exceeds a transaction's maximum ({max_extrinsic}): lower \
				 MaxVerificationFuel or MaxUploadedInputBytes"
			);
			let disputes = verification.saturating_mul(T::DisputesPerBlock::get().into());
			let max_block = T::BlockWeights::get().max_block;
			assert!(
				disputes.all_lte(max_block),
				"deciding DisputesPerBlock disputes at MaxVerificationFuel ({disputes}) exceeds a \
				 block ({max_block}): lower DisputesPerBlock"
			);
			assert!(T::DisputesPerBlock::get() > 0, "DisputesPerBlock must be at least 1");
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
		#[pallet::weight(T::WeightInfo::request(inputs.encoded_size() as u32))]
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
			Ok(Some(T::WeightInfo::request(input_bytes)).into())
		}

		/// Request an inference of `model` on the inputs uploaded to the model registry as
		/// `inputs_hash` (`models.beginUpload` and `models.uploadChunk` with the SCALE encoding
		/// of the input tensors), paying at most `max_fee`: for inputs larger than one
		/// transaction, up to `MaxUploadedInputBytes`.
		///
		/// The upload must be the caller's and complete; it is taken (its chunks deleted, its
		/// deposit released) and the request proceeds as [`request`](Pallet::request) does.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::request_uploaded(T::MaxUploadedInputBytes::get()))]
		pub fn request_uploaded(
			origin: OriginFor<T>,
			model: ModelHash,
			inputs_hash: H256,
			max_fee: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let requester = ensure_signed(origin)?;
			let bytes = T::Uploads::take(&requester, &inputs_hash, T::MaxUploadedInputBytes::get())?;
			let input_bytes = bytes.len() as u32;
			let inputs = Vec::<Tensor>::decode_all(&mut &bytes[..])
				.map_err(|_| Error::<T>::UndecodableInputs)?;
			Self::create_request(requester, model, inputs, max_fee)?;
			Ok(Some(T::WeightInfo::request_uploaded(input_bytes)).into())
		}

		/// Submit the result of `request` as computed by the caller, an assigned inference
		/// node: the canonical `outputs` and their `result_hash`
		/// (`blake2_256(SCALE(engine_version, model_hash, input_hash, outputs))`).
		///
		/// Applying it re-executes the model. A matching result completes the request, pays
		/// the fee out and costs the node nothing; a wrong one slashes the node's bond and
		/// reopens the request for another node.
		#[pallet::call_index(1)]
		#[pallet::weight(Pallet::<T>::verification_weight(*request, T::WeightInfo::submit_result(T::MaxOutputBytes::get())))]
		pub fn submit_result(
			origin: OriginFor<T>,
			request: RequestId,
			outputs: Vec<Tensor>,
			result_hash: H256,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			let output_bytes = outputs.encoded_size() as u32;
			ensure!(output_bytes <= T::MaxOutputBytes::get(), Error::<T>::OutputTooLarge);
			Self::judge(
				node,
				request,
				Claim::Outputs { outputs, result_hash },
				T::WeightInfo::submit_result(output_bytes),
			)
		}

		/// Report, as an assigned inference node, that the engine refuses `request`'s input
		/// with `error` (for example: it needs more fuel than the request allows).
		///
		/// Verified by re-execution like a result: a true report completes the request
		/// (model price refunded, execution and protocol fees paid); a false one slashes.
		#[pallet::call_index(2)]
		#[pallet::weight(Pallet::<T>::verification_weight(*request, T::WeightInfo::report_failure()))]
		pub fn report_failure(
			origin: OriginFor<T>,
			request: RequestId,
			error: EngineError,
		) -> DispatchResultWithPostInfo {
			let node = ensure_signed(origin)?;
			Self::judge(node, request, Claim::Failure(error), T::WeightInfo::report_failure())
		}

		/// Cancel a request no node has taken yet; its fee is refunded.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::cancel(T::MaxPending::get()))]
		pub fn cancel(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let record = Self::open_request(request)?;
			ensure!(record.requester == who, Error::<T>::NotRequester);
			ensure!(record.status == RequestStatus::Pending, Error::<T>::AlreadyAssigned);
			PendingQueue::<T>::mutate(|queue| queue.retain(|id| *id != request));
			let refunded = Self::close(request, &record);
			Self::deposit_event(Event::Cancelled { request, refunded });
			Ok(())
		}

		/// Challenge `request`'s proposed result (of an optimistic model) as wrong, as a
		/// registered inference node other than its proposer, before its window ends.
		///
		/// The chain re-executes it at the start of one of the next blocks (at most
		/// `DisputesPerBlock` a block). If the result was wrong its node is slashed, part of
		/// the slash paid to the caller's operator, and the request goes to another node; if
		/// it was right the caller is slashed and the result settles. An accepted challenge
		/// pays no transaction fee: a wrong one costs the caller its slash.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::challenge(T::MaxDisputes::get()))]
		pub fn challenge(origin: OriginFor<T>, request: RequestId) -> DispatchResultWithPostInfo {
			let challenger = ensure_signed(origin)?;
			let mut record = Self::open_request(request)?;
			ensure!(T::Nodes::operator(&challenger).is_some(), Error::<T>::NotANode);
			let mut proposal = Proposals::<T>::get(request).ok_or(Error::<T>::NothingToChallenge)?;
			ensure!(proposal.node != challenger, Error::<T>::OwnResult);
			ensure!(proposal.challenger.is_none(), Error::<T>::AlreadyChallenged);
			Disputes::<T>::try_mutate(|queue| queue.try_push(request))
				.map_err(|_| Error::<T>::TooManyDisputes)?;
			ChallengeWindows::<T>::remove(proposal.challenge_until, request);
			proposal.challenger = Some(challenger.clone());
			record.status = RequestStatus::Disputed;
			Self::deposit_event(Event::Challenged { request, node: proposal.node.clone(), challenger });
			Proposals::<T>::insert(request, proposal);
			Requests::<T>::insert(request, record);
			Ok(Pays::No.into())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The fee of a request for a model priced `model_price` with verification fuel limit
		/// `fuel_limit`.
		pub fn fee(model_price: BalanceOf<T>, fuel_limit: u64) -> Fee<BalanceOf<T>> {
			let per_fuel = T::ExecutionFeePerFuel::get();
			let fuel: BalanceOf<T> = fuel_limit.saturated_into();
			let execution = T::ExecutionBaseFee::get().saturating_add(per_fuel.saturating_mul(fuel));
			let protocol = T::ProtocolShare::get() * model_price.saturating_add(execution);
			Fee { model_price, execution, protocol }
		}

		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// every open request has its inputs, its escrow (held from its requester), and, as
		/// its status says, its deadline and assignments (until a result is proposed), its
		/// place in the pending queue, its proposal and window or its place among the
		/// disputes; nothing else has any of these; the count of open requests per model is
		/// right.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			let next = NextRequestId::<T>::get();
			let pending = PendingQueue::<T>::get();
			let disputes = Disputes::<T>::get();
			let mut per_model: BTreeMap<ModelHash, u32> = BTreeMap::new();
			let mut open = 0usize;
			let mut assignments = 0usize;
			let mut due = 0usize;
			for (id, request) in Requests::<T>::iter() {
				open += 1;
				ensure!(id < next, "an open request has an id not given yet");
				ensure!(Inputs::<T>::contains_key(id), "an open request has no inputs");
				ensure!(
					T::Escrow::locked(id).is_some_and(|(payer, _)| payer == request.requester),
					"an open request's fee is not held in escrow from its requester"
				);
				// Until a result is proposed: due at its deadline, and computed by its nodes.
				let computing = matches!(request.status, RequestStatus::Pending | RequestStatus::Assigned);
				ensure!(
					Deadlines::<T>::contains_key(request.deadline, id) == computing,
					"a request is due at its deadline exactly while no result is proposed"
				);
				if computing {
					for node in &request.assigned {
						ensure!(Assignments::<T>::contains_key(node, id), "an assigned node does not have the request");
					}
					assignments += request.assigned.len();
					due += 1;
				}
				ensure!(
					pending.contains(&id) == (request.status == RequestStatus::Pending),
					"the pending queue does not hold exactly the pending requests"
				);
				let proposed = matches!(request.status, RequestStatus::Proposed | RequestStatus::Disputed);
				match Proposals::<T>::get(id) {
					Some(proposal) => {
						ensure!(proposed, "a proposal for a request that is not proposed");
						ensure!(ProposedOutputs::<T>::contains_key(id), "a proposal has no outputs");
						ensure!(
							request.status == RequestStatus::Disputed ||
								ChallengeWindows::<T>::contains_key(proposal.challenge_until, id),
							"an unchallenged proposal does not settle at the end of its window"
						);
					},
					None => ensure!(!proposed, "a proposed request has no proposal"),
				}
				ensure!(
					disputes.contains(&id) == (request.status == RequestStatus::Disputed),
					"the dispute queue does not hold exactly the disputed requests"
				);
				*per_model.entry(request.model).or_default() += 1;
			}
			ensure!(Inputs::<T>::iter_keys().count() == open, "inputs of a request that is not open");
			ensure!(Proposals::<T>::iter_keys().all(|id| Requests::<T>::contains_key(id)), "a proposal of a closed request");
			ensure!(
				ProposedOutputs::<T>::iter_keys().all(|id| Proposals::<T>::contains_key(id)),
				"proposed outputs without a proposal"
			);
			ensure!(Assignments::<T>::iter_keys().count() == assignments, "an assignment of a request that is not open");
			ensure!(Deadlines::<T>::iter_keys().count() == due, "a deadline of a request no node computes");
			for (model, count) in OpenRequests::<T>::iter() {
				ensure!(
					per_model.get(&model).copied().unwrap_or_default() == count,
					"a model's count of open requests is wrong"
				);
			}
			for (model, count) in per_model {
				ensure!(OpenRequests::<T>::get(model) == count, "a model's count of open requests is wrong");
			}
			Ok(())
		}

		/// Request `request` as clients read it, while it is open (not verified yet).
		pub fn open_request_info(
			request: RequestId,
		) -> Option<OpenRequest<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
			let open = Requests::<T>::get(request)?;
			Some(OpenRequest {
				status: open.status,
				model: open.model,
				requester: open.requester,
				input_hash: open.input_hash,
				fee: open.fee,
				fuel_limit: open.fuel_limit,
				verification: open.verification,
				assigned: open.assigned.into_inner(),
				created_at: open.created_at,
				deadline: open.deadline,
				proposal: Proposals::<T>::get(request),
			})
		}

		/// Whether a request with id `request` was ever made.
		pub fn was_made(request: RequestId) -> bool {
			request < NextRequestId::<T>::get()
		}

		/// What a request for `model` would cost now, or why it cannot be requested.
		pub fn quote(model: &ModelHash) -> Result<Fee<BalanceOf<T>>, QuoteError> {
			let terms = T::Models::terms(model).ok_or(QuoteError::UnknownModel)?;
			ensure!(terms.active, QuoteError::ModelDeprecated);
			let fuel_limit =
				Self::fuel_limit(&terms).map_err(|_| QuoteError::ModelTooCostlyToVerify)?;
			Ok(Self::fee(terms.price_per_inference, fuel_limit))
		}

		/// The weight of `fuel` units of engine work, at the model registry's rate.
		pub fn fuel_weight(fuel: u64) -> Weight {
			T::Models::fuel_weight(fuel)
		}

		/// `base` plus the re-execution of `request` at its fuel limit, with its inputs: what a
		/// block reserves for verifying one submission. (Reading the request here is charged
		/// in `base`.)
		pub fn verification_weight(request: RequestId, base: Weight) -> Weight {
			// Reading the engine version the chain replaced, to refuse results made with it.
			let base = base.saturating_add(T::DbWeight::get().reads(1));
			match Requests::<T>::get(request) {
				// Proposed, not re-executed: hashing the outputs is in `base`.
				Some(r) if r.verification == Verification::Optimistic => base,
				Some(r) => base
					.saturating_add(Self::input_weight(r.input_bytes))
					.saturating_add(Self::fuel_weight(r.fuel_limit))
					.saturating_add(
						T::Models::terms(&r.model)
							.map(|terms| Self::preparation_weight(&terms))
							.unwrap_or_default(),
					),
				None => base,
			}
		}

		/// The most re-executing a model of `terms` in a block adds for preparing it.
		fn preparation_weight(terms: &ModelTerms<T::AccountId, BalanceOf<T>>) -> Weight {
			T::Models::preparation_weight(terms).saturating_add(T::DbWeight::get().reads_writes(1, 1))
		}

		/// What re-executing `model` now adds for preparing it: all of it on its first
		/// re-execution in this block, which it records, or just the check on a later one.
		fn charge_preparation(model: &ModelHash, terms: &ModelTerms<T::AccountId, BalanceOf<T>>) -> Weight {
			let mut prepared = PreparedInBlock::<T>::get();
			if prepared.contains(model) {
				return T::DbWeight::get().reads(1)
			}
			// Full: this and later models pay every time.
			if prepared.try_push(*model).is_ok() {
				PreparedInBlock::<T>::put(prepared);
			}
			Self::preparation_weight(terms)
		}

		/// Reading, decoding and hashing `input_bytes` of inputs to re-execute a request: the
		/// per-byte part of `submit_result`'s benchmark, whose model (a Relu) takes inputs as
		/// large as its outputs, so this bounds it from above.
		fn input_weight(input_bytes: u32) -> Weight {
			T::WeightInfo::submit_result(input_bytes).saturating_sub(T::WeightInfo::submit_result(0))
		}

		/// The fuel limit of a run of a model of `terms`: its fuel per run with the margin. A
		/// model whose limit and preparation together exceed `MaxVerificationFuel` is too
		/// costly to verify in a block.
		fn fuel_limit(terms: &ModelTerms<T::AccountId, BalanceOf<T>>) -> Result<u64, DispatchError> {
			let limit = terms
				.fuel_per_run
				.saturating_mul(100u64.saturating_add(T::FuelMargin::get().into()))
				/ 100;
			ensure!(
				limit.saturating_add(terms.fuel_to_prepare) <= T::MaxVerificationFuel::get(),
				Error::<T>::ModelTooCostlyToVerify
			);
			Ok(limit)
		}

		fn open_request(request: RequestId) -> Result<RequestOf<T>, DispatchError> {
			Requests::<T>::get(request).ok_or_else(|| {
				if request < NextRequestId::<T>::get() {
					Error::<T>::RequestClosed.into()
				} else {
					Error::<T>::UnknownRequest.into()
				}
			})
		}

		/// Checks `inputs` against `model`, holds the fee and opens the request (assigned, or
		/// waiting for a node); returns its id.
		fn create_request(
			requester: T::AccountId,
			model: ModelHash,
			inputs: Vec<Tensor>,
			max_fee: BalanceOf<T>,
		) -> Result<RequestId, DispatchError> {
			let terms = T::Models::terms(&model).ok_or(Error::<T>::UnknownModel)?;
			ensure!(terms.active, Error::<T>::ModelDeprecated);
			check_inputs(&inputs, &terms.inputs).map_err(|error| match error {
				EngineError::MalformedTensor => Error::<T>::MalformedTensor,
				_ => Error::<T>::InputDoesNotMatchModel,
			})?;
			let fuel_limit = Self::fuel_limit(&terms)?;
			let fee = Self::fee(terms.price_per_inference, fuel_limit);
			ensure!(fee.total() <= max_fee, Error::<T>::FeeAboveMax);

			let id = NextRequestId::<T>::get();
			T::Escrow::lock(id, &requester, fee.total()).map_err(|_| Error::<T>::InsufficientBalance)?;
			let now = frame_system::Pallet::<T>::block_number();
			let deadline = now.saturating_add(T::RequestTimeout::get());
			let input_hash = input_hash(&inputs);
			let mut request = Request {
				requester: requester.clone(),
				model,
				input_hash,
				input_bytes: inputs.encoded_size() as u32,
				fee,
				fuel_limit,
				verification: terms.verification,
				status: RequestStatus::Pending,
				assigned: BoundedVec::new(),
				refuted: BoundedVec::new(),
				created_at: now,
				deadline,
			};
			Self::deposit_event(Event::Requested { request: id, requester, model, input_hash, fee, deadline });
			if !Self::try_assign(id, &mut request) {
				PendingQueue::<T>::try_mutate(|queue| queue.try_push(id))
					.map_err(|_| Error::<T>::NoNodeAvailable)?;
				Self::deposit_event(Event::AwaitingNode { request: id });
			}
			NextRequestId::<T>::put(id.saturating_add(1));
			Requests::<T>::insert(id, request);
			Inputs::<T>::insert(id, inputs);
			Deadlines::<T>::insert(deadline, id, ());
			OpenRequests::<T>::mutate(model, |open| *open = open.saturating_add(1));
			Ok(id)
		}

		/// Assigns `request` to up to `Replication` nodes, as many as are missing, never to a node
		/// already assigned or refuted on it; `false` if it has none afterwards.
		fn try_assign(id: RequestId, request: &mut RequestOf<T>) -> bool {
			let missing = T::Replication::get().saturating_sub(request.assigned.len() as u32);
			if missing > 0 {
				let mut excluded: Vec<T::AccountId> = request.assigned.to_vec();
				excluded.extend_from_slice(&request.refuted);
				let seed = sp_io::hashing::blake2_256(
					&(b"veriml/assign", frame_system::Pallet::<T>::parent_hash(), id, request.refuted.len() as u32)
						.encode(),
				);
				let nodes = T::Nodes::assign(&request.model, &seed, missing, &excluded);
				for node in &nodes {
					if request.assigned.try_push(node.clone()).is_ok() {
						Assignments::<T>::insert(node, id, ());
					}
				}
				if !nodes.is_empty() {
					Self::deposit_event(Event::Assigned { request: id, nodes });
				}
			}
			if request.assigned.is_empty() {
				return false
			}
			request.status = RequestStatus::Assigned;
			true
		}

		/// Verifies `node`'s `claim` for `request` by re-execution and settles or slashes; for
		/// an optimistic model, proposes it.
		fn judge(
			node: T::AccountId,
			id: RequestId,
			claim: Claim,
			base_weight: Weight,
		) -> DispatchResultWithPostInfo {
			let request = Self::open_request(id)?;
			ensure!(request.assigned.contains(&node), Error::<T>::NotAssigned);
			let terms = T::Models::terms(&request.model).ok_or(Error::<T>::UnknownModel)?;
			// Reading the replaced engine version below.
			let base_weight = base_weight.saturating_add(T::DbWeight::get().reads(1));
			if let (Claim::Outputs { outputs, result_hash: claimed }, (_, Some(replaced))) =
				(&claim, T::Models::engine_versions())
			{
				ensure!(
					*claimed != result_hash(replaced, &request.model, &request.input_hash, outputs),
					Error::<T>::ComputedWithReplacedEngine
				);
			}
			if request.verification == Verification::Optimistic {
				return Self::propose(node, id, request, claim, base_weight)
			}
			let preparation = Self::charge_preparation(&request.model, &terms);
			let job = Self::job(id, &request, terms.inputs, node.clone());
			let (outcome, fuel_used, confirmed) = match T::Verifier::verify(&job, &claim) {
				Verdict::Confirmed { outcome, fuel_used } => (outcome, fuel_used, true),
				Verdict::Refuted { expected, fuel_used } => (expected, fuel_used, false),
			};
			let weight = base_weight
				.saturating_add(Self::input_weight(request.input_bytes))
				.saturating_add(Self::fuel_weight(fuel_used))
				.saturating_add(preparation);

			if !confirmed {
				let requester = request.requester.clone();
				Self::reject(id, request, &node, &requester);
				// The liar pays for the verification it caused.
				return Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::Yes })
			}
			Self::settle(id, &request, node, outcome, &terms.owner);
			Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::No })
		}

		/// The execution `request` asks for, as computed by `executor`.
		pub(crate) fn job(
			id: RequestId,
			request: &RequestOf<T>,
			input_specs: Vec<veriml_inference_primitives::TensorSpec>,
			executor: T::AccountId,
		) -> Job<RequestId, T::AccountId> {
			Job {
				id,
				model: request.model,
				input_specs,
				inputs: Inputs::<T>::get(id).unwrap_or_default(),
				fuel_limit: request.fuel_limit,
				executor,
			}
		}

		/// Records `node`'s claim for an optimistic model's request as a proposal that settles
		/// after `ChallengePeriod` blocks unless challenged.
		fn propose(
			node: T::AccountId,
			id: RequestId,
			mut request: RequestOf<T>,
			claim: Claim,
			base_weight: Weight,
		) -> DispatchResultWithPostInfo {
			if let Claim::Outputs { outputs, result_hash: claimed } = &claim {
				let committed =
					result_hash(T::Models::engine_versions().0, &request.model, &request.input_hash, outputs);
				ensure!(committed == *claimed, Error::<T>::ResultHashMismatch);
			}
			let outcome = claim.outcome();
			let challenge_until =
				frame_system::Pallet::<T>::block_number().saturating_add(T::ChallengePeriod::get());
			// The request no longer expires or waits for other nodes: it settles or is decided.
			for assigned in &request.assigned {
				Assignments::<T>::remove(assigned, id);
			}
			request.assigned = BoundedVec::new();
			Deadlines::<T>::remove(request.deadline, id);
			request.status = RequestStatus::Proposed;
			if let Claim::Outputs { outputs, .. } = claim {
				ProposedOutputs::<T>::insert(id, outputs);
			}
			Proposals::<T>::insert(id, Proposal { node: node.clone(), outcome, challenge_until, challenger: None });
			ChallengeWindows::<T>::insert(challenge_until, id, ());
			Requests::<T>::insert(id, request);
			Self::deposit_event(Event::ResultProposed { request: id, node, outcome, challenge_until });
			Ok(PostDispatchInfo { actual_weight: Some(base_weight), pays_fee: Pays::No })
		}

		/// Slashes `node` for a wrong result of `request` (part to `wronged`) and gives the
		/// request to another node, or abandons it after `MaxRefutedNodes`.
		fn reject(id: RequestId, mut request: RequestOf<T>, node: &T::AccountId, wronged: &T::AccountId) -> BalanceOf<T> {
			let slashed = T::Nodes::slash(node, wronged);
			request.assigned.retain(|n| n != node);
			Assignments::<T>::remove(node, id);
			Self::deposit_event(Event::ResultRejected { request: id, node: node.clone(), slashed });
			if request.refuted.try_push(node.clone()).is_err() {
				let refunded = Self::close(id, &request);
				Self::deposit_event(Event::Abandoned { request: id, refunded });
			} else {
				if !Self::try_assign(id, &mut request) {
					// No honest candidate now: wait in the queue (or, if it is full, until the
					// deadline refunds the fee).
					request.status = RequestStatus::Pending;
					if PendingQueue::<T>::try_mutate(|queue| queue.try_push(id)).is_ok() {
						Self::deposit_event(Event::AwaitingNode { request: id });
					}
				}
				Requests::<T>::insert(id, request);
			}
			slashed
		}

		/// Pays out the fee of `request`, whose `outcome` from `node` is verified, and closes it.
		fn settle(id: RequestId, request: &RequestOf<T>, node: T::AccountId, outcome: Outcome, owner: &T::AccountId) {
			let operator = T::Nodes::operator(&node).unwrap_or_else(|| node.clone());
			let fee = request.fee;
			let _ = T::Escrow::pay(id, &operator, fee.execution);
			let _ = T::Escrow::pay(id, &T::ProtocolAccount::get(), fee.protocol);
			match outcome {
				Outcome::Outputs { result_hash, .. } => {
					let _ = T::Escrow::pay(id, owner, fee.model_price);
					Self::close(id, request);
					Self::deposit_event(Event::Completed { request: id, node, result_hash, fee });
				},
				Outcome::Failed(error) => {
					Self::close(id, request);
					Self::deposit_event(Event::Failed { request: id, node, error });
				},
			}
		}

		/// Takes the proposal of open request `id` with what settling or deciding it needs.
		/// Reads before it removes, so a request it cannot judge keeps its proposal.
		fn take_proposal(id: RequestId) -> Option<TakenProposal<T>> {
			let request = Requests::<T>::get(id)?;
			let terms = T::Models::terms(&request.model)?;
			let proposal = Proposals::<T>::take(id)?;
			let (claim, output_bytes) = match proposal.outcome {
				Outcome::Outputs { result_hash, .. } => {
					let outputs = ProposedOutputs::<T>::take(id).unwrap_or_default();
					let output_bytes = outputs.encoded_size() as u32;
					(Claim::Outputs { outputs, result_hash }, output_bytes)
				},
				Outcome::Failed(error) => (Claim::Failure(error), 0),
			};
			let job = Self::job(id, &request, terms.inputs, proposal.node.clone());
			Some(TakenProposal { request, proposal, job, claim, output_bytes, owner: terms.owner })
		}

		/// Settles the proposals whose challenge window ends at `now`; returns the weight used.
		fn settle_unchallenged(now: BlockNumberFor<T>) -> Weight {
			let mut weight = T::DbWeight::get().reads(1);
			let due: Vec<RequestId> = ChallengeWindows::<T>::iter_key_prefix(now).collect();
			for id in due {
				ChallengeWindows::<T>::remove(now, id);
				let Some(TakenProposal { request, proposal, job, claim, output_bytes, owner }) =
					Self::take_proposal(id)
				else {
					continue
				};
				let outcome = T::Verifier::accept_unchallenged(&job, claim);
				Self::settle(id, &request, proposal.node, outcome, &owner);
				// Bounded by a verified submission (which also re-executes a model).
				weight = weight.saturating_add(T::WeightInfo::submit_result(output_bytes));
			}
			weight
		}

		/// Decides up to `DisputesPerBlock` challenged proposals by re-execution; returns the
		/// weight used.
		fn decide_disputes() -> Weight {
			let db = T::DbWeight::get();
			let mut queue = Disputes::<T>::get();
			if queue.is_empty() {
				return db.reads(1)
			}
			let count = (T::DisputesPerBlock::get() as usize).min(queue.len());
			let decided: Vec<RequestId> = queue.drain(..count).collect();
			Disputes::<T>::put(queue);
			let mut weight = db.reads_writes(1, 1);
			for id in decided {
				weight = weight.saturating_add(Self::decide(id));
			}
			weight
		}

		/// Re-executes disputed `id` and slashes whoever was wrong; returns the weight used.
		fn decide(id: RequestId) -> Weight {
			let db = T::DbWeight::get();
			let Some(TakenProposal { mut request, proposal, job, claim, output_bytes, owner }) =
				Self::take_proposal(id)
			else {
				return db.reads(3)
			};
			// Only challenged proposals are queued as disputes.
			let Some(challenger) = proposal.challenger.clone() else { return db.reads_writes(4, 2) };
			let input_bytes = request.input_bytes;
			let preparation = T::Models::terms(&job.model)
				.map(|terms| Self::charge_preparation(&job.model, &terms))
				.unwrap_or_default();
			let fuel_used = match T::Verifier::verify(&job, &claim) {
				Verdict::Confirmed { outcome, fuel_used } => {
					let node_operator =
						T::Nodes::operator(&proposal.node).unwrap_or_else(|| proposal.node.clone());
					let slashed = T::Nodes::slash(&challenger, &node_operator);
					Self::deposit_event(Event::ChallengeRejected {
						request: id,
						node: proposal.node.clone(),
						challenger,
						slashed,
					});
					Self::settle(id, &request, proposal.node, outcome, &owner);
					fuel_used
				},
				Verdict::Refuted { fuel_used, .. } => {
					let challenger_operator =
						T::Nodes::operator(&challenger).unwrap_or_else(|| challenger.clone());
					// Its first deadline may be past: the next node gets a full timeout.
					request.deadline =
						frame_system::Pallet::<T>::block_number().saturating_add(T::RequestTimeout::get());
					Deadlines::<T>::insert(request.deadline, id, ());
					request.status = RequestStatus::Assigned;
					let slashed = Self::reject(id, request, &proposal.node, &challenger_operator);
					Self::deposit_event(Event::ChallengeUpheld {
						request: id,
						node: proposal.node,
						challenger,
						slashed,
					});
					fuel_used
				},
			};
			T::WeightInfo::submit_result(output_bytes)
				.saturating_add(Self::input_weight(input_bytes))
				.saturating_add(Self::fuel_weight(fuel_used))
				.saturating_add(preparation)
				.saturating_add(db.reads_writes(5, 6))
		}

		/// Removes every trace of `request` from this pallet and refunds what is left in its
		/// escrow; returns the refund.
		fn close(id: RequestId, request: &RequestOf<T>) -> BalanceOf<T> {
			for node in &request.assigned {
				Assignments::<T>::remove(node, id);
			}
			Requests::<T>::remove(id);
			Inputs::<T>::remove(id);
			Deadlines::<T>::remove(request.deadline, id);
			OpenRequests::<T>::mutate_exists(request.model, |open| {
				*open = open.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
			});
			T::Escrow::refund(id)
		}

		/// Expires the requests whose deadline is `now`; returns how many.
		fn expire_requests(now: BlockNumberFor<T>) -> u32 {
			let due: Vec<RequestId> = Deadlines::<T>::iter_key_prefix(now).collect();
			let mut expired = 0u32;
			for id in due {
				if let Some(request) = Requests::<T>::get(id) {
					if request.status == RequestStatus::Pending {
						PendingQueue::<T>::mutate(|queue| queue.retain(|queued| *queued != id));
					}
					let refunded = Self::close(id, &request);
					Self::deposit_event(Event::Expired { request: id, refunded });
				}
				Deadlines::<T>::remove(now, id);
				expired += 1;
			}
			expired
		}

		/// Assigns waiting requests whose model now has a node; returns how many were tried.
		fn assign_pending() -> u32 {
			let queue = PendingQueue::<T>::get();
			if queue.is_empty() {
				return 0
			}
			let tried = queue.len() as u32;
			let mut still_waiting = BoundedVec::<RequestId, T::MaxPending>::new();
			for id in queue {
				let Some(mut request) = Requests::<T>::get(id) else { continue };
				if Self::try_assign(id, &mut request) {
					Requests::<T>::insert(id, request);
				} else {
					let _ = still_waiting.try_push(id);
				}
			}
			PendingQueue::<T>::put(still_waiting);
			tried
		}
	}

	/// A proposal taken from storage to be settled or decided.
	struct TakenProposal<T: Config> {
		request: RequestOf<T>,
		proposal: Proposal<T::AccountId, BlockNumberFor<T>>,
		/// The execution the proposal answers, by its proposer.
		job: Job<RequestId, T::AccountId>,
		/// What the proposer claimed, with its outputs.
		claim: Claim,
		/// SCALE size of the claimed outputs.
		output_bytes: u32,
		/// The model's owner, paid its price.
		owner: T::AccountId,
	}

	impl<T: Config> InferenceRequests<T::AccountId, BalanceOf<T>> for Pallet<T> {
		fn quote(model: &ModelHash) -> Result<Fee<BalanceOf<T>>, QuoteError> {
			Self::quote(model)
		}

		fn request(
			requester: T::AccountId,
			model: ModelHash,
			inputs: Vec<Tensor>,
			max_fee: BalanceOf<T>,
		) -> Result<RequestId, DispatchError> {
			ensure!(inputs.encoded_size() as u32 <= T::MaxInputBytes::get(), Error::<T>::InputTooLarge);
			Self::create_request(requester, model, inputs, max_fee)
		}
	}

	impl<T: Config> Contains<ModelHash> for Pallet<T> {
		/// Whether `model` has open requests.
		fn contains(model: &ModelHash) -> bool {
			OpenRequests::<T>::contains_key(model)
		}
	}
}
