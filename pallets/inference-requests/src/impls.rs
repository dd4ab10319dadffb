//! The requests' lifecycle: fees and weights, creating and assigning a request, judging a
//! submitted result, settling, closing and expiring; and the interfaces other pallets use.

use crate::*;
use alloc::vec::Vec;
use frame_support::{
	dispatch::PostDispatchInfo,
	pallet_prelude::*,
	traits::{fungible::MutateHold, Contains, Randomness},
};
use frame_system::pallet_prelude::*;
use sp_runtime::{
	traits::{Saturating, Zero},
	SaturatedConversion,
};
use veriml_inference_primitives::{check_inputs, input_hash, result_hash, EngineError, ModelHash, Tensor, H256};
use veriml_primitives::{
	escrow::Escrow,
	models::{encoded_outputs_len, ModelCatalog, ModelTerms, Verification},
	nodes::BondedNodes,
	verification::{Claim, Job, Outcome, ResultVerifier, Submission, Verdict, VerifiedJobs},
};

/// A registered model's terms as this pallet reads them.
pub(crate) type TermsOf<T> = ModelTerms<<T as frame_system::Config>::AccountId, BalanceOf<T>>;

/// What a new request holds and records, beyond its requester and model.
pub(crate) struct Opened<Balance> {
	/// What it is asked on: its inputs' hash, or a generation's
	/// ([`Pallet::generation_request_hash`]).
	pub input_hash: H256,
	/// Its inputs' SCALE size (0 for a generation).
	pub input_bytes: u32,
	/// The fee held in escrow.
	pub fee: Fee<Balance>,
	/// Most fuel one run (for a generation: one step) may use.
	pub fuel_limit: Fuel,
	/// Most fuel preparing the model for a run may take: its measured figure now.
	pub fuel_to_prepare: Fuel,
	/// How its answers are verified.
	pub verification: Verification,
	/// Held for its receipt.
	pub receipt_deposit: Balance,
}

/// Why a node is struck and its request given to another node.
pub(crate) enum Fault {
	/// Its result was refuted by re-execution.
	WrongResult,
	/// Its assignment lapsed without an answer.
	Silence,
}

impl<T: Config> Pallet<T> {
	/// The fee of a request for a model priced `model_price` with verification fuel limit
	/// `fuel_limit`.
	pub fn fee(model_price: BalanceOf<T>, fuel_limit: Fuel) -> Fee<BalanceOf<T>> {
		let per_fuel = T::ExecutionFeePerFuel::get();
		let fuel: BalanceOf<T> = fuel_limit.saturated_into();
		let execution = T::ExecutionBaseFee::get().saturating_add(per_fuel.saturating_mul(fuel));
		let protocol = T::ProtocolShare::get() * model_price.saturating_add(execution);
		Fee { model_price, execution, protocol }
	}

	/// What a request for `model` would cost now, or why it cannot be requested.
	pub fn quote(model: &ModelHash) -> Result<Fee<BalanceOf<T>>, QuoteError> {
		let terms = T::Models::terms(model).ok_or(QuoteError::UnknownModel)?;
		ensure!(terms.active, QuoteError::ModelDeprecated);
		let fuel_limit = Self::fuel_limit(&terms).map_err(|_| QuoteError::ModelTooCostlyToVerify)?;
		// Its inputs have the model's fixed shapes, so their size is known here (the SCALE size
		// of tensors of these specs), and a request of it would be refused as below.
		let input_bytes = u32::try_from(encoded_outputs_len(&terms.inputs)).unwrap_or(u32::MAX);
		ensure!(Self::verifiable(&terms, input_bytes, fuel_limit), QuoteError::ModelTooCostlyToVerify);
		Ok(Self::fee(terms.price_per_inference, fuel_limit))
	}

	/// The weight of `fuel` units of engine work, at the model registry's price for the chain's
	/// engine guest.
	pub fn fuel_weight(fuel: Fuel) -> Weight {
		T::Models::fuel_weight(fuel)
	}

	/// What `fuel` units of engine work would weigh beyond [`fuel_weight`](Self::fuel_weight)
	/// at the highest price of fuel: the room a check made now leaves for a guest charged more,
	/// which root may set (after its delay) before the work is done.
	pub(crate) fn price_rise(fuel: Fuel) -> Weight {
		T::Models::most_fuel_weight(fuel).saturating_sub(T::Models::fuel_weight(fuel))
	}

	/// `base` plus the re-execution of `request` at its fuel limit, with its inputs: what a
	/// block reserves for verifying one submission. (Reading the request here is charged
	/// in `base`.)
	pub fn verification_weight(request: RequestId, base: Weight) -> Weight {
		match Requests::<T>::get(request) {
			Some(r) => Self::answer_weight(
				base,
				r.verification,
				r.input_bytes,
				r.fuel_limit,
				T::Models::terms(&r.model).map(|terms| Self::as_opened(&r, terms)).as_ref(),
			),
			// Reading the engine version the chain replaced, to refuse results made with it.
			None => base.saturating_add(T::DbWeight::get().reads(1)),
		}
	}

