//! The index of services, slashing, the invariants, and the nodes as other pallets see them.

use crate::{pallet::*, Admission, BondedNodes};
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
		Contains,
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config<I>, I: 'static> Pallet<T, I> {
	/// The pallet's invariants, checked by `try_state` and after every block of the tests:
	/// each operator's `NodeBond` hold is the sum of its nodes' bonds; a service's index lists
	/// exactly the active nodes that offer it, none twice, and no list is empty; an active
	/// node's bond is at least `MinBond` and a suspended node's below it.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let mut bonds = veriml_primitives::invariants::ExpectedHolds::default();
		let mut indexed = 0usize;
		for (node, record) in Nodes::<T, I>::iter() {
			bonds.add(record.operator.clone(), record.bond);
			let active = record.status == NodeStatus::Active;
			match record.status {
				NodeStatus::Active => {
					ensure!(record.bond >= T::MinBond::get(), "an active node's bond is below MinBond")
				},
				NodeStatus::Suspended => {
					ensure!(record.bond < T::MinBond::get(), "a suspended node's bond is at MinBond")
				},
				NodeStatus::Unbonding { .. } => {},
			}
			ensure!(record.strikes < T::MaxStrikes::get(), "a node has MaxStrikes strikes unslashed");
			for service in &record.services {
				ensure!(
					NodesByService::<T, I>::get(service).contains(&node) == active,
					"a service's index does not list exactly its active nodes"
				);
				indexed += usize::from(active);
			}
		}
		let mut listed = 0usize;
		for (_, nodes) in NodesByService::<T, I>::iter() {
			ensure!(!nodes.is_empty(), "an empty node list is kept for a service");
			for (i, node) in nodes.iter().enumerate() {
				ensure!(!nodes[..i].contains(node), "a node is listed twice for a service");
			}
			listed += nodes.len();
		}
		ensure!(listed == indexed, "a service's index lists a node that does not offer it");
		bonds.check(
			|operator| T::Currency::balance_on_hold(&HoldReason::<I>::NodeBond.into(), operator),
			"an operator's NodeBond hold is not the sum of its nodes' bonds",
		)
	}

	pub(crate) fn operated_by(node: &T::AccountId, who: &T::AccountId) -> Result<NodeOf<T, I>, DispatchError> {
		let record = Nodes::<T, I>::get(node).ok_or(Error::<T, I>::UnknownNode)?;
		ensure!(record.operator == *who, Error::<T, I>::NotOperator);
		Ok(record)
	}

	/// Asking `services` services whether they admit an operator (a read each), beyond the
	/// benchmarked calls until they are benchmarked again.
	pub(crate) fn admission_weight(services: u32) -> Weight {
		T::DbWeight::get().reads(services.into())
	}

	pub(crate) fn check_services(operator: &T::AccountId, services: &[T::Service]) -> DispatchResult {
		ensure!(!services.is_empty(), Error::<T, I>::NoServices);
		for (i, service) in services.iter().enumerate() {
			ensure!(!services[..i].contains(service), Error::<T, I>::DuplicateService);
			ensure!(T::Services::contains(service), Error::<T, I>::UnknownService);
			ensure!(T::Admission::admits(service, operator), Error::<T, I>::NotAdmitted);
		}
		Ok(())
	}

	/// Whether every one of `services` has room for `node`.
	pub(crate) fn check_room(node: &T::AccountId, services: &[T::Service]) -> DispatchResult {
		for service in services {
			let nodes = NodesByService::<T, I>::get(service);
			ensure!(
				nodes.contains(node) || (nodes.len() as u32) < T::MaxNodesPerService::get(),
				Error::<T, I>::TooManyNodesForService
			);
		}
		Ok(())
	}

	/// Adds `node` to the index of each service; `check_room` said there is room.
	pub(crate) fn add_to_index(node: &T::AccountId, services: &[T::Service]) {
		for service in services {
			NodesByService::<T, I>::mutate(service, |nodes| {
				if !nodes.contains(node) {
					let _ = nodes.try_push(node.clone());
				}
			});
		}
	}

	pub(crate) fn remove_from_index(node: &T::AccountId, services: &[T::Service]) {
		for service in services {
			NodesByService::<T, I>::mutate_exists(service, |nodes| {
				if let Some(list) = nodes {
					list.retain(|n| n != node);
					if list.is_empty() {
						*nodes = None;
					}
				}
			});
		}
	}

	/// Slashes `SlashFraction` of `node`'s bond: `SlashRewardShare` of it to `wronged` if there
	/// is one, the rest to `SlashDestination`. Suspends an active node left below `MinBond`.
	/// Returns what was slashed.
	fn slash(node: &T::AccountId, mut record: NodeOf<T, I>, wronged: Option<&T::AccountId>) -> BalanceOf<T, I> {
		let held = T::Currency::balance_on_hold(&HoldReason::<I>::NodeBond.into(), &record.operator);
		let amount = (T::SlashFraction::get() * record.bond).min(held);
		let to_wronged = match wronged {
			Some(wronged) => Self::transfer_bond(&record.operator, wronged, T::SlashRewardShare::get() * amount),
			None => Zero::zero(),
		};
		let to_protocol =
			Self::transfer_bond(&record.operator, &T::SlashDestination::get(), amount.saturating_sub(to_wronged));
		let slashed = to_wronged.saturating_add(to_protocol);
		record.bond = record.bond.saturating_sub(slashed);
		record.strikes = 0;
		record.slash_count = record.slash_count.saturating_add(1);
		let (operator, bond) = (record.operator.clone(), record.bond);
		let suspends = record.status == NodeStatus::Active && bond < T::MinBond::get();
		if suspends {
			Self::remove_from_index(node, &record.services);
			record.status = NodeStatus::Suspended;
		}
		Nodes::<T, I>::insert(node, record);
		Self::deposit_event(Event::Slashed {
			node: node.clone(),
			operator,
			wronged: wronged.cloned(),
			to_wronged,
			to_protocol,
			bond,
		});
		if suspends {
			Self::deposit_event(Event::Suspended { node: node.clone(), bond });
		}
		slashed
	}

	/// Moves `amount` of `operator`'s bond to `dest`, burning it if `dest` cannot receive it
	/// (an account that does not exist and too small an amount to create it).
	fn transfer_bond(operator: &T::AccountId, dest: &T::AccountId, amount: BalanceOf<T, I>) -> BalanceOf<T, I> {
		if amount.is_zero() {
			return amount;
		}
		let reason = HoldReason::<I>::NodeBond.into();
		T::Currency::transfer_on_hold(
			&reason,
			operator,
			dest,
			amount,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		)
		.or_else(|_| T::Currency::burn_held(&reason, operator, amount, Precision::BestEffort, Fortitude::Force))
		.unwrap_or_else(|_| Zero::zero())
	}
}

