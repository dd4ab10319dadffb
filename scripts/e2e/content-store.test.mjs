// The content store on a running `--dev` node, through the TypeScript client: an item of three
// 1 MiB chunks is stored over several transactions as indexed data (out of state), its manifest
// and chunk list are in state, the node serves every chunk by its hash (`veriml_contentChunk`)
// and the client reassembles and checks the item against its root; a chunk that is not the one
// its place names is refused; at the end of its (short) retention the item leaves state and its
// deposit is released.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { u8aEq, u8aToHex } from '@polkadot/util';
import {
  connect, account, send, sendOk, eventsOf, nextNonce, assertInvariants, rpcErrorCode,
} from './lib/chain.mjs';
import { prepareContent, storeContentTxs, fetchContent, chunkHash } from 'veriml-client';

let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

async function contentHold(address) {
  const holds = await api.query.balances.holds(address);
  const hold = holds.find((h) => h.id.isContentStore);
  return hold ? hold.amount.toBigInt() : 0n;
}

test('an item is stored out of state, served by its chunks\' hashes, and leaves state when its retention ends', async () => {
  const owner = account('Eve');
  const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
  const bytes = new Uint8Array(randomBytes(2 * chunkBytes + 12345));
  const content = prepareContent(api, bytes);
  assert.equal(content.chunks.length, 3);
  const retainFor = Number(api.consts.contentStore.minRetention.toString());
  const { begin, chunks } = storeContentTxs(api, content, retainFor);

  const started = await sendOk(api, begin, owner);
  const [upload] = eventsOf(started.events, 'contentStore', 'UploadStarted');
  assert.equal(upload.data.root.toHex(), content.root, 'the chain names the item by the root the client computed');
  assert.equal(upload.data.chunkCount.toNumber(), 3);
  assert.equal(await contentHold(owner.address), upload.data.deposit.toBigInt());

  // The first chunk's bytes at the second's place: the same length, not its bytes.
  const wrong = await send(api, api.tx.contentStore.storeChunk(content.root, 1, u8aToHex(content.chunks[0])), owner);
  assert.equal(wrong.error, 'contentStore.ChunkMismatch');

  // All three chunks at once, in nonce order: the pool spreads them over blocks by length.
  const first = await nextNonce(api, owner.address);
  const outcomes = await Promise.all(chunks.map((tx, i) => send(api, tx, owner, first + i)));
  for (const outcome of outcomes) assert.equal(outcome.error, null);
  const stored = outcomes.flatMap((o) => eventsOf(o.events, 'contentStore', 'ContentStored'));
  assert.equal(stored.length, 1);
  assert.equal(stored[0].data.root.toHex(), content.root);
  const retainedUntil = stored[0].data.retainedUntil.toNumber();

  const manifest = (await api.query.contentStore.items(content.root)).unwrap();
  assert.equal(manifest.byteLen.toNumber(), bytes.length);
  assert.equal(manifest.chunkCount.toNumber(), 3);
  assert.equal(manifest.owner.toString(), owner.address);

  // The node serves every chunk by its hash; the client checks them and the root.
  assert.ok(u8aEq(await fetchContent(api, content.root), bytes), 'the item reassembled is the bytes stored');
  const missing = chunkHash(new TextEncoder().encode('never stored'));
  assert.equal(await rpcErrorCode(() => api.rpc.veriml.contentChunk(u8aToHex(missing))), 7011);
  await assertInvariants(api);

  // At the start of block `retainedUntil` the item leaves state and its deposit is released.
  const removed = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the item did not expire')), 180_000);
    let unsubscribe = () => {};
    api.rpc.chain.subscribeNewHeads(async (header) => {
      if (header.number.toNumber() < retainedUntil) return;
      clearTimeout(timer);
      unsubscribe();
      const hash = await api.rpc.chain.getBlockHash(retainedUntil);
      const events = await (await api.at(hash)).query.system.events();
      const found = eventsOf(events, 'contentStore', 'ContentRemoved').find((e) => e.data.root.toHex() === content.root);
      found ? resolve({ event: found, hash }) : reject(new Error(`no ContentRemoved in block #${retainedUntil}`));
    }).then((u) => { unsubscribe = u; }).catch(reject);
  });
  assert.equal(removed.event.data.expired.isTrue, true);
  const at = await api.at(removed.hash);
  assert.ok((await at.query.contentStore.items(content.root)).isNone);
  assert.ok((await at.query.contentStore.itemChunks(content.root)).isNone);
  assert.equal((await at.query.balances.holds(owner.address)).filter((h) => h.id.isContentStore).length, 0);
  await assertInvariants(api);
});
