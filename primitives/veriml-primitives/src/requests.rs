//! Inference requests as other pallets (workflows) make them (the inference requests pallet
//! provides them).

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::DispatchError;
use veriml_inference_primitives::{ModelHash, Tensor};

/// Identifies a request; assigned in order from 0.
pub type RequestId = u64;

/// Inference requests as other pallets (workflows) make them.
pub trait InferenceRequests<AccountId, Balance> {
	/// What a request of `model` costs now, or why it cannot be requested.
	fn quote(model: &ModelHash) -> Result<Fee<Balance>, QuoteError>;

	/// Requests an inference of `model` on `inputs` for `requester`, holding the fee (at most
	/// `max_fee`) from its free balance, exactly as the `request` call does.
	fn request(
		requester: AccountId,
		model: ModelHash,
		inputs: Vec<Tensor>,
		max_fee: Balance,
	) -> Result<RequestId, DispatchError>;
}

/// Why a model cannot be requested now: the answer of the inference API's `quote`.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo)]
pub enum QuoteError {
	/// No model with this hash is registered.
	UnknownModel,
	/// The model is deprecated and takes no new requests.
	ModelDeprecated,
	/// The model costs more fuel than one verification may use.
	ModelTooCostlyToVerify,
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
