//! Content kept outside state: its addresses and the Merkle tree that names it.
//!
//! Large bytes (models beyond what state holds, archived documents) enter the chain as indexed
//! transaction data in chunks of a fixed size: the node keeps each chunk in its database beside
//! the block body, under the chunk's blake2-256 ([`ChunkHash`]), and serves it by that hash
//! over its IPFS bitswap server (`--ipfs-server`, [`chunk_cid`]) and over RPC. What state keeps
//! is the manifest: the item's size, owner, retention and its chunks' hashes, and the item is
//! named by the root of a binary Merkle tree over them ([`ContentRoot`]): one hash fixes every
//! byte, and one chunk is proven to belong to an item with `log2(chunks)` hashes
//! ([`chunk_proof`], [`verify_chunk`]).
//!
//! The tree is [`veriml_inference_primitives::merkle`]'s: a leaf is `blake2_256(0x00 ++ chunk
//! hash)`, an inner node `blake2_256(0x01 ++ left ++ right)` (the prefixes keep a leaf from
//! passing for an inner node); the leaves are padded with zero hashes to the next power of two,
//! so every proof of an item has the same length, its tree's depth.

use alloc::vec::Vec;
use sp_core::H256;
use veriml_inference_primitives::merkle;

/// The name of a stored item: the root of the Merkle tree over its chunks' hashes.
pub type ContentRoot = H256;

/// The blake2-256 of one chunk's bytes: the key under which nodes keep and serve the chunk.
pub type ChunkHash = H256;

/// The blake2-256 of a chunk's bytes.
pub fn chunk_hash(bytes: &[u8]) -> ChunkHash {
	H256(sp_crypto_hashing::blake2_256(bytes))
}

/// The depth of the tree over `chunks` chunks: `ceil(log2(chunks))`, the length of its proofs
/// (32 for more than 2^31 chunks).
pub fn tree_depth(chunks: u32) -> u32 {
	merkle::depth(chunks)
}

/// The hashes a tree over `chunks` chunks computes: its leaves and inner nodes, at most three per
/// chunk (what the root's weight counts).
pub fn tree_hashes(chunks: u32) -> u32 {
	let width = chunks.max(1).checked_next_power_of_two().unwrap_or(u32::MAX);
	chunks.saturating_add(width.saturating_sub(1))
}

/// The root of the tree over `hashes`, the chunks' hashes in order.
pub fn chunk_root(hashes: &[ChunkHash]) -> ContentRoot {
	merkle::root(hashes)
}

/// The siblings that prove chunk `index` of `hashes`, from the leaf's up; `None` when there is
/// no such chunk.
pub fn chunk_proof(hashes: &[ChunkHash], index: u32) -> Option<Vec<H256>> {
	merkle::proof(hashes, index)
}

/// Whether `hash` is chunk `index` of the item of `chunks` chunks named `root`, by `proof`
/// (as [`chunk_proof`] makes it).
pub fn verify_chunk(root: &ContentRoot, chunks: u32, index: u32, hash: &ChunkHash, proof: &[H256]) -> bool {
	merkle::verify(root, chunks, index, hash, proof)
}

/// The IPFS content identifier of a chunk as the node's bitswap server serves it: CIDv1, codec
/// `raw` (0x55), multihash blake2b-256 (0xb220) of the chunk's bytes.
pub fn chunk_cid(hash: &ChunkHash) -> [u8; 38] {
	cid_v1_blake2b_256(0x55, hash)
}

/// CIDv1 of codec `codec` whose multihash is the blake2b-256 (0xb220) digest `digest`.
fn cid_v1_blake2b_256(codec: u8, digest: &H256) -> [u8; 38] {
	let mut cid = [0u8; 38];
	cid[..6].copy_from_slice(&[0x01, codec, 0xa0, 0xe4, 0x02, 0x20]);
	cid[6..].copy_from_slice(digest.as_bytes());
	cid
}

/// The length of chunk `index` of an item of `byte_len` bytes in chunks of `chunk_bytes`:
/// every one but the last is whole, the last the rest (0 past the end).
pub fn chunk_len(byte_len: u32, chunk_bytes: u32, index: u32) -> u32 {
	byte_len.saturating_sub(index.saturating_mul(chunk_bytes)).min(chunk_bytes)
}

/// The blake2-256 of an item's file node ([`file_node`]): the key under which nodes keep and
/// serve it.
pub type FileNodeHash = H256;

/// The IPFS content identifier of an item's file node ([`file_node`]): CIDv1, codec `dag-pb`
/// (0x70), multihash blake2b-256 of the node's bytes (`node_hash`). An IPFS client that fetches
/// it from a node's bitswap server reads the whole item as a UnixFS file, each chunk a `raw`
/// leaf under its [`chunk_cid`].
pub fn file_cid(node_hash: &FileNodeHash) -> [u8; 38] {
	cid_v1_blake2b_256(0x70, node_hash)
}

