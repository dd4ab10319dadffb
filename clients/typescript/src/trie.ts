// A storage read proof checked against a block's state root alone (what `veriml_receiptProof`
// answers), for clients that trust a header but not the node they ask.
// Trie layout V1 (the runtime's state version 1), blake2-256 node hashes.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex, compactFromU8a } from '@polkadot/util';

type Value = { inline: Uint8Array } | { hash: Uint8Array };

type Node =
  | { kind: 'empty' }
  | { kind: 'leaf'; partial: number[]; value: Value }
  | { kind: 'branch'; partial: number[]; value: Value | null; children: (Uint8Array | null)[] };

function nibblesOf(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of bytes) out.push(b >> 4, b & 0x0f);
  return out;
}

/** Decodes one trie node (the codec of `sp-trie`'s `NodeCodec`, layout V1). */
function decodeNode(node: Uint8Array): Node {
  let i = 0;
  const first = node[i++];
  let kind: 'leaf' | 'branch';
  let lenBits: number;
  let hasValue = false;
  let hashedValue = false;
  if (first === 0) return { kind: 'empty' };
  if ((first & 0xc0) === 0x40) { kind = 'leaf'; lenBits = 6; }
  else if ((first & 0xc0) === 0x80) { kind = 'branch'; lenBits = 6; }
  else if ((first & 0xc0) === 0xc0) { kind = 'branch'; lenBits = 6; hasValue = true; }
  else if ((first & 0xe0) === 0x20) { kind = 'leaf'; lenBits = 5; hashedValue = true; }
  else if ((first & 0xf0) === 0x10) { kind = 'branch'; lenBits = 4; hasValue = true; hashedValue = true; }
  else throw new Error(`unknown trie node header ${first}`);
  const mask = (1 << lenBits) - 1;
  let nibbleCount = first & mask;
  if (nibbleCount === mask) {
    for (;;) { const b = node[i++]; nibbleCount += b; if (b !== 255) break; }
  }
  const partialBytes = node.subarray(i, i + Math.ceil(nibbleCount / 2));
  i += partialBytes.length;
  let partial = nibblesOf(partialBytes);
  // An odd count is padded with a leading zero nibble.
  if (nibbleCount % 2 === 1) partial = partial.slice(1);
  const readLengthPrefixed = (): Uint8Array => {
    const [offset, len] = compactFromU8a(node.subarray(i));
    i += offset;
    const bytes = node.subarray(i, i + len.toNumber());
    i += len.toNumber();
    return bytes;
  };
  const readValue = (): Value => {
    if (!hashedValue) return { inline: readLengthPrefixed() };
    const hash = node.subarray(i, i + 32);
    i += 32;
    return { hash };
  };
  if (kind === 'leaf') return { kind, partial, value: readValue() };
  const bitmap = node[i] | (node[i + 1] << 8);
  i += 2;
  const value = hasValue ? readValue() : null;
  const children: (Uint8Array | null)[] = new Array(16).fill(null);
  for (let c = 0; c < 16; c += 1) {
    if (bitmap & (1 << c)) children[c] = readLengthPrefixed();
  }
  return { kind, partial, value, children };
}

/**
 * The value under `key` proven by `proof` (hex trie nodes) against `stateRoot`, as hex, or null
 * if the proof shows there is none; throws if the proof does not lead there (a node on the way
 * is missing: a forged value, or a proof for another block).
 */
export function readProven(stateRoot: string, proof: string[], key: string): string | null {
  const nodes = new Map(proof.map((hex) => {
    const node = hexToU8a(hex);
    return [u8aToHex(blake2AsU8a(node, 256)), node];
  }));
  const lookup = (hash: Uint8Array): Uint8Array => {
    const node = nodes.get(u8aToHex(hash));
    if (!node) throw new Error(`proof lacks node ${u8aToHex(hash)}`);
    return node;
  };
  const valueOf = (value: Value): string => u8aToHex('hash' in value ? lookup(value.hash) : value.inline);
  let path = nibblesOf(hexToU8a(key));
  let node = lookup(hexToU8a(stateRoot));
  for (;;) {
    const decoded = decodeNode(node);
    if (decoded.kind === 'empty') return null;
    const { partial } = decoded;
    if (path.length < partial.length || partial.some((n, k) => path[k] !== n)) return null;
    path = path.slice(partial.length);
    if (decoded.kind === 'leaf') return path.length === 0 ? valueOf(decoded.value) : null;
    if (path.length === 0) return decoded.value ? valueOf(decoded.value) : null;
    const child = decoded.children[path[0]];
    if (!child) return null;
    path = path.slice(1);
    // A child of 32 bytes is its hash; shorter children are inlined.
    node = child.length === 32 ? lookup(child) : child;
  }
}
