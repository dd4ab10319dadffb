//! The binary Merkle tree veriml names lists of hashes by: a content-store item by its chunks'
//! hashes (`veriml_primitives::content`), a generation by its steps' state hashes
//! ([`generation`](crate::generation)). One hash fixes the whole list, and one entry is proven
//! to be at its place with `log2(count)` hashes ([`proof`], [`verify`]).
//!
//! A leaf is `blake2_256(0x00 ++ hash)`, an inner node `blake2_256(0x01 ++ left ++ right)` (the
//! prefixes keep a leaf from passing for an inner node); the leaves are padded with zero hashes
//! to the next power of two, so every proof in a tree has the same length, its depth. The root
//! of no hashes is the zero hash.

use crate::H256;
use alloc::vec::Vec;

const LEAF_PREFIX: u8 = 0;
const NODE_PREFIX: u8 = 1;

/// The leaf of `hash`: `blake2_256(0x00 ++ hash)`.
pub fn leaf(hash: &H256) -> H256 {
	let mut input = [0u8; 33];
	input[0] = LEAF_PREFIX;
	input[1..].copy_from_slice(hash.as_bytes());
	H256(sp_crypto_hashing::blake2_256(&input))
}

fn node(left: &H256, right: &H256) -> H256 {
	let mut input = [0u8; 65];
	input[0] = NODE_PREFIX;
	input[1..33].copy_from_slice(left.as_bytes());
	input[33..].copy_from_slice(right.as_bytes());
	H256(sp_crypto_hashing::blake2_256(&input))
}

/// The depth of the tree over `count` hashes: `ceil(log2(count))`, the length of its proofs
/// (32 for more than 2^31 hashes).
pub fn depth(count: u32) -> u32 {
	count.max(1).checked_next_power_of_two().map_or(32, u32::trailing_zeros)
}

/// The tree's levels, leaves first: level `d` has `2^(depth - d)` nodes, the last the root.
fn levels(hashes: &[H256]) -> Vec<Vec<H256>> {
	let width = hashes.len().max(1).next_power_of_two();
	let mut level: Vec<H256> = hashes.iter().map(leaf).collect();
	level.resize(width, H256::zero());
	let mut levels = alloc::vec![level];
	while levels.last().map_or(0, Vec::len) > 1 {
		let below = levels.last().expect("one level at least");
		let above = below.chunks(2).map(|pair| node(&pair[0], &pair[1])).collect();
		levels.push(above);
	}
	levels
}

/// The root of the tree over `hashes`, in order.
pub fn root(hashes: &[H256]) -> H256 {
	levels(hashes).pop().and_then(|root| root.first().copied()).unwrap_or_default()
}

/// The siblings that prove entry `index` of `hashes`, from the leaf's up; `None` when there is
/// no such entry.
pub fn proof(hashes: &[H256], index: u32) -> Option<Vec<H256>> {
	if index as usize >= hashes.len() {
		return None;
	}
	let levels = levels(hashes);
	let mut position = index as usize;
	let mut proof = Vec::with_capacity(levels.len().saturating_sub(1));
	for level in &levels[..levels.len() - 1] {
		proof.push(level[position ^ 1]);
		position /= 2;
	}
	Some(proof)
}

/// Whether `hash` is entry `index` of the `count` hashes under `root`, by `proof` (as
/// [`proof`] makes it).
pub fn verify(root: &H256, count: u32, index: u32, hash: &H256, proof: &[H256]) -> bool {
	if index >= count || proof.len() as u32 != depth(count) {
		return false;
	}
	let mut position = index;
	let mut computed = leaf(hash);
	for sibling in proof {
		computed = if position % 2 == 0 { node(&computed, sibling) } else { node(sibling, &computed) };
		position /= 2;
	}
	&computed == root
}
