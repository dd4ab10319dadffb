// Measures, on a running `--dev --role inference` node (scripts/bench-inference.sh starts one),
// for a small model and for SqueezeNet: verified inferences per block, blocks from request to
// verified and to finalised result, and what one verification reserves of a block's weight.
// Prints figures; asserts nothing about speed.
import { u8aToHex } from '@polkadot/util';
import {
  connect, account, sendOk, send, eventsOf, testModel, registerModel, sampleInputs,
  waitForFinalized, registerNode,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
const benches = [
  { model: testModel(process.env.MODEL ?? 'pytorch_Linear'), requests: Number(process.env.REQUESTS ?? 120) },
  // 588 KiB of input a request: a block carries about six of them.
  { model: testModel(process.env.CNN_MODEL ?? 'light_squeezenet'), requests: Number(process.env.CNN_REQUESTS ?? 12) },
];
const api = await connect();
const owner = account('Ferdie//stash');
const operator = account('Alice//stash');
const nodeKey = account('veriml-bench-inference-node');
await api.rpc.author.insertKey('infr', '//veriml-bench-inference-node', u8aToHex(nodeKey.publicKey));
await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, 10n * VML), operator);
for (const { model } of benches) {
  if ((await api.query.models.models(model.hash)).isNone) await registerModel(api, model, owner, VML / 1000n);
}
await sendOk(api, registerNode(api, 'inferenceNodes', nodeKey, benches.map(({ model }) => model.hash),
  api.consts.inferenceNodes.minBond.toBigInt(), operator), operator);
const requesters = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'].flatMap((n) => [account(n), account(`${n}//stash`)])
  .filter((a) => a.address !== operator.address && a.address !== owner.address);
const normalMax = api.consts.system.blockWeights.perClass.normal.maxTotal.unwrap().refTime.toBigInt();
// The highest price of a unit of fuel (the chain's engine version may be charged less).
const picosecondsPerFuel = api.consts.models.picosecondsPerFuel.toBigInt();

/** The weight (ps) a `submitResult` for open request `id` reserves, as the runtime computes it at `blockHash`. */
async function reserved(blockHash, id) {
  const tx = api.tx.inference.submitResult(id, [], `0x${'00'.repeat(32)}`);
  await tx.signAsync(nodeKey, { nonce: 0, era: 0 });
  const u8a = tx.toU8a();
  const info = await (await api.at(blockHash)).call.transactionPaymentApi.queryInfo(u8a, u8a.length);
  return info.weight.refTime.toBigInt();
}

const median = (sorted) => sorted[Math.floor(sorted.length / 2)];
const µs = (ps) => `${(Number(ps) / 1e6).toFixed(0)} µs`;