/// The most bytes a file node of `chunks` chunks takes: a link of at most 52 bytes and a block
/// size of at most 6 per chunk, and the node's own fields.
pub const fn max_file_node_bytes(chunks: u32) -> u32 {
	chunks.saturating_mul(58).saturating_add(32)
}

/// The UnixFS file node of an item of `byte_len` bytes in chunks of `chunk_bytes` (the last one
/// the rest) whose hashes are `hashes`: the DAG-PB block (`PBNode`, canonical encoding: its
/// links before its data) that links every chunk in order as a `raw` leaf (its [`chunk_cid`],
/// an empty name, its length as `Tsize`) and whose data is the UnixFS `Data` of a file (type
/// `File`, `filesize` the item's length, `blocksizes` the chunks' lengths). The store indexes
/// these bytes under their blake2-256, so a node's bitswap server serves the whole item under
/// one CID ([`file_cid`]); it is built as `ipfs add --cid-version 1 --raw-leaves --hash
/// blake2b-256 --chunker size-<chunk_bytes>` builds its root for up to 174 chunks (the
/// importer's widest node).
pub fn file_node(byte_len: u32, chunk_bytes: u32, hashes: &[ChunkHash]) -> Vec<u8> {
	use crate::protobuf::{put_bytes_field, put_varint_field};
	let len = |index: usize| u64::from(chunk_len(byte_len, chunk_bytes, index as u32));
	let mut node = Vec::with_capacity(max_file_node_bytes(hashes.len() as u32) as usize);
	let mut link = Vec::with_capacity(48);
	for (index, hash) in hashes.iter().enumerate() {
		link.clear();
		put_bytes_field(&mut link, 1, &chunk_cid(hash)); // Hash
		put_bytes_field(&mut link, 2, &[]); // Name
		put_varint_field(&mut link, 3, len(index)); // Tsize
		put_bytes_field(&mut node, 2, &link); // Links
	}
	let mut data = Vec::with_capacity(16 + 6 * hashes.len());
	put_varint_field(&mut data, 1, 2); // Type: File
	put_varint_field(&mut data, 3, byte_len as u64); // filesize
	for index in 0..hashes.len() {
		put_varint_field(&mut data, 4, len(index)); // blocksizes
	}
	put_bytes_field(&mut node, 1, &data); // Data
	node
}

/// Bytes of a segment, the piece of a chunk a storage proof shows: a chunk's storage proof is
/// one segment and its path in the chunk's [`SegmentRoot`] tree, about 0.6 KiB for a 1 MiB chunk.
pub const SEGMENT_BYTES: u32 = 256;

/// The root of the tree (the rules of [`chunk_root`]) over the blake2-256 of a chunk's
/// [`SEGMENT_BYTES`]-byte segments (the last one the rest): what storage proofs of the chunk are
/// checked against. The store computes it from the chunk's bytes when the chunk is stored.
pub type SegmentRoot = H256;

/// The number of segments of a chunk of `len` bytes (one at least).
pub fn segment_count(len: u32) -> u32 {
	len.div_ceil(SEGMENT_BYTES).max(1)
}

/// The length segment `index` of a chunk of `len` bytes has (zero beyond its end).
pub fn segment_len(len: u32, index: u32) -> u32 {
	len.saturating_sub(index.saturating_mul(SEGMENT_BYTES)).min(SEGMENT_BYTES)
}

fn segment_hashes(chunk: &[u8]) -> Vec<H256> {
	if chunk.is_empty() {
		return alloc::vec![chunk_hash(&[])];
	}
	chunk.chunks(SEGMENT_BYTES as usize).map(chunk_hash).collect()
}

/// The [`SegmentRoot`] of a chunk's bytes.
pub fn segment_root(chunk: &[u8]) -> SegmentRoot {
	chunk_root(&segment_hashes(chunk))
}

/// Segment `index` of `chunk` and the siblings that prove it against the chunk's
/// [`segment_root`]; `None` when there is no such segment.
pub fn segment_proof(chunk: &[u8], index: u32) -> Option<(Vec<u8>, Vec<H256>)> {
	let hashes = segment_hashes(chunk);
	let proof = chunk_proof(&hashes, index)?;
	let start = (index as usize).saturating_mul(SEGMENT_BYTES as usize).min(chunk.len());
	let end = start.saturating_add(SEGMENT_BYTES as usize).min(chunk.len());
	Some((chunk[start..end].to_vec(), proof))
}

