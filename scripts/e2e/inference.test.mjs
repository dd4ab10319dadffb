// The request flow on a running `--dev --role inference` node, as a user and an inference node
// operator see it through @polkadot/api: a model, a bonded node whose `infr` key is in the
// node's keystore, a paid request computed by the node's off-chain worker, verified on import,
// settled from escrow; and requests the chain refuses, with named errors and nothing spent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import {
  connect, account, send, sendOk, eventsOf, assignedIn, testModel, registerModel, sampleInputs,
  referenceOutputs, floatsOf, floatTensor, allClose, waitForEvent, waitForFinalized, uploadBytes, held, registerNode, assertInvariants,
} from './lib/chain.mjs';
import { blake2AsHex } from '@polkadot/util-crypto';
import { readProven } from 'veriml-client';
import { scrape, total, exported } from './lib/prometheus.mjs';

const VML = 10n ** 12n;
let api;

before(async () => { api = await connect(); });
after(async () => { await api?.disconnect(); });

async function free(who) {
  return (await api.query.system.account(who.address)).data.free.toBigInt();
}

test('a paid inference is computed by the inference node, verified and settled', async () => {
  const model = testModel('pytorch_Linear');
  const owner = account('Bob//stash');
  const operator = account('Charlie//stash');
  const requester = account('Dave//stash');
  // The node's signing key: put in the node's keystore over RPC, as an operator would with
  // `veriml-node key insert --key-type infr`.
  const nodeKey = account('veriml-dev-inference-node');
  await api.rpc.author.insertKey('infr', '//veriml-dev-inference-node', u8aToHex(nodeKey.publicKey));
  assert.ok((await api.rpc.author.hasKey(u8aToHex(nodeKey.publicKey), 'infr')).isTrue);
  await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, VML), operator);

  const price = VML / 100n;
  await registerModel(api, model, owner, price);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  const { events: registered } = await sendOk(
    api, registerNode(api, 'inferenceNodes', nodeKey, [model.hash], bond, operator), operator,
  );
  assert.equal(eventsOf(registered, 'inferenceNodes', 'Registered').length, 1);

  const ownerBefore = await free(owner);
  const operatorBefore = await free(operator);
  const requesterBefore = await free(requester);
  const requested = await sendOk(
    api, api.tx.inference.request(model.hash, sampleInputs(model), 10n * VML), requester,
  );
  const [made] = eventsOf(requested.events, 'inference', 'Requested');
  const id = made.data.request.toNumber();
  const fee = made.data.fee;
  assert.deepEqual(await assignedIn(api, requested.blockHash, id), [nodeKey.address]);
  const requestBlock = (await api.rpc.chain.getHeader(requested.blockHash)).number.toNumber();

  const { event: completed, blockNumber } = await waitForEvent(
    api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 120_000,
  );
  assert.equal(completed.data.node.toString(), nodeKey.address);
  const finalized = await waitForFinalized(api, blockNumber, 120_000);
  console.log(`  request in #${requestBlock}, verified result in #${blockNumber} `
    + `(${blockNumber - requestBlock} blocks), finalised by #${finalized}`);

  // The output is the model's, as onnxruntime computed it for the reference.
  const outputs = (await api.query.verification.outputs(id)).unwrap();
  const { reference, rtol, atol } = referenceOutputs(model);
  outputs.forEach((tensor, i) => assert.ok(allClose(floatsOf(tensor), reference[i].data, rtol, atol)));
  const receipt = (await api.query.verification.receipts(id)).unwrap();
  assert.equal(receipt.executor.toString(), nodeKey.address);
  assert.equal(receipt.modelHash.toHex(), model.hash);
  assert.equal(receipt.outcome.asOutputs.resultHash.toHex(), completed.data.resultHash.toHex());

  // Settlement: the owner got the price, the operator the execution fee, the requester paid
  // the fee (plus the transaction fee) and has nothing left in escrow; the receipt deposit
  // stays held while the receipt is kept.
  assert.equal(await free(owner) - ownerBefore, fee.modelPrice.toBigInt());
  assert.equal(await free(operator) - operatorBefore, fee.execution.toBigInt());
  const total = fee.modelPrice.toBigInt() + fee.execution.toBigInt() + fee.protocol.toBigInt();
  const deposit = made.data.receiptDeposit.toBigInt();
  assert.ok(deposit > 0n, 'a receipt deposit is held');
  const spent = requesterBefore - await free(requester);
  assert.ok(spent >= total + deposit && spent < total + deposit + VML / 100n,
    `requester spent ${spent}, fee ${total}, receipt deposit ${deposit}`);
  const receiptDeposit = (await api.query.inference.receiptDeposits(id)).unwrap();
  assert.equal(receiptDeposit[0].toString(), requester.address);
  assert.equal(receiptDeposit[1].toBigInt(), deposit);
  assert.ok((await api.query.escrow.escrows({ Request: id })).isNone);
  assert.ok((await api.query.inference.requests(id)).isNone);
  assert.ok((await api.query.inference.inputs(id)).isNone);
});

