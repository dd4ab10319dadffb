// Checks dist/mmr.js (build first: npx tsc -p .) against an MMR built here independently, and
// against pallet-mmr's own test vectors. Run: node --test test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blake2AsU8a, keccakAsU8a } from '@polkadot/util-crypto';
import { compactToU8a, hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { leafHash, decodeLeafProof, decodeOpaqueLeaves, mmrRootFromProof, verifyLeafProof } from '../dist/mmr.js';

const H = (x) => blake2AsU8a(x, 256);
const merge = (l, r) => H(u8aConcat(l, r));

// Bags peak hashes right to left: hash(right ++ left).
function bag(hashes) {
  let acc = hashes[hashes.length - 1];
  for (let i = hashes.length - 2; i >= 0; i -= 1) acc = merge(acc, hashes[i]);
  return acc;
}

// A leaf's SCALE bytes: (u64 number, Vec<u8> of varying length).
function encodeLeaf(i) {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, BigInt(i), true);
  const body = Uint8Array.from({ length: i % 5 }, (_, k) => (i * 7 + k) & 0xff);
  return u8aConcat(n, compactToU8a(body.length), body);
}

// An MMR as a tree: nodes in the order they are appended (so a node's id is its ckb position),
// each with its height, parent and sibling.
class TestMmr {
  nodes = [];
  peaks = [];
  leaves = [];

  add(node) {
    this.nodes.push(node);
    return this.nodes.length - 1;
  }

  // Appends a leaf, then merges it with the peak to its left while that peak is as high.
  push(encoded) {
    let id = this.add({ hash: leafHash(encoded), height: 0 });
    this.leaves.push({ id, encoded });
    while (this.peaks.length && this.nodes[this.peaks.at(-1)].height === this.nodes[id].height) {
      const left = this.peaks.pop();
      const parent = this.add({ hash: merge(this.nodes[left].hash, this.nodes[id].hash), height: this.nodes[id].height + 1 });
      Object.assign(this.nodes[left], { parent, sibling: id });
      Object.assign(this.nodes[id], { parent, sibling: left });
      id = parent;
    }
    this.peaks.push(id);
  }

  root() {
    return bag(this.peaks.map((p) => this.nodes[p].hash));
  }

  peakOf(id) {
    while (this.nodes[id].parent !== undefined) id = this.nodes[id].parent;
    return id;
  }

  // A one-leaf proof as a path: the peaks left of its peak, the siblings up to its peak, then
  // the peaks right of it (bagged into one when more than one).
  pathProof(index) {
    const id = this.leaves[index].id;
    const at = this.peaks.indexOf(this.peakOf(id));
    const items = this.peaks.slice(0, at).map((p) => this.nodes[p].hash);
    for (let n = id; this.nodes[n].parent !== undefined; n = this.nodes[n].parent) items.push(this.nodes[this.nodes[n].sibling].hash);
    const right = this.peaks.slice(at + 1).map((p) => this.nodes[p].hash);
    if (right.length > 1) items.push(bag(right));
    else items.push(...right);
    return items;
  }

  // ckb's `gen_proof` for several leaves: per peak, left to right, the siblings met breadth
  // first from the sorted leaves (none when the sibling is itself proven), or the peak's hash
  // when no leaf is under it; a run of two or more such peaks at the right end is bagged.
  genProof(indices) {
    if (this.nodes.length === 1) return [];
    const ids = [...new Set(indices.map((i) => this.leaves[i].id))].sort((a, b) => a - b);
    const items = [];
    let track = 0;
    for (const peak of this.peaks) {
      const under = ids.filter((id) => this.peakOf(id) === peak);
      track = under.length === 0 ? track + 1 : 0;
      if (under.length === 0) { items.push(this.nodes[peak].hash); continue; }
      if (under.length === 1 && under[0] === peak) continue;
      const queue = [...under];
      while (queue.length) {
        const n = queue.shift();
        const { sibling, parent } = this.nodes[n];
        if (queue[0] === sibling) queue.shift();
        else items.push(this.nodes[sibling].hash);
        if (parent !== peak) queue.push(parent);
      }
    }
    if (track > 1) items.push(bag(items.splice(items.length - track)));
    return items;
  }
}

function build(count) {
  const mmr = new TestMmr();
  for (let i = 0; i < count; i += 1) mmr.push(encodeLeaf(i));
  return mmr;
}

function flip(bytes, at = 0) {
  const out = bytes.slice();
  out[at] ^= 0x01;
  return out;
}

// Either `f` throws an error matching `re`, or gives a root other than `root`.
function wrongRootOr(f, root, re, at) {
  let got;
  try {
    got = f();
  } catch (e) {
    assert.match(e.message, re, at);
    return;
  }
  assert.notEqual(u8aToHex(got), u8aToHex(root), at);
}

