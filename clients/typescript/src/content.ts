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

/** An item ready to store: its chunks, their hashes, its root (hex) and its UnixFS file node. */
export interface PreparedContent {
  root: string;
  chunks: Uint8Array[];
  hashes: Uint8Array[];
  byteLen: number;
  /** `fileNode` of the item: stored with `contentStore.storeFileNode`, served under `fileCid`. */
  fileNode: Uint8Array;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/** A length-delimited protobuf field: key (`field`, wire type 2), length, bytes. */
function bytesField(field: number, bytes: Uint8Array | number[]): number[] {
  return [(field << 3) | 2, ...varint(bytes.length), ...bytes];
}

/**
 * The UnixFS file node of an item of `byteLen` bytes in chunks of `chunkBytes` whose hashes are
 * `hashes`, byte for byte as the runtime builds it (`veriml_primitives::content::file_node`): the
 * canonical DAG-PB `PBNode` linking each chunk as a `raw` leaf (its `chunkCid`, an empty name, its
 * length) before the UnixFS `Data` of a file (type `File`, `filesize`, `blocksizes`).
 */
export function fileNode(byteLen: number, chunkBytes: number, hashes: Uint8Array[]): Uint8Array {
  const len = (index: number) => Math.min(chunkBytes, byteLen - index * chunkBytes);
  const out: number[] = [];
  hashes.forEach((hash, index) => {
    out.push(...bytesField(2, [...bytesField(1, chunkCid(hash)), ...bytesField(2, []), 3 << 3, ...varint(len(index))]));
  });
  const data = [1 << 3, 2, 3 << 3, ...varint(byteLen)];
  hashes.forEach((_, index) => data.push(4 << 3, ...varint(len(index))));
  out.push(...bytesField(1, data));
  return Uint8Array.from(out);
}

/**
 * The IPFS CID (v1, dag-pb, blake2b-256) of an item's file node, as bytes: an IPFS client reads
 * the whole item under it from a node with `--ipfs-server` (a UnixFS file of `raw` leaves).
 */
export function fileCid(node: Uint8Array): Uint8Array {
  return fileNodeCid(blake2AsU8a(node, 256));
}

/**
 * The IPFS CID of the file node whose blake2-256 is `nodeHash`, as the chain records it
 * (`contentStore.fileNodes(root)`): how a reader who holds only the item's root names the file.
 */
export function fileNodeCid(nodeHash: Uint8Array): Uint8Array {
  return u8aConcat([0x01, 0x70, 0xa0, 0xe4, 0x02, 0x20], nodeHash);
}

/** Splits `bytes` as the chain's content store does (`contentStore.chunkBytes`) and names it. */
export function prepareContent(api: ApiPromise, bytes: Uint8Array): PreparedContent {
  const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
  const chunks = splitChunks(bytes, chunkBytes);
  const hashes = chunks.map(chunkHash);
  return {
    root: u8aToHex(contentRoot(hashes)), chunks, hashes, byteLen: bytes.length,
    fileNode: fileNode(bytes.length, chunkBytes, hashes),
  };
}

/**
 * The transactions that store `content` for `retainFor` blocks: `contentStore.beginStore`, then
 * one `contentStore.storeChunk` per chunk, in any order once `begin` is applied (a chunk sent
 * before it is refused as `UnknownUpload`; a block takes three 1 MiB chunks), then
 * `contentStore.storeFileNode` once the item is complete (sent with the nonce after the last
 * chunk's, it is): nodes then serve the whole item under `fileCid(content.fileNode)`.
 */
export function storeContentTxs(
  api: ApiPromise,
  content: PreparedContent,
  retainFor: number,
): {
  begin: SubmittableExtrinsic<'promise'>;
  chunks: SubmittableExtrinsic<'promise'>[];
  fileNode: SubmittableExtrinsic<'promise'>;
} {
  return {
    begin: api.tx.contentStore.beginStore(content.byteLen, content.hashes.map((hash) => u8aToHex(hash)), retainFor),
    // Hex, not a Uint8Array: @polkadot/api reads a Uint8Array given as `Bytes` as already
    // length-prefixed.
    chunks: content.chunks.map((chunk, index) => api.tx.contentStore.storeChunk(content.root, index, u8aToHex(chunk))),
    fileNode: api.tx.contentStore.storeFileNode(content.root, u8aToHex(content.fileNode)),
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
