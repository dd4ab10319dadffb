// A pallet-mmr leaf proof (what `mmr_generateProof` answers) checked against an MMR root alone,
// for clients that trust a header but not the node they ask.
// The algorithms of pallet-mmr 50 over polkadot-ckb-merkle-mountain-range 0.8.3, with
// `Hashing = BlakeTwo256` (blake2b-256) and a SCALE-encoded leaf type.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { compactFromU8a, compactToU8a, u8aConcat, u8aEq } from '@polkadot/util';

/** A 32-byte hash function, for `mmrRootFromProof` under another `Hashing` than BlakeTwo256. */
export type Hasher = (data: Uint8Array) => Uint8Array;

const blake2_256: Hasher = (data) => blake2AsU8a(data, 256);

const U64_MAX = (1n << 64n) - 1n;

/**
 * The hash of a leaf node: the hash of the leaf's SCALE encoding, with no prefix or length
 * (`DataOrHash::Data(leaf).hash()` for a leaf type that implements `Encode`).
 */
export function leafHash(encodedLeaf: Uint8Array): Uint8Array {
  return blake2_256(encodedLeaf);
}

/** A cursor over SCALE bytes that throws on truncated or non-canonical input. */
class Reader {
  private i = 0;
  constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  compact(): bigint {
    if (this.i >= this.bytes.length) throw new Error(`${this.what}: truncated at byte ${this.i}`);
    const [offset, value] = compactFromU8a(this.bytes.subarray(this.i));
    if (this.i + offset > this.bytes.length) throw new Error(`${this.what}: truncated compact at byte ${this.i}`);
    // The Rust codec rejects a compact not written in its shortest form.
    if (compactToU8a(value).length !== offset) throw new Error(`${this.what}: non-canonical compact at byte ${this.i}`);
    this.i += offset;
    return BigInt(value.toString());
  }

  /** A compact length, checked against the bytes left at `itemSize` bytes an item at least. */
  length(itemSize: number): number {
    const len = this.compact();
    if (len * BigInt(itemSize) > BigInt(this.bytes.length - this.i)) {
      throw new Error(`${this.what}: length ${len} overruns the input`);
    }
    return Number(len);
  }

  take(n: number): Uint8Array {
    if (this.i + n > this.bytes.length) throw new Error(`${this.what}: truncated at byte ${this.i}`);
    const out = this.bytes.slice(this.i, this.i + n);
    this.i += n;
    return out;
  }

  u64(): bigint {
    const b = this.take(8);
    let v = 0n;
    for (let k = 7; k >= 0; k -= 1) v = (v << 8n) | BigInt(b[k]);
    return v;
  }

  end(): void {
    if (this.i !== this.bytes.length) throw new Error(`${this.what}: ${this.bytes.length - this.i} trailing bytes`);
  }
}

/** Decodes a SCALE `LeafProof<H256>`: `leaf_indices: Vec<u64>, leaf_count: u64, items: Vec<H256>`. */
export function decodeLeafProof(bytes: Uint8Array): { leafIndices: bigint[]; leafCount: bigint; items: Uint8Array[] } {
  const r = new Reader(bytes, 'LeafProof');
  const leafIndices: bigint[] = [];
  for (let n = r.length(8); n > 0; n -= 1) leafIndices.push(r.u64());
  const leafCount = r.u64();
  const items: Uint8Array[] = [];
  for (let n = r.length(32); n > 0; n -= 1) items.push(r.take(32));
  r.end();
  return { leafIndices, leafCount, items };
}

/**
 * Decodes a SCALE `Vec<EncodableOpaqueLeaf>` (the `leaves` of `mmr_generateProof`) into each
 * leaf's own SCALE bytes: an `EncodableOpaqueLeaf` is a `Vec<u8>` holding them, so it is written
 * with a compact length before them.
 */
export function decodeOpaqueLeaves(bytes: Uint8Array): Uint8Array[] {
  const r = new Reader(bytes, 'Vec<EncodableOpaqueLeaf>');
  const leaves: Uint8Array[] = [];
  for (let n = r.length(1); n > 0; n -= 1) leaves.push(r.take(r.length(1)));
  r.end();
  return leaves;
}