	/// `base` plus what an answer to a request (`verification`, `input_bytes` of inputs, run at
	/// `fuel_limit`) of a model of `terms` adds: reading the replaced engine version and the
	/// inputs, and, re-executed in block, the run and the model's preparation.
	pub(crate) fn answer_weight(
		base: Weight,
		verification: Verification,
		input_bytes: u32,
		fuel_limit: Fuel,
		terms: Option<&TermsOf<T>>,
	) -> Weight {
		// Reading the engine version the chain replaced, to refuse results made with it.
		let base = base.saturating_add(T::DbWeight::get().reads(1)).saturating_add(Self::input_weight(input_bytes));
		match verification {
			// Proposed, not re-executed: reading the inputs to hand the job over; hashing the
			// outputs is in `base`.
			Verification::Optimistic => base,
			_ => base
				.saturating_add(Self::fuel_weight(fuel_limit))
				.saturating_add(terms.map(Self::preparation_weight).unwrap_or_default()),
		}
	}

	/// `submit_result`'s weight before its request's: the benchmarked call with the largest
	/// outputs and what its benchmark does not cover.
	pub(crate) fn submit_result_base() -> Weight {
		T::WeightInfo::submit_result(T::MaxOutputBytes::get()).saturating_add(Self::unbenchmarked_weight())
	}

	/// Whether a result of a model of `terms` on `input_bytes` of inputs, re-executed at
	/// `fuel_limit` (in the block that takes it, or in a dispute's decision), fits one
	/// transaction and the room decisions have: its submission, the inputs read, the model
	/// prepared (its bytes read: a large model in the content store takes a while) and run. `MaxVerificationFuel` bounds the fuel alone, and with the
	/// largest model in state and the largest inputs fits (`integrity_test`). Checked at the
	/// highest price of fuel: the answer comes blocks later, and the guest the chain runs then
	/// may be charged more than today's (a request taken at a lower price could then never be
	/// answered, and its nodes would be struck for silence).
	pub(crate) fn verifiable(terms: &TermsOf<T>, input_bytes: u32, fuel_limit: Fuel) -> bool {
		// As `submit_result` weighs an answer re-executed in block (a dispute's decision
		// re-executes it alike).
		let weight = Self::answer_weight(
			Self::submit_result_base(),
			Verification::InBlock,
			input_bytes,
			fuel_limit,
			Some(terms),
		)
		.saturating_add(Self::price_rise(fuel_limit.saturating_add(terms.fuel_to_prepare)));
		weight.all_lte(Self::max_call_weight()) && weight.all_lte(T::Verifier::decision_weight())
	}

	/// The most weight one ordinary transaction's call may have: the block's `max_extrinsic`
	/// for its class, less 1 % for the transaction's extensions (checking its nonce and weight,
	/// charging its fee), which the pool adds to the call's weight before comparing (as the
	/// registry's `max_extrinsic_weight`).
	pub(crate) fn max_call_weight() -> Weight {
		let weights = T::BlockWeights::get();
		let max =
			weights.get(frame_support::dispatch::DispatchClass::Normal).max_extrinsic.unwrap_or(weights.max_block);
		max.saturating_sub(max / 100)
	}

	/// The most re-executing a model of `terms` in a block adds for preparing it (with
	/// [`charge_preparation`](Self::charge_preparation)'s reads of the models prepared in the
	/// block and the engine versions, and its write).
	pub(crate) fn preparation_weight(terms: &TermsOf<T>) -> Weight {
		T::Models::preparation_weight(terms).saturating_add(T::DbWeight::get().reads_writes(3, 1))
	}

	/// What the calls and hooks that open, assign or end a request do beyond their benchmarks
	/// until they are benchmarked again: its entry in [`Undrawn`] (written, drained at the
	/// end of the block), the nodes serving its model and the block's randomness read to
	/// draw them, scheduling the lapse of its assignments (one entry a node) and holding or
	/// releasing its receipt deposit (the record, the hold, the account), and the receipt's
	/// entry in its block's receipt log when verification keeps one.
	pub(crate) fn unbenchmarked_weight() -> Weight {
		T::DbWeight::get()
			.reads_writes(4, T::Replication::get().saturating_add(3).into())
			.saturating_add(Self::deposit_weight())
	}

	/// Holding or releasing a receipt deposit: its record, the hold and the account.
	pub(crate) fn deposit_weight() -> Weight {
		T::DbWeight::get().reads_writes(3, 3)
	}

