// Models registered from the content store on a running `--dev` node: the bytes are stored as
// indexed transaction data (out of state) in 1 MiB chunks, the item's owner registers it as a
// model (`models.registerStoredModel`), the engine reads the chunks from the node's database,
// checked against the hashes in state, to check the model, to compute the inference node's
// result and to verify it. A 4 MiB model is re-executed in the block that takes its result; a
// 20 MiB one, past what a model kept in state may be (8 MiB), is proposed and settles after its
// challenge window. The item cannot be removed while the model is registered.
// Needs the test models: scripts/models/make-test-models.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect, account, send, sendOk, eventsOf, testModel, sampleInputs, referenceOutputs, floatsOf, allClose,
  registerStoredModel, requestVerified, held, assertInvariants,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

/** Stores and registers `model` from `owner`; checks what the chain keeps of it. */
async function registerStored(model, owner) {
  const heldBefore = await held(api, owner.address);
  const { root, events } = await registerStoredModel(api, model, owner, VML / 100n);
  const [registered] = eventsOf(events, 'models', 'ModelRegistered');
  assert.equal(registered.data.modelHash.toHex(), model.hash, 'the model hash is the blake2-256 of the bytes');
  assert.equal(registered.data.contentRoot.unwrap().toHex(), root);
  assert.equal(registered.data.byteLen.toNumber(), model.bytes.length);
  assert.equal((await api.query.models.storedModels(model.hash)).unwrap().toHex(), root);
  assert.ok((await api.query.models.modelCode(model.hash)).isNone, 'no bytes in state');
  const item = (await api.query.contentStore.items(root)).unwrap();
  // Held: the model's deposit and the item's.
  assert.equal(await held(api, owner.address) - heldBefore,
    api.consts.models.depositPerModel.toBigInt() + item.deposit.toBigInt());
  return { root, verification: registered.data.verification.toString() };
}

test('a model stored in the content store is registered from it, served and verified in block', async () => {
  const model = testModel('stored_matmul_1024');
  const owner = account('Alice//stored-owner');
  const operator = account('Bob');
  await sendOk(api, api.tx.balances.transferKeepAlive(owner.address, 1000n * VML), account('Alice'));

  const { root, verification } = await registerStored(model, owner);
  assert.equal(verification, 'InBlock');
  // Only the item's owner may register it (and only once).
  const other = await send(api, api.tx.models.registerStoredModel(root, 'taken', 1, model.specs, 0), operator);
  assert.equal(other.error, 'models.NotContentOwner');

  // The item stays while the model is registered.
  const removal = await send(api, api.tx.contentStore.remove(root), owner);
  assert.equal(removal.error, 'contentStore.ContentInUse');

  const { outputs } = await requestVerified(api, model, operator, account('Charlie'), 'veriml-stored-model-node');
  const { reference, rtol, atol } = referenceOutputs(model);
  assert.ok(allClose(floatsOf(outputs[0]), reference[0].data, rtol, atol), 'the outputs are the model\'s');
  await assertInvariants(api);
});

test('a model larger than state takes is registered from the content store and its result settles', async () => {
  const model = testModel('stored_matmul_2304');
  const owner = account('Dave');
  assert.ok(model.bytes.length > api.consts.models.maxModelBytes.toNumber(), 'larger than a model in state');
  assert.ok(model.bytes.length <= api.consts.models.maxStoredModelBytes.toNumber());
  // Refused in state, at the start of its upload.
  const upload = await send(api, api.tx.models.beginUpload(model.hash, model.bytes.length), owner);
  assert.equal(upload.error, 'models.InvalidModelLength');

  // Its runs cost more fuel than a block re-executes for every result: verified optimistically.
  const { root, verification } = await registerStored(model, owner);
  assert.equal(verification, 'Optimistic');
  const { outputs } = await requestVerified(api, model, account('Eve'), account('Ferdie'), 'veriml-stored-large-model-node');
  const { reference, rtol, atol } = referenceOutputs(model);
  assert.ok(allClose(floatsOf(outputs[0]), reference[0].data, rtol, atol), 'the outputs are the model\'s');

  // Removed by its owner, the model frees its item, which its owner may then remove.
  await sendOk(api, api.tx.models.removeModel(model.hash), owner);
  await sendOk(api, api.tx.contentStore.remove(root), owner);
  assert.ok((await api.query.contentStore.items(root)).isNone);
  await assertInvariants(api);
});
