//! What veriml's off-chain workers (inference nodes, data nodes) share: the node keys of a
//! role ([`node_key_crypto!`]), the start of every run ([`run_with_keys`]: the keys of the role
//! in the keystore, one run at a time), and numbering signed transactions ([`NonceTracker`]).
//!
//! A worker may send several signed transactions from one key in one block, and more in the
//! next block before the first are included. `frame_system`'s `Signer` numbers each from the
//! on-chain nonce, so the second would replace or clash with the first. [`NonceTracker`]
//! numbers them itself, claiming each nonce atomically in the node's persistent off-chain
//! storage (workers of other roles, or of the next block, may be signing for the same account
//! at the same moment), and falls back to the chain's nonce when the chain stops moving (a
//! transaction was dropped).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use codec::Encode;
use frame_system::{
	offchain::{Account, AppCrypto, CreateSignedTransaction, Signer, SigningTypes, SubmitTransaction},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{
	offchain::{
		storage::StorageValueRef,
		storage_lock::{BlockAndTime, StorageLock},
		Duration,
	},
	traits::{One, Saturating},
};

/// The prefix of each account's [`NonceTracker`] record, shared by every worker that signs for
/// it: one account may be a data node's `feed` key and an inference node's `infr` key at once
/// (the same account on chain), and workers numbering its transactions apart gave two of them
/// one nonce (one was dropped: a missed round, a result that never landed).
pub const NONCE: &[u8] = b"veriml/nonce";

/// The off-chain storage names and log target of the inference role. Two pallets' workers sign
/// with an inference node's `infr` keys: the requests pallet's (results) and the verification
/// pallet's (challenges). They share one lock, so one runs at a time, and, as every role's
/// workers do, one nonce record per account ([`NONCE`]).
pub mod inference {
	/// The lock one worker run of the role holds.
	pub const WORKER_LOCK: &[u8] = b"veriml/inference/worker-lock";
	/// Logging target of inference nodes' work: `-l veriml::inference=debug`.
	pub const LOG_TARGET: &str = "veriml::inference";
}

#[doc(hidden)]
pub mod __private {
	pub use codec;
	pub use frame_system;
	pub use sp_runtime;
}

/// For mock runtimes whose off-chain workers send signed transactions: implements
/// `SigningTypes` (with `public` and `signature`), `CreateTransactionBase` and
/// `CreateSignedTransaction` for `$runtime`, whose extrinsics are `$extrinsic` (an
/// `UncheckedExtrinsic` of the runtime's `RuntimeCall`, signed over `(call, nonce)` by the
/// worker's key, with no extension).
#[macro_export]
macro_rules! impl_mock_signed_transactions {
	($runtime:ty, extrinsic = $extrinsic:ty, public = $public:ty, signature = $signature:ty $(,)?) => {
		impl $crate::__private::frame_system::offchain::SigningTypes for $runtime {
			type Public = $public;
			type Signature = $signature;
		}

		impl<LocalCall> $crate::__private::frame_system::offchain::CreateTransactionBase<LocalCall> for $runtime
		where
			RuntimeCall: From<LocalCall>,
		{
			type RuntimeCall = RuntimeCall;
			type Extrinsic = $extrinsic;
		}

		impl<LocalCall> $crate::__private::frame_system::offchain::CreateSignedTransaction<LocalCall> for $runtime
		where
			RuntimeCall: From<LocalCall>,
		{
			fn create_signed_transaction<
				C: $crate::__private::frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
			>(
				call: RuntimeCall,
				public: Self::Public,
				account: <$runtime as $crate::__private::frame_system::Config>::AccountId,
				nonce: <$runtime as $crate::__private::frame_system::Config>::Nonce,
			) -> Option<$extrinsic> {
				use $crate::__private::codec::Encode;
				let signature = C::sign(&(&call, nonce).encode(), public)?;
				Some(<$extrinsic>::new_signed(call, account, signature, ()))
			}
		}
	};
}

/// Declares a role's node key (sr25519, key type `$key_type`) in the module it is called in:
/// the app crypto `Public`/`Signature` and `$id`, which signs the node's transactions with it
/// (for the runtime's `MultiSignature` and for mock runtimes whose signature is sr25519).
#[macro_export]
macro_rules! node_key_crypto {
	($key_type:expr, $(#[$doc:meta])* $id:ident) => {
		use $crate::__private::sp_runtime::app_crypto::{app_crypto, sr25519};
		app_crypto!(sr25519, $key_type);

		$(#[$doc])*
		pub struct $id;

		impl
			$crate::__private::frame_system::offchain::AppCrypto<
				$crate::__private::sp_runtime::MultiSigner,
				$crate::__private::sp_runtime::MultiSignature,
			> for $id
		{
			type RuntimeAppPublic = Public;
			type GenericSignature = $crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Signature;
			type GenericPublic = $crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Public;
		}

		// For mock runtimes whose signature type is sr25519 itself.
		impl
			$crate::__private::frame_system::offchain::AppCrypto<
				$crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Public,
				$crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Signature,
			> for $id
		{
			type RuntimeAppPublic = Public;
			type GenericSignature = $crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Signature;
			type GenericPublic = $crate::__private::sp_runtime::app_crypto::sp_core::sr25519::Public;
		}
	};
}

/// The start of a role's off-chain worker run: the accounts of the role's keys (of the app
/// crypto `C`) in the node's keystore, and a storage lock named `lock` so that one run is
/// active at a time (it expires after `expiry_blocks` blocks or `expiry_ms`, should a run
/// never finish). Runs `work` with the accounts; returns without it when the keystore has no
/// key of the role (not a node of it) or a previous run still holds the lock.
pub fn run_with_keys<T, C>(
	lock: &[u8],
	expiry_blocks: u32,
	expiry_ms: u64,
	log_target: &str,
	now: BlockNumberFor<T>,
	work: impl FnOnce(Vec<Account<T>>),
) where
	T: SigningTypes,
	C: AppCrypto<T::Public, T::Signature>,
{
	let accounts: Vec<Account<T>> = Signer::<T, C>::all_accounts().accounts_from_keys().collect();
	if accounts.is_empty() {
		return;
	}
	let mut lock = StorageLock::<BlockAndTime<frame_system::Pallet<T>>>::with_block_and_time_deadline(
		lock,
		expiry_blocks,
		Duration::from_millis(expiry_ms),
	);
	let Ok(_guard) = lock.try_lock() else {
		log::debug!(target: log_target, "block {now:?}: the previous worker is still running");
		return;
	};
	work(accounts);
}

/// What the workers remember of a key's transactions: the next nonce to take, the on-chain
/// nonce last seen and the block it was first seen in.
type NonceState<T> = (<T as frame_system::Config>::Nonce, <T as frame_system::Config>::Nonce, BlockNumberFor<T>);

/// A check an off-chain worker makes of something it may challenge (a proposed result, a
/// generation's answer), remembered in the node's persistent off-chain storage under its key:
/// made once, and again only where it found the thing wrong and `again_after` blocks passed
/// without its challenge landing.
pub struct CheckMarker {
	key: Vec<u8>,
}

impl CheckMarker {
	/// The marker under `key` if the check is due at block `now`; `None` where it was made
	/// and found nothing wrong, or found something wrong less than `again_after` blocks ago.
	pub fn due<B: Encode + codec::Decode + Saturating + PartialOrd + Copy>(
		key: Vec<u8>,
		now: B,
		again_after: B,
	) -> Option<Self> {
		match StorageValueRef::persistent(&key).get::<(B, bool)>() {
			Ok(Some((_, false))) => None,
			Ok(Some((at, true))) if now < at.saturating_add(again_after) => None,
			_ => Some(Self { key }),
		}
	}

	/// Records the check as made at block `now`, finding the thing `wrong` or not.
	pub fn record<B: Encode>(&self, now: B, wrong: bool) {
		StorageValueRef::persistent(&self.key).set(&(now, wrong));
	}
}

/// How often a claim is retried when another worker changed the record at the same moment.
const CLAIM_TRIES: u32 = 16;

/// The nonces of one key's transactions, for one run of an off-chain worker at one block.
///
/// Each nonce is claimed from the node's persistent off-chain storage at the moment a
/// transaction is signed, by compare-and-set: workers of several roles on one account, and runs
/// for consecutive blocks that overlap (a long inference beside the next block's data node),
/// never take the same nonce. Transactions still unconfirmed after `stuck_after` blocks of an
/// unmoving chain nonce are taken as dropped: numbering restarts from the chain's nonce.
pub struct NonceTracker<T: frame_system::Config> {
	storage_key: Vec<u8>,
	now: BlockNumberFor<T>,
	chain: T::Nonce,
	stuck_after: BlockNumberFor<T>,
}

impl<T: frame_system::Config> NonceTracker<T> {
	/// The tracker of `account`'s nonces in the record under `prefix` ([`NONCE`]), for a run at
	/// block `now` (whose state gives the chain's nonce).
	pub fn load(prefix: &[u8], account: &T::AccountId, now: BlockNumberFor<T>, stuck_after: BlockNumberFor<T>) -> Self {
		Self {
			storage_key: (prefix, account).encode(),
			now,
			chain: frame_system::Pallet::<T>::account_nonce(account),
			stuck_after,
		}
	}

	/// The record as this run sees it: the nonce the next transaction takes, and the chain
	/// nonce last seen with when. A run at an older block (a smaller chain nonce) never moves
	/// either back.
	fn current(&self, stored: Option<NonceState<T>>) -> NonceState<T> {
		let (seen, seen_at) = match stored {
			Some((_, seen, at)) if seen >= self.chain => (seen, at),
			_ => (self.chain, self.now),
		};
		let next = match stored {
			Some((next, ..)) if next > self.chain => next,
			_ => self.chain,
		};
		let stuck = next > self.chain && seen == self.chain && self.now >= seen_at.saturating_add(self.stuck_after);
		if stuck {
			(self.chain, self.chain, self.now)
		} else {
			(next, seen, seen_at)
		}
	}

	/// Takes the nonce of the next transaction (see [`NonceTracker`]).
	pub fn claim(&self) -> T::Nonce {
		let record = StorageValueRef::persistent(&self.storage_key);
		for _ in 0..CLAIM_TRIES {
			let claimed = record.mutate::<NonceState<T>, (), _>(|stored| {
				let (next, seen, seen_at) = self.current(stored.ok().flatten());
				Ok((next.saturating_add(One::one()), seen, seen_at))
			});
			if let Ok((after, ..)) = claimed {
				return after.saturating_sub(One::one());
			}
		}
		// Contended every time: number from the record as read, as a worker alone would.
		let stored = record.get::<NonceState<T>>().ok().flatten();
		self.current(stored).0
	}

	/// Returns `nonce`, claimed for a transaction that was not sent, if no later one was
	/// claimed since (otherwise it stays a gap, which the chain's stuck nonce closes).
	pub fn give_back(&self, nonce: T::Nonce) {
		let record = StorageValueRef::persistent(&self.storage_key);
		let _ = record.mutate::<NonceState<T>, (), _>(|stored| match stored {
			Ok(Some((next, seen, seen_at))) if next == nonce.saturating_add(One::one()) => Ok((nonce, seen, seen_at)),
			_ => Err(()),
		});
	}
}

/// Why [`send_signed`] sent nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NotSent {
	/// The keystore could not sign with the account's key.
	CannotSign,
	/// The transaction pool refused the transaction.
	PoolRefused,
}

/// Signs `call` with `account`'s key (of the app crypto `C`) at `nonce` and puts it in the
/// transaction pool.
pub fn send_signed<T, C, LocalCall>(call: LocalCall, account: &Account<T>, nonce: T::Nonce) -> Result<(), NotSent>
where
	T: CreateSignedTransaction<LocalCall>,
	C: AppCrypto<T::Public, T::Signature>,
{
	let transaction = T::create_signed_transaction::<C>(call.into(), account.public.clone(), account.id.clone(), nonce)
		.ok_or(NotSent::CannotSign)?;
	SubmitTransaction::<T, LocalCall>::submit_transaction(transaction).map_err(|()| NotSent::PoolRefused)
}
