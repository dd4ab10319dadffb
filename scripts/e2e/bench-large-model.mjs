// Measures, on a running `--dev` node with the inference role (scripts/bench-large-model.sh
// starts one), the path of a model of just over 100 MiB (the test model stored_matmul_large):
// stored in the content store chunk by chunk (MiB per block), registered from it
// (`models.registerStoredModel`: the engine reads the chunks, prepares the model and runs it
// once), requested and verified. Prints the throughput, the registration's fuel figures and
// the time to the first verified result; checks the outputs against the reference.
import assert from 'node:assert/strict';
import {
  connect, account, sendOk, eventsOf, testModel, storeContent, requestVerified, referenceOutputs, floatsOf, allClose,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
const api = await connect();
const model = testModel('stored_matmul_large');
const mib = model.bytes.length / (1024 * 1024);
assert.ok(model.bytes.length <= api.consts.models.maxStoredModelBytes.toNumber(), 'within models.maxStoredModelBytes');
const owner = account('Ferdie');
const started = Date.now();

const stored = await storeContent(api, model.bytes, owner);
console.log(`upload: ${mib.toFixed(2)} MiB in ${stored.chunks} chunks over ${stored.span} blocks: `
  + `${(mib / stored.span).toFixed(2)} MiB per block, ${stored.seconds.toFixed(0)} s`);

const registering = Date.now();
const { events } = await sendOk(api, api.tx.models.registerStoredModel(stored.root, model.name, 1, model.specs, VML / 100n), owner);
const [registered] = eventsOf(events, 'models', 'ModelRegistered');
assert.equal(registered.data.modelHash.toHex(), model.hash);
const record = (await api.query.models.models(model.hash)).unwrap();
const fuelPerRun = record.fuelPerRun.toBigInt();
const fuelToPrepare = record.fuelToPrepare.toBigInt();
const perByte = (fuel) => (Number(fuel) / model.bytes.length).toFixed(2);
console.log(`registered in ${((Date.now() - registering) / 1000).toFixed(0)} s: fuel to prepare ${fuelToPrepare} (${perByte(fuelToPrepare)} a byte), `
  + `per run ${fuelPerRun} (${perByte(fuelPerRun)} a byte), verified ${registered.data.verification.toString()}`);

const { outputs } = await requestVerified(api, model, account('Bob'), account('Charlie'), 'veriml-large-model-node');
const { reference, rtol, atol } = referenceOutputs(model);
assert.ok(allClose(floatsOf(outputs[0]), reference[0].data, rtol, atol), 'the outputs are the model\'s');
console.log(`first verified result ${((Date.now() - started) / 1000).toFixed(0)} s after the upload began `
  + `(${((Date.now() - registering) / 1000).toFixed(0)} s after registering)`);
await api.disconnect();
