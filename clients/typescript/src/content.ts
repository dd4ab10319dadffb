// Content kept outside state (the content store, docs/architecture.md "Content store"): an
// item's bytes are split into chunks of `contentStore.chunkBytes`, each kept by the nodes under
// its blake2-256 and served by `veriml_contentChunk`; the item is named by the root of a Merkle
// tree over the chunks' hashes (`veriml_primitives::content`):
//   leaf  = blake2_256(0x00 ++ chunk hash)
//   node  = blake2_256(0x01 ++ left ++ right)
// with the leaves padded by zero hashes to the next power of two.
import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { blake2AsU8a } from '@polkadot/util-crypto';
import { hexToU8a, u8aConcat, u8aEq, u8aToHex } from '@polkadot/util';

const ZERO = new Uint8Array(32);

/** The blake2-256 of a chunk: the key nodes keep and serve it under. */
export function chunkHash(chunk: Uint8Array): Uint8Array {
  return blake2AsU8a(chunk, 256);
}

/** `bytes` split into chunks of `chunkBytes` (the last one the rest). */
export function splitChunks(bytes: Uint8Array, chunkBytes: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += chunkBytes) chunks.push(bytes.subarray(at, at + chunkBytes));
  return chunks;
}

function leaf(hash: Uint8Array): Uint8Array {
  return blake2AsU8a(u8aConcat([0], hash), 256);
}

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return blake2AsU8a(u8aConcat([1], left, right), 256);
}

function levels(hashes: Uint8Array[]): Uint8Array[][] {
  let width = 1;
  while (width < hashes.length) width *= 2;
  const first = hashes.map(leaf);
  while (first.length < width) first.push(ZERO);
  const all = [first];
  while (all[all.length - 1].length > 1) {
    const below = all[all.length - 1];
    const above: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) above.push(node(below[i], below[i + 1]));
    all.push(above);
  }
  return all;
}

/** The root of the tree over the chunks' `hashes`, in order: the item's name. */
export function contentRoot(hashes: Uint8Array[]): Uint8Array {
  return levels(hashes).pop()![0];
}

/** The siblings that prove chunk `index`, from the leaf's up. */
export function chunkProof(hashes: Uint8Array[], index: number): Uint8Array[] {
  if (index < 0 || index >= hashes.length) throw new RangeError(`no chunk ${index} of ${hashes.length}`);
  const all = levels(hashes);
  const proof: Uint8Array[] = [];
  let position = index;
  for (const level of all.slice(0, -1)) {
    proof.push(level[position ^ 1]);
    position >>= 1;
  }
  return proof;
}

/** Whether `hash` is chunk `index` of the item of `chunks` chunks named `root`, by `proof`. */
export function verifyChunk(root: Uint8Array, chunks: number, index: number, hash: Uint8Array, proof: Uint8Array[]): boolean {
  let depth = 0;
  while (1 << depth < chunks) depth += 1;
  if (index < 0 || index >= chunks || proof.length !== depth) return false;
  let position = index;
  let computed = leaf(hash);
  for (const sibling of proof) {
    computed = position % 2 === 0 ? node(computed, sibling) : node(sibling, computed);
    position >>= 1;
  }
  return u8aEq(computed, root);
}

/** An item ready to store: its chunks, their hashes and its root (hex). */
export interface PreparedContent {
  root: string;
  chunks: Uint8Array[];
  hashes: Uint8Array[];
  byteLen: number;
}

/** Splits `bytes` as the chain's content store does (`contentStore.chunkBytes`) and names it. */
export function prepareContent(api: ApiPromise, bytes: Uint8Array): PreparedContent {
  const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
  const chunks = splitChunks(bytes, chunkBytes);
  const hashes = chunks.map(chunkHash);
  return { root: u8aToHex(contentRoot(hashes)), chunks, hashes, byteLen: bytes.length };
}

/**
 * The transactions that store `content` for `retainFor` blocks: `contentStore.beginStore`, then
 * one `contentStore.storeChunk` per chunk, in any order once `begin` is applied (a chunk sent
 * before it is refused as `UnknownUpload`); a block takes three 1 MiB chunks.
 */
export function storeContentTxs(
  api: ApiPromise,
  content: PreparedContent,
  retainFor: number,
): { begin: SubmittableExtrinsic<'promise'>; chunks: SubmittableExtrinsic<'promise'>[] } {
  return {
    begin: api.tx.contentStore.beginStore(content.byteLen, content.hashes.map((hash) => u8aToHex(hash)), retainFor),
    // Hex, not a Uint8Array: @polkadot/api reads a Uint8Array given as `Bytes` as already
    // length-prefixed.
    chunks: content.chunks.map((chunk, index) => api.tx.contentStore.storeChunk(content.root, index, u8aToHex(chunk))),
  };
}

/**
 * The bytes of the stored item `root`, fetched chunk by chunk from the node (`veriml_contentChunk`)
 * and checked: each chunk against its hash in `contentStore.itemChunks`, the hashes against the
 * root. Throws if the item is not stored or a chunk does not check.
 */
export async function fetchContent(api: ApiPromise, root: string): Promise<Uint8Array> {
  const item = await api.query.contentStore.items(root);
  if ((item as unknown as { isNone: boolean }).isNone) throw new Error(`no item ${root} is stored`);
  const listed = (await api.query.contentStore.itemChunks(root)) as unknown as { unwrap(): { toU8a(): Uint8Array }[] };
  const hashes = listed.unwrap().map((hash) => hash.toU8a());
  if (!u8aEq(contentRoot(hashes), hexToU8a(root))) throw new Error(`the chunk list of ${root} does not make its root`);
  const parts: Uint8Array[] = [];
  for (const [index, hash] of hashes.entries()) {
    const bytes = (await api.rpc.veriml.contentChunk(u8aToHex(hash))).toU8a(true);
    if (!u8aEq(chunkHash(bytes), hash)) throw new Error(`chunk ${index} of ${root} does not hash to its place`);
    parts.push(bytes);
  }
  return u8aConcat(...parts);
}

/**
 * The IPFS CID (v1, raw, blake2b-256) of a chunk, as bytes: what a node with `--ipfs-server`
 * serves the chunk under over bitswap.
 */
export function chunkCid(hash: Uint8Array): Uint8Array {
  return u8aConcat([0x01, 0x55, 0xa0, 0xe4, 0x02, 0x20], hash);
}
