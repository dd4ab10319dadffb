//! What veriml's off-chain workers (inference nodes, data nodes) share: the node keys of a
//! role ([`node_key_crypto!`]), the start of every run ([`run_with_keys`]: the keys of the role
//! in the keystore, one run at a time), and numbering signed transactions ([`NonceTracker`]).
//!
//! A worker may send several signed transactions from one key in one block, and more in the
//! next block before the first are included. `frame_system`'s `Signer` numbers each from the
//! on-chain nonce, so the second would replace or clash with the first. [`NonceTracker`]
//! numbers them itself, remembering in the node's persistent off-chain storage what it has
//! sent, and falls back to the chain's nonce when the chain stops moving (a transaction was
//! dropped).

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

/// What the worker remembers of a key's transactions: the next nonce it will use, the
/// on-chain nonce it last saw and the block it first saw it in.
type NonceState<T> = (<T as frame_system::Config>::Nonce, <T as frame_system::Config>::Nonce, BlockNumberFor<T>);

/// The nonces of one key's transactions in one run of an off-chain worker.
pub struct NonceTracker<T: frame_system::Config> {
	storage_key: Vec<u8>,
	now: BlockNumberFor<T>,
	chain: T::Nonce,
	stored: Option<NonceState<T>>,
	next: T::Nonce,
}

impl<T: frame_system::Config> NonceTracker<T> {
	/// The tracker of `account`'s nonces under `prefix` (one prefix per worker), at block
	/// `now`. Transactions still unconfirmed after `stuck_after` blocks of an unmoving chain
	/// nonce are taken as dropped: numbering restarts from the chain's nonce.
	pub fn load(prefix: &[u8], account: &T::AccountId, now: BlockNumberFor<T>, stuck_after: BlockNumberFor<T>) -> Self {
		let storage_key = (prefix, account).encode();
		let chain = frame_system::Pallet::<T>::account_nonce(account);
		let stored = StorageValueRef::persistent(&storage_key).get::<NonceState<T>>().ok().flatten();
		let next = match stored {
			Some((next, seen, seen_at)) if next > chain => {
				let stuck = seen == chain && now >= seen_at.saturating_add(stuck_after);
				if stuck {
					chain
				} else {
					next
				}
			},
			_ => chain,
		};
		Self { storage_key, now, chain, stored, next }
	}

	/// The nonce the next transaction takes.
	pub fn next(&self) -> T::Nonce {
		self.next
	}

	/// Records that a transaction took `next()`.
	pub fn used(&mut self) {
		self.next = self.next.saturating_add(One::one());
	}

	/// Whether transactions this worker sent are still unconfirmed.
	pub fn in_flight(&self) -> bool {
		self.next > self.chain
	}

	/// Remembers the state for the next run.
	pub fn save(self) {
		let (seen, seen_at) = match self.stored {
			Some((_, seen, at)) if seen == self.chain => (seen, at),
			_ => (self.chain, self.now),
		};
		StorageValueRef::persistent(&self.storage_key).set(&(self.next, seen, seen_at));
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