const u64 = (v) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};

test('leafHash is blake2-256 of the SCALE bytes', () => {
  const enc = encodeLeaf(3);
  assert.equal(u8aToHex(leafHash(enc)), u8aToHex(blake2AsU8a(enc, 256)));
});

test('decodes mmr-rpc serialisation vectors', () => {
  // mmr-rpc 48.0.0 src/lib.rs tests should_serialize_leaf_proof / should_serialize_leaves_proof.
  assert.deepEqual(decodeOpaqueLeaves(hexToU8a('0x041001020304')).map((l) => u8aToHex(l)), ['0x01020304']);
  assert.deepEqual(decodeOpaqueLeaves(hexToU8a('0x0810010203041002020304')).map((l) => u8aToHex(l)), ['0x01020304', '0x02020304']);
  const one = decodeLeafProof(hexToU8a('0x04010000000000000009000000000000000801010101010101010101010101010101010101010101010101010101010101010202020202020202020202020202020202020202020202020202020202020202'));
  assert.deepEqual(one.leafIndices, [1n]);
  assert.equal(one.leafCount, 9n);
  assert.deepEqual(one.items.map((i) => u8aToHex(i)), ['0x' + '01'.repeat(32), '0x' + '02'.repeat(32)]);
  const two = decodeLeafProof(hexToU8a('0x080100000000000000020000000000000009000000000000000801010101010101010101010101010101010101010101010101010101010101010202020202020202020202020202020202020202020202020202020202020202'));
  assert.deepEqual(two.leafIndices, [1n, 2n]);
  assert.equal(two.leafCount, 9n);
  assert.equal(two.items.length, 2);
});

test('rejects malformed SCALE', () => {
  assert.throws(() => decodeLeafProof(hexToU8a('0x040100')), /overruns/);
  assert.throws(() => decodeLeafProof(hexToU8a('0x0001000000')), /truncated/);
  assert.throws(() => decodeLeafProof(u8aConcat(hexToU8a('0x00'), u64(1), hexToU8a('0x00ff'))), /trailing/);
  assert.throws(() => decodeLeafProof(u8aConcat(hexToU8a('0x00'), u64(1), hexToU8a('0x04'))), /overruns/);
  assert.throws(() => decodeOpaqueLeaves(hexToU8a('0x0410010203')), /overruns/);
  assert.throws(() => decodeOpaqueLeaves(hexToU8a('')), /truncated/);
  // Non-canonical compact (1 written in two bytes).
  assert.throws(() => decodeOpaqueLeaves(hexToU8a('0x0500')), /non-canonical/);
});

test('the test generator agrees with itself', () => {
  for (let count = 1; count <= 40; count += 1) {
    const mmr = build(count);
    for (let i = 0; i < count; i += 1) {
      const items = count === 1 ? [] : mmr.pathProof(i);
      assert.deepEqual(mmr.genProof([i]).map(u8aToHex), items.map(u8aToHex), `count ${count} leaf ${i}`);
    }
  }
});

test('one-leaf proofs for 1..40 leaves', () => {
  for (let count = 1; count <= 40; count += 1) {
    const mmr = build(count);
    const root = mmr.root();
    const leafCount = BigInt(count);
    for (let i = 0; i < count; i += 1) {
      const at = `count ${count} leaf ${i}`;
      const items = mmr.genProof([i]);
      const encoded = mmr.leaves[i].encoded;
      const leaf = { index: BigInt(i), encoded };
      assert.equal(u8aToHex(mmrRootFromProof([{ index: BigInt(i), hash: leafHash(encoded) }], leafCount, items)), u8aToHex(root), at);
      assert.ok(verifyLeafProof(root, [leaf], { leafCount, items }), at);
      // A flipped byte anywhere, in the leaf, each item and the root.
      assert.ok(!verifyLeafProof(root, [{ ...leaf, encoded: flip(encoded, i % encoded.length) }], { leafCount, items }), at);
      for (let k = 0; k < items.length; k += 1) {
        const bad = items.slice();
        bad[k] = flip(bad[k], (k * 5) % 32);
        assert.ok(!verifyLeafProof(root, [leaf], { leafCount, items: bad }), `${at} item ${k}`);
      }
      assert.ok(!verifyLeafProof(flip(root, 31), [leaf], { leafCount, items }), at);
      // Another index.
      for (let j = 0; j < count; j += 1) {
        if (j !== i) assert.ok(!verifyLeafProof(root, [{ index: BigInt(j), encoded }], { leafCount, items }), `${at} as ${j}`);
      }
      // Malformed proofs throw with a reason.
      const hash = leafHash(encoded);
      assert.throws(() => mmrRootFromProof([{ index: leafCount, hash }], leafCount, items), /not below the leaf count/);
      // One item more or less: refused, or taken as another peak and so another root.
      const more = [...items, new Uint8Array(32)];
      wrongRootOr(() => mmrRootFromProof([{ index: BigInt(i), hash }], leafCount, more), root, /too many/, at);
      assert.ok(!verifyLeafProof(root, [leaf], { leafCount, items: more }), at);
      if (items.length) {
        wrongRootOr(() => mmrRootFromProof([{ index: BigInt(i), hash }], leafCount, items.slice(1)), root, /too few/, at);
        assert.ok(!verifyLeafProof(root, [leaf], { leafCount, items: items.slice(1) }), at);
      }
      assert.ok(!verifyLeafProof(root, [{ index: leafCount, encoded }], { leafCount, items }), at);
    }
  }
});