for (const { model, requests } of benches) {
  const record = (await api.query.models.models(model.hash)).unwrap();
  const inputs = sampleInputs(model);
  // Every request at once, consecutive nonces per requester.
  const nonces = new Map();
  for (const who of requesters) nonces.set(who.address, (await api.rpc.system.accountNextIndex(who.address)).toNumber());
  const requestedIn = new Map(); // request id -> block number
  const proposedIn = new Map(); // optimistic: request id -> block of its first proposal, of any request
  const completedIn = new Map(); // every completion seen, of this bench's requests or not
  const finalizedAfter = new Map(); // request id -> blocks from request until its result was final
  let best = 0;
  let open; // [block hash, request id] of a request still open, to read what verifying it reserves
  const unsubscribeFinal = await api.rpc.chain.subscribeFinalizedHeads((header) => {
    for (const [id, block] of completedIn) {
      if (requestedIn.has(id) && !finalizedAfter.has(id) && block <= header.number.toNumber()) {
        finalizedAfter.set(id, best - requestedIn.get(id));
      }
    }
  });
  const unsubscribe = await api.rpc.chain.subscribeNewHeads(async (header) => {
    const events = await (await api.at(header.hash)).query.system.events();
    const number = header.number.toNumber();
    best = Math.max(best, number);
    for (const e of eventsOf(events, 'inference', 'Requested')) {
      if (e.data.model.toHex() !== model.hash) continue;
      requestedIn.set(e.data.request.toNumber(), number);
      open ??= [header.hash, e.data.request.toNumber()];
    }
    // Blocks' callbacks may finish out of order: proposals and completions are matched to
    // requests at the end.
    for (const e of eventsOf(events, 'verification', 'ResultProposed')) {
      const id = e.data.request.toNumber();
      if (!proposedIn.has(id) || proposedIn.get(id) > number) proposedIn.set(id, number);
    }
    for (const e of eventsOf(events, 'inference', 'Completed')) completedIn.set(e.data.request.toNumber(), number);
  });
  const completed = () => [...requestedIn.keys()].filter((id) => completedIn.has(id));
  const started = Date.now();
  const sent = [];
  for (let i = 0; i < requests; i += 1) {
    const who = requesters[i % requesters.length];
    const nonce = nonces.get(who.address);
    nonces.set(who.address, nonce + 1);
    sent.push(send(api, api.tx.inference.request(model.hash, inputs, VML), who, nonce));
  }
  const outcomes = await Promise.all(sent);
  const failed = outcomes.filter((o) => o.error);
  if (failed.length) throw new Error(`${failed.length} requests of ${model.name} failed: ${failed[0].error}`);
  // Optimistic results settle when their challenge window has passed.
  while (completed().length < requests && Date.now() - started < 400_000) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (completed().length < requests) throw new Error(`${model.name}: ${completed().length} of ${requests} requests completed`);
  const ours = completed();
  const lastBlock = Math.max(...ours.map((id) => completedIn.get(id)));
  await waitForFinalized(api, lastBlock, 120_000);
  await new Promise((r) => setTimeout(r, 1000));
  unsubscribe();
  unsubscribeFinal();

  const toFinal = [...finalizedAfter.values()].sort((a, b) => a - b);
  const latencies = ours.map((id) => completedIn.get(id) - requestedIn.get(id)).sort((a, b) => a - b);
  const perBlock = new Map();
  for (const id of ours) perBlock.set(completedIn.get(id), (perBlock.get(completedIn.get(id)) ?? 0) + 1);
  const weight = await reserved(...open);
  const fuelLimit = (await (await api.at(open[0])).query.inference.requests(open[1])).unwrap().fuelLimit.toBigInt();
  const optimistic = record.verification.toString() === 'Optimistic';
  console.log(`model ${model.name}: ${record.fuelPerRun} fuel per run, verified ${optimistic
    ? 'optimistically (re-executed only when challenged; the node re-executes every proposal it sees)'
    : 'by re-execution in the block that carries the result'}`);
  console.log(`  requests: ${requests}, completed: ${ours.length}, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const blocks = [...perBlock.keys()].sort((a, b) => a - b);
  console.log(`  verified inferences per block: max ${Math.max(...perBlock.values())}, blocks with results ${blocks.length} `
    + `(${blocks.map((b) => perBlock.get(b)).join(' ')})`);
  console.log(`  capacity by weight: ${normalMax / weight} submissions per block `
    + `(submit_result reserves ${µs(weight)} of ${µs(normalMax)})`);
  if (optimistic) {
    const rerun = fuelLimit * picosecondsPerFuel;
    console.log(`  re-executed in a block (a challenge's decision, or every result were it verified in block), `
      + `its fuel alone: ${fuelLimit} fuel at ${picosecondsPerFuel} ps (the highest price) = ${µs(rerun)}; with the above, `
      + `at most ${normalMax / (weight + rerun)} per block by weight (preparing the model in the block left out)`);
  }
  const toProposal = ours.filter((id) => proposedIn.has(id)).map((id) => proposedIn.get(id) - requestedIn.get(id))
    .sort((a, b) => a - b);
  if (optimistic && toProposal.length) {
    console.log(`  blocks from request to proposed result: median ${median(toProposal)}, max ${toProposal[toProposal.length - 1]}`);
  }
  console.log(`  blocks from request to verified result: median ${median(latencies)}, max ${latencies[latencies.length - 1]}`);
  console.log(`  blocks from request to finalised result: median ${median(toFinal)}, `
    + `max ${toFinal[toFinal.length - 1]} (blocks authored from the request's block until the result's block was final)`);
}
await api.disconnect();