// Positions in the MMR (ckb's `helper.rs`), as bigints for the full u64 range.

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function popCount(x: bigint): bigint {
  let n = 0n;
  for (; x > 0n; x >>= 1n) n += x & 1n;
  return n;
}

function trailingZeros(x: bigint): bigint {
  let n = 0n;
  for (; (x & 1n) === 0n; x >>= 1n) n += 1n;
  return n;
}

/** The number of nodes of an MMR of `leafCount` leaves (`NodesUtils::size`). */
function mmrSize(leafCount: bigint): bigint {
  return 2n * leafCount - popCount(leafCount);
}

/** The position of leaf `index` among all nodes (`leaf_index_to_pos`). */
function leafIndexToPos(index: bigint): bigint {
  return mmrSize(index + 1n) - trailingZeros(index + 1n) - 1n;
}

/** The height of the node at `pos`, leaves being 0 (`pos_height_in_tree`). */
function posHeight(pos: bigint): bigint {
  if (pos === 0n) return 0n;
  for (let peakSize = (1n << BigInt(bitLength(pos))) - 1n; peakSize > 0n; peakSize >>= 1n) {
    if (pos >= peakSize) pos -= peakSize;
  }
  return pos;
}

/** The positions of the peaks, left to right (`get_peaks`). */
function peaksOf(size: bigint): bigint[] {
  const peaks: bigint[] = [];
  let pos = size;
  let sum = 0n;
  for (let peakSize = (1n << BigInt(bitLength(size))) - 1n; peakSize > 0n; peakSize >>= 1n) {
    if (pos >= peakSize) {
      pos -= peakSize;
      peaks.push(sum + peakSize - 1n);
      sum += peakSize;
    }
  }
  return peaks;
}

const siblingOffset = (height: bigint): bigint => (2n << height) - 1n;
const parentOffset = (height: bigint): bigint => 2n << height;

/** Hands out the proof items in order, throwing when they run out. */
class Items {
  private i = 0;
  constructor(private readonly items: Uint8Array[]) {}
  next(): Uint8Array | undefined {
    return this.items[this.i++];
  }
  need(): Uint8Array {
    const item = this.next();
    if (!item) throw new Error(`MMR proof has too few items (${this.items.length})`);
    return item;
  }
  get left(): number {
    return Math.max(this.items.length - this.i, 0);
  }
}

type Entry = { pos: bigint; hash: Uint8Array; height: bigint };

/** The hash of one peak from the leaves under it and the items on their paths (ckb's `calculate_peak_root`). */
function peakRoot(leaves: Entry[], peakPos: bigint, items: Items, merge: (l: Uint8Array, r: Uint8Array) => Uint8Array): Uint8Array {
  const queue = leaves.slice();
  for (let e = queue.shift(); e; e = queue.shift()) {
    if (e.pos === peakPos) {
      if (queue.length === 0) return e.hash;
      throw new Error('corrupted MMR proof: a node above the peak');
    }
    let parentPos: bigint;
    let parent: Uint8Array;
    // The node after a right child is its parent, so stands higher.
    if (posHeight(e.pos + 1n) > e.height) {
      const sibPos = e.pos - siblingOffset(e.height);
      parentPos = e.pos + 1n;
      const sibling = queue[0]?.pos === sibPos ? queue.shift()!.hash : items.need();
      parent = merge(sibling, e.hash);
    } else {
      const sibPos = e.pos + siblingOffset(e.height);
      parentPos = e.pos + parentOffset(e.height);
      const sibling = queue[0]?.pos === sibPos ? queue.shift()!.hash : items.need();
      parent = merge(e.hash, sibling);
    }
    if (parentPos > peakPos) throw new Error('corrupted MMR proof: a path leaves its peak');
    queue.push({ pos: parentPos, hash: parent, height: e.height + 1n });
  }
  throw new Error('corrupted MMR proof: no path reaches the peak');
}

