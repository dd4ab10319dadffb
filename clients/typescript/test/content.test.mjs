// The content store's Merkle tree, offline: the same root as the runtime's
// (veriml_primitives::content, its test `a_known_root`), and proofs of every chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { chunkHash, chunkProof, contentRoot, splitChunks, verifyChunk, chunkCid, fileNode, fileCid } from '../dist/index.js';

const text = (s) => new TextEncoder().encode(s);

test('the root the runtime computes for three chunks', () => {
  const hashes = ['veriml', 'content', 'store'].map((s) => chunkHash(text(s)));
  assert.equal(u8aToHex(contentRoot(hashes)), '0x7745ebf6896fad1e033c4951478b970479521b1e77125af3929f5b24dea14c25');
  assert.deepEqual([...chunkCid(hashes[0]).slice(0, 6)], [0x01, 0x55, 0xa0, 0xe4, 0x02, 0x20]);
});

test('every chunk is proven at its place and nowhere else', () => {
  for (let n = 1; n <= 17; n += 1) {
    const hashes = Array.from({ length: n }, (_, i) => chunkHash(Uint8Array.of(i, n)));
    const root = contentRoot(hashes);
    for (let i = 0; i < n; i += 1) {
      const proof = chunkProof(hashes, i);
      assert.ok(verifyChunk(root, n, i, hashes[i], proof), `${n} ${i}`);
      assert.ok(!verifyChunk(root, n, i, chunkHash(text('other')), proof));
      if (n > 1) assert.ok(!verifyChunk(root, n, (i + 1) % n, hashes[i], proof));
      assert.ok(!verifyChunk(root, 2 * n + 1, i, hashes[i], proof));
    }
  }
});

test('splitting: every chunk but the last is whole', () => {
  const bytes = new Uint8Array(10).map((_, i) => i);
  assert.deepEqual(splitChunks(bytes, 4).map((c) => c.length), [4, 4, 2]);
  assert.deepEqual(splitChunks(bytes, 5).map((c) => c.length), [5, 5]);
});

test('the file node the runtime builds (its test `a_file_node_is_the_canonical_dag_pb_of_a_unixfs_file`)', () => {
  const hashes = [chunkHash(text('chunk-0')), chunkHash(text('abc'))];
  const expected = [];
  for (const [hash, len] of [[hashes[0], 7], [hashes[1], 3]]) {
    expected.push(0x12, 44, 0x0a, 38, ...chunkCid(hash), 0x12, 0, 0x18, len);
  }
  expected.push(0x0a, 8, 0x08, 2, 0x18, 10, 0x20, 7, 0x20, 3);
  assert.deepEqual([...fileNode(10, 7, hashes)], expected);
  // Lengths of more than one varint byte: a 3 MiB + 5 item of 1 MiB chunks.
  const node = fileNode(3 * 2 ** 20 + 5, 2 ** 20, [0, 1, 2, 3].map((i) => chunkHash(Uint8Array.of(i))));
  const mib = [0x20, 0x80, 0x80, 0x40];
  assert.deepEqual([...node.slice(-23)], [0x0a, 21, 0x08, 2, 0x18, 0x85, 0x80, 0xc0, 0x01, ...mib, ...mib, ...mib, 0x20, 5]);
  assert.deepEqual([...fileCid(node).slice(0, 6)], [0x01, 0x70, 0xa0, 0xe4, 0x02, 0x20]);
});
