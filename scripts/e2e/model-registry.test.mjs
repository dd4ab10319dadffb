// Registers real ONNX models on a running --dev node the way a model author would with
// @polkadot/api, and checks that hostile files are refused with named errors; a model whose
// shapes depend on an input is refused as given and registered, requested and verified with
// that input pinned by `veriml-node infer --pin`.
// Needs the test models: scripts/models/make-test-models.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { u8aToHex } from '@polkadot/util';
import { blake2AsHex } from '@polkadot/util-crypto';
import { decodeTensor, encodeTensor } from 'veriml-client';
import {
  connect, account, send, sendOk, eventsOf, testModel, hostileModel, uploadBytes, held, modelsDir, registerNode,
  nodeBinary, testDecoder,
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

test('a model whose shapes depend on an input is refused as given, and registers with that input pinned', async () => {
  // ReduceSum with its axes as a graph input (opset 18): the output shape depends on their value.
  const author = account('Bob');
  const x = { dtype: 'f32', shape: [2, 3, 4], data: Array.from({ length: 24 }, (_, i) => i) };
  const axes = { dtype: 'i64', shape: [1], data: [1] };
  const given = {
    ...hostileModel('reduce_sum_runtime_axes'),
    specs: [{ dtype: 'F32', shape: x.shape }, { dtype: 'I64', shape: axes.shape }],
  };
  await uploadBytes(api, given, author);
  const refused = await send(api, api.tx.models.registerModel(given.hash, 'reduce', 1, given.specs, 0), author);
  assert.equal(refused.error, 'models.ModelPreparationFailed');
  assert.match(api.errors.models.ModelPreparationFailed.meta.docs.join(' '), /--pin/);
  await sendOk(api, api.tx.models.abortUpload(given.hash), author);

  // The author pins the axes with `veriml-node infer --pin 1`, which also runs the pinned model.
  const dir = mkdtempSync(join(tmpdir(), 'veriml-pin-'));
  writeFileSync(join(dir, 'input.json'), JSON.stringify({ inputs: [x, axes] }));
  const report = JSON.parse(execFileSync(nodeBinary, [
    'infer', '--model', join(modelsDir, 'hostile', 'reduce_sum_runtime_axes.onnx'), '--input', join(dir, 'input.json'),
    '--pin', '1', '--write-model', join(dir, 'pinned.onnx'), '--json',
  ], { encoding: 'utf8' }));
  assert.deepEqual(report.pinned_inputs, [1]);
  // Sums over the middle axis of 0..23: [12, 15, 18, 21, 48, 51, 54, 57].
  assert.deepEqual(report.outputs[0].shape, [2, 4]);
  assert.deepEqual(report.outputs[0].data, [12, 15, 18, 21, 48, 51, 54, 57]);

  const bytes = readFileSync(join(dir, 'pinned.onnx'));
  const pinned = { name: 'reduce_sum_pinned', bytes, hash: blake2AsHex(bytes, 256), specs: [given.specs[0]] };
  assert.equal(report.model_hash, pinned.hash, 'infer reports the hash of the file it wrote');
  const record = await registerRealModel(pinned, author);
  assert.deepEqual(record.outputs.toJSON(), [{ dtype: 'F32', shape: [2, 4] }]);

  // Requested and verified like any model: an inference node serving it computes the sums from
  // the data alone, and the block importing its result re-executes them.
  const operator = account('Bob//stash');
  const requester = account('Charlie//stash');
  const node = account('veriml-pinned-model-node');
  await api.rpc.author.insertKey('infr', '//veriml-pinned-model-node', u8aToHex(node.publicKey));
  await sendOk(api, api.tx.balances.transferKeepAlive(node.address, VML), operator);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  await sendOk(api, registerNode(api, 'inferenceNodes', node, [pinned.hash], bond, operator), operator);
  const { events } = await sendOk(
    api, api.tx.inference.request(pinned.hash, [encodeTensor('F32', x.shape, x.data)], 10n * VML), requester,
  );
  const id = eventsOf(events, 'inference', 'Requested')[0].data.request.toNumber();
  let verified;
  for (const deadline = Date.now() + 120_000; !verified && Date.now() < deadline;) {
    const stored = await api.query.verification.outputs(id);
    if (stored.isSome) verified = stored.unwrap();
    else await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  assert.ok(verified, 'a verified result within 120 s');
  const [sums] = verified;
  assert.deepEqual(decodeTensor({ dtype: 'F32', shape: [], data: sums.data.toHex() }), report.outputs[0].data);
});

test('a decoder is registered with its tokenizer, measured at its context\'s last step', async () => {
  const author = account('Dave//stash');
  const { model, tokenizer } = testDecoder();
  const context = 64;
  await uploadBytes(api, tokenizer, author);

  // A model that is no decoder in Hugging Face's layout is refused by name; the uploads stay.
  const linear = testModel('pytorch_Linear');
  await uploadBytes(api, linear, author);
  const { error } = await send(
    api, api.tx.models.registerDecoder(linear.hash, 'linear', 1, context, tokenizer.hash, 0), author,
  );
  assert.equal(error, 'models.NotADecoder');
  assert.ok((await api.query.models.uploads(author.address, tokenizer.hash)).isSome);
  await sendOk(api, api.tx.models.abortUpload(linear.hash), author);

  await uploadBytes(api, model, author);
  const { events } = await sendOk(
    api, api.tx.models.registerDecoder(model.hash, 'tiny-decoder', 1, context, tokenizer.hash, VML / 1000n), author,
  );
  const [decoderEvent] = eventsOf(events, 'models', 'DecoderRegistered');
  assert.equal(decoderEvent.data.contextLength.toNumber(), context);
  assert.equal(decoderEvent.data.tokenizerHash.toHex(), tokenizer.hash);
  assert.equal(eventsOf(events, 'models', 'ModelRegistered').length, 1);

  // Clients read its terms and tokenizer through the runtime API.
  const terms = (await api.call.modelsApi.decoder(model.hash)).unwrap();
  assert.equal(terms.contextLength.toNumber(), context);
  assert.equal(terms.tokenizerLen.toNumber(), tokenizer.bytes.length);
  // @polkadot/api 16 hands bytes answers back undecoded (docs/rpc.md): decode the state call's.
  const answer = await api.rpc.state.call('ModelsApi_tokenizer', model.hash);
  const kept = api.createType('Option<Bytes>', answer.toU8a(true)).unwrap();
  assert.deepEqual(Buffer.from(kept), tokenizer.bytes);
  assert.equal(blake2AsHex(kept, 256), terms.tokenizerHash.toHex());
  // Its inputs are the last step's: a cache of context - 1 tokens.
  const record = (await api.query.models.models(model.hash)).unwrap();
  const past = record.inputs.toJSON().find((spec) => spec.dtype === 'F32');
  assert.deepEqual(past.shape, [1, terms.heads.toNumber(), context - 1, terms.headSize.toNumber()]);
  assert.ok(record.fuelPerRun.toBigInt() > 0n);
  // Its graph's inputs in order, from which each step's inputs are built.
  assert.deepEqual(
    terms.inputs.map((input) => input.type),
    ['InputIds', 'AttentionMask', 'PositionIds', 'PastKey', 'PastValue'],
  );
  assert.equal(await held(api, author.address), deposit(model.bytes.length) + deposit(tokenizer.bytes.length));

  // Removing it removes the tokenizer and releases both deposits.
  await sendOk(api, api.tx.models.removeModel(model.hash), author);
  assert.ok((await api.call.modelsApi.decoder(model.hash)).isNone);
  assert.ok((await api.query.models.tokenizers(model.hash)).isNone);
  assert.equal(await held(api, author.address), 0n);
});
