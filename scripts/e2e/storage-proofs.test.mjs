// Storage nodes on a running `--dev` node (which runs `--role storage`): a node whose `stor` key
// is in the dev node's keystore is bonded, challenged each period on a segment of a stored chunk,
// and its off-chain worker proves it from the chunks the node keeps, for free, paying its
// operator from the store's account; a bonded key the node does not hold proves nothing and is
// struck for each missed proof.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { u8aToHex } from '@polkadot/util';
import { Keyring } from '@polkadot/api';
import {
  connect, account, sendOk, eventsOf, nextNonce, send, waitForEvent, registerNode, assertInvariants,
} from './lib/chain.mjs';
import { prepareContent, storeContentTxs } from 'veriml-client';

let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });

test('a storage node proves what it keeps each period and is paid; one that keeps nothing is struck', async () => {
  const operator = account('Ferdie');
  const keeper = keyring.addFromUri('//veriml-dev-storage-node');
  // The dev node holds the keeper's key, as `veriml-node key insert --key-type stor` would put it.
  await api.rpc.author.insertKey('stor', '//veriml-dev-storage-node', u8aToHex(keeper.publicKey));
  // A node nobody runs: bonded, but no node holds its key.
  const absent = keyring.addFromUri('//veriml-absent-storage-node');
  const bond = api.consts.storageNodes.minBond.toBigInt();
  for (const key of [keeper, absent]) {
    await sendOk(api, registerNode(api, 'storageNodes', key, ['AllItems'], bond, operator), operator);
  }
  // The key's account must exist for its transactions to be valid: the existential deposit.
  const existential = api.consts.balances.existentialDeposit.toBigInt();
  await sendOk(api, api.tx.balances.transferKeepAlive(keeper.address, 10n * existential), operator);
  const nodes = (await api.query.storageNodes.nodesByService('AllItems')).map((n) => n.toString());
  assert.ok(nodes.includes(keeper.address) && nodes.includes(absent.address));

  // Something to keep: two chunks.
  const owner = account('Eve');
  const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
  const content = prepareContent(api, new Uint8Array(randomBytes(chunkBytes + 4321)));
  const { begin, chunks } = storeContentTxs(api, content, 1000);
  await sendOk(api, begin, owner);
  const first = await nextNonce(api, owner.address);
  for (const outcome of await Promise.all(chunks.map((tx, i) => send(api, tx, owner, first + i)))) {
    assert.equal(outcome.error, null);
  }
  assert.ok((await api.query.contentStore.itemSegments(content.root)).isSome, 'the item is proven by its segment roots');

  // The next period challenges both nodes; the keeper's worker proves its challenge.
  const period = Number(api.consts.storageProofs.challengePeriod.toString());
  const timeout = (3 * period + 5) * 6_000 + 30_000;
  const reward = api.consts.storageProofs.proofReward.toBigInt();
  const paidBefore = (await api.query.system.account(operator.address)).data.free.toBigInt();
  const challenged = await waitForEvent(api, 'storageProofs', 'Challenged',
    (e) => e.data.node.toString() === keeper.address, timeout);
  assert.equal(challenged.event.data.root.toHex(), content.root);
  const proven = await waitForEvent(api, 'storageProofs', 'Proven',
    (e) => e.data.node.toString() === keeper.address, timeout);
  assert.ok(proven.blockNumber < challenged.blockNumber + period, 'proven within its period');
  assert.equal(proven.event.data.reward.toBigInt(), reward);
  const paidAfter = (await api.query.system.account(operator.address)).data.free.toBigInt();
  assert.ok(paidAfter >= paidBefore + reward, 'the operator was paid from the store\'s account');
  // The proof cost the keeper nothing: its key's balance is what it was given.
  assert.equal((await api.query.system.account(keeper.address)).data.free.toBigInt(), 10n * existential);

  // The absent node's challenge ends unanswered: a strike when the next period starts.
  const missed = await waitForEvent(api, 'storageProofs', 'ProofMissed',
    (e) => e.data.node.toString() === absent.address, timeout);
  assert.equal(missed.event.data.slashed.toBigInt(), 0n, 'one strike is not yet a slash');
  const record = (await api.query.storageNodes.nodes(absent.address)).unwrap();
  assert.ok(record.strikes.toNumber() >= 1);
  const keeperRecord = (await api.query.storageNodes.nodes(keeper.address)).unwrap();
  assert.equal(keeperRecord.strikes.toNumber(), 0);
  await assertInvariants(api);
});