impl<T: Config<I>, I: 'static> BondedNodes<T::AccountId, BalanceOf<T, I>, BlockNumberFor<T>> for Pallet<T, I> {
	type Service = T::Service;

	fn operator(node: &T::AccountId) -> Option<T::AccountId> {
		Nodes::<T, I>::get(node).map(|record| record.operator)
	}

	fn is_active(node: &T::AccountId) -> bool {
		Nodes::<T, I>::get(node).is_some_and(|record| record.status == NodeStatus::Active)
	}

	fn serves(node: &T::AccountId, service: &T::Service) -> bool {
		Nodes::<T, I>::get(node)
			.is_some_and(|record| record.status == NodeStatus::Active && record.services.contains(service))
	}

	fn services(node: &T::AccountId) -> Vec<T::Service> {
		Nodes::<T, I>::get(node).map(|record| record.services.into_inner()).unwrap_or_default()
	}

	fn serving_since(node: &T::AccountId) -> Option<BlockNumberFor<T>> {
		Nodes::<T, I>::get(node).map(|record| record.since)
	}

	fn nodes(service: &T::Service) -> Vec<T::AccountId> {
		NodesByService::<T, I>::get(service).into_inner()
	}

	fn assign(service: &T::Service, seed: &[u8; 32], count: u32, exclude: &[T::AccountId]) -> Vec<T::AccountId> {
		let candidates: Vec<T::AccountId> =
			NodesByService::<T, I>::get(service).into_iter().filter(|n| !exclude.contains(n)).collect();
		if candidates.is_empty() {
			return Vec::new();
		}
		let mut start = [0u8; 8];
		start.copy_from_slice(&seed[..8]);
		let start = (u64::from_le_bytes(start) % candidates.len() as u64) as usize;
		candidates.iter().cycle().skip(start).take(candidates.len().min(count as usize)).cloned().collect()
	}

	fn strike(node: &T::AccountId, wronged: Option<&T::AccountId>) -> BalanceOf<T, I> {
		let Some(mut record) = Nodes::<T, I>::get(node) else { return Zero::zero() };
		record.strikes = record.strikes.saturating_add(1);
		if record.strikes >= T::MaxStrikes::get() {
			return Self::slash(node, record, wronged);
		}
		Nodes::<T, I>::insert(node, record);
		Zero::zero()
	}

	fn clear_strikes(node: &T::AccountId) {
		// Most good values come from nodes without strikes: no write for those.
		let _ = Nodes::<T, I>::try_mutate(node, |record| match record {
			Some(record) if record.strikes > 0 => {
				record.strikes = 0;
				Ok(())
			},
			_ => Err(()),
		});
	}
}