	/// What a request for a model of `terms` holds from its requester for its receipt:
	/// `ReceiptDepositBase` and `ReceiptDepositPerByte` for each byte of the model's outputs.
	pub fn receipt_deposit(terms: &TermsOf<T>) -> BalanceOf<T> {
		Self::deposit_for_bytes(terms.output_bytes.into())
	}

	/// `ReceiptDepositBase` and `ReceiptDepositPerByte` for each of `bytes` kept in state.
	pub(crate) fn deposit_for_bytes(bytes: BalanceOf<T>) -> BalanceOf<T> {
		T::ReceiptDepositBase::get().saturating_add(T::ReceiptDepositPerByte::get().saturating_mul(bytes))
	}

	/// Releases what request `id` holds for its receipt, if anything.
	pub(crate) fn release_receipt_deposit(id: RequestId) {
		if let Some((requester, amount)) = ReceiptDeposits::<T>::take(id) {
			let released = T::Currency::release(
				&HoldReason::ReceiptDeposit.into(),
				&requester,
				amount,
				frame_support::traits::tokens::Precision::BestEffort,
			);
			if released != Ok(amount) {
				frame_support::defensive!("a receipt deposit was not held in full");
			}
		}
	}

	/// What re-executing `model` (registered with `terms`) now adds for preparing it within
	/// `preparation_limit` (its request's figure; `None`: the registry's): all of it on its
	/// first re-execution in this block, which it records, or just the check on a later one.
	///
	/// Only a preparation that succeeds leaves the model prepared for the block's later
	/// re-executions, and only one within the figure the chain's guest measured is sure to:
	/// a request opened with another figure (before the model was measured again), or a
	/// figure a replaced guest measured (the chain's guest may take more and refuse it, each
	/// time), pays the whole preparation every time.
	pub(crate) fn charge_preparation(model: &ModelHash, terms: &TermsOf<T>, preparation_limit: Option<Fuel>) -> Weight {
		let fuel_to_prepare = preparation_limit.unwrap_or(terms.fuel_to_prepare);
		let measured_now =
			fuel_to_prepare == terms.fuel_to_prepare && terms.measured_with == T::Models::engine_versions().0;
		if measured_now {
			let mut prepared = PreparedInBlock::<T>::get();
			if prepared.contains(model) {
				return T::DbWeight::get().reads(3);
			}
			// Full: this and later models pay every time.
			if prepared.try_push(*model).is_ok() {
				PreparedInBlock::<T>::put(prepared);
			}
		}
		Self::preparation_weight(&TermsOf::<T> { fuel_to_prepare, ..terms.clone() })
	}

	/// `terms` of a model as `request` was opened with them: its fuel to prepare then.
	pub(crate) fn as_opened(request: &RequestOf<T>, terms: TermsOf<T>) -> TermsOf<T> {
		TermsOf::<T> { fuel_to_prepare: request.fuel_to_prepare, ..terms }
	}

	/// Reading, decoding and hashing `input_bytes` of inputs to re-execute a request: the
	/// per-byte part of `submit_result`'s benchmark, whose model (a Relu) takes inputs as
	/// large as its outputs, so this bounds it from above.
	pub(crate) fn input_weight(input_bytes: u32) -> Weight {
		T::WeightInfo::submit_result(input_bytes).saturating_sub(T::WeightInfo::submit_result(0))
	}

	/// The fuel limit of a run of a model of `terms`: its fuel per run with the margin. A
	/// model whose limit and preparation together exceed `MaxVerificationFuel` is too
	/// costly to verify in a block.
	pub(crate) fn fuel_limit(terms: &TermsOf<T>) -> Result<Fuel, DispatchError> {
		let limit = terms.fuel_per_run.saturating_mul(100u64.saturating_add(T::FuelMargin::get().into())) / 100;
		ensure!(
			limit.saturating_add(terms.fuel_to_prepare) <= T::MaxVerificationFuel::get(),
			Error::<T>::ModelTooCostlyToVerify
		);
		Ok(limit)
	}

	pub(crate) fn open_request(request: RequestId) -> Result<RequestOf<T>, DispatchError> {
		Requests::<T>::get(request).ok_or_else(|| {
			if request < NextRequestId::<T>::get() {
				Error::<T>::RequestClosed.into()
			} else {
				Error::<T>::UnknownRequest.into()
			}
		})
	}

