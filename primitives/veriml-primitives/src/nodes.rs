//! Bonded nodes as the pallets that give them work see them.
//!
//! Inference nodes and data nodes (and any later role) are instances of `pallet-bonded-nodes`:
//! accounts of a node key, registered by an operator with a bond and the services they offer
//! (a model for inference nodes, a feed for data nodes). A pallet that gives nodes work
//! depends on this interface, not on the pallet that keeps them (as `sp-staking` does for
//! staking), so a mock or a different keeper can stand in.

use alloc::vec::Vec;

/// Whose nodes may offer a service: the service owner's choice (a feed's owner approves the
/// operators whose data nodes serve it), or anyone's (`()`: any registered model may be served
/// by any operator).
pub trait Admission<AccountId, Service> {
	/// Whether nodes of `operator` may offer `service`.
	fn admits(service: &Service, operator: &AccountId) -> bool;
}

impl<AccountId, Service> Admission<AccountId, Service> for () {
	fn admits(_: &Service, _: &AccountId) -> bool {
		true
	}
}

/// The bonded nodes of one role.
pub trait BondedNodes<AccountId, Balance, BlockNumber> {
	/// What a node of this role offers: a model for inference nodes, a feed for data nodes.
	type Service;

	/// The operator of `node`, who holds its bond and is paid for its work; `None` if no such
	/// node is registered (in whatever state).
	fn operator(node: &AccountId) -> Option<AccountId>;

	/// Whether `node` takes work: registered, not suspended and not leaving.
	fn is_active(node: &AccountId) -> bool;

	/// Whether `node` is active and offers `service`.
	fn serves(node: &AccountId, service: &Self::Service) -> bool;

	/// What `node` offers (also while it is suspended or leaving); empty if it is unknown.
	fn services(node: &AccountId) -> Vec<Self::Service>;

	/// The block since which `node` offers its current services: work that began earlier
	/// is not held against it.
	fn serving_since(node: &AccountId) -> Option<BlockNumber>;

	/// The active nodes offering `service`, in the order they joined.
	fn nodes(service: &Self::Service) -> Vec<AccountId>;

	/// Up to `count` distinct active nodes offering `service`, none in `exclude`, chosen from
	/// `seed`: every node offering it is equally likely to come first.
	fn assign(service: &Self::Service, seed: &[u8; 32], count: u32, exclude: &[AccountId]) -> Vec<AccountId>;

	/// One more fault of `node` (a wrong result, an outlier, a missed round). At the role's
	/// strike limit its bond is slashed, part of it to `wronged` if there is one. Returns what
	/// was slashed (zero below the limit or for an unknown node).
	fn strike(node: &AccountId, wronged: Option<&AccountId>) -> Balance;

	/// `node` did its work well: its faults in a row start again from zero.
	fn clear_strikes(node: &AccountId);
}