/**
 * The MMR root that `items` and the leaf hashes give (ckb's `calculate_root`), in any leaf order.
 * Per peak, left to right: a peak with leaves under it is computed from them and the sibling
 * hashes taken from `items` on the way up; a peak with none takes the next item as its hash, and
 * once the items run out the rest of the peaks are taken as already bagged into the last one.
 * The peaks are then bagged right to left: `bag = hash(right ++ left)`.
 * Throws on a malformed proof. Stricter than ckb where ckb accepts proofs `gen_proof` never
 * writes: an item left over once the peaks are done (ckb takes one as one more peak, and ignores
 * all for a one-leaf MMR), and items running out right after a peak computed from leaves (ckb
 * then bags only the peaks it has).
 */
export function mmrRootFromProof(
  leaves: { index: bigint; hash: Uint8Array }[],
  leafCount: bigint,
  items: Uint8Array[],
  hasher: Hasher = blake2_256,
): Uint8Array {
  if (leafCount <= 0n || leafCount > U64_MAX) throw new Error(`MMR leaf count ${leafCount} out of range`);
  if (leaves.length === 0) throw new Error('no leaves to prove');
  for (const item of items) {
    if (item.length !== 32) throw new Error(`MMR proof item of ${item.length} bytes, not 32`);
  }
  const merge = (l: Uint8Array, r: Uint8Array) => hasher(u8aConcat(l, r));
  // Positions, sorted; a repeated leaf must carry the same hash and counts once.
  const entries: Entry[] = [];
  for (const { index, hash } of leaves) {
    if (index < 0n || index >= leafCount) throw new Error(`leaf index ${index} not below the leaf count ${leafCount}`);
    entries.push({ pos: leafIndexToPos(index), hash, height: 0n });
  }
  entries.sort((a, b) => (a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : 0));
  const unique: Entry[] = [];
  for (const e of entries) {
    const last = unique[unique.length - 1];
    if (last?.pos !== e.pos) unique.push(e);
    else if (!u8aEq(last.hash, e.hash)) throw new Error(`two different hashes for the leaf at position ${e.pos}`);
  }
  const proofItems = new Items(items);
  const peakHashes: Uint8Array[] = [];
  let k = 0;
  // Whether the last peak was taken whole from the items, as a bag of the peaks right of it may be.
  let lastWasItem = false;
  for (const peakPos of peaksOf(mmrSize(leafCount))) {
    const under: Entry[] = [];
    while (k < unique.length && unique[k].pos <= peakPos) under.push(unique[k++]);
    if (under.length === 0) {
      const item = proofItems.next();
      if (!item) {
        if (!lastWasItem) throw new Error(`MMR proof has too few items (${items.length})`);
        break;
      }
      peakHashes.push(item);
      lastWasItem = true;
      continue;
    }
    lastWasItem = false;
    if (under.length === 1 && under[0].pos === peakPos) peakHashes.push(under[0].hash);
    else peakHashes.push(peakRoot(under, peakPos, proofItems, merge));
  }
  if (k < unique.length) throw new Error(`MMR proof has too few items (${items.length})`);
  if (proofItems.left > 0) throw new Error(`MMR proof has ${proofItems.left} items too many`);
  // Bagging, right to left.
  let root = peakHashes.pop()!;
  for (let left = peakHashes.pop(); left; left = peakHashes.pop()) root = merge(root, left);
  return root;
}

/**
 * Whether `proof` shows each leaf (its index and SCALE bytes) in the MMR of `proof.leafCount`
 * leaves whose root is `root`; false too for a malformed proof (`mmrRootFromProof` says why).
 * The leaves pair with `leafIndices` of the proof in order, as `decodeOpaqueLeaves` gives them.
 * `proof.leafCount` must be the leaf count of the MMR at the trusted block, not only what the
 * node sent: the root does not fix it, and under another count the same items can pass for a
 * leaf at another index (leaf 0 of 3 passes as leaf 2 of 4), as they do in pallet-mmr.
 */
export function verifyLeafProof(
  root: Uint8Array,
  leaves: { index: bigint; encoded: Uint8Array }[],
  proof: { leafCount: bigint; items: Uint8Array[] },
): boolean {
  try {
    const hashes = leaves.map(({ index, encoded }) => ({ index, hash: leafHash(encoded) }));
    return u8aEq(mmrRootFromProof(hashes, proof.leafCount, proof.items), root);
  } catch {
    return false;
  }
}