	/// Checks `inputs` against `model`, holds the fee and opens the request (its nodes drawn
	/// at the end of the block, or waiting for one); returns its id.
	pub(crate) fn create_request(
		requester: T::AccountId,
		model: ModelHash,
		inputs: Vec<Tensor>,
		max_fee: BalanceOf<T>,
	) -> Result<RequestId, DispatchError> {
		let terms = Self::requestable(&model)?;
		// No node could submit a result of it (a model registered before the registry
		// refused such models): refused before anyone pays or works for it.
		ensure!(terms.output_bytes <= T::MaxOutputBytes::get(), Error::<T>::OutputTooLarge);
		check_inputs(&inputs, &terms.inputs).map_err(|error| match error {
			EngineError::MalformedTensor => Error::<T>::MalformedTensor,
			_ => Error::<T>::InputDoesNotMatchModel,
		})?;
		let fuel_limit = Self::fuel_limit(&terms)?;
		let input_bytes = inputs.encoded_size() as u32;
		ensure!(Self::verifiable(&terms, input_bytes, fuel_limit), Error::<T>::ModelTooCostlyToVerify);
		let fee = Self::fee(terms.price_per_inference, fuel_limit);
		let opened = Opened {
			input_hash: input_hash(&inputs),
			input_bytes,
			fee,
			fuel_limit,
			fuel_to_prepare: terms.fuel_to_prepare,
			verification: terms.verification,
			receipt_deposit: Self::receipt_deposit(&terms),
		};
		let id = Self::open(requester, model, opened, max_fee)?;
		Inputs::<T>::insert(id, inputs);
		Ok(id)
	}

