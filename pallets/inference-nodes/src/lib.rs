//! # Inference nodes
//!
//! The accounts that execute inferences, and the bonds that answer for their results.
//!
//! An operator [`register`](Pallet::register)s a node — the account of the node's `infr` key,
//! which signs its results — with the models it serves and a bond of at least
//! [`Config::MinBond`], held from the operator's balance. Requests for a model are assigned
//! among the nodes serving it ([`InferenceNodes::assign`]). A node whose result fails
//! re-execution is [slashed](InferenceNodes::slash): [`Config::SlashFraction`] of its bond goes
//! to the wronged requester ([`Config::SlashRewardShare`] of it) and to the protocol
//! ([`Config::SlashDestination`]). A node whose bond falls below the minimum gets no more
//! work until [`bond_extra`](Pallet::bond_extra) restores it.
//!
//! Leaving takes [`Config::UnbondingDelay`] blocks: [`unbond`](Pallet::unbond) stops new
//! assignments at once, while the bond stays slashable for results still in flight;
//! [`withdraw`](Pallet::withdraw) then releases it.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod weights;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
// The mock only serves the benchmarks (behaviour is tested in `pallet-inference-requests`).
#[cfg(all(test, feature = "runtime-benchmarks"))]
mod mock;

pub use weights::WeightInfo;

use alloc::vec::Vec;
use veriml_inference_primitives::ModelHash;

/// Makes models that nodes can serve, for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
	/// A registered model, distinct for each `index`.
	fn model(index: u32) -> ModelHash;
}

/// The inference nodes as the requests pallet needs them.
pub trait InferenceNodes<AccountId, Balance> {
	/// Up to `count` distinct active nodes serving `model`, none in `exclude`, chosen from
	/// `seed`: every node serving the model is equally likely to come first.
	fn assign(model: &ModelHash, seed: &[u8; 32], count: u32, exclude: &[AccountId]) -> Vec<AccountId>;

	/// The operator of `node`, who is paid for its work; `None` if it is not registered.
	fn operator(node: &AccountId) -> Option<AccountId>;