test('the root does not fix the leaf count, nor so the index (as in ckb)', () => {
  // 5 leaves: peaks 6 (leaves 0..3) and 7 (leaf 4). Leaf 0's proof [l1, node 5, l4] also passes
  // for 6 leaves, l4 standing for peak 9; with no item left to stand for it, it is refused.
  const mmr = build(5);
  const leaf = { index: 0n, encoded: mmr.leaves[0].encoded };
  const items = mmr.genProof([0]);
  assert.ok(verifyLeafProof(mmr.root(), [leaf], { leafCount: 5n, items }));
  assert.ok(verifyLeafProof(mmr.root(), [leaf], { leafCount: 6n, items }));
  assert.ok(!verifyLeafProof(mmr.root(), [leaf], { leafCount: 4n, items }));
  // Nor, then, the index: leaf 0 of 3 leaves (root hash(l2 ++ hash(l0 ++ l1))) passes as leaf 2
  // of 4 with the same items, so the leaf count must come from the trusted block.
  const three = build(3);
  const moved = { index: 2n, encoded: three.leaves[0].encoded };
  assert.ok(verifyLeafProof(three.root(), [moved], { leafCount: 4n, items: three.genProof([0]) }));
  assert.ok(!verifyLeafProof(three.root(), [moved], { leafCount: 3n, items: three.genProof([0]) }));
  const two = build(2);
  const only = two.genProof([0]);
  assert.throws(() => mmrRootFromProof([{ index: 0n, hash: leafHash(two.leaves[0].encoded) }], 3n, only), /too few/);
  // An item past the last peak is refused (ckb would bag it in as one more peak).
  assert.throws(() => mmrRootFromProof([{ index: 0n, hash: leafHash(two.leaves[0].encoded) }], 2n, [...only, two.root()]), /too many/);
  assert.throws(() => mmrRootFromProof([{ index: 0n, hash: leafHash(build(1).leaves[0].encoded) }], 1n, [new Uint8Array(32)]), /too many/);
});

test('several-leaf proofs', () => {
  for (let count = 2; count <= 24; count += 1) {
    const mmr = build(count);
    const root = mmr.root();
    const leafCount = BigInt(count);
    for (let i = 0; i < count; i += 1) {
      for (let j = i + 1; j < count; j += 1) {
        const at = `count ${count} leaves ${i},${j}`;
        const items = mmr.genProof([j, i]);
        const a = { index: BigInt(i), encoded: mmr.leaves[i].encoded };
        const b = { index: BigInt(j), encoded: mmr.leaves[j].encoded };
        assert.ok(verifyLeafProof(root, [a, b], { leafCount, items }), at);
        assert.ok(verifyLeafProof(root, [b, a], { leafCount, items }), at);
        // A repeated leaf counts once; a repeated index with other bytes is refused.
        assert.ok(verifyLeafProof(root, [a, b, a], { leafCount, items }), at);
        assert.throws(() => mmrRootFromProof([a, b, { ...a, encoded: b.encoded }].map((l) => ({ index: l.index, hash: leafHash(l.encoded) })), leafCount, items), /two different hashes/);
        assert.ok(!verifyLeafProof(root, [{ ...a, encoded: b.encoded }, { ...b, encoded: a.encoded }], { leafCount, items }), at);
        assert.ok(!verifyLeafProof(root, [{ ...a, encoded: flip(a.encoded) }, b], { leafCount, items }), at);
        assert.ok(!verifyLeafProof(root, [a, { ...b, encoded: flip(b.encoded) }], { leafCount, items }), at);
        for (let k = 0; k < items.length; k += 1) {
          const bad = items.slice();
          bad[k] = flip(bad[k], 7);
          assert.ok(!verifyLeafProof(root, [a, b], { leafCount, items: bad }), `${at} item ${k}`);
        }
        assert.ok(!verifyLeafProof(flip(root), [a, b], { leafCount, items }), at);
        // One of the two alone does not fit the two-leaf proof.
        assert.ok(!verifyLeafProof(root, [a], { leafCount, items }), at);
      }
    }
  }
  // Three leaves across peaks.
  const mmr = build(39);
  for (const ids of [[0, 1, 2], [5, 20, 38], [31, 32, 36], [0, 37, 38]]) {
    const items = mmr.genProof(ids);
    const leaves = ids.map((i) => ({ index: BigInt(i), encoded: mmr.leaves[i].encoded }));
    assert.ok(verifyLeafProof(mmr.root(), leaves, { leafCount: 39n, items }), String(ids));
    assert.ok(!verifyLeafProof(mmr.root(), leaves.slice(1), { leafCount: 39n, items }), String(ids));
  }
});

