// Registers real ONNX models on a running --dev node the way a model author would with
// @polkadot/api, and checks that hostile files are refused with named errors.
// Needs the test models: scripts/models/make-test-models.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect, account, send, sendOk, eventsOf, testModel, hostileModel, uploadBytes, held,
} from './lib/chain.mjs';

let api;

before(async () => {
  api = await connect();
});

after(async () => {
  await api?.disconnect();
});

const VML = 10n ** 12n;

function deposit(byteLen) {
  return api.consts.models.depositPerModel.toBigInt()
    + BigInt(byteLen) * api.consts.models.depositPerByte.toBigInt();
}

async function registerRealModel(model, author) {
  const heldBefore = await held(api, author.address);
  await uploadBytes(api, model, author);
  // Uploads are each uploader's own: keyed by uploader and hash.
  const upload = (await api.query.models.uploads(author.address, model.hash)).unwrap();
  assert.equal(upload.chunksReceived.toNumber(), upload.chunkCount.toNumber());

  const { events } = await sendOk(
    api, api.tx.models.registerModel(model.hash, model.name, 1, model.specs, VML / 100n), author,
  );
  const [registered] = eventsOf(events, 'models', 'ModelRegistered');
  assert.ok(registered, `${model.name}: a ModelRegistered event`);
  assert.equal(registered.data.modelHash.toHex(), model.hash);
  assert.equal(registered.data.owner.toString(), author.address);
  assert.equal(registered.data.byteLen.toNumber(), model.bytes.length);

  const record = (await api.query.models.models(model.hash)).unwrap();
  assert.equal(record.owner.toString(), author.address);
  assert.equal(record.status.toString(), 'Active');
  assert.deepEqual(record.inputs.toJSON(), model.specs);
  assert.ok(record.outputs.length > 0, `${model.name}: output specs recorded`);
  assert.ok(record.fuelPerRun.toBigInt() > 0n, `${model.name}: the engine's measured cost recorded`);

  // The chain keeps the exact bytes, under their content hash, for every node to verify with.
  const code = await api.query.models.modelCode(model.hash);
  assert.deepEqual(Buffer.from(code.unwrap()), model.bytes);
  assert.ok((await api.query.models.uploads(author.address, model.hash)).isNone, 'the upload is cleared');
  assert.equal(await held(api, author.address) - heldBefore, deposit(model.bytes.length));
  return record;
}

test('real models are uploaded, checked by the engine and registered by content hash', async () => {
  const cases = [
    [testModel('light_squeezenet'), account('Charlie')],
    [testModel('pytorch_Conv2d'), account('Dave')],
    [testModel('sklearn_random_forest_classifier'), account('Ferdie')],
  ];
  const records = await Promise.all(cases.map(([model, author]) => registerRealModel(model, author)));
  // SqueezeNet classifies into 1000 classes.
  assert.deepEqual(records[0].outputs[0].shape.toJSON(), [1, 1000, 1, 1]);
});

test('a model with a random operator is refused with a named, documented error', async () => {
  const eve = account('Eve');
  const model = hostileModel('non_deterministic_operator');
  const heldBefore = await held(api, eve.address);
  await uploadBytes(api, model, eve);
  const { error } = await send(
    api, api.tx.models.registerModel(model.hash, 'random', 1, model.specs, 0), eve,
  );
  assert.equal(error, 'models.NonDeterministicOperator');
  const docs = api.errors.models.NonDeterministicOperator.meta.docs.join(' ');
  assert.match(docs, /random/);
  assert.ok((await api.query.models.models(model.hash)).isNone, 'nothing registered');
  assert.ok((await api.query.models.modelCode(model.hash)).isNone, 'no model code kept');

  // The upload stays the author's to abort; aborting releases the whole deposit.
  const { events } = await sendOk(api, api.tx.models.abortUpload(model.hash), eve);
  assert.equal(eventsOf(events, 'models', 'UploadAborted').length, 1);
  assert.ok((await api.query.models.uploads(eve.address, model.hash)).isNone);
  assert.equal(await held(api, eve.address), heldBefore);
});

test('bytes that are not ONNX, and a hash the bytes do not match, are refused', async () => {
  // Accounts of their own per test file: node --test may run the files side by side.
  const author = account('Alice//stash');
  const notOnnx = hostileModel('not_onnx');
  await uploadBytes(api, notOnnx, author);
  const refused = await send(
    api, api.tx.models.registerModel(notOnnx.hash, 'garbage', 1, notOnnx.specs, 0), author,
  );
  assert.equal(refused.error, 'models.MalformedModel');
  await sendOk(api, api.tx.models.abortUpload(notOnnx.hash), author);

  const wrongHash = { ...testModel('pytorch_Linear'), hash: notOnnx.hash };
  await uploadBytes(api, wrongHash, author);
  const mismatch = await send(
    api, api.tx.models.registerModel(wrongHash.hash, 'linear', 1, wrongHash.specs, 0), author,
  );
  assert.equal(mismatch.error, 'models.HashMismatch');
  await sendOk(api, api.tx.models.abortUpload(wrongHash.hash), author);
  assert.equal(await held(api, author.address), 0n);
});