	/// Slashes `node` for a wrong result; part of the slash goes to `wronged`. Returns the
	/// amount slashed.
	fn slash(node: &AccountId, wronged: &AccountId) -> Balance;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			tokens::{Fortitude, Precision, Restriction},
			Contains,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{Saturating, Zero},
		Perbill,
	};

	/// Balance of the bonded currency.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// The models a node serves.
	pub type ServedModels<T> = BoundedVec<ModelHash, <T as Config>::MaxModelsPerNode>;

	/// A registered node.
	pub type NodeOf<T> = NodeRecord<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxModelsPerNode,
	>;

	/// Whether a node takes new work.
	#[derive(
		Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
	)]
	pub enum NodeStatus<BlockNumber> {
		/// Takes assignments while its bond is at least `MinBond`.
		Active,
		/// Leaving: takes no new assignments; the bond can be withdrawn from block `withdrawable_at`.
		Unbonding { withdrawable_at: BlockNumber },
	}

	/// What the chain keeps about an inference node.
	#[derive(
		Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
	)]
	#[scale_info(skip_type_params(MaxModels))]
	#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
	pub struct NodeRecord<AccountId, Balance, BlockNumber, MaxModels: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// The account that registered the node, holds its bond and is paid for its work.
		pub operator: AccountId,
		/// The bond held from the operator.
		pub bond: Balance,
		/// The models the node serves.
		pub models: BoundedVec<ModelHash, MaxModels>,
		/// Whether it takes new work.
		pub status: NodeStatus<BlockNumber>,
		/// Times its results failed re-execution.
		pub slash_count: u32,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency bonds are held in.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this pallet's.
		type RuntimeHoldReason: From<HoldReason>;

		/// The models that exist and take requests: a node may only serve these.
		type Models: Contains<ModelHash>;

		/// Smallest bond with which a node gets work.
		#[pallet::constant]
		type MinBond: Get<BalanceOf<Self>>;

		/// Blocks between `unbond` and `withdraw`.
		#[pallet::constant]
		type UnbondingDelay: Get<BlockNumberFor<Self>>;

		/// Share of a node's bond slashed for one wrong result.
		#[pallet::constant]
		type SlashFraction: Get<Perbill>;

		/// Share of a slash paid to the wronged requester; the rest goes to `SlashDestination`.
		#[pallet::constant]
		type SlashRewardShare: Get<Perbill>;

		/// Where the protocol's share of slashes goes (the treasury account).
		type SlashDestination: Get<Self::AccountId>;

		/// Most models one node serves.
		#[pallet::constant]
		type MaxModelsPerNode: Get<u32>;

		/// Most nodes serving one model.
		#[pallet::constant]
		type MaxNodesPerModel: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Registers models for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// An inference node's bond.
		NodeBond,
	}

	/// Registered inference nodes, by the account of their `infr` key.
	#[pallet::storage]
	pub type Nodes<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, NodeOf<T>>;

	/// The active, sufficiently bonded nodes serving each model, in registration order.
	#[pallet::storage]
	pub type NodesByModel<T: Config> = StorageMap<
		_,
		Identity,
		ModelHash,
		BoundedVec<T::AccountId, T::MaxNodesPerModel>,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A node was registered by `operator`, serving `models`, with `bond` held.
		NodeRegistered {
			node: T::AccountId,
			operator: T::AccountId,
			models: ServedModels<T>,
			bond: BalanceOf<T>,
		},
		/// A node's served models changed.
		ModelsChanged { node: T::AccountId, models: ServedModels<T> },
		/// A node's bond grew by `amount` to `bond`.
		Bonded { node: T::AccountId, amount: BalanceOf<T>, bond: BalanceOf<T> },
		/// A node stopped taking work; its bond can be withdrawn from `withdrawable_at`.
		UnbondingStarted { node: T::AccountId, withdrawable_at: BlockNumberFor<T> },
		/// A node left and its bond was released to its operator.
		Withdrawn { node: T::AccountId, operator: T::AccountId, bond: BalanceOf<T> },
		/// A node was slashed for a wrong result: `to_wronged` went to the wronged requester,
		/// `to_protocol` to the slash destination; `bond` is what is left.
		Slashed {
			node: T::AccountId,
			operator: T::AccountId,
			wronged: T::AccountId,
			to_wronged: BalanceOf<T>,
			to_protocol: BalanceOf<T>,
			bond: BalanceOf<T>,
		},
		/// A node's bond fell below `MinBond`: it gets no work until it bonds more.
		NodeSuspended { node: T::AccountId, bond: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// This node account is registered already.
		AlreadyRegistered,
		/// No node is registered with this account.
		UnknownNode,
		/// Only the node's operator may do this.
		NotOperator,
		/// The bond is below `MinBond`.
		BondTooLow,
		/// The operator's free balance cannot cover the bond.
		InsufficientBalance,
		/// A node must serve at least one model.
		NoModels,
		/// A model is listed twice.
		DuplicateModel,
		/// A model is not registered, or takes no requests.
		UnknownModel,
		/// A model is served by `MaxNodesPerModel` nodes already.
		TooManyNodesForModel,
		/// The node is leaving; it cannot change or rejoin.
		Unbonding,
		/// The node is not unbonding: call `unbond` first.
		NotUnbonding,
		/// The unbonding delay has not passed yet.
		StillUnbonding,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register `node` — the account of an `infr` key in the node's keystore — serving
		/// `models`, with `bond` held from the caller, who becomes its operator.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register(models.len() as u32))]
		pub fn register(
			origin: OriginFor<T>,
			node: T::AccountId,
			models: ServedModels<T>,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			ensure!(!Nodes::<T>::contains_key(&node), Error::<T>::AlreadyRegistered);
			ensure!(bond >= T::MinBond::get(), Error::<T>::BondTooLow);
			Self::check_models(&models)?;
			T::Currency::hold(&HoldReason::NodeBond.into(), &operator, bond)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			Self::add_to_index(&node, &models)?;
			Nodes::<T>::insert(
				&node,
				NodeRecord {
					operator: operator.clone(),
					bond,
					models: models.clone(),
					status: NodeStatus::Active,
					slash_count: 0,
				},
			);
			Self::deposit_event(Event::NodeRegistered { node, operator, models, bond });
			Ok(())
		}

		/// Replace the models `node` serves. Assignments already made are kept.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::set_models(T::MaxModelsPerNode::get()))]
		pub fn set_models(origin: OriginFor<T>, node: T::AccountId, models: ServedModels<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(record.status == NodeStatus::Active, Error::<T>::Unbonding);
			Self::check_models(&models)?;
			Self::remove_from_index(&node, &record.models);
			if record.bond >= T::MinBond::get() {
				Self::add_to_index(&node, &models)?;
			}
			record.models = models.clone();
			Nodes::<T>::insert(&node, record);
			Self::deposit_event(Event::ModelsChanged { node, models });
			Ok(())
		}

		/// Add `amount` to `node`'s bond. A node suspended by slashes rejoins once its bond is
		/// back at `MinBond`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::bond_extra(T::MaxModelsPerNode::get()))]
		pub fn bond_extra(origin: OriginFor<T>, node: T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(record.status == NodeStatus::Active, Error::<T>::Unbonding);
			T::Currency::hold(&HoldReason::NodeBond.into(), &who, amount)
				.map_err(|_| Error::<T>::InsufficientBalance)?;
			let was_suspended = record.bond < T::MinBond::get();
			record.bond = record.bond.saturating_add(amount);
			if was_suspended && record.bond >= T::MinBond::get() {
				Self::add_to_index(&node, &record.models)?;
			}
			let bond = record.bond;
			Nodes::<T>::insert(&node, record);
			Self::deposit_event(Event::Bonded { node, amount, bond });
			Ok(())
		}

		/// Stop `node` taking new work and start the unbonding delay. Its bond stays held, and
		/// slashable, until `withdraw`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::unbond(T::MaxModelsPerNode::get()))]
		pub fn unbond(origin: OriginFor<T>, node: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(record.status == NodeStatus::Active, Error::<T>::Unbonding);
			Self::remove_from_index(&node, &record.models);
			let withdrawable_at =
				frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
			record.status = NodeStatus::Unbonding { withdrawable_at };
			Nodes::<T>::insert(&node, record);
			Self::deposit_event(Event::UnbondingStarted { node, withdrawable_at });
			Ok(())
		}

		/// Release the bond of an unbonded `node` to its operator and remove the node.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::withdraw())]
		pub fn withdraw(origin: OriginFor<T>, node: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let record = Self::operated_by(&node, &who)?;
			let NodeStatus::Unbonding { withdrawable_at } = record.status else {
				return Err(Error::<T>::NotUnbonding.into())
			};
			ensure!(
				frame_system::Pallet::<T>::block_number() >= withdrawable_at,
				Error::<T>::StillUnbonding
			);
			let bond = T::Currency::release(
				&HoldReason::NodeBond.into(),
				&who,
				record.bond,
				Precision::BestEffort,
			)?;
			Nodes::<T>::remove(&node);
			Self::deposit_event(Event::Withdrawn { node, operator: who, bond });
			Ok(())
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	impl<T: Config> Pallet<T> {
		/// The pallet's invariants, checked by `try_state` and after every block of the tests:
		/// each operator's `NodeBond` hold is the sum of its nodes' bonds; a model's index lists
		/// exactly the active nodes with at least `MinBond` that serve it, none twice, and no
		/// model's list is empty.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			let mut bonds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
			let mut indexed = 0usize;
			for (node, record) in Nodes::<T>::iter() {
				let sum = bonds.entry(record.operator.clone()).or_default();
				*sum = sum.saturating_add(record.bond);
				let serves = record.status == NodeStatus::Active && record.bond >= T::MinBond::get();
				for model in &record.models {
					ensure!(
						NodesByModel::<T>::get(model).contains(&node) == serves,
						"a model's index does not list exactly its active, bonded nodes"
					);
					indexed += usize::from(serves);
				}
			}
			let mut listed = 0usize;
			for (_, nodes) in NodesByModel::<T>::iter() {
				ensure!(!nodes.is_empty(), "an empty node list is kept for a model");
				for (i, node) in nodes.iter().enumerate() {
					ensure!(!nodes[..i].contains(node), "a node is listed twice for a model");
				}
				listed += nodes.len();
			}
			ensure!(listed == indexed, "a model's index lists a node that does not serve it");
			for (operator, bond) in bonds {
				ensure!(
					T::Currency::balance_on_hold(&HoldReason::NodeBond.into(), &operator) == bond,
					"an operator's NodeBond hold is not the sum of its nodes' bonds"
				);
			}
			Ok(())
		}

		fn operated_by(node: &T::AccountId, who: &T::AccountId) -> Result<NodeOf<T>, DispatchError> {
			let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
			ensure!(record.operator == *who, Error::<T>::NotOperator);
			Ok(record)
		}

		fn check_models(models: &[ModelHash]) -> DispatchResult {
			ensure!(!models.is_empty(), Error::<T>::NoModels);
			for (i, model) in models.iter().enumerate() {
				ensure!(!models[..i].contains(model), Error::<T>::DuplicateModel);
				ensure!(T::Models::contains(model), Error::<T>::UnknownModel);
			}
			Ok(())
		}

		/// Adds `node` to the index of each model. Checks every model first, so an error
		/// leaves the index unchanged.
		fn add_to_index(node: &T::AccountId, models: &[ModelHash]) -> DispatchResult {
			for model in models {
				let nodes = NodesByModel::<T>::get(model);
				ensure!(
					nodes.contains(node) || (nodes.len() as u32) < T::MaxNodesPerModel::get(),
					Error::<T>::TooManyNodesForModel
				);
			}
			for model in models {
				NodesByModel::<T>::mutate(model, |nodes| {
					if !nodes.contains(node) {
						// Capacity was checked above.
						let _ = nodes.try_push(node.clone());
					}
				});
			}
			Ok(())
		}

		fn remove_from_index(node: &T::AccountId, models: &[ModelHash]) {
			for model in models {
				NodesByModel::<T>::mutate_exists(model, |nodes| {
					if let Some(list) = nodes {
						list.retain(|n| n != node);
						if list.is_empty() {
							*nodes = None;
						}
					}
				});
			}
		}

		/// Moves `amount` of `operator`'s bond to `dest`, burning it if `dest` cannot receive it
		/// (an account that does not exist and too small an amount to create it).
		fn transfer_bond(operator: &T::AccountId, dest: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
			if amount.is_zero() {
				return amount
			}
			T::Currency::transfer_on_hold(
				&HoldReason::NodeBond.into(),
				operator,
				dest,
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
			.or_else(|_| {
				T::Currency::burn_held(
					&HoldReason::NodeBond.into(),
					operator,
					amount,
					Precision::BestEffort,
					Fortitude::Force,
				)
			})
			.unwrap_or_else(|_| Zero::zero())
		}
	}

	impl<T: Config> InferenceNodes<T::AccountId, BalanceOf<T>> for Pallet<T> {
		fn assign(
			model: &ModelHash,
			seed: &[u8; 32],
			count: u32,
			exclude: &[T::AccountId],
		) -> Vec<T::AccountId> {
			let candidates: Vec<T::AccountId> =
				NodesByModel::<T>::get(model).into_iter().filter(|n| !exclude.contains(n)).collect();
			if candidates.is_empty() {
				return Vec::new()
			}
			let mut start = [0u8; 8];
			start.copy_from_slice(&seed[..8]);
			let start = (u64::from_le_bytes(start) % candidates.len() as u64) as usize;
			candidates
				.iter()
				.cycle()
				.skip(start)
				.take(candidates.len().min(count as usize))
				.cloned()
				.collect()
		}

		fn operator(node: &T::AccountId) -> Option<T::AccountId> {
			Nodes::<T>::get(node).map(|record| record.operator)
		}

		fn slash(node: &T::AccountId, wronged: &T::AccountId) -> BalanceOf<T> {
			let Some(mut record) = Nodes::<T>::get(node) else { return Zero::zero() };
			let held = T::Currency::balance_on_hold(&HoldReason::NodeBond.into(), &record.operator);
			let amount = (T::SlashFraction::get() * record.bond).min(held);
			let reward = T::SlashRewardShare::get() * amount;
			let to_wronged = Self::transfer_bond(&record.operator, wronged, reward);
			let to_protocol = Self::transfer_bond(
				&record.operator,
				&T::SlashDestination::get(),
				amount.saturating_sub(to_wronged),
			);
			let slashed = to_wronged.saturating_add(to_protocol);
			let was_sufficient = record.bond >= T::MinBond::get();
			record.bond = record.bond.saturating_sub(slashed);
			record.slash_count = record.slash_count.saturating_add(1);
			let operator = record.operator.clone();
			let bond = record.bond;
			if was_sufficient && bond < T::MinBond::get() && record.status == NodeStatus::Active {
				Self::remove_from_index(node, &record.models);
				Self::deposit_event(Event::NodeSuspended { node: node.clone(), bond });
			}
			Nodes::<T>::insert(node, record);
			Self::deposit_event(Event::Slashed {
				node: node.clone(),
				operator,
				wronged: wronged.clone(),
				to_wronged,
				to_protocol,
				bond,
			});
			slashed
		}
	}
}
