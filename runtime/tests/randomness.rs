//! Inference requests are drawn their nodes from randomness no one knew when they were signed:
//! the requests pallet draws in its `on_finalize`, which must run after pallet Babe's, where
//! the block's own VRF output is revealed (`AuthorVrfRandomness`, what
//! `pallet_babe::ParentBlockRandomness` reads). Hooks run in the order of the runtime's
//! pallets.

use frame_support::traits::PalletsInfoAccess;
use veriml_runtime::AllPalletsWithSystem;

#[test]
fn requests_draw_their_nodes_after_babe_reveals_the_blocks_vrf_output() {
	let order: Vec<&str> = AllPalletsWithSystem::infos().iter().map(|info| info.name).collect();
	let position = |name: &str| order.iter().position(|pallet| *pallet == name).expect(name);
	assert!(
		position("Babe") < position("Inference"),
		"the requests pallet's on_finalize would draw from the parent's VRF output, known to \
		 requesters when they sign: {order:?}"
	);
}
