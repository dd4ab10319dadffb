//! # Bonded nodes
//!
//! The nodes of one role — accounts of a node key, run by an operator who bonds for them — and
//! the services each offers. veriml's runtime has two instances: `InferenceNodes` (`infr` keys,
//! serving models: [`ModelHash`](veriml_inference_primitives::ModelHash)) and `DataNodes`
//! (`feed` keys, serving feeds). A later role (storage) is one more instance.
//!
//! - An operator [`register`](Pallet::register)s a node with the services it offers and a bond
//!   of at least [`Config::MinBond`], held from the operator's balance. The node's key signs
//!   [`registration_message`] for that operator: nobody can register a node key they do not
//!   hold, and so take the pay for another operator's work.
//! - The pallets that give work (requests, feeds) read the nodes through
//!   [`BondedNodes`](veriml_primitives::nodes::BondedNodes): who is active, who offers what,
//!   an assignment drawn from a seed.
//! - A fault is a [strike](veriml_primitives::nodes::BondedNodes::strike);
//!   [`Config::MaxStrikes`] in a row slash [`Config::SlashFraction`] of the bond:
//!   [`Config::SlashRewardShare`] of it to the wronged party when there is one, the rest to
//!   [`Config::SlashDestination`]. A node whose bond falls below `MinBond` is
//!   [suspended](NodeStatus::Suspended) until [`bond_extra`](Pallet::bond_extra) restores it.
//! - Leaving takes [`Config::UnbondingDelay`] blocks: [`unbond`](Pallet::unbond) stops new work
//!   at once, while the bond stays slashable for work still in flight;
//!   [`withdraw`](Pallet::withdraw) then releases it.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use veriml_primitives::nodes::{Admission, BondedNodes};

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
mod impls;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

use alloc::vec::Vec;

/// What a node's key signs to show it consents to be registered by `operator` in the pallet
/// instance called `pallet_name` (`InferenceNodes`, `DataNodes`): the bytes
/// `veriml:<pallet_name>:` followed by the operator's account (32 bytes for veriml's accounts).
pub fn registration_message(pallet_name: &str, operator: &impl codec::Encode) -> Vec<u8> {
	let mut message = Vec::with_capacity(8 + pallet_name.len() + 32);
	message.extend_from_slice(b"veriml:");
	message.extend_from_slice(pallet_name.as_bytes());
	message.push(b':');
	operator.encode_to(&mut message);
	message
}

