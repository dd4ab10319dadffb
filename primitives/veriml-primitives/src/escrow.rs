//! Funds held for a purpose (an inference request's fee, a workflow's budget), as the pallets
//! that hold them see them (the escrow pallet provides them).

use sp_runtime::{DispatchError, DispatchResult};

/// Funds held for a purpose, paid out or refunded when the purpose is settled.
pub trait Escrow<EscrowId, AccountId, Balance> {
	/// Holds `amount` from `payer` under the new escrow `id`.
	fn lock(id: EscrowId, payer: &AccountId, amount: Balance) -> DispatchResult;

	/// Pays `amount` of escrow `id` to `payee`; returns what was paid.
	fn pay(id: EscrowId, payee: &AccountId, amount: Balance) -> Result<Balance, DispatchError>;

	/// Releases what is left of escrow `id` to its payer and closes it; returns the amount
	/// released (zero for an unknown escrow).
	fn refund(id: EscrowId) -> Balance;

	/// The payer and the amount still held of escrow `id`.
	fn locked(id: EscrowId) -> Option<(AccountId, Balance)>;
}

/// The escrows of one purpose inside an escrow pallet whose ids cover several purposes:
/// `Purpose` maps the purpose's own ids (a request id, a workflow id) into the pallet's.
pub struct EscrowOf<Inner, OuterId, Purpose>(core::marker::PhantomData<(Inner, OuterId, Purpose)>);

impl<Id, OuterId, AccountId, Balance, Inner, Purpose> Escrow<Id, AccountId, Balance>
	for EscrowOf<Inner, OuterId, Purpose>
where
	Inner: Escrow<OuterId, AccountId, Balance>,
	Purpose: sp_runtime::traits::Convert<Id, OuterId>,
{
	fn lock(id: Id, payer: &AccountId, amount: Balance) -> DispatchResult {
		Inner::lock(Purpose::convert(id), payer, amount)
	}

	fn pay(id: Id, payee: &AccountId, amount: Balance) -> Result<Balance, DispatchError> {
		Inner::pay(Purpose::convert(id), payee, amount)
	}

	fn refund(id: Id) -> Balance {
		Inner::refund(Purpose::convert(id))
	}

	fn locked(id: Id) -> Option<(AccountId, Balance)> {
		Inner::locked(Purpose::convert(id))
	}
}
