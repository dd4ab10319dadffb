// Every model family the engine is checked on (the test models `sklearn_*`, `xgboost_*` and
// `lightgbm_*`: gradient boosting (HistGradientBoosting on inputs with missing values among
// them), forests, SVMs, kNN, linear and MLP models, pipelines with
// scalers and encoders) as a user brings it to a `--dev --role inference` node: registered,
// requested, computed by an inference node's off-chain worker and verified on import. Each
// verified output is onnxruntime's, read by its dtype: labels exactly, scores within the model's
// tolerance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { u8aToHex } from '@polkadot/util';
import { decodeTensor, dtypeOf, encodeTensor } from 'veriml-client';
import {
  connect, account, sendOk, nextNonce, eventsOf, testModel, registerNode, modelsDir,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
const FAMILIES = readdirSync(modelsDir).filter((name) => /^(sklearn|xgboost|lightgbm)_/.test(name)).sort();
let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

/** Sends every `[tx, signer]` at once, each signer's with consecutive nonces; all must succeed. */
async function sendAll(transactions) {
  const nonces = new Map();
  const sent = [];
  for (const [tx, signer] of transactions) {
    const nonce = nonces.get(signer.address) ?? await nextNonce(api, signer.address);
    nonces.set(signer.address, nonce + 1);
    sent.push(sendOk(api, tx, signer, nonce));
  }
  return Promise.all(sent);
}

/** The model's sample inputs, by their dtype. */
function inputsOf(model) {
  const { inputs } = JSON.parse(readFileSync(join(model.folder, 'input.json'), 'utf8'));
  return inputs.map(({ dtype, shape, data }) => encodeTensor(dtypeOf(dtype), shape, data));
}

/** Why `output` (a chain tensor) is not `expected` (onnxruntime's, as JSON), or null. */
function mismatch(output, expected, rtol, atol) {
  const dtype = dtypeOf(expected.dtype);
  if (output.dtype.toString() !== dtype) return `dtype ${output.dtype}, expected ${dtype}`;
  const values = decodeTensor({ dtype, shape: [], data: output.data.toHex() });
  if (values.length !== expected.data.length) return `${values.length} values, expected ${expected.data.length}`;
  for (const [i, value] of values.entries()) {
    const want = expected.data[i];
    const close = dtype === 'F32'
      ? Math.abs(value - want) <= atol + rtol * Math.abs(want)
      : BigInt(value) === BigInt(want);
    if (!close) return `[${i}] = ${value}, expected ${want}`;
  }
  return null;
}

test('f32 inputs in the format of `veriml-node infer` files: NaN and infinities as strings', () => {
  const values = decodeTensor(encodeTensor('F32', [4], ['NaN', 'inf', '-inf', 1.5]));
  assert.ok(Number.isNaN(values[0]), `"NaN" read as ${values[0]}`);
  assert.deepEqual(values.slice(1), [Infinity, -Infinity, 1.5]);
  assert.throws(() => encodeTensor('F32', [1], ['Inf']), /is not a number, "NaN", "inf" or "-inf"/);
});

test('every model family registers, and its verified outputs are onnxruntime\'s', async () => {
  assert.ok(FAMILIES.length >= 35, `only ${FAMILIES.length} model families in ${modelsDir}`);
  const owner = account('Bob//stash');
  const operator = account('Charlie//stash');
  const requester = account('Dave//stash');
  const models = FAMILIES.map(testModel);

  // Every model uploaded and registered, all at once.
  const chunkBytes = api.consts.models.maxChunkBytes.toNumber();
  const registration = [];
  for (const model of models) {
    registration.push([api.tx.models.beginUpload(model.hash, model.bytes.length), owner]);
    for (let index = 0; index * chunkBytes < model.bytes.length; index += 1) {
      const chunk = u8aToHex(model.bytes.subarray(index * chunkBytes, (index + 1) * chunkBytes));
      registration.push([api.tx.models.uploadChunk(model.hash, index, chunk), owner]);
    }
    registration.push([api.tx.models.registerModel(model.hash, model.name, 1, model.specs, VML / 1000n), owner]);
  }
  await sendAll(registration);
  for (const model of models) {
    assert.ok((await api.query.models.models(model.hash)).isSome, `${model.name} is registered`);
  }

  // Inference nodes serving them, as many models each as a node may serve, their `infr` keys in
  // the node's keystore.
  const perNode = api.consts.inferenceNodes.maxServicesPerNode.toNumber();
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  const nodes = [];
  for (let first = 0; first < models.length; first += perNode) {
    const name = `veriml-model-families-${first / perNode}`;
    const key = account(name);
    await api.rpc.author.insertKey('infr', `//${name}`, u8aToHex(key.publicKey));
    nodes.push([key, models.slice(first, first + perNode).map((m) => m.hash)]);
  }
  await sendAll(nodes.map(([key]) => [api.tx.balances.transferKeepAlive(key.address, VML), operator]));
  await sendAll(nodes.map(([key, services]) => [registerNode(api, 'inferenceNodes', key, services, bond, operator), operator]));

  // One request per model, all at once.
  const requested = await sendAll(models.map((model) => [api.tx.inference.request(model.hash, inputsOf(model), 10n * VML), requester]));
  const ids = requested.map(({ events }) => eventsOf(events, 'inference', 'Requested')[0].data.request.toNumber());

  // Each verified: its outputs in state once its result is imported and re-executed.
  const deadline = Date.now() + 240_000;
  const outputs = new Map();
  while (outputs.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (outputs.has(id)) continue;
      const stored = await api.query.verification.outputs(id);
      if (stored.isSome) outputs.set(id, stored.unwrap());
    }
    if (outputs.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const failures = [];
  for (const [index, model] of models.entries()) {
    const stored = outputs.get(ids[index]);
    if (!stored) {
      failures.push(`${model.name}: no verified result within 240 s`);
      continue;
    }
    const { onnxruntime } = JSON.parse(readFileSync(join(model.folder, 'expected.json'), 'utf8'));
    const { rtol, atol } = JSON.parse(readFileSync(join(model.folder, 'meta.json'), 'utf8'));
    if (stored.length !== onnxruntime.length) {
      failures.push(`${model.name}: ${stored.length} outputs, onnxruntime has ${onnxruntime.length}`);
      continue;
    }
    stored.forEach((tensor, i) => {
      const why = mismatch(tensor, onnxruntime[i], rtol, atol);
      if (why) failures.push(`${model.name} output ${i}: ${why}`);
    });
  }
  console.log(`  ${models.length - failures.length} of ${models.length} model families verified on chain as onnxruntime computes them`);
  assert.deepEqual(failures, []);
});