	/// The terms of `model`, where it takes new requests.
	pub(crate) fn requestable(model: &ModelHash) -> Result<TermsOf<T>, DispatchError> {
		let terms = T::Models::terms(model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(terms.active, Error::<T>::ModelDeprecated);
		Ok(terms)
	}

	/// Holds the fee and the receipt deposit of a new request of `model` for `requester` and
	/// opens it (its nodes drawn at the end of the block, or waiting for one); returns its id.
	pub(crate) fn open(
		requester: T::AccountId,
		model: ModelHash,
		opened: Opened<BalanceOf<T>>,
		max_fee: BalanceOf<T>,
	) -> Result<RequestId, DispatchError> {
		let Opened { input_hash, input_bytes, fee, fuel_limit, fuel_to_prepare, verification, receipt_deposit } =
			opened;
		ensure!(fee.total() <= max_fee, Error::<T>::FeeAboveMax);
		let id = NextRequestId::<T>::get();
		T::Escrow::lock(id, &requester, fee.total()).map_err(|_| Error::<T>::InsufficientBalance)?;
		// Dispatch (and the workflows' request, in a transaction of its own) undoes the
		// escrow's hold if this one fails.
		if !receipt_deposit.is_zero() {
			T::Currency::hold(&HoldReason::ReceiptDeposit.into(), &requester, receipt_deposit)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			ReceiptDeposits::<T>::insert(id, (requester.clone(), receipt_deposit));
		}
		let now = frame_system::Pallet::<T>::block_number();
		let deadline = now.saturating_add(T::RequestTimeout::get());
		let request = Request {
			requester: requester.clone(),
			model,
			input_hash,
			input_bytes,
			fee,
			fuel_limit,
			verification,
			status: RequestStatus::Pending,
			assigned: BoundedVec::new(),
			refuted: BoundedVec::new(),
			created_at: now,
			deadline,
			fuel_to_prepare,
		};
		Self::deposit_event(Event::Requested {
			request: id,
			requester,
			model,
			input_hash,
			fee,
			receipt_deposit,
			deadline,
		});
		// Its nodes are drawn at the end of the block. With none serving the model now it
		// waits in the queue (tried then too), which must have room for it.
		if T::Nodes::nodes(&model).is_empty() {
			PendingQueue::<T>::try_mutate(|queue| queue.try_push(id)).map_err(|_| Error::<T>::NoNodeAvailable)?;
			Self::deposit_event(Event::AwaitingNode { request: id });
		} else {
			let nonce = frame_system::Pallet::<T>::account_nonce(&request.requester);
			Undrawn::<T>::insert(id, DrawSalt::Nonce(nonce.saturated_into::<u64>()));
		}
		NextRequestId::<T>::put(id.saturating_add(1));
		Requests::<T>::insert(id, request);
		Deadlines::<T>::insert(deadline, id, ());
		OpenRequests::<T>::mutate(model, |open| *open = open.saturating_add(1));
		Ok(id)
	}

	/// Assigns `request` to up to `Replication` nodes, as many as are missing, never to a node
	/// already assigned or refuted on it; `false` if it has none afterwards.
	/// `salt` tells apart draws for the same subject in one block (see [`Undrawn`]).
	pub(crate) fn try_assign(id: RequestId, request: &mut RequestOf<T>, salt: DrawSalt) -> bool {
		let missing = T::Replication::get().saturating_sub(request.assigned.len() as u32);
		if missing > 0 {
			let mut excluded: Vec<T::AccountId> = request.assigned.to_vec();
			excluded.extend_from_slice(&request.refuted);
			let seed = Self::assignment_seed(request, salt);
			let nodes = T::Nodes::assign(&request.model, &seed, missing, &excluded);
			let now = frame_system::Pallet::<T>::block_number();
			let lapse = now.saturating_add(T::AnswerWithin::get());
			for node in &nodes {
				if request.assigned.try_push(node.clone()).is_ok() {
					Assignments::<T>::insert(node, id, ());
					if lapse < request.deadline {
						Lapses::<T>::insert(lapse, (id, node), ());
					}
				}
			}
			if !nodes.is_empty() {
				Self::deposit_event(Event::Assigned { request: id, nodes });
				Self::draw_sampling_seed(id, &seed);
			}
		}
		if request.assigned.is_empty() {
			return false;
		}
		request.status = RequestStatus::Assigned;
		true
	}

	/// The seed `request`'s nodes are drawn from: the randomness of the block at whose end
	/// they are drawn ([`Config::Randomness`]: in the runtime BABE's VRF output of this
	/// block, revealed in its `on_finalize`, which no author can grind as it could a block
	/// hash, and no requester knows when it signs) for what the request is: its requester,
	/// model and inputs, how many of its nodes were refuted, and `salt` (for a new request
	/// the requester's nonce, set by its signature). Not a new request's id, which the order
	/// of the block's transactions sets: the author, who knows its own VRF output, could
	/// otherwise steer others' requests by placing them; it can only leave a request out, for
	/// another author's block. (A request made in an earlier block is salted with its id,
	/// fixed then.) What is left: an author steering its *own* requests in the blocks it
	/// authors (docs/inference.md).
	pub(crate) fn assignment_seed(request: &RequestOf<T>, salt: DrawSalt) -> [u8; 32] {
		let subject = (
			b"veriml/assign",
			&request.requester,
			request.model,
			request.input_hash,
			request.refuted.len() as u32,
			salt,
		)
			.encode();
		let (random, _) = T::Randomness::random(&subject);
		let random = random.unwrap_or_else(|| {
			log::warn!(target: "veriml::inference", "no randomness in this block: assigning from the parent hash");
			frame_system::Pallet::<T>::parent_hash()
		});
		sp_io::hashing::blake2_256(&(random, subject).encode())
	}

	/// Hands `node`'s `claim` for `request` to verification in the model's mode, and settles
	/// or slashes on its verdict, or waits for it.
	pub(crate) fn judge(
		node: T::AccountId,
		id: RequestId,
		claim: Claim,
		base_weight: Weight,
	) -> DispatchResultWithPostInfo {
		let outputs = match &claim {
			Claim::Outputs { outputs, result_hash } => Some((&outputs[..], result_hash)),
			Claim::Failure(_) => None,
		};
		let (request, terms) = Self::check_answer(&node, id, outputs)?;
		// Reading the replaced engine version in the check.
		let base_weight = base_weight.saturating_add(T::DbWeight::get().reads(1));
		let job = Self::job_of(id, &request, terms.inputs.clone(), node.clone());
		let verdict = match T::Verifier::submit(request.verification, &job, claim)? {
			Submission::Deferred => {
				Self::await_verdict(id, request);
				let weight = base_weight.saturating_add(Self::input_weight(request_input_bytes(&job)));
				return Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::No });
			},
			Submission::Decided(verdict) => verdict,
		};
		let (outcome, fuel_used, confirmed) = match verdict {
			Verdict::Confirmed { outcome, fuel_used } => (outcome, fuel_used, true),
			Verdict::Refuted { expected, fuel_used } => (expected, fuel_used, false),
		};
		let weight = base_weight.saturating_add(Self::re_execution(&job, &terms, fuel_used));

