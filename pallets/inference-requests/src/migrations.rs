//! The requests pallet's storage migrations, each run once by the runtime's `Executive`,
//! versioned by this pallet's storage version.

/// Version 0 → 1 (spec 135): a request keeps its model's fuel to prepare
/// ([`Request::fuel_to_prepare`](crate::Request::fuel_to_prepare)), its runs' preparation limit
/// and what verifying a result charges for preparing.
///
/// Each open request takes its model's figure in the registry now, at which its verification
/// was charged until now, where the chain's guest measured it (the figure is then exactly what
/// preparing takes: no verdict changes). Until now its runs were prepared within the engine's
/// cap alone, so where a replaced guest measured the figure (the chain's guest may take more)
/// the request takes the most fuel to prepare whose verification still fits a transaction, at
/// least the figure ([`stale_figure`]): a result computed before the upgrade, under the cap, is
/// judged alike after it unless its preparation took longer than any transaction may (an open
/// request's model stays registered; one whose model is gone, which none can be, takes 0). A
/// value already in the new layout (the spec-110 migration writes requests whole, before this
/// one in the same upgrade) decodes as the old one followed by its figure, and is written again
/// alike.
pub mod v1 {
	use crate::{impls::TermsOf, Config, Fee, Pallet, Request, RequestStatus, Requests};
	use codec::{Decode, Encode};
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
		BoundedVec,
	};
	use frame_system::pallet_prelude::BlockNumberFor;
	use veriml_inference_primitives::{ModelHash, H256};
	use veriml_primitives::{
		models::{ModelCatalog, Verification},
		Fuel,
	};

	/// A request as storage version 0 kept it: [`Request`] without `fuel_to_prepare`.
	#[derive(Encode, Decode)]
	pub struct V0Request<T: Config> {
		/// As [`Request::requester`].
		pub requester: T::AccountId,
		/// As [`Request::model`].
		pub model: ModelHash,
		/// As [`Request::input_hash`].
		pub input_hash: H256,
		/// As [`Request::input_bytes`].
		pub input_bytes: u32,
		/// As [`Request::fee`].
		pub fee: Fee<crate::BalanceOf<T>>,
		/// As [`Request::fuel_limit`].
		pub fuel_limit: Fuel,
		/// As [`Request::verification`].
		pub verification: Verification,
		/// As [`Request::status`].
		pub status: RequestStatus,
		/// As [`Request::assigned`].
		pub assigned: BoundedVec<T::AccountId, T::Replication>,
		/// As [`Request::refuted`].
		pub refuted: BoundedVec<T::AccountId, T::MaxRefutedNodes>,
		/// As [`Request::created_at`].
		pub created_at: BlockNumberFor<T>,
		/// As [`Request::deadline`].
		pub deadline: BlockNumberFor<T>,
	}

	/// The migration, unversioned.
	pub struct Unversioned<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for Unversioned<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut count, mut stale) = (0u64, 0u64);
			let guest = T::Models::engine_versions().0;
			Requests::<T>::translate::<V0Request<T>, _>(|_, old| {
				count += 1;
				let fuel_to_prepare = T::Models::terms(&old.model).map_or(0, |terms| {
					if terms.measured_with == guest {
						terms.fuel_to_prepare
					} else {
						stale += 1;
						stale_figure::<T>(terms, old.input_bytes, old.fuel_limit)
					}
				});
				Some(Request {
					requester: old.requester,
					model: old.model,
					input_hash: old.input_hash,
					input_bytes: old.input_bytes,
					fee: old.fee,
					fuel_limit: old.fuel_limit,
					verification: old.verification,
					status: old.status,
					assigned: old.assigned,
					refuted: old.refuted,
					created_at: old.created_at,
					deadline: old.deadline,
					fuel_to_prepare,
				})
			});
			log::info!(target: "runtime::inference", "{count} open requests keep their models' fuel to prepare");
			// The engine versions; each request and its model's terms (the record, its bytes'
			// place twice and their presence); each stale figure's checks.
			let reads =
				count.saturating_mul(5).saturating_add(2).saturating_add(stale.saturating_mul(STALE_FIGURE_READS));
			T::DbWeight::get().reads_writes(reads, count)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
			// Every request's key, whether its value decodes or not.
			let count = Requests::<T>::iter_keys().count() as u64;
			Ok(count.encode())
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			let before = u64::decode(&mut &state[..]).map_err(|_| "the request count before the upgrade")?;
			// Each open request, decoded in the new layout.
			let after = Requests::<T>::iter_values().count() as u64;
			frame_support::ensure!(before == after, "an open request was lost or does not decode");
			Ok(())
		}
	}

	/// The most [`stale_figure`] reads: 65 checks of `verifiable` (one, then one for each bit of
	/// the search), each reading the chain's guest three times (the price of the run's fuel, of
	/// the preparation's, and today's price beside the highest).
	pub const STALE_FIGURE_READS: u64 = 65 * 3;

	/// The fuel to prepare of a request open at the upgrade whose model's figure a replaced
	/// guest measured: the most whose verification (the request's inputs and fuel limit, the
	/// model's bytes) fits a transaction and a decision, at least the model's figure.
	pub fn stale_figure<T: Config>(terms: TermsOf<T>, input_bytes: u32, fuel_limit: Fuel) -> Fuel {
		let fits = |fuel_to_prepare: Fuel| {
			Pallet::<T>::verifiable(&TermsOf::<T> { fuel_to_prepare, ..terms.clone() }, input_bytes, fuel_limit)
		};
		let (mut low, mut high) = (terms.fuel_to_prepare, u64::MAX);
		if !fits(low) {
			return low;
		}
		// `low` fits, `high` does not (no transaction verifies u64::MAX fuel).
		while high - low > 1 {
			let middle = low + (high - low) / 2;
			if fits(middle) {
				low = middle;
			} else {
				high = middle;
			}
		}
		low
	}

	/// The migration, run while the requests pallet's storage version is 0.
	pub type Migration<T> = VersionedMigration<0, 1, Unversioned<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}
