// A node that lacks a stored model's chunks fetches them from its peers: a second node joins the
// `--dev` node after a model was stored and registered from the content store, and prunes
// block bodies (`--blocks-pruning 4`), so the chunks it imported with the blocks that stored
// them leave its database. With `--ipfs-server` it fetches them over bitswap from the dev node
// (which keeps every item, as a storage node does) as soon as its best block shows a stored
// model whose chunks it lacks, keeps them in its off-chain database, and then imports the block
// that re-executes a result of that model: its engine reads the model from the fetched chunks.
// Without fetching, that block's import aborts (the node never judges a model on bytes it does
// not have) and the node stops following the chain.
// Needs the test models: scripts/models/make-test-models.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect, account, sendOk, testModel, registerStoredModel, requestVerified, assertInvariants, startJoiningNode,
  waitUntil, blockHeight,
} from './lib/chain.mjs';

const VML = 10n ** 12n;

let api;
let joiner;

before(async () => { api = await connect(); });
after(async () => {
  await joiner?.stop();
  await api?.disconnect();
});

test('a node that pruned a stored model\'s chunks fetches them from its peers and re-executes its result', async () => {
  const model = testModel('stored_matmul_1024');
  const owner = account('Alice//fetched-owner');
  await sendOk(api, api.tx.balances.transferKeepAlive(owner.address, 1000n * VML), account('Alice'));
  const { root } = await registerStoredModel(api, model, owner, VML / 100n);
  const item = (await api.query.contentStore.items(root)).unwrap();
  const storedBy = await blockHeight(api);
  // What a node reads to know which chunks to hold (ModelsApi version 2).
  const listed = (await api.call.modelsApi.storedModels()).map((stored) => stored.toJSON());
  assert.deepEqual(listed.find((stored) => stored.model === model.hash),
    { model: model.hash, root, chunks: (await api.query.contentStore.itemChunks(root)).unwrap().toJSON() });

  joiner = await startJoiningNode(api, 'dev', [
    '--blocks-pruning', '4', '--ipfs-server', '-lveriml::chunks=debug,veriml::engine=debug',
  ]);
  // It syncs the blocks that stored the chunks, then prunes their bodies as they fall 4
  // finalised blocks behind: the chunks leave its database.
  const joining = (what) => `${what} (the joining node's log: ${joiner.log})`;
  await waitUntil(joining('the joining node finalises past the stored chunks and prunes them'),
    async () => await blockHeight(joiner.api, true) > storedBy + 6, 180_000);
  // Its best block shows a stored model whose chunks it lacks (they leave with the bodies of
  // the blocks that stored them, a few at a time): it fetches them from its peer.
  const fetched = () => [...joiner.logText().matchAll(/fetched (\d+) chunks of stored models \(\d+\.\d MiB\) from peers ahead of need/g)]
    .reduce((sum, [, count]) => sum + Number(count), 0);
  await waitUntil(joining('the joining node fetches the model\'s chunks ahead of need'),
    () => fetched() >= item.chunkCount.toNumber(), 120_000);

  // A result of the model, re-executed in the block that takes it, on both nodes.
  const { id } = await requestVerified(api, model, account('Bob'), account('Charlie'), 'veriml-fetched-model-node');
  const verifiedAt = await blockHeight(api);
  await waitUntil(joining('the joining node imports the block that verified the result'),
    async () => await blockHeight(joiner.api) >= verifiedAt + 2, 120_000);
  const outputs = await joiner.api.query.verification.outputs(id);
  assert.ok(outputs.isSome, 'the joining node holds the verified result');
  assert.equal(outputs.unwrap().toHex(), (await api.query.verification.outputs(id)).unwrap().toHex());
  // Its engine read the model after the fetch: from the fetched chunks (the first run of the
  // model on that node; the registration it synced only inspected it).
  const log = joiner.logText();
  const lastFetch = log.lastIndexOf('chunks of stored models');
  assert.ok(log.indexOf(`read a stored model of ${model.bytes.length} bytes`, lastFetch) > lastFetch,
    'the joining node\'s engine read the model from the fetched chunks');
  assert.ok(!joiner.logged(/is missing on this node/), 'no chunk was missing when the engine needed it');
  await assertInvariants(joiner.api);
});