/// Whether `segment` is segment `index` of the chunk of `chunk_len` bytes whose segment root
/// is `root`, by `proof` (as [`segment_proof`] makes it).
pub fn verify_segment(root: &SegmentRoot, chunk_len: u32, index: u32, segment: &[u8], proof: &[H256]) -> bool {
	let count = segment_count(chunk_len);
	index < count
		&& segment.len() as u32 == segment_len(chunk_len, index)
		&& verify_chunk(root, count, index, &chunk_hash(segment), proof)
}

/// What a storage node offers: keeping every stored item (the one offer there is). The
/// service of the storage nodes' instance of the bonded-nodes pallet.
#[derive(
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	codec::MaxEncodedLen,
	scale_info::TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
)]
pub enum StorageService {
	/// Keeps every stored item's chunks, serves them and proves it.
	AllItems,
}

/// One chunk of a stored item, as its storage proofs need it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProvableChunk {
	/// The chunk's blake2-256: the key nodes keep it under.
	pub hash: ChunkHash,
	/// The root its segments are proven against.
	pub segment_root: SegmentRoot,
	/// Its length in bytes.
	pub len: u32,
}

/// The stored items whose chunks storage nodes prove, as the content store shows them to the
/// pallet that challenges storage nodes.
pub trait ProvableContent {
	/// How many items are proven.
	fn provable_count() -> u32;

	/// The `n`-th of them (`n < provable_count()`; the order changes as items come and go) and
	/// its number of chunks.
	fn provable(n: u32) -> Option<(ContentRoot, u32)>;

	/// Whether item `root` is stored and proven (a read of its position, not of its lists).
	fn is_provable(root: &ContentRoot) -> bool;

	/// Chunk `index` of item `root`, if the item is stored and proven.
	fn chunk(root: &ContentRoot, index: u32) -> Option<ProvableChunk>;
}

/// A stored item as other pallets that build on it see it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredItem<AccountId, BlockNumber> {
	/// Who stored it (and alone may remove it).
	pub owner: AccountId,
	/// Its length in bytes.
	pub byte_len: u32,
	/// Its number of chunks.
	pub chunk_count: u32,
	/// The block its last chunk was stored in: a node has the chunks in its database once it
	/// has imported that block, not while it builds or executes it.
	pub stored_at: BlockNumber,
}

/// The content store's items, as a pallet that keeps only their roots reads them (the model
/// registry: models registered from the store).
pub trait StoredContent<AccountId, BlockNumber> {
	/// Item `root`, if it is stored (complete and retained).
	fn item(root: &ContentRoot) -> Option<StoredItem<AccountId, BlockNumber>>;

	/// The storage key of item `root`'s chunk list (its chunks' hashes in order, SCALE
	/// `Vec<ChunkHash>`): where the engine's host function reads the chunks it loads from. The
	/// host decodes that value itself: its encoding is part of the host interface.
	fn chunk_list_key(root: &ContentRoot) -> Vec<u8>;

	/// Item `root`'s chunk hashes in order, if it is stored: what a node fetches from its peers
	/// when its database lacks them.
	fn chunks(root: &ContentRoot) -> Option<Vec<ChunkHash>>;
}

/// No content store: no item is stored.
impl<AccountId, BlockNumber> StoredContent<AccountId, BlockNumber> for () {
	fn item(_root: &ContentRoot) -> Option<StoredItem<AccountId, BlockNumber>> {
		None
	}

	fn chunk_list_key(_root: &ContentRoot) -> Vec<u8> {
		Vec::new()
	}