		if !confirmed {
			let requester = request.requester.clone();
			Self::reject(id, request, &node, &requester, Fault::WrongResult);
			// Where answers are charged at all (not `feeless_if`), the liar pays for the
			// verification it caused.
			return Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::Yes });
		}
		Self::settle(id, &request, node, outcome, &terms.owner);
		Ok(PostDispatchInfo { actual_weight: Some(weight), pays_fee: Pays::No })
	}

	/// What an answer of `node` to `request` (`outputs` with their claimed hash, or `None` for a
	/// failure report) must be before verification sees it: from a node assigned to the open
	/// request, with outputs a result may carry, not computed with the engine the chain
	/// replaced. Returns the request and its model's terms.
	pub(crate) fn check_answer(
		node: &T::AccountId,
		id: RequestId,
		outputs: Option<(&[Tensor], &H256)>,
	) -> Result<(RequestOf<T>, TermsOf<T>), DispatchError> {
		if let Some((outputs, _)) = outputs {
			ensure!(outputs.encoded_size() as u32 <= T::MaxOutputBytes::get(), Error::<T>::OutputTooLarge);
		}
		let request = Self::open_request(id)?;
		ensure!(!Generations::<T>::contains_key(id), Error::<T>::IsAGeneration);
		ensure!(request.assigned.contains(node), Error::<T>::NotAssigned);
		let terms = T::Models::terms(&request.model).ok_or(Error::<T>::UnknownModel)?;
		if let (Some((outputs, claimed)), (_, Some(replaced))) = (outputs, T::Models::engine_versions()) {
			ensure!(
				*claimed != result_hash(replaced, &request.model, &request.input_hash, outputs),
				Error::<T>::ComputedWithReplacedEngine
			);
		}
		Ok((request, terms))
	}

	/// Whether the answer of `origin` to `request` is sent without a transaction fee (the
	/// calls' `feeless_if`, which the runtime's `SkipCheckIfFeeless` reads when it validates the
	/// transaction): an answer of an active node that passes [`check_answer`](Self::check_answer),
	/// and for an optimistic model a result whose hash commits to its outputs (verification refuses
	/// others without deciding). So an assigned node needs no balance for the fee of the
	/// verification it asks for, and a transaction that would fail in dispatch pays its fee:
	/// no one fills blocks for free. A wrong result passes (it is re-executed or challenged,
	/// and its node struck).
	pub fn answers_without_fee(origin: &OriginFor<T>, id: RequestId, outputs: Option<(&[Tensor], &H256)>) -> bool {
		let Ok(node) = ensure_signed(origin.clone()) else { return false };
		// A node no longer active (suspended, leaving) may have too little bond left for its
		// strike to cost what a free re-execution does: it pays, as any sender.
		if !T::Nodes::is_active(&node) {
			return false;
		}
		let Ok((request, _)) = Self::check_answer(&node, id, outputs) else { return false };
		match (request.verification, outputs) {
			(Verification::Optimistic, Some((outputs, claimed))) => {
				let (engine, _) = T::Models::engine_versions();
				*claimed == result_hash(engine, &request.model, &request.input_hash, outputs)
			},
			_ => true,
		}
	}

	/// What re-executing `job` (of a model of `terms`) in this block weighs beyond the call:
	/// reading its inputs, preparing its model (recorded) and `fuel_used` units of work.
	fn re_execution(job: &Job<RequestId, T::AccountId>, terms: &TermsOf<T>, fuel_used: Fuel) -> Weight {
		Self::input_weight(request_input_bytes(job))
			.saturating_add(Self::fuel_weight(fuel_used))
			.saturating_add(Self::charge_preparation(&job.model, terms, job.preparation_limit))
	}

	/// A result of `request` waits for its verification mode's decision: no node computes it
	/// any more and it no longer expires.
	pub(crate) fn await_verdict(id: RequestId, mut request: RequestOf<T>) {
		for assigned in &request.assigned {
			Assignments::<T>::remove(assigned, id);
		}
		request.assigned = BoundedVec::new();
		Deadlines::<T>::remove(request.deadline, id);
		request.status = RequestStatus::Verifying;
		Requests::<T>::insert(id, request);
	}

	/// The execution `request` asks for, as computed by `executor`.
	pub(crate) fn job_of(
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
			input_hash: request.input_hash,
			fuel_limit: request.fuel_limit,
			preparation_limit: Some(request.fuel_to_prepare),
			max_output_bytes: T::MaxOutputBytes::get(),
			executor,
		}
	}

	/// Slashes `node` for its `fault` on `request` (part to `wronged`) and gives the request
	/// to another node, or abandons it after `MaxRefutedNodes`.
	pub(crate) fn reject(
		id: RequestId,
		mut request: RequestOf<T>,
		node: &T::AccountId,
		wronged: &T::AccountId,
		fault: Fault,
	) -> BalanceOf<T> {
		// A generation's node that stays silent is not struck, only replaced: a generation has
		// no failure report yet, so a decoder the engine refuses mid-generation (every logit
		// NaN, say) would otherwise get honest nodes struck, part of it paid to the requester.
		let slashed = match fault {
			Fault::Silence if Generations::<T>::contains_key(id) => Zero::zero(),
			_ => T::Nodes::strike(node, Some(wronged)),
		};
		request.assigned.retain(|n| n != node);
		Assignments::<T>::remove(node, id);
		let node = node.clone();
		Self::deposit_event(match fault {
			Fault::WrongResult => Event::ResultRejected { request: id, node: node.clone(), slashed },
			Fault::Silence => Event::AssignmentLapsed { request: id, node: node.clone(), slashed },
		});
		if request.refuted.try_push(node.clone()).is_err() {
			let refunded = Self::close_without_receipt(id, &request);
			Self::deposit_event(Event::Abandoned { request: id, refunded });
		} else {
			// Another node is drawn at the end of the block, from randomness the rejected
			// node does not know now (it cannot pick the block of its fault to steer the
			// request to a node of its own).
			if request.assigned.is_empty() {
				request.status = RequestStatus::Pending;
			}
			Undrawn::<T>::insert(id, DrawSalt::Made(id));
			Requests::<T>::insert(id, request);
		}
		slashed
	}

	/// `executor`'s answer to `request`, which waited for a decision, is wrong: it is struck
	/// (part of its slash to `wronged`) and the request, open again with a full timeout (its
	/// first deadline may be past), goes to another node. Returns what was slashed.
	pub(crate) fn refute(
		id: RequestId,
		mut request: RequestOf<T>,
		executor: &T::AccountId,
		wronged: &T::AccountId,
	) -> BalanceOf<T> {
		request.deadline = frame_system::Pallet::<T>::block_number().saturating_add(T::RequestTimeout::get());
		Deadlines::<T>::insert(request.deadline, id, ());
		request.status = RequestStatus::Assigned;
		Self::reject(id, request, executor, wronged, Fault::WrongResult)
	}

	/// Draws the nodes of the requests made or left short of nodes in this block; those that
	/// get none wait in the queue (or, if it is full, until their deadline refunds the fee).
	pub(crate) fn draw_undrawn() {
		let undrawn: Vec<(RequestId, DrawSalt)> = Undrawn::<T>::drain().collect();
		for (id, salt) in undrawn {
			// Ended in the block (cancelled, expired, settled by another of its nodes), or a
			// result is being verified: nothing to draw.
			let Some(mut request) = Requests::<T>::get(id) else { continue };
			if request.status == RequestStatus::Verifying {
				continue;
			}
			if !Self::try_assign(id, &mut request, salt)
				&& PendingQueue::<T>::try_mutate(|queue| queue.try_push(id)).is_ok()
			{
				Self::deposit_event(Event::AwaitingNode { request: id });
			}
			Requests::<T>::insert(id, request);
		}
	}

	/// Pays out the fee of `request`, whose `outcome` from `node` is verified, and closes it.
	pub(crate) fn settle(
		id: RequestId,
		request: &RequestOf<T>,
		node: T::AccountId,
		outcome: Outcome,
		owner: &T::AccountId,
	) {
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

	/// Closes `request`, which ends without a receipt (expired, cancelled, abandoned): as
	/// [`close`](Self::close), and its receipt deposit is released.
	pub(crate) fn close_without_receipt(id: RequestId, request: &RequestOf<T>) -> BalanceOf<T> {
		Self::release_receipt_deposit(id);
		Self::close(id, request)
	}

	/// Removes every trace of `request` from this pallet but its receipt deposit (kept with
	/// the receipt) and refunds what is left in its escrow; returns the refund.
	pub(crate) fn close(id: RequestId, request: &RequestOf<T>) -> BalanceOf<T> {
		for node in &request.assigned {
			Assignments::<T>::remove(node, id);
		}
		Requests::<T>::remove(id);
		Inputs::<T>::remove(id);
		Generations::<T>::remove(id);
		if let Some(answer) = GenerationAnswers::<T>::take(id) {
			GenerationWindows::<T>::remove(answer.settles_at, id);
		}
		Deadlines::<T>::remove(request.deadline, id);
		OpenRequests::<T>::mutate_exists(request.model, |open| {
			*open = open.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
		});
		T::Escrow::refund(id)
	}

	/// Strikes the nodes whose assignment lapses at `now` without an answer and gives their
	/// requests to other nodes; returns how many lapsed and how many had answered (or their
	/// request ended) before.
	pub(crate) fn lapse_assignments(now: BlockNumberFor<T>) -> (u32, u32) {
		let due: Vec<(RequestId, T::AccountId)> = Lapses::<T>::iter_key_prefix(now).collect();
		let (mut lapsed, mut stale) = (0u32, 0u32);
		for (id, node) in due {
			Lapses::<T>::remove(now, (id, &node));
			match Requests::<T>::get(id) {
				Some(request) if request.status == RequestStatus::Assigned && request.assigned.contains(&node) => {
					let requester = request.requester.clone();
					Self::reject(id, request, &node, &requester, Fault::Silence);
					lapsed += 1;
				},
				_ => stale += 1,
			}
		}
		(lapsed, stale)
	}

	/// Expires the requests whose deadline is `now`; returns how many.
	pub(crate) fn expire_requests(now: BlockNumberFor<T>) -> u32 {
		let due: Vec<RequestId> = Deadlines::<T>::iter_key_prefix(now).collect();
		let mut expired = 0u32;
		for id in due {
			if let Some(request) = Requests::<T>::get(id) {
				if request.status == RequestStatus::Pending {
					PendingQueue::<T>::mutate(|queue| queue.retain(|queued| *queued != id));
				}
				let refunded = Self::close_without_receipt(id, &request);
				Self::deposit_event(Event::Expired { request: id, refunded });
			}
			Deadlines::<T>::remove(now, id);
			expired += 1;
		}
		expired
	}

	/// Assigns waiting requests whose model now has a node; returns how many were tried.
	/// A request waits at least until the block after the one it was made in: its draw is
	/// salted with its id ([`DrawSalt::Made`]), which in its own block is the order the block's
	/// author gave its transactions, knowing the randomness that draws at its end.
	pub(crate) fn assign_pending() -> u32 {
		let queue = PendingQueue::<T>::get();
		if queue.is_empty() {
			return 0;
		}
		let tried = queue.len() as u32;
		let now = frame_system::Pallet::<T>::block_number();
		let mut still_waiting = BoundedVec::<RequestId, T::MaxPending>::new();
		for id in queue {
			let Some(mut request) = Requests::<T>::get(id) else { continue };
			if request.created_at < now && Self::try_assign(id, &mut request, DrawSalt::Made(id)) {
				Requests::<T>::insert(id, request);
			} else {
				let _ = still_waiting.try_push(id);
			}
		}
		PendingQueue::<T>::put(still_waiting);
		tried
	}
}

