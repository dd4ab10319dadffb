//! The requests pallet's storage migrations, each run once by the runtime's `Executive`,
//! versioned by this pallet's storage version.

/// Version 0 → 1 (spec 135): a request keeps its model's fuel to prepare
/// ([`Request::fuel_to_prepare`](crate::Request::fuel_to_prepare)), its runs' preparation limit
/// and what verifying a result charges for preparing.
///
/// Each open request takes its model's figure in the registry now: the one its runs were
/// prepared within and charged at until now (an open request's model stays registered; a
/// request whose model is gone, which none can be, takes 0 and fails its runs rather than
/// preparing unweighed). A value already in the new layout (the spec-110 migration writes
/// requests whole, before this one in the same upgrade) decodes as the old one followed by
/// its figure, and is written again alike.
pub mod v1 {
	use crate::{Config, Fee, Pallet, Request, RequestStatus, Requests};
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
			let mut count = 0u64;
			Requests::<T>::translate::<V0Request<T>, _>(|_, old| {
				count += 1;
				let fuel_to_prepare = T::Models::terms(&old.model).map_or(0, |terms| terms.fuel_to_prepare);
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
			// Each request, and its model's terms (the record, its bytes' place and presence).
			T::DbWeight::get().reads_writes(count.saturating_mul(4), count)
		}
	}

	/// The migration, run while the requests pallet's storage version is 0.
	pub type Migration<T> = VersionedMigration<0, 1, Unversioned<T>, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}
