// A receipt proven after its retention in state: from a node's archive, against the Merkle
// Mountain Range root a trusted header carries (docs/rpc.md, `veriml_archivedReceipt`).
//
// Each block's leaf in the range holds the block's number and hash and its receipt log: the
// receipts kept in the block, folded into one head, `head = blake2_256(head ++ blake2_256(receipt))`
// from zero in the order they were kept. The root of the range is in every header (a `vmmr`
// consensus digest item). A client that trusts a header checks, trusting nothing the node says:
//   1. the leaf is in the range whose root the header carries, at the index its block number
//      gives in the range's leaf count at that header (read with a storage proof against the
//      header's state root, since the root does not fix the count);
//   2. the receipt, with the head before it and the hashes after it, leads to the leaf's head.
import type { ApiPromise } from '@polkadot/api';
import type { Header } from '@polkadot/types/interfaces';
import { blake2AsU8a, xxhashAsU8a } from '@polkadot/util-crypto';
import { hexToU8a, u8aConcat, u8aEq, u8aToBigInt, u8aToHex, u8aToNumber } from '@polkadot/util';
import { verifyLeafProof } from './mmr.js';
import type { ArchivedReceipt } from './rpc.js';
import { readProven } from './trie.js';

/** The engine id of the digest item holding the range's root (`MMR_ROOT_ENGINE_ID`). */
export const MMR_ROOT_ENGINE_ID = 'vmmr';

/** One block's leaf (`veriml_primitives::verification::BlockLeaf`), decoded. */
export interface BlockLeaf {
  block: number;
  hash: Uint8Array;
  receipts: number;
  head: Uint8Array;
}

/** What `proveArchivedReceipt` proved. */
export interface ProvenArchivedReceipt {
  /** SCALE-encoded receipt (decode with the metadata's `Receipt` type). */
  receipt: Uint8Array;
  /** The leaf of its block. */
  leaf: BlockLeaf;
  /** The header it was proven against. */
  header: Header;
}

/** Decodes a SCALE `BlockLeaf<u32, H256>` (72 bytes). */
export function decodeBlockLeaf(bytes: Uint8Array): BlockLeaf {
  if (bytes.length !== 72) throw new Error(`a block leaf is 72 bytes, not ${bytes.length}`);
  const u32 = (at: number) => u8aToNumber(bytes.subarray(at, at + 4));
  return { block: u32(0), hash: bytes.slice(4, 36), receipts: u32(36), head: bytes.slice(40, 72) };
}

/** The range's root a header carries, or null (a block before the range began). */
export function mmrRootOf(header: Header): Uint8Array | null {
  for (const log of header.digest.logs) {
    if (log.isConsensus && log.asConsensus[0].toU8a().every((b, i) => b === MMR_ROOT_ENGINE_ID.charCodeAt(i))) {
      const root = log.asConsensus[1].toU8a(true);
      if (root.length !== 32) throw new Error(`the header's range root is ${root.length} bytes`);
      return root;
    }
  }
  return null;
}

/** The receipt log's head after `receipt` (its SCALE bytes), kept after `before` and followed by `after`. */
export function receiptLogHead(before: Uint8Array, receipt: Uint8Array, after: Uint8Array[]): Uint8Array {
  const step = (head: Uint8Array, hash: Uint8Array) => blake2AsU8a(u8aConcat(head, hash), 256);
  return after.reduce(step, step(before, blake2AsU8a(receipt, 256)));
}

/**
 * Checks `archived` (what `veriml_archivedReceipt` answered for the receipt of `request` kept in
 * block `verifiedIn`) against `header`, trusted and of block `archived.at`, whose range has
 * `leafCount` leaves (proven against the header's state root); returns the leaf. Throws, saying
 * what failed, if anything does not hold.
 */