/// The SCALE size of `job`'s inputs (computed from the tensors' lengths; the bytes are not
/// encoded).
fn request_input_bytes<AccountId>(job: &Job<RequestId, AccountId>) -> u32 {
	job.inputs.encoded_size() as u32
}

impl<T: Config> VerifiedJobs<RequestId, T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn job(id: RequestId, executor: &T::AccountId) -> Option<Job<RequestId, T::AccountId>> {
		let request = Requests::<T>::get(id)?;
		let terms = T::Models::terms(&request.model)?;
		Some(Self::job_of(id, &request, terms.inputs, executor.clone()))
	}

	fn re_execution_weight(job: &Job<RequestId, T::AccountId>, fuel_used: Fuel) -> Weight {
		match T::Models::terms(&job.model) {
			Some(terms) => Self::re_execution(job, &terms, fuel_used),
			None => Self::input_weight(request_input_bytes(job)).saturating_add(Self::fuel_weight(fuel_used)),
		}
		.saturating_add(T::DbWeight::get().reads(1))
	}

	fn max_decision_weight(id: RequestId) -> Weight {
		let db = T::DbWeight::get();
		let Some(request) = Requests::<T>::get(id) else { return db.reads(1) };
		let Some(terms) = T::Models::terms(&request.model) else { return db.reads(2) };
		// The inputs' length, without reading them into the runtime.
		let input_bytes = sp_io::storage::read(&Inputs::<T>::hashed_key_for(id), &mut [], 0).unwrap_or_default();
		Self::input_weight(input_bytes)
			.saturating_add(Self::fuel_weight(request.fuel_limit))
			.saturating_add(Self::preparation_weight(&Self::as_opened(&request, terms)))
			.saturating_add(Self::max_confirmation_weight().max(T::WeightInfo::report_failure()))
			.saturating_add(db.reads(4))
	}

	fn max_confirmation_weight() -> Weight {
		// `confirmed` settles as a verified submission does.
		T::WeightInfo::submit_result(T::MaxOutputBytes::get())
	}

	fn confirmed(id: RequestId, executor: T::AccountId, outcome: Outcome, output_bytes: u32) -> Weight {
		let db = T::DbWeight::get();
		let Some(request) = Requests::<T>::get(id) else { return db.reads(1) };
		// An open request's model stays registered (the registry refuses to remove it).
		let Some(terms) = T::Models::terms(&request.model) else { return db.reads(2) };
		Self::settle(id, &request, executor, outcome, &terms.owner);
		// Bounded by a verified submission, which settles the same way.
		T::WeightInfo::submit_result(output_bytes)
	}

	fn refuted(
		id: RequestId,
		executor: &T::AccountId,
		wronged: &T::AccountId,
		output_bytes: u32,
	) -> (BalanceOf<T>, Weight) {
		let Some(request) = Requests::<T>::get(id) else { return (Zero::zero(), T::DbWeight::get().reads(1)) };
		let slashed = Self::refute(id, request, executor, wronged);
		// Bounded by a verified submission or a refuted report (slashed and reassigned).
		let weight = T::WeightInfo::submit_result(output_bytes).max(T::WeightInfo::report_failure());
		(slashed, weight.saturating_add(T::DbWeight::get().writes(1)))
	}

	fn receipt_pruned(id: RequestId) -> Weight {
		Self::release_receipt_deposit(id);
		Self::deposit_weight()
	}
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