test('bad requests are refused with named errors and cost only the transaction fee', async () => {
  const model = testModel('pytorch_Linear');
  const requester = account('Eve//stash');
  const inputs = sampleInputs(model);
  const cases = [
    ['unknown model', api.tx.inference.request(`0x${'11'.repeat(32)}`, inputs, VML), 'inference.UnknownModel'],
    ['wrong shape', api.tx.inference.request(model.hash, [floatTensor([10, 4], new Array(40).fill(1))], VML),
      'inference.InputDoesNotMatchModel'],
    ['two inputs', api.tx.inference.request(model.hash, [...inputs, ...inputs], VML), 'inference.InputDoesNotMatchModel'],
    ['fee above max', api.tx.inference.request(model.hash, inputs, 1), 'inference.FeeAboveMax'],
    ['unknown request', api.tx.inference.submitResult(1_000_000, [], `0x${'00'.repeat(32)}`), 'inference.UnknownRequest'],
    // The first test's request, completed by now.
    ['closed request', api.tx.inference.submitResult(0, [], `0x${'00'.repeat(32)}`), 'inference.RequestClosed'],
  ];
  for (const [what, tx, expected] of cases) {
    const heldBefore = (await api.query.system.account(requester.address)).data.reserved.toBigInt();
    const { error } = await send(api, tx, requester);
    assert.equal(error, expected, what);
    const heldAfter = (await api.query.system.account(requester.address)).data.reserved.toBigInt();
    assert.equal(heldAfter, heldBefore, `${what}: nothing held`);
  }
});

test('inputs uploaded to the chain are requested by their hash and computed', async () => {
  const model = testModel('pytorch_Linear');
  const requester = account('Ferdie//stash');
  // The SCALE encoding of the input tensors, as `inference.request` takes them inline.
  const inputsType = api.tx.inference.request.meta.args[1].type.toString();
  const bytes = api.createType(inputsType, sampleInputs(model)).toU8a();
  const inputs = { bytes, hash: blake2AsHex(bytes, 256) };
  await uploadBytes(api, inputs, requester);
  assert.ok((await api.query.models.uploads(requester.address, inputs.hash)).isSome);

  const requested = await sendOk(
    api, api.tx.inference.requestUploaded(model.hash, inputs.hash, 10n * VML), requester,
  );
  const [made] = eventsOf(requested.events, 'inference', 'Requested');
  const id = made.data.request.toNumber();
  assert.equal(eventsOf(requested.events, 'models', 'UploadTaken').length, 1);
  assert.ok((await api.query.models.uploads(requester.address, inputs.hash)).isNone, 'the upload was taken');
  assert.equal(made.data.inputHash.toHex(), inputs.hash);

  await waitForEvent(api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 120_000);
  const outputs = (await api.query.verification.outputs(id)).unwrap();
  const { reference, rtol, atol } = referenceOutputs(model);
  outputs.forEach((tensor, i) => assert.ok(allClose(floatsOf(tensor), reference[i].data, rtol, atol)));
  // Only the receipt deposit is left on hold (the upload's deposit was released).
  assert.equal((await api.query.system.account(requester.address)).data.reserved.toBigInt(),
    made.data.receiptDeposit.toBigInt());

  const { error } = await send(api, api.tx.inference.requestUploaded(model.hash, inputs.hash, 10n * VML), requester);
  assert.equal(error, 'models.UnknownUpload', 'an upload is taken once');
});

