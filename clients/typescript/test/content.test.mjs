// The content store's Merkle tree, offline: the same root as the runtime's
// (veriml_primitives::content, its test `a_known_root`), and proofs of every chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { chunkHash, chunkProof, contentRoot, splitChunks, verifyChunk, chunkCid } from '../dist/index.js';

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
