// A storage read proof checked against a block's state root alone (what `veriml_receiptProof`
// answers), for clients that trust a header but not the node they ask.
// Trie layout V1 (the runtime's state version 1), blake2-256 node hashes.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex, compactFromU8a } from '@polkadot/util';

function nibblesOf(bytes) {
  const out = [];
  for (const b of bytes) out.push(b >> 4, b & 0x0f);
  return out;
}

/** Decodes one trie node: { kind, partial (nibbles), value: {inline}|{hash}|null, children[16] }. */
function decodeNode(node) {
  let i = 0;
  const first = node[i++];
  let kind; let lenBits; let hashedValue = false;
  if (first === 0) return { kind: 'empty' };
  if ((first & 0xc0) === 0x40) { kind = 'leaf'; lenBits = 6; }
  else if ((first & 0xc0) === 0x80) { kind = 'branch'; lenBits = 6; }
  else if ((first & 0xc0) === 0xc0) { kind = 'branchValue'; lenBits = 6; }
  else if ((first & 0xe0) === 0x20) { kind = 'leaf'; lenBits = 5; hashedValue = true; }
  else if ((first & 0xf0) === 0x10) { kind = 'branchValue'; lenBits = 4; hashedValue = true; }
  else throw new Error(`unknown trie node header ${first}`);
  const mask = (1 << lenBits) - 1;
  let nibbleCount = first & mask;
  if (nibbleCount === mask) {
    for (;;) { const b = node[i++]; nibbleCount += b; if (b !== 255) break; }
  }
  const partialBytes = node.subarray(i, i + Math.ceil(nibbleCount / 2));
  i += partialBytes.length;
  let partial = nibblesOf(partialBytes);
  if (nibbleCount % 2 === 1) partial = partial.slice(1);
  const readValue = () => {
    if (hashedValue) { const hash = node.subarray(i, i + 32); i += 32; return { hash }; }
    const [offset, len] = compactFromU8a(node.subarray(i));
    i += offset;
    const inline = node.subarray(i, i + len.toNumber());
    i += len.toNumber();
    return { inline };
  };
  if (kind === 'leaf') return { kind, partial, value: readValue(), children: [] };
  const bitmap = node[i] | (node[i + 1] << 8);
  i += 2;
  const value = kind === 'branchValue' ? readValue() : null;
  const children = new Array(16).fill(null);
  for (let c = 0; c < 16; c += 1) {
    if (bitmap & (1 << c)) {
      const [offset, len] = compactFromU8a(node.subarray(i));
      i += offset;
      children[c] = node.subarray(i, i + len.toNumber());
      i += len.toNumber();
    }
  }
  return { kind, partial, value, children };
}

/**
 * The value under `key` proven by `proof` (hex trie nodes) against `stateRoot`, or null if the
 * proof shows there is none; throws if the proof does not lead there.
 */
export function readProven(stateRoot, proof, key) {
  const nodes = new Map(proof.map((hex) => { const n = hexToU8a(hex); return [u8aToHex(blake2AsU8a(n, 256)), n]; }));
  const lookup = (hash) => {
    const node = nodes.get(u8aToHex(hash));
    if (!node) throw new Error(`proof lacks node ${u8aToHex(hash)}`);
    return node;
  };
  const valueOf = (value) => (value.hash ? lookup(value.hash) : value.inline);
  let path = nibblesOf(hexToU8a(key));
  let node = lookup(hexToU8a(stateRoot));
  for (;;) {
    const decoded = decodeNode(node);
    if (decoded.kind === 'empty') return null;
    const { partial } = decoded;
    if (path.length < partial.length || partial.some((n, k) => path[k] !== n)) return null;
    path = path.slice(partial.length);
    if (decoded.kind === 'leaf') return path.length === 0 ? u8aToHex(valueOf(decoded.value)) : null;
    if (path.length === 0) return decoded.value ? u8aToHex(valueOf(decoded.value)) : null;
    const child = decoded.children[path[0]];
    if (!child) return null;
    path = path.slice(1);
    node = child.length === 32 ? lookup(child) : child;
  }
}