test('veriml RPC: a model\'s bytes by content hash, and a receipt with its storage proof', async () => {
  const model = testModel('pytorch_Linear');
  // The first test's model and request (#0), verified and final by now.
  const bytes = await api.rpc.veriml.modelBytes(model.hash);
  assert.equal(blake2AsHex(bytes.toU8a(true), 256), model.hash);
  assert.deepEqual(bytes.toU8a(true), new Uint8Array(model.bytes));
  await assert.rejects(api.rpc.veriml.modelBytes(`0x${'22'.repeat(32)}`), /7001.*no model/);

  const id = 0;
  const { at, key, receipt, proof } = (await api.rpc.veriml.receiptProof(id)).toJSON();
  const stored = (await api.query.verification.receipts.at(at, id)).unwrap();
  assert.equal(receipt, stored.toHex(), 'the receipt as stored at that block');
  assert.equal(key, api.query.verification.receipts.key(id));
  // The proof is anchored in the header: one trie node hashes to its state root, and the
  // receipt's bytes are in the proof.
  const header = await api.rpc.chain.getHeader(at);
  assert.ok(proof.some((node) => blake2AsHex(node, 256) === header.stateRoot.toHex()), 'root node');
  // Walked from the header's state root alone, the proof leads to the receipt under its key.
  assert.equal(readProven(header.stateRoot.toHex(), proof, key), receipt);
  // A forged receipt does not pass, and a proof without its root proves nothing.
  const forged = proof.map((node) => node.replace(receipt.slice(2), receipt.slice(2).replace(/.$/, (c) => (c === '0' ? '1' : '0'))));
  assert.notDeepEqual(forged, proof);
  assert.throws(() => readProven(header.stateRoot.toHex(), forged, key), /lacks node/);
  const withoutRoot = proof.filter((node) => blake2AsHex(node, 256) !== header.stateRoot.toHex());
  assert.throws(() => readProven(header.stateRoot.toHex(), withoutRoot, key), /lacks node/);
  await assert.rejects(api.rpc.veriml.receiptProof(1_000_000), /7002.*no receipt/);
});

test('runtime APIs: what clients read, through api.call', async () => {
  const model = testModel('pytorch_Linear');
  // The first test's model and request (#0), verified by now.
  const id = 0;
  // InferenceApi (version 3): quote, request, outputs, receipt key.
  const documented = api.runtimeMetadata.asLatest.apis.map((a) => a.name.toString());
  assert.ok(documented.includes('InferenceApi') && documented.includes('ModelsApi'), 'the metadata documents both');
  const quote = await api.call.inferenceApi.quote(model.hash);
  assert.ok(quote.isOk);
  const rpcQuote = (await api.rpc.veriml.quote(model.hash)).toJSON();
  assert.equal(quote.asOk.execution.toString(), rpcQuote.execution);
  assert.equal((await api.call.inferenceApi.quote(`0x${'22'.repeat(32)}`)).asErr.toString(), 'UnknownModel');

  const info = (await api.call.inferenceApi.request(id)).unwrap();
  assert.ok(info.isVerified, 'request 0 is verified');
  const receipt = info.asVerified;
  const stored = (await api.query.verification.receipts(id)).unwrap();
  assert.equal(receipt.toHex(), stored.toHex(), 'the receipt, as stored');
  assert.equal(receipt.modelHash.toHex(), model.hash);
  assert.ok(receipt.outcome.isOutputs);
  const outputs = (await api.call.inferenceApi.outputs(id)).unwrap();
  assert.equal(outputs.toHex(), (await api.query.verification.outputs(id)).unwrap().toHex());
  // @polkadot/api 16 hands back an answer of bytes (`Vec<u8>`, `Option<Vec<u8>>`) as the raw
  // SCALE answer, undecoded (an `Option` of it always `Some`): decoded here from `state_call`,
  // which is what `api.call` sends.
  const raw = async (method, args) => (await api.rpc.state.call(method, args)).toU8a(true);
  const idArg = api.createType('u64', id).toHex();
  const receiptKey = api.createType('Bytes', await raw('InferenceApi_receipt_key', idArg));
  assert.equal(receiptKey.toHex(), api.query.verification.receipts.key(id));
  assert.deepEqual((await api.call.inferenceApi.receiptKey(id)).toU8a(true), await raw('InferenceApi_receipt_key', idArg));
  assert.ok((await api.call.inferenceApi.request(1_000_000)).isNone, 'no request 1000000 was made');

  // ModelsApi: the model, its bytes, the engine guest.
  const registered = (await api.call.modelsApi.model(model.hash)).unwrap();
  const record = (await api.query.models.models(model.hash)).unwrap();
  assert.equal(registered.owner.toString(), record.owner.toString());
  assert.equal(registered.fuelPerRun.toString(), record.fuelPerRun.toString());
  assert.equal(registered.verification.toString(), record.verification.toString());
  assert.ok((await api.call.modelsApi.model(`0x${'22'.repeat(32)}`)).isNone);
  const code = api.createType('Option<Bytes>', await raw('ModelsApi_model_code', model.hash)).unwrap();
  assert.equal(blake2AsHex(code.toU8a(true), 256), model.hash);
  assert.deepEqual((await api.call.modelsApi.modelCode(model.hash)).unwrap().toU8a(true), await raw('ModelsApi_model_code', model.hash));
  assert.ok(api.createType('Option<Bytes>', await raw('ModelsApi_model_code', `0x${'22'.repeat(32)}`)).isNone);
  const guest = await api.call.modelsApi.engineGuest();
  assert.equal(guest.toHex(), (await api.query.models.engineGuest()).toHex());
  assert.equal(receipt.engineVersion.toNumber(), guest.version.toNumber());

  // An open request: pending (no node serves this model), then closed once cancelled.
  const unserved = testModel('pytorch_Tanh');
  await registerModel(api, unserved, account('Bob'), VML / 100n);
  const requester = account('Ferdie');
  const requested = await sendOk(
    api, api.tx.inference.request(unserved.hash, sampleInputs(unserved), 10n * VML), requester,
  );
  const openId = eventsOf(requested.events, 'inference', 'Requested')[0].data.request.toNumber();
  const open = (await api.call.inferenceApi.request(openId)).unwrap();
  assert.ok(open.isOpen);
  assert.equal(open.asOpen.status.toString(), 'Pending');
  assert.equal(open.asOpen.requester.toString(), requester.address);
  assert.ok(open.asOpen.proposal.isNone);
  await sendOk(api, api.tx.inference.cancel(openId), requester);
  assert.ok((await api.call.inferenceApi.request(openId)).unwrap().isClosed);
});