	fn chunks(_root: &ContentRoot) -> Option<Vec<ChunkHash>> {
		None
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// The file node of two chunks (7 and 3 bytes), byte by byte as `@ipld/dag-pb` and
	/// `ipfs-unixfs` encode it (the TypeScript client's test checks the same bytes).
	#[test]
	fn a_file_node_is_the_canonical_dag_pb_of_a_unixfs_file() {
		let hashes = [chunk_hash(b"chunk-0"), chunk_hash(b"abc")];
		let node = file_node(10, 7, &hashes);
		let mut expected = Vec::new();
		for (hash, len) in hashes.iter().zip([7u8, 3]) {
			expected.extend_from_slice(&[0x12, 44, 0x0a, 38]);
			expected.extend_from_slice(&chunk_cid(hash));
			expected.extend_from_slice(&[0x12, 0, 0x18, len]);
		}
		expected.extend_from_slice(&[0x0a, 8, 0x08, 2, 0x18, 10, 0x20, 7, 0x20, 3]);
		assert_eq!(node, expected);
		// Lengths past one varint byte: a 3 MiB + 5 item of 1 MiB chunks (as the TypeScript
		// client's test).
		let four: Vec<ChunkHash> = (0..4u8).map(|i| chunk_hash(&[i])).collect();
		let node = file_node(3 * (1 << 20) + 5, 1 << 20, &four);
		let mib = [0x20, 0x80, 0x80, 0x40];
		let data = [&[0x0a, 21, 0x08, 2, 0x18, 0x85, 0x80, 0xc0, 0x01][..], &mib, &mib, &mib, &[0x20, 5]].concat();
		assert!(node.ends_with(&data));
		// The bound.
		let many: Vec<ChunkHash> = (0..1024u32).map(|i| chunk_hash(&i.to_le_bytes())).collect();
		let big = file_node(1024 * 1024 * 1024, 1024 * 1024, &many);
		assert!(big.len() as u32 <= max_file_node_bytes(1024), "{}", big.len());
		assert_eq!(file_cid(&H256::repeat_byte(7))[..6], [0x01, 0x70, 0xa0, 0xe4, 0x02, 0x20]);
	}

	fn hashes(n: u32) -> Vec<ChunkHash> {
		(0..n).map(|i| chunk_hash(&i.to_le_bytes())).collect()
	}

	#[test]
	fn every_chunk_is_proven_and_no_other() {
		for n in 1..=17u32 {
			let hashes = hashes(n);
			let root = chunk_root(&hashes);
			for index in 0..n {
				let proof = chunk_proof(&hashes, index).unwrap();
				assert_eq!(proof.len() as u32, tree_depth(n));
				assert!(verify_chunk(&root, n, index, &hashes[index as usize], &proof), "{n} {index}");
				// Another chunk, another place, another count or a changed sibling: refused.
				let other = chunk_hash(b"other");
				assert!(!verify_chunk(&root, n, index, &other, &proof));
				if n > 1 {
					assert!(!verify_chunk(&root, n, (index + 1) % n, &hashes[index as usize], &proof));
					let mut changed = proof.clone();
					changed[0].0[0] ^= 1;
					assert!(!verify_chunk(&root, n, index, &hashes[index as usize], &changed));
				}
				assert!(!verify_chunk(&root, n * 2 + 1, index, &hashes[index as usize], &proof));
			}
			assert_eq!(chunk_proof(&hashes, n), None);
			assert!(!verify_chunk(&root, n, n, &hashes[0], &[]));
		}
	}

	#[test]
	fn the_root_fixes_the_chunks_and_their_order() {
		let three = hashes(3);
		assert_ne!(chunk_root(&three), chunk_root(&three[..2]));
		assert_ne!(chunk_root(&three), chunk_root(&[three[1], three[0], three[2]]));
		// Padding is not a chunk: three chunks differ from those three and a zero hash.
		assert_ne!(chunk_root(&three), chunk_root(&[three[0], three[1], three[2], H256::zero()]));
		// One chunk: its leaf is the root.
		assert_eq!(chunk_root(&three[..1]), merkle::leaf(&three[0]));
		assert_eq!(tree_depth(1), 0);
		assert_eq!(tree_depth(1024), 10);
		assert_eq!(tree_depth(1025), 11);
		assert_eq!(tree_hashes(3), 3 + 3);
	}

	#[test]
	fn a_known_root() {
		// The clients' tests (TypeScript, Python) hold the same figure.
		let hashes = [chunk_hash(b"veriml"), chunk_hash(b"content"), chunk_hash(b"store")];
		assert_eq!(
			hex(chunk_root(&hashes).as_bytes()),
			"7745ebf6896fad1e033c4951478b970479521b1e77125af3929f5b24dea14c25"
		);
		let cid = chunk_cid(&hashes[0]);
		assert_eq!(&cid[..6], &[0x01, 0x55, 0xa0, 0xe4, 0x02, 0x20]);
		assert_eq!(&cid[6..], hashes[0].as_bytes());
	}

	#[test]
	fn every_segment_is_proven_and_no_other() {
		for len in [1u32, 255, 256, 257, 1000, 4096] {
			let chunk: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
			let root = segment_root(&chunk);
			let count = segment_count(len);
			for index in 0..count {
				let (segment, proof) = segment_proof(&chunk, index).unwrap();
				assert_eq!(segment.len() as u32, segment_len(len, index));
				assert!(verify_segment(&root, len, index, &segment, &proof), "{len} {index}");
				let mut changed = segment.clone();
				changed[0] ^= 1;
				assert!(!verify_segment(&root, len, index, &changed, &proof));
				assert!(!verify_segment(&root, len, (index + 1) % count.max(2), &segment, &proof));
				assert!(!verify_segment(&root, len + SEGMENT_BYTES, index, &segment, &proof));
			}
			assert_eq!(segment_proof(&chunk, count), None);
		}
		// A 1 MiB chunk: 4096 segments, proofs of 12 hashes.
		assert_eq!(tree_depth(segment_count(1024 * 1024)), 12);
	}

	fn hex(bytes: &[u8]) -> alloc::string::String {
		bytes.iter().map(|b| alloc::format!("{b:02x}")).collect()
	}
}
