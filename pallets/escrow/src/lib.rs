//! # Payment escrow
//!
//! Holds a payer's funds for a purpose (an inference request's fee) until they are paid out
//! or refunded. Funds stay in the payer's account under a fungible hold
//! ([`HoldReason::Escrow`]), so they are visible in the payer's balance as "on hold" in
//! wallets, cannot be spent, and cannot be lost by a bug in the pallet that asked for them:
//! every escrow is recorded with its payer and remaining amount, and every movement emits an
//! event.
//!
//! Other pallets use it through the [`Escrow`] trait (of `veriml-primitives`):
//! [`lock`](Escrow::lock) → any number of [`pay`](Escrow::pay) → [`refund`](Escrow::refund)
//! of the rest, which closes the escrow.
//!
//! The pallet has no calls: it moves funds only when the pallet that owns the purpose says so.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod tests;

use frame_support::dispatch::DispatchResult;
use sp_runtime::DispatchError;
pub use veriml_primitives::escrow::{Escrow, EscrowOf};

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			tokens::{Fortitude, Precision, Restriction},
		},
	};
	use frame_system::pallet_prelude::BlockNumberFor;
	use sp_runtime::traits::{Saturating, Zero};

	/// Balance of the escrowed currency.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency escrowed.
		type Currency: Mutate<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// Identifies an escrow (an inference request's id).
		type EscrowId: Parameter + MaxEncodedLen + Copy;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Held until the purpose it was locked for is settled.
		Escrow,
	}

	/// An open escrow: who pays, and how much is still held.
	#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
	pub struct EscrowRecord<AccountId, Balance> {
		/// The account the funds are held in.
		pub payer: AccountId,
		/// The amount still held.
		pub amount: Balance,
	}

	/// Open escrows.
	#[pallet::storage]
	pub type Escrows<T: Config> = StorageMap<_, Twox64Concat, T::EscrowId, EscrowRecord<T::AccountId, BalanceOf<T>>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `amount` was put on hold from `payer` for escrow `id`.
		Locked { id: T::EscrowId, payer: T::AccountId, amount: BalanceOf<T> },
		/// `amount` of escrow `id` was paid to `payee`.
		Paid { id: T::EscrowId, payee: T::AccountId, amount: BalanceOf<T> },
		/// Escrow `id` closed; `amount` left in it was released to `payer`.
		Refunded { id: T::EscrowId, payer: T::AccountId, amount: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// An escrow with this id is open already.
		AlreadyLocked,
		/// No escrow with this id is open.
		UnknownEscrow,
		/// The payer's free balance cannot cover the amount.
		InsufficientBalance,
		/// The payment is larger than what the escrow still holds.
		ExceedsEscrow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	impl<T: Config> Pallet<T> {
		/// The pallet's invariant, checked by `try_state` and after every block of the tests:
		/// each payer's `Escrow` hold is the sum of what its open escrows still hold.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let mut held = veriml_primitives::invariants::ExpectedHolds::default();
			for (_, escrow) in Escrows::<T>::iter() {
				held.add(escrow.payer, escrow.amount);
			}
			held.check(
				|payer| T::Currency::balance_on_hold(&HoldReason::Escrow.into(), payer),
				"a payer's Escrow hold is not the sum of its open escrows",
			)
		}
	}

	impl<T: Config> Escrow<T::EscrowId, T::AccountId, BalanceOf<T>> for Pallet<T> {
		fn lock(id: T::EscrowId, payer: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			ensure!(!Escrows::<T>::contains_key(id), Error::<T>::AlreadyLocked);
			if !amount.is_zero() {
				T::Currency::hold(&HoldReason::Escrow.into(), payer, amount)
					.map_err(|_| Error::<T>::InsufficientBalance)?;
			}
			Escrows::<T>::insert(id, EscrowRecord { payer: payer.clone(), amount });
			Self::deposit_event(Event::Locked { id, payer: payer.clone(), amount });
			Ok(())
		}

		fn pay(id: T::EscrowId, payee: &T::AccountId, amount: BalanceOf<T>) -> Result<BalanceOf<T>, DispatchError> {
			let mut escrow = Escrows::<T>::get(id).ok_or(Error::<T>::UnknownEscrow)?;
			ensure!(amount <= escrow.amount, Error::<T>::ExceedsEscrow);
			if amount.is_zero() {
				return Ok(amount);
			}
			let paid = if *payee == escrow.payer {
				T::Currency::release(&HoldReason::Escrow.into(), payee, amount, Precision::Exact)?
			} else {
				T::Currency::transfer_on_hold(
					&HoldReason::Escrow.into(),
					&escrow.payer,
					payee,
					amount,
					Precision::Exact,
					Restriction::Free,
					Fortitude::Polite,
				)?
			};
			escrow.amount = escrow.amount.saturating_sub(paid);
			Escrows::<T>::insert(id, escrow);
			Self::deposit_event(Event::Paid { id, payee: payee.clone(), amount: paid });
			Ok(paid)
		}

		fn refund(id: T::EscrowId) -> BalanceOf<T> {
			let Some(escrow) = Escrows::<T>::take(id) else { return Zero::zero() };
			// Best effort: the hold can only be smaller than recorded if the balances pallet
			// slashed it, and then the rest is all there is to give back.
			let held = T::Currency::balance_on_hold(&HoldReason::Escrow.into(), &escrow.payer);
			let amount = escrow.amount.min(held);
			let released =
				T::Currency::release(&HoldReason::Escrow.into(), &escrow.payer, amount, Precision::BestEffort)
					.unwrap_or_else(|_| Zero::zero());
			Self::deposit_event(Event::Refunded { id, payer: escrow.payer, amount: released });
			released
		}

		fn locked(id: T::EscrowId) -> Option<(T::AccountId, BalanceOf<T>)> {
			Escrows::<T>::get(id).map(|escrow| (escrow.payer, escrow.amount))
		}
	}
}