/// Makes services and node keys for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<Service, AccountId, Signature> {
	/// A service nodes may offer, distinct for each `index`.
	fn service(index: u32) -> Service;
	/// The account of a node key, distinct for each `index`, and its signature of `message`.
	fn signed_by_node(index: u32, message: &[u8]) -> (AccountId, Signature);
	/// Lets nodes of `operator` offer `service`, where its owner must admit them.
	fn admit(_service: &Service, _operator: &AccountId) {}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, Mutate, MutateHold},
			tokens::Precision,
			Contains, PalletInfoAccess,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{IdentifyAccount, Saturating, Verify},
		Perbill,
	};

	/// Balance of the bonded currency.
	pub type BalanceOf<T, I = ()> =
		<<T as Config<I>>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// The services a node offers.
	pub type ServicesOf<T, I = ()> = BoundedVec<<T as Config<I>>::Service, <T as Config<I>>::MaxServicesPerNode>;

	/// A registered node.
	pub type NodeOf<T, I = ()> = NodeRecord<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T, I>,
		BlockNumberFor<T>,
		<T as Config<I>>::Service,
		<T as Config<I>>::MaxServicesPerNode,
	>;

	/// Whether a node takes new work.
	#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
	pub enum NodeStatus<BlockNumber> {
		/// Takes work.
		Active,
		/// Its bond fell below `MinBond` after a slash: no work until `bond_extra` restores it.
		Suspended,
		/// Leaving: no new work; the bond can be withdrawn from block `withdrawable_at`.
		Unbonding { withdrawable_at: BlockNumber },
	}

	/// What the chain keeps about a node.
	#[derive(Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen)]
	#[scale_info(skip_type_params(MaxServices))]
	#[codec(mel_bound(
		AccountId: MaxEncodedLen,
		Balance: MaxEncodedLen,
		BlockNumber: MaxEncodedLen,
		Service: MaxEncodedLen
	))]
	pub struct NodeRecord<AccountId, Balance, BlockNumber, Service, MaxServices: Get<u32>>
	where
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
		Service: Clone + PartialEq + Eq + core::fmt::Debug,
	{
		/// The account that registered the node, holds its bond and is paid for its work.
		pub operator: AccountId,
		/// The bond held from the operator.
		pub bond: Balance,
		/// What the node offers.
		pub services: BoundedVec<Service, MaxServices>,
		/// Whether it takes new work.
		pub status: NodeStatus<BlockNumber>,
		/// Faults since its last good work (or its last slash).
		pub strikes: u32,
		/// Times it was slashed.
		pub slash_count: u32,
		/// Since when it offers its current services.
		pub since: BlockNumber,
	}

	#[pallet::pallet]
	pub struct Pallet<T, I = ()>(PhantomData<(T, I)>);

	#[pallet::config]
	pub trait Config<I: 'static = ()>: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self, I>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The currency bonds are held in.
		type Currency: Mutate<Self::AccountId> + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reasons, which include this instance's.
		type RuntimeHoldReason: From<HoldReason<I>>;

		/// What a node of this role offers (a model, a feed).
		type Service: Parameter + MaxEncodedLen + Copy + Ord;

		/// The services that exist: a node may only offer these.
		type Services: Contains<Self::Service>;

		/// Whose nodes may offer each service (`()`: anyone's).
		type Admission: Admission<Self::AccountId, Self::Service>;

		/// The signature with which a node key consents to its registration.
		type NodeSignature: Parameter + Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>;

		/// Smallest bond with which a node gets work.
		#[pallet::constant]
		type MinBond: Get<BalanceOf<Self, I>>;

		/// Blocks between `unbond` and `withdraw`.
		#[pallet::constant]
		type UnbondingDelay: Get<BlockNumberFor<Self>>;

		/// Faults in a row that get a node slashed (1: every fault is slashed).
		#[pallet::constant]
		type MaxStrikes: Get<u32>;

		/// Share of a node's bond slashed at `MaxStrikes` faults.
		#[pallet::constant]
		type SlashFraction: Get<Perbill>;

		/// Share of a slash paid to the wronged party, when there is one; the rest goes to
		/// `SlashDestination`.
		#[pallet::constant]
		type SlashRewardShare: Get<Perbill>;

		/// Where the protocol's share of slashes goes (the protocol account).
		type SlashDestination: Get<Self::AccountId>;

		/// Most services one node offers.
		#[pallet::constant]
		type MaxServicesPerNode: Get<u32>;

		/// Most active nodes offering one service.
		#[pallet::constant]
		type MaxNodesPerService: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Makes services and node keys for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::Service, Self::AccountId, Self::NodeSignature>;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason<I: 'static = ()> {
		/// A node's bond.
		NodeBond,
	}

	/// Registered nodes, by the account of their node key.
	#[pallet::storage]
	pub type Nodes<T: Config<I>, I: 'static = ()> = StorageMap<_, Blake2_128Concat, T::AccountId, NodeOf<T, I>>;

	/// The active nodes offering each service, in the order they joined.
	#[pallet::storage]
	pub type NodesByService<T: Config<I>, I: 'static = ()> =
		StorageMap<_, Blake2_128Concat, T::Service, BoundedVec<T::AccountId, T::MaxNodesPerService>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config<I>, I: 'static = ()> {
		/// A node was registered by `operator`, offering `services`, with `bond` held.
		Registered { node: T::AccountId, operator: T::AccountId, services: ServicesOf<T, I>, bond: BalanceOf<T, I> },
		/// A node's services changed.
		ServicesChanged { node: T::AccountId, services: ServicesOf<T, I> },
		/// A node's bond grew by `amount` to `bond`.
		Bonded { node: T::AccountId, amount: BalanceOf<T, I>, bond: BalanceOf<T, I> },
		/// A suspended node's bond is back at `MinBond`: it takes work again, offering
		/// `services` (those that still exist).
		Resumed { node: T::AccountId, services: ServicesOf<T, I> },
		/// A node stopped taking work; its bond can be withdrawn from `withdrawable_at`.
		UnbondingStarted { node: T::AccountId, withdrawable_at: BlockNumberFor<T> },
		/// A node left and its bond was released to its operator.
		Withdrawn { node: T::AccountId, operator: T::AccountId, bond: BalanceOf<T, I> },
		/// A node reached `MaxStrikes` faults and was slashed: `to_wronged` went to the
		/// wronged party (if any), `to_protocol` to the slash destination; `bond` is left.
		Slashed {
			node: T::AccountId,
			operator: T::AccountId,
			wronged: Option<T::AccountId>,
			to_wronged: BalanceOf<T, I>,
			to_protocol: BalanceOf<T, I>,
			bond: BalanceOf<T, I>,
		},
		/// A node's bond fell below `MinBond`: it gets no work until it bonds more.
		Suspended { node: T::AccountId, bond: BalanceOf<T, I> },
	}

	#[pallet::error]
	pub enum Error<T, I = ()> {
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
		/// A node must offer at least one service.
		NoServices,
		/// A service is listed twice.
		DuplicateService,
		/// A service does not exist (a model not registered or not taking requests, a feed
		/// not registered).
		UnknownService,
		/// A service is offered by `MaxNodesPerService` nodes already.
		TooManyNodesForService,
		/// The node is leaving; it cannot change or rejoin.
		Unbonding,
		/// The node is not unbonding: call `unbond` first.
		NotUnbonding,
		/// The unbonding delay has not passed yet.
		StillUnbonding,
		/// The proof is not the node key's signature of `registration_message` for the caller.
		InvalidNodeProof,
		/// The service's owner has not admitted the caller's nodes (a feed's owner approves
		/// the operators whose data nodes serve it: `feeds.approveOperator`).
		NotAdmitted,
	}

	#[pallet::hooks]
	impl<T: Config<I>, I: 'static> Hooks<BlockNumberFor<T>> for Pallet<T, I> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_now: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		fn integrity_test() {
			assert!(T::MaxStrikes::get() > 0, "MaxStrikes must be at least 1");
			assert!(T::MaxNodesPerService::get() > 0, "MaxNodesPerService must be at least 1");
		}
	}

	#[pallet::call]
	impl<T: Config<I>, I: 'static> Pallet<T, I> {
		/// Register `node` — the account of a node key in the node's keystore — offering
		/// `services`, with `bond` held from the caller, who becomes its operator. `proof` is
		/// the node key's signature of [`registration_message`] for the caller.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register(services.len() as u32).saturating_add(Pallet::<T, I>::admission_weight(services.len() as u32)))]
		pub fn register(
			origin: OriginFor<T>,
			node: T::AccountId,
			services: ServicesOf<T, I>,
			bond: BalanceOf<T, I>,
			proof: T::NodeSignature,
		) -> DispatchResult {
			let operator = ensure_signed(origin)?;
			ensure!(!Nodes::<T, I>::contains_key(&node), Error::<T, I>::AlreadyRegistered);
			let message = registration_message(<Self as PalletInfoAccess>::name(), &operator);
			ensure!(proof.verify(&message[..], &node), Error::<T, I>::InvalidNodeProof);
			ensure!(bond >= T::MinBond::get(), Error::<T, I>::BondTooLow);
			Self::check_services(&operator, &services)?;
			Self::check_room(&node, &services)?;
			T::Currency::hold(&HoldReason::NodeBond.into(), &operator, bond)
				.map_err(|_| Error::<T, I>::InsufficientBalance)?;
			Self::add_to_index(&node, &services);
			Nodes::<T, I>::insert(
				&node,
				NodeRecord {
					operator: operator.clone(),
					bond,
					services: services.clone(),
					status: NodeStatus::Active,
					strikes: 0,
					slash_count: 0,
					since: frame_system::Pallet::<T>::block_number(),
				},
			);
			Self::deposit_event(Event::Registered { node, operator, services, bond });
			Ok(())
		}

		/// Replace the services `node` offers. Work already given is kept.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::set_services(T::MaxServicesPerNode::get()).saturating_add(Pallet::<T, I>::admission_weight(T::MaxServicesPerNode::get())))]
		pub fn set_services(origin: OriginFor<T>, node: T::AccountId, services: ServicesOf<T, I>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, NodeStatus::Unbonding { .. }), Error::<T, I>::Unbonding);
			Self::check_services(&who, &services)?;
			if record.status == NodeStatus::Active {
				// A service the node offers already has room for it.
				Self::check_room(&node, &services)?;
				Self::remove_from_index(&node, &record.services);
				Self::add_to_index(&node, &services);
			}
			record.services = services.clone();
			record.since = frame_system::Pallet::<T>::block_number();
			Nodes::<T, I>::insert(&node, record);
			Self::deposit_event(Event::ServicesChanged { node, services });
			Ok(())
		}

		/// Add `amount` to `node`'s bond. A suspended node takes work again once its bond is
		/// back at `MinBond`, offering those of its services that still exist.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::bond_extra(T::MaxServicesPerNode::get()).saturating_add(Pallet::<T, I>::admission_weight(T::MaxServicesPerNode::get())))]
		pub fn bond_extra(origin: OriginFor<T>, node: T::AccountId, amount: BalanceOf<T, I>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, NodeStatus::Unbonding { .. }), Error::<T, I>::Unbonding);
			let bond = record.bond.saturating_add(amount);
			let resumes = record.status == NodeStatus::Suspended && bond >= T::MinBond::get();
			if resumes {
				// A service may have been removed, or its owner may have withdrawn the operator's
				// admission, while the node was suspended.
				record.services.retain(|service| T::Services::contains(service) && T::Admission::admits(service, &who));
				Self::check_room(&node, &record.services)?;
			}
			T::Currency::hold(&HoldReason::NodeBond.into(), &who, amount)
				.map_err(|_| Error::<T, I>::InsufficientBalance)?;
			record.bond = bond;
			let services = record.services.clone();
			if resumes {
				Self::add_to_index(&node, &services);
				record.status = NodeStatus::Active;
				record.strikes = 0;
				record.since = frame_system::Pallet::<T>::block_number();
			}
			Nodes::<T, I>::insert(&node, record);
			Self::deposit_event(Event::Bonded { node: node.clone(), amount, bond });
			if resumes {
				Self::deposit_event(Event::Resumed { node, services });
			}
			Ok(())
		}

		/// Stop `node` taking new work and start the unbonding delay. Its bond stays held, and
		/// slashable, until `withdraw`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::unbond(T::MaxServicesPerNode::get()))]
		pub fn unbond(origin: OriginFor<T>, node: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut record = Self::operated_by(&node, &who)?;
			ensure!(!matches!(record.status, NodeStatus::Unbonding { .. }), Error::<T, I>::Unbonding);
			if record.status == NodeStatus::Active {
				Self::remove_from_index(&node, &record.services);
			}
			let withdrawable_at = frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
			record.status = NodeStatus::Unbonding { withdrawable_at };
			Nodes::<T, I>::insert(&node, record);
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
				return Err(Error::<T, I>::NotUnbonding.into());
			};
			ensure!(frame_system::Pallet::<T>::block_number() >= withdrawable_at, Error::<T, I>::StillUnbonding);
			let bond = T::Currency::release(&HoldReason::NodeBond.into(), &who, record.bond, Precision::BestEffort)?;
			Nodes::<T, I>::remove(&node);
			Self::deposit_event(Event::Withdrawn { node, operator: who, bond });
			Ok(())
		}
	}
}
