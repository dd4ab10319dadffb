// Receipts provable after their retention in state, on a running `--dev --role inference` node,
// as a client sees them through the TypeScript client: every header carries the root of the
// chain's Merkle Mountain Range (a `vmmr` digest item), each block's leaf commits to the
// receipts kept in it, and the node's archive (its off-chain database) answers
// `veriml_archivedReceipt` with what proves a receipt against a finalised header. The retention
// is shortened for the test (a storage parameter, set with sudo before any receipt is kept).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex, hexToU8a, u8aEq } from '@polkadot/util';
import { xxhashAsHex } from '@polkadot/util-crypto';
import {
  connect, account, sendOk, eventsOf, testModel, registerModel, sampleInputs, waitForEvent, waitForFinalized,
  registerNode, assertInvariants, rpcErrorCode,
} from './lib/chain.mjs';
import { proveArchivedReceipt, checkArchivedReceipt, mmrRootOf } from 'veriml-client';

const VML = 10n ** 12n;
/** Blocks a receipt stays in state in this test (a week on a real chain). */
const RETENTION = 4;
let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

test('a receipt pruned from state is proven from the archive against a finalised header', async () => {
  // The retention, shortened: `ReceiptRetention` is a storage parameter under a fixed key.
  const alice = account('Alice');
  const retentionKey = xxhashAsHex(':ReceiptRetention:', 128);
  const retention = u8aToHex(new Uint8Array(new Uint32Array([RETENTION]).buffer));
  await sendOk(api, api.tx.sudo.sudo(api.tx.system.setStorage([[retentionKey, retention]])), alice);

  const model = testModel('pytorch_Linear');
  const owner = account('Bob//stash');
  const operator = account('Charlie//stash');
  const requester = account('Dave//stash');
  const nodeKey = account('veriml-dev-inference-node');
  await api.rpc.author.insertKey('infr', '//veriml-dev-inference-node', u8aToHex(nodeKey.publicKey));
  await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, VML), operator);
  await registerModel(api, model, owner, VML / 100n);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  await sendOk(api, registerNode(api, 'inferenceNodes', nodeKey, [model.hash], bond, operator), operator);

  const requested = await sendOk(api, api.tx.inference.request(model.hash, sampleInputs(model), 10n * VML), requester);
  const id = eventsOf(requested.events, 'inference', 'Requested')[0].data.request.toNumber();
  const { blockNumber: verifiedIn } = await waitForEvent(
    api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 120_000,
  );
  const inState = (await api.query.verification.receipts(id)).unwrap().toU8a();

  // While it is in state, the archive holds the same receipt, proven against a header.
  await waitForFinalized(api, verifiedIn + 1, 120_000);
  const early = await proveArchivedReceipt(api, id, verifiedIn);
  assert.ok(u8aEq(early.receipt, inState), 'the archive holds the receipt kept in state');
  assert.equal(early.leaf.block, verifiedIn);
  assert.ok(early.leaf.receipts >= 1);
  assert.equal(u8aToHex(early.leaf.hash), (await api.rpc.chain.getBlockHash(verifiedIn)).toHex());
  // The header's root is the range's root in that block's state.
  const root = mmrRootOf(early.header);
  assert.equal(u8aToHex(root), (await (await api.at(early.header.hash)).query.mmr.rootHash()).toHex());

  // Pruned after its retention: gone from state and from `veriml_request`.
  const { blockNumber: prunedIn } = await waitForEvent(
    api, 'verification', 'ReceiptsPruned', (e) => e.data.verifiedIn.toNumber() === verifiedIn, 120_000,
  );
  assert.equal(prunedIn, verifiedIn + RETENTION);
  await waitForFinalized(api, prunedIn, 120_000);
  const finalized = await api.rpc.chain.getFinalizedHead();
  assert.ok((await (await api.at(finalized)).query.verification.receipts(id)).isNone);
  assert.equal((await api.rpc.veriml.request(id, finalized)).toJSON().status, 'closed');
  assert.equal(await rpcErrorCode(() => api.rpc.veriml.receiptProof(id, finalized)), 7002);

  // Still proven, from the archive, against the finalised header.
  const proven = await proveArchivedReceipt(api, id, verifiedIn, finalized.toHex());
  assert.ok(u8aEq(proven.receipt, inState), 'the proven receipt is the one that was kept');
  assert.equal(proven.header.hash.toHex(), finalized.toHex());
  const receiptType = api.query.verification.receipts.creator.meta.type.asMap.value;
  const decoded = api.createType(api.registry.lookup.getTypeDef(receiptType).type, proven.receipt).toJSON();
  assert.equal(decoded.request, id);
  assert.equal(decoded.modelHash, model.hash);
  assert.equal(decoded.executor, nodeKey.address);
  assert.equal(decoded.verifiedAt, verifiedIn);
  console.log(`  request #${id} verified in #${verifiedIn}, pruned in #${prunedIn}, `
    + `proven against #${proven.header.number.toNumber()}'s range root`);

  // What a lying node might send is caught by the client.
  const archived = (await api.rpc.veriml.archivedReceipt(id, verifiedIn, finalized)).toJSON();
  const header = proven.header;
  const leafCount = BigInt(archived.leafCount);
  const flip = (hex) => { const bytes = hexToU8a(hex); bytes[bytes.length - 1] ^= 1; return u8aToHex(bytes); };
  const lies = {
    'another receipt': { ...archived, receipt: flip(archived.receipt) },
    'another head before it': { ...archived, before: flip(archived.before) },
    'a proof item changed': { ...archived, items: archived.items.map((item, i) => (i === 0 ? flip(item) : item)) },
    'another leaf': { ...archived, leaf: flip(archived.leaf) },
  };
  for (const [what, lie] of Object.entries(lies)) {
    assert.throws(() => checkArchivedReceipt(lie, header, leafCount, id, verifiedIn), Error, what);
  }
  // Under another leaf count the same items could pass for another index: the client proves the count.
  assert.throws(() => checkArchivedReceipt(archived, header, leafCount + 1n, id, verifiedIn));
  assert.throws(() => checkArchivedReceipt(archived, header, leafCount, id, verifiedIn + 1));
  // Another request's receipt, however well proven, is not this request's.
  assert.throws(() => checkArchivedReceipt(archived, header, leafCount, id + 1, verifiedIn), /of request/);
  // An answer for another block than the header's.
  assert.throws(() => checkArchivedReceipt({ ...archived, at: early.header.hash.toHex() }, header, leafCount, id, verifiedIn));

  // The node's errors: no such receipt in that block; a block whose leaf is not appended yet.
  assert.equal(await rpcErrorCode(() => api.rpc.veriml.archivedReceipt(id + 1000, verifiedIn, finalized)), 7002);
  const head = (await api.rpc.chain.getHeader(finalized)).number.toNumber();
  assert.equal(await rpcErrorCode(() => api.rpc.veriml.archivedReceipt(id, head, finalized)), 7010);

  await assertInvariants(api);
});
