// Measures, on a running `--dev --role inference` node (scripts/bench-inference.sh starts one):
// verified inferences per block for a small model, and blocks from request to verified and to
// finalised result. Prints figures; asserts nothing about speed.
import { u8aToHex } from '@polkadot/util';
import {
  connect, account, sendOk, send, eventsOf, testModel, registerModel, sampleInputs,
  waitForFinalized, registerNode,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
const REQUESTS = Number(process.env.REQUESTS ?? 120);
const api = await connect();
const model = testModel(process.env.MODEL ?? 'pytorch_Linear');
const owner = account('Ferdie//stash');
const operator = account('Alice//stash');
const nodeKey = account('veriml-bench-inference-node');
await api.rpc.author.insertKey('infr', '//veriml-bench-inference-node', u8aToHex(nodeKey.publicKey));
await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, 10n * VML), operator);
if ((await api.query.models.models(model.hash)).isNone) await registerModel(api, model, owner, VML / 1000n);
await sendOk(api, registerNode(api, 'inferenceNodes', nodeKey, [model.hash], api.consts.inferenceNodes.minBond.toBigInt(), operator), operator);

// Capacity from the runtime's weights: how many submissions of this model a block can verify.
const record = (await api.query.models.models(model.hash)).unwrap();
const requesters = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'].flatMap((n) => [account(n), account(`${n}//stash`)])
  .filter((a) => a.address !== operator.address && a.address !== owner.address);
const inputs = sampleInputs(model);

// Every request at once, consecutive nonces per requester.
const nonces = new Map();
for (const who of requesters) nonces.set(who.address, (await api.rpc.system.accountNextIndex(who.address)).toNumber());
const requestedIn = new Map(); // request id -> block number
const completedIn = new Map();
const perBlock = new Map();
const finalizedAfter = new Map(); // request id -> blocks from request until its result was final
let best = 0;
const unsubscribeFinal = await api.rpc.chain.subscribeFinalizedHeads((header) => {
  for (const [id, block] of completedIn) {
    if (!finalizedAfter.has(id) && block <= header.number.toNumber()) {
      finalizedAfter.set(id, best - requestedIn.get(id));
    }
  }
});
const unsubscribe = await api.rpc.chain.subscribeNewHeads(async (header) => {
  const events = await (await api.at(header.hash)).query.system.events();
  const number = header.number.toNumber();
  best = Math.max(best, number);
  for (const e of eventsOf(events, 'inference', 'Requested')) requestedIn.set(e.data.request.toNumber(), number);
  const done = eventsOf(events, 'inference', 'Completed');
  for (const e of done) completedIn.set(e.data.request.toNumber(), number);
  if (done.length) perBlock.set(number, done.length);
});
const started = Date.now();
const sent = [];
for (let i = 0; i < REQUESTS; i += 1) {
  const who = requesters[i % requesters.length];
  const nonce = nonces.get(who.address);
  nonces.set(who.address, nonce + 1);
  sent.push(send(api, api.tx.inference.request(model.hash, inputs, VML), who, nonce));
}
const outcomes = await Promise.all(sent);
const failed = outcomes.filter((o) => o.error);
if (failed.length) throw new Error(`${failed.length} requests failed: ${failed[0].error}`);
while (completedIn.size < REQUESTS && Date.now() - started < 300_000) {
  await new Promise((r) => setTimeout(r, 1000));
}
const lastBlock = Math.max(...completedIn.values());
await waitForFinalized(api, lastBlock, 120_000);
await new Promise((r) => setTimeout(r, 1000));
unsubscribe();
unsubscribeFinal();
const toFinal = [...finalizedAfter.values()].sort((a, b) => a - b);

const latencies = [...completedIn].map(([id, block]) => block - requestedIn.get(id)).sort((a, b) => a - b);
const median = latencies[Math.floor(latencies.length / 2)];
const maxPerBlock = Math.max(...perBlock.values());
const weights = api.consts.system.blockWeights;
const normalMax = weights.perClass.normal.maxTotal.unwrap().refTime.toBigInt();
const info = await api.tx.inference.submitResult(0, [], `0x${'00'.repeat(32)}`).paymentInfo(nodeKey);
console.log(`model ${model.name}: ${record.fuelPerRun} fuel per run`);
console.log(`requests: ${REQUESTS}, completed: ${completedIn.size}, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`verified inferences per block: max ${maxPerBlock}, blocks with results ${perBlock.size} `
  + `(${[...perBlock.values()].join(' ')})`);
console.log(`capacity by weight: ${normalMax / info.weight.refTime.toBigInt()} submissions per block `
  + `(submit_result reserves ${info.weight.refTime.toBigInt() / 1000000n} µs of ${normalMax / 1000000n} µs)`);
console.log(`blocks from request to verified result: median ${median}, max ${latencies[latencies.length - 1]}`);
console.log(`blocks from request to finalised result: median ${toFinal[Math.floor(toFinal.length / 2)]}, `
  + `max ${toFinal[toFinal.length - 1]} (blocks authored from the request's block until the result's block was final)`);
await api.disconnect();