test('veriml RPC: a quote is what a request holds, and a request\'s status follows it to its result', async () => {
  const model = testModel('pytorch_Linear');
  const requester = account('Eve//stash');
  const quote = (await api.rpc.veriml.quote(model.hash)).toJSON();
  assert.equal(BigInt(quote.total), BigInt(quote.modelPrice) + BigInt(quote.execution) + BigInt(quote.protocol));
  await assert.rejects(api.rpc.veriml.quote(`0x${'22'.repeat(32)}`), /7001.*no model/);

  const requested = await sendOk(
    api, api.tx.inference.request(model.hash, sampleInputs(model), BigInt(quote.total)), requester,
  );
  const [made] = eventsOf(requested.events, 'inference', 'Requested');
  const id = made.data.request.toNumber();
  assert.equal(made.data.fee.modelPrice.toString(), quote.modelPrice);
  assert.equal(made.data.fee.execution.toString(), quote.execution);
  assert.equal(made.data.fee.protocol.toString(), quote.protocol);

  const open = (await api.rpc.veriml.request(id, requested.blockHash)).toJSON();
  assert.equal(open.status, 'assigned');
  assert.equal(open.requester, requester.address);
  assert.equal(open.fee.total, quote.total);
  assert.equal(open.assigned.length, 1);

  // Subscribed now, answered once the result is final.
  const final = new Promise((resolve, reject) => {
    api.rpc.veriml.subscribeResult(id, (answer) => resolve(answer.toJSON())).catch(reject);
  });
  const { event: completed, blockHash } = await waitForEvent(
    api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 120_000,
  );
  const done = (await api.rpc.veriml.request(id, blockHash)).toJSON();
  assert.equal(done.status, 'completed');
  assert.equal(done.resultHash, completed.data.resultHash.toHex());
  assert.equal(done.executor, completed.data.node.toString());
  assert.equal(done.outputs, (await api.query.verification.outputs.at(blockHash, id)).unwrap().toHex());
  await assert.rejects(api.rpc.veriml.request(1_000_000), /7007.*no request/);

  const settled = await final;
  assert.equal(settled.status, 'completed');
  assert.equal(settled.resultHash, done.resultHash);
  const finalizedHeader = await api.rpc.chain.getHeader(settled.finalizedIn);
  const finalizedNow = await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead());
  assert.ok(finalizedHeader.number.toNumber() <= finalizedNow.number.toNumber(), 'answered from a final block');
  assert.ok(settled.verifiedIn <= finalizedHeader.number.toNumber());
  await assert.rejects(api.rpc.veriml.subscribeResult(1_000_000, () => {}), /7007.*no request/);
});

