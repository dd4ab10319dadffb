// Optimistic verification on a running `--dev --role inference` node (issue 5): a model too
// costly to re-execute in every block (SqueezeNet, ~0.3 s a run) gets a wrong result from a
// lying node; the dev node's off-chain worker re-executes the proposal and challenges it; the
// chain decides by re-execution, slashes the liar and pays the challenger's operator; the
// request goes to the honest node, whose result settles unchallenged after the window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import {
  connect, account, sendOk, eventsOf, assignedIn, testModel, ensureModel, sampleInputs, referenceOutputs,
  floatsOf, floatTensor, allClose, waitForEvent, registerNode, assertInvariants,
  resultHash as consensusResultHash,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
let api;
/** The engine version of the guest the chain runs (`models.engineGuest`). */
let engineVersion;

before(async () => {
  api = await connect();
  engineVersion = (await api.query.models.engineGuest()).version.toNumber();
});
after(async () => { await api?.disconnect(); });

/** The consensus result hash of `outputs` with the chain's engine. */
function resultHash(model, inputHash, outputs) {
  return consensusResultHash(api, engineVersion, model, inputHash, outputs);
}

test('a wrong optimistic result is challenged by a node, slashed, and the honest result settles', async () => {
  const model = testModel('light_squeezenet');
  const owner = account('Bob//stash');
  const requester = account('Dave//stash');
  const liarOperator = account('Eve//stash');
  const watcherOperator = account('Ferdie//stash');
  const liar = account('veriml-dev-liar');
  // A key of the node's own: it watches proposals and, later, serves the model.
  const watcher = account('veriml-dev-watcher');
  await api.rpc.author.insertKey('infr', '//veriml-dev-watcher', u8aToHex(watcher.publicKey));
  // An assigned key's answers are sent without a fee; a challenging key pays its challenge's
  // fee up front (refunded when accepted) and holds a challenge deposit while it waits.
  const deposit = api.consts.verification.challengeDeposit.toBigInt();
  await sendOk(api, api.tx.balances.transferKeepAlive(liar.address, VML), liarOperator);
  await sendOk(api, api.tx.balances.transferKeepAlive(watcher.address, VML + deposit), watcherOperator);

  const record = await ensureModel(api, model, owner, VML / 100n);
  assert.equal(record.verification.toString(), 'Optimistic', `fuel per run ${record.fuelPerRun}`);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  // Only the liar serves the model; the watcher serves another one, so it is not assigned.
  // A node re-executes proposals with its first registered key.
  await sendOk(api, registerNode(api, 'inferenceNodes', liar, [model.hash], bond, liarOperator), liarOperator);
  const other = testModel('pytorch_Sigmoid');
  await ensureModel(api, other, owner, VML / 100n);
  await sendOk(api, registerNode(api, 'inferenceNodes', watcher, [other.hash], bond, watcherOperator), watcherOperator);

  const requested = await sendOk(api, api.tx.inference.request(model.hash, sampleInputs(model), 10n * VML), requester);
  const [made] = eventsOf(requested.events, 'inference', 'Requested');
  const id = made.data.request.toNumber();
  assert.deepEqual(await assignedIn(api, requested.blockHash, id), [liar.address]);

  // The liar proposes zeros, with a result hash that commits to them: only re-execution shows
  // they are wrong.
  const shape = record.outputs[0].shape.map((d) => d.toNumber());
  const zeros = [floatTensor(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0))];
  const proposed = await sendOk(api,
    api.tx.inference.submitResult(id, zeros, resultHash(model.hash, made.data.inputHash, zeros)), liar);
  const [proposal] = eventsOf(proposed.events, 'verification', 'ResultProposed');
  assert.ok(proposal, 'the result is proposed, not re-executed');
  const status = (await api.rpc.veriml.request(id)).toJSON();
  assert.equal(status.status, 'proposed');
  assert.equal(status.proposal.node, liar.address);

  const { event: challenged } = await waitForEvent(api, 'verification', 'Challenged',
    (e) => e.data.request.toNumber() === id, 120_000);
  // One of the node's own registered keys challenged it (the first in its keystore).
  const challenger = challenged.data.challenger.toString();
  const challengerOperator = (await api.query.inferenceNodes.nodes(challenger)).unwrap().operator.toString();
  const { event: upheld, blockNumber, blockHash } = await waitForEvent(api, 'verification', 'ChallengeUpheld',
    (e) => e.data.request.toNumber() === id, 120_000);
  const slashed = upheld.data.slashed.toBigInt();
  assert.equal(slashed, bond / 10n, 'the liar lost a tenth of its bond');
  assert.equal((await api.query.inferenceNodes.nodes(liar.address)).unwrap().bond.toBigInt(), bond - slashed);
  const parent = (await api.rpc.chain.getHeader(blockHash)).parentHash;
  const freeAt = async (hash) => (await (await api.at(hash)).query.system.account(challengerOperator)).data.free.toBigInt();
  assert.equal(await freeAt(blockHash) - await freeAt(parent), slashed / 2n,
    "half of the slash went to the challenger's operator");
  console.log(`  challenged by ${challenger}, upheld in #${blockNumber}`);

  // The request waits for another node; the watcher starts serving the model and answers.
  await sendOk(api, api.tx.inferenceNodes.setServices(watcher.address, [other.hash, model.hash]), watcherOperator);
  const { event: honest } = await waitForEvent(api, 'verification', 'ResultProposed',
    (e) => e.data.request.toNumber() === id, 120_000);
  assert.equal(honest.data.node.toString(), watcher.address);
  const { event: completed } = await waitForEvent(api, 'inference', 'Completed',
    (e) => e.data.request.toNumber() === id, 180_000);
  assert.equal(completed.data.node.toString(), watcher.address);
  const receipt = (await api.query.verification.receipts(id)).unwrap();
  assert.equal(receipt.verifiedBy.toString(), 'Unchallenged');
  const outputs = (await api.query.verification.outputs(id)).unwrap();
  const { reference, rtol, atol } = referenceOutputs(model);
  outputs.forEach((tensor, i) => assert.ok(allClose(floatsOf(tensor), reference[i].data, rtol, atol)));
});

test('every pallet\'s invariants hold on the chain afterwards (try_state, through InvariantsApi)', async () => {
  await assertInvariants(api);
});