export function checkArchivedReceipt(
  archived: ArchivedReceipt,
  header: Header,
  leafCount: bigint,
  request: number | bigint,
  verifiedIn: number,
): BlockLeaf {
  if (header.hash.toHex() !== archived.at) throw new Error(`the header is not of block ${archived.at}`);
  const root = mmrRootOf(header);
  if (!root) throw new Error(`block #${header.number.toNumber()}'s header carries no range root`);
  const leafBytes = hexToU8a(archived.leaf);
  const leaf = decodeBlockLeaf(leafBytes);
  if (leaf.block !== verifiedIn) throw new Error(`the leaf is of block #${leaf.block}, not #${verifiedIn}`);
  // The last leaf at block N is of block N - 1 (appended at the start of N).
  const index = leafCount - BigInt(header.number.toNumber()) + BigInt(leaf.block);
  if (index < 0n || index >= leafCount) throw new Error(`block #${leaf.block} has no leaf in this range`);
  const items = archived.items.map((item) => hexToU8a(item));
  if (!verifyLeafProof(root, [{ index, encoded: leafBytes }], { leafCount, items })) {
    throw new Error(`the leaf of block #${leaf.block} is not in the range whose root the header carries`);
  }
  const head = receiptLogHead(hexToU8a(archived.before), hexToU8a(archived.receipt), archived.after.map((h) => hexToU8a(h)));
  if (!u8aEq(head, leaf.head)) throw new Error(`the receipt is not in block #${leaf.block}'s receipt log`);
  // The receipt's first field is its request id (u64).
  const receipt = hexToU8a(archived.receipt);
  const id = u8aToBigInt(receipt.subarray(0, 8));
  if (id !== BigInt(request)) throw new Error(`the receipt is of request ${id}, not ${request}`);
  return leaf;
}

/**
 * The receipt of `request` kept in block `verifiedIn`, from the archive of the node `api` is
 * connected to, proven against the header of block `at`: a block hash the caller trusts (from a
 * light client, or finalised by its own node). Left out, it is the node's last finalised block,
 * which trusts the node for that block's hash. The header is fetched from the node and checked
 * to hash to `at`. Works the same before and after the receipt's retention in state; `at` must
 * be recent enough that the node keeps its state (the leaf count is read with a proof of it).
 */
export async function proveArchivedReceipt(
  api: ApiPromise,
  request: number | bigint,
  verifiedIn: number,
  at?: string,
): Promise<ProvenArchivedReceipt> {
  // An `at` left out, not passed as undefined, which @polkadot/api would send as a zero hash.
  const answer = at === undefined
    ? await api.rpc.veriml.archivedReceipt(request, verifiedIn)
    : await api.rpc.veriml.archivedReceipt(request, verifiedIn, at);
  const archived = answer.toJSON() as unknown as ArchivedReceipt;
  if (at !== undefined && archived.at !== at) throw new Error(`the node answered for block ${archived.at}, not ${at}`);
  const header = await api.rpc.chain.getHeader(archived.at);
  // The range's leaf count at that block, proven against its state root, under its fixed key
  // (not the key the node's metadata would give).
  const key = u8aToHex(u8aConcat(xxhashAsU8a('Mmr', 128), xxhashAsU8a('NumberOfLeaves', 128)));
  const { proof } = await api.rpc.state.getReadProof([key], archived.at);
  const count = readProven(header.stateRoot.toHex(), proof.map((node) => node.toHex()), key);
  if (count === null) throw new Error('the range has no leaves at that block');
  const leafCount = u8aToBigInt(hexToU8a(count));
  const leaf = checkArchivedReceipt(archived, header, leafCount, request, verifiedIn);
  return { receipt: hexToU8a(archived.receipt), leaf, header };
}

/**
 * The hash of the first finalised block after block `block`: the first whose range holds
 * `block`'s leaf (appended at the start of the next block), to prove a receipt kept in `block`.
 */
export function finalizedAfter(api: ApiPromise, block: number, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    // Ended before the subscription's handle arrived: it is closed when it does.
    let done = false;
    let unsubscribe = () => {};
    const end = () => { done = true; clearTimeout(timer); unsubscribe(); };
    const timer = setTimeout(() => {
      end();
      reject(new Error(`no block after #${block} finalised within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    api.rpc.chain.subscribeFinalizedHeads((header) => {
      if (!done && header.number.toNumber() > block) {
        end();
        resolve(header.hash.toHex());
      }
    }).then((unsub) => { unsubscribe = unsub; if (done) unsub(); }).catch((error) => { end(); reject(error); });
  });
}