test('veriml RPC: a request no node serves is pending, and closed once cancelled', async () => {
  // A model with no inference node: its requests wait.
  const model = testModel('pytorch_Sigmoid');
  const owner = account('Bob');
  const requester = account('Eve');
  await registerModel(api, model, owner, VML / 100n);
  const heldBefore = await held(api, requester.address);
  const requested = await sendOk(
    api, api.tx.inference.request(model.hash, sampleInputs(model), 10n * VML), requester,
  );
  assert.ok(await held(api, requester.address) > heldBefore, 'the fee is held');
  assert.equal(eventsOf(requested.events, 'inference', 'AwaitingNode').length, 1);
  const id = eventsOf(requested.events, 'inference', 'Requested')[0].data.request.toNumber();
  const pending = (await api.rpc.veriml.request(id, requested.blockHash)).toJSON();
  assert.equal(pending.status, 'pending');
  assert.deepEqual(pending.assigned, []);
  assert.equal(pending.model, model.hash);

  const final = new Promise((resolve, reject) => {
    api.rpc.veriml.subscribeResult(id, (answer) => resolve(answer.toJSON())).catch(reject);
  });
  const cancelled = await sendOk(api, api.tx.inference.cancel(id), requester);
  assert.equal(eventsOf(cancelled.events, 'inference', 'Cancelled').length, 1);
  assert.deepEqual((await api.rpc.veriml.request(id, cancelled.blockHash)).toJSON(), { request: id, status: 'closed' });
  // The subscription ends with `closed` once the cancellation is final.
  const settled = await final;
  assert.equal(settled.status, 'closed');
  assert.ok(settled.finalizedIn);
  assert.equal(await held(api, requester.address), heldBefore, 'the fee was refunded');
});

// CI starts every dev node with a Prometheus endpoint and names it in VERIML_PROMETHEUS.
const prometheus = process.env.VERIML_PROMETHEUS;

test('the node\'s Prometheus endpoint shows the engine\'s work and the chain\'s veriml events', {
  skip: !prometheus && 'VERIML_PROMETHEUS (the node\'s …/metrics URL) is not set',
}, async () => {
  const model = testModel('pytorch_Linear');
  // The events are counted as their blocks are finalised; everything above is in blocks
  // made before this test started.
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  await waitForFinalized(api, best, 120_000);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const samples = await scrape(prometheus);
  const engine = (labels) => total(samples, 'veriml_engine_calls_total', labels);
  // The first test's request: computed by this node's off-chain worker, verified on import.
  assert.ok(engine({ work: 'run', lane: 'offchain', outcome: 'ok' }) >= 1, 'the off-chain worker\'s own run');
  assert.ok(engine({ work: 'run', lane: 'consensus', outcome: 'ok' }) >= 1, 'the re-execution on import');
  assert.ok(engine({ work: 'inspect', lane: 'consensus', outcome: 'ok' }) >= 1, 'the models checked at registration');
  assert.ok(total(samples, 'veriml_engine_model_runs_total', { model: model.hash }) >= 2, 'runs of the model by its hash');
  assert.ok(total(samples, 'veriml_engine_fuel_total', { work: 'run' }) > 0, 'fuel used');
  assert.ok(total(samples, 'veriml_engine_prepared_cache_total', { result: 'hit' }) >= 1,
    'the re-execution found the model prepared by the off-chain worker');
  assert.ok(total(samples, 'veriml_engine_guest_loads_total', { ready: 'true' }) >= 1, 'the engine guest loaded');
  assert.ok(total(samples, 'veriml_block_engine_seconds_count') >= best, 'every imported block\'s engine time');
  const events = (pallet, event) => total(samples, 'veriml_chain_events_total', { pallet, event });
  assert.ok(events('inference', 'Requested') >= 3, 'requests made by the tests above');
  assert.ok(events('inference', 'Completed') >= 2, 'requests completed');
  assert.ok(events('verification', 'ResultConfirmed') >= 2, 'results confirmed by re-execution');
  assert.ok(events('inference', 'Cancelled') >= 1, 'the cancelled request');
  assert.ok(events('system', 'ExtrinsicFailed') >= 1, 'the refused requests');
  assert.equal(total(samples, 'veriml_chain_events_undecodable_blocks'), 0);
  assert.ok(exported(samples, 'veriml_inference_assignments_open'), 'the off-chain backlog gauge');
});

test('every pallet\'s invariants hold on the chain afterwards (try_state, through InvariantsApi)', async () => {
  await assertInvariants(api);
});