test('RPC-shaped bytes round trip', () => {
  const mmr = build(13);
  const indices = [2, 9];
  const items = mmr.genProof(indices);
  const proofBytes = u8aConcat(compactToU8a(indices.length), ...indices.map(u64), u64(13), compactToU8a(items.length), ...items);
  const leavesBytes = u8aConcat(compactToU8a(indices.length), ...indices.map((i) => u8aConcat(compactToU8a(mmr.leaves[i].encoded.length), mmr.leaves[i].encoded)));
  const proof = decodeLeafProof(proofBytes);
  const leaves = decodeOpaqueLeaves(leavesBytes);
  assert.deepEqual(proof.leafIndices, [2n, 9n]);
  assert.ok(verifyLeafProof(mmr.root(), leaves.map((encoded, k) => ({ index: proof.leafIndices[k], encoded })), proof));
});

test("pallet-mmr 50.0.0's own vectors (Keccak256 mock, src/tests.rs)", () => {
  const K = (x) => keccakAsU8a(x, 256);
  // The mock's leaf: Compact<Keccak256, ((u64, H256), LeafData { a: u64, b: Vec<u8> })>, whose
  // hash is that of the tuple of its parts' hashes, each encoded as DataOrHash::Hash (0x01 ++ h).
  const mockLeafHash = (n) => {
    const parent = K(u8aConcat(u64(n - 1), new Uint8Array(32).fill(n)));
    const data = K(u8aConcat(u64(n), hexToU8a('0x00')));
    return K(u8aConcat(hexToU8a('0x01'), parent, hexToU8a('0x01'), data));
  };
  // tests.rs:133, the only leaf after block 1.
  assert.equal(u8aToHex(mockLeafHash(1)), '0x4320435e8c3318562dba60116bdbcc0b82ffcecb9bb39aae3300cfda3ad0b8b0');
  // tests.rs:219, the root after 7 blocks; proofs of tests.rs:288-295 and 319-326.
  const root = '0xe45e25259f7930626431347fa4dd9aae7ac83b4966126d425ca70ab343709d2c';
  const leaf0 = mmrRootFromProof([{ index: 0n, hash: mockLeafHash(1) }], 7n, [
    '0xad4cbc033833612ccd4626d5f023b9dfc50a35e838514dd1f3c86f8506728705',
    '0xcb24f4614ad5b2a5430344c99545b421d9af83c46fd632d70a332200884b4d46',
    '0xdca421199bdcc55bb773c6b6967e8d16675de69062b52285ca63685241fdf626',
  ].map((h) => hexToU8a(h)), K);
  assert.equal(u8aToHex(leaf0), root);
  const leaf2 = mmrRootFromProof([{ index: 2n, hash: mockLeafHash(3) }], 7n, [
    '0x1b14c1dc7d3e4def11acdf31be0584f4b85c3673f1ff72a3af467b69a3b0d9d0',
    '0x672c04a9cd05a644789d769daa552d35d8de7c33129f8a7cbf49e595234c4854',
    '0xdca421199bdcc55bb773c6b6967e8d16675de69062b52285ca63685241fdf626',
  ].map((h) => hexToU8a(h)), K);
  assert.equal(u8aToHex(leaf2), root);
  // tests.rs:216-218: the peaks at positions 6, 9 and 10 (10 being leaf 6) bag into that root.
  const [p6, p9, p10] = [
    '0xae88a0825da50e953e7a359c55fe13c8015e48d03d301b8bdfc9193874da9252',
    '0x7e4316ae2ebf7c3b6821cb3a46ca8b7a4f9351a9b40fcf014bb0a4fd8e8f29da',
    '0x611c2174c6164952a66d985cfe1ec1a623794393e3acff96b136d198f37a648c',
  ].map((h) => hexToU8a(h));
  assert.equal(u8aToHex(mockLeafHash(7)), u8aToHex(p10));
  assert.equal(u8aToHex(mmrRootFromProof([{ index: 6n, hash: p10 }], 7n, [p6, p9], K)), root);
});
