// Token generation on a running `--dev --role inference` node (issue 25): a user registers the
// test decoder with its tokenizer and asks it for tokens after a prompt (`inference.generate`);
// the sampling seed is drawn with the request's node; the node's off-chain worker generates
// through the chain's engine and answers with its tokens and every step's state hash
// (`submitGeneration`); unchallenged through its window, the answer settles: the fee for the
// tokens made is paid, the rest refunded, and its receipt kept. The tokens, the steps' root and
// the receipt's hash are those `veriml-node infer --generate` prints on this machine.
// Needs the test models: scripts/models/make-test-models.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import {
  connect, account, send, sendOk, eventsOf, assignedIn, uploadBytes, testDecoder, registerNode,
  waitForEvent, eventsInBlock, assertInvariants,
} from './lib/chain.mjs';

const VML = 10n ** 12n;
let api;

before(async () => {
  api = await connect();
});
after(async () => { await api?.disconnect(); });

test('a generation is answered by the inference node and settles with the tokens the CLI prints', async () => {
  const author = account('Bob//stash');
  const operator = account('Charlie//stash');
  const requester = account('Dave//stash');
  const { model, tokenizer, generate } = testDecoder();
  const maxTokens = 16;

  // What this machine's engine generates natively, greedily, stopping at the tokenizer's
  // special tokens (its end of text, token 256).
  const native = generate(maxTokens);
  assert.equal(native.tokens.length, maxTokens);
  assert.deepEqual(native.stop_tokens, [256]);

  await uploadBytes(api, tokenizer, author);
  await uploadBytes(api, model, author);
  const pricePerToken = VML / 1000n;
  await sendOk(api, api.tx.models.registerDecoder(model.hash, 'tiny-decoder', 1, 64, tokenizer.hash, pricePerToken),
    author);
  const nodeKey = account('veriml-dev-generation-node');
  await api.rpc.author.insertKey('infr', '//veriml-dev-generation-node', u8aToHex(nodeKey.publicKey));
  // An account must exist to send transactions, fee-less ones too.
  await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, VML), operator);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  await sendOk(api, registerNode(api, 'inferenceNodes', nodeKey, [model.hash], bond, operator), operator);

  // Refused by name before anything is held: a token outside the vocabulary, a prompt and
  // tokens beyond the context.
  const greedy = { Greedy: null };
  let outcome = await send(api, api.tx.inference.generate(model.hash, [300], 4, [256], greedy, VML), requester);
  assert.equal(outcome.error, 'inference.TokenOutsideVocabulary');
  outcome = await send(api, api.tx.inference.generate(model.hash, native.prompt_tokens, 64, [256], greedy, VML),
    requester);
  assert.equal(outcome.error, 'inference.GenerationTooLong');

  const requested = await sendOk(api,
    api.tx.inference.generate(model.hash, native.prompt_tokens, maxTokens, native.stop_tokens, greedy, 10n * VML), requester);
  const [made] = eventsOf(requested.events, 'inference', 'GenerationRequested');
  const id = made.data.request.toNumber();
  const [{ data: { fee } }] = eventsOf(requested.events, 'inference', 'Requested');
  assert.equal(fee.modelPrice.toBigInt(), pricePerToken * BigInt(maxTokens), 'quoted per token');
  assert.deepEqual(await assignedIn(api, requested.blockHash, id), [nodeKey.address]);
  const [seeded] = (await eventsInBlock(api, requested.blockHash, 'inference', 'SamplingSeedDrawn'))
    .filter((e) => e.data.request.toNumber() === id);
  assert.ok(seeded, 'its seed is drawn with its node');
  assert.ok((await api.query.inference.generations(id)).unwrap().seed.isSome);

  const { event: proposed } = await waitForEvent(api, 'inference', 'GenerationProposed',
    (e) => e.data.request.toNumber() === id, 180_000);
  assert.equal(proposed.data.node.toString(), nodeKey.address);
  assert.deepEqual(proposed.data.tokens.map((t) => t.toNumber()), native.tokens);
  assert.equal(proposed.data.stepsRoot.toHex(), native.steps_root);
  const answer = (await api.query.inference.generationAnswers(id)).unwrap();
  assert.equal(answer.steps.length, native.steps);

  const { event: completed } = await waitForEvent(api, 'inference', 'GenerationCompleted',
    (e) => e.data.request.toNumber() === id, 180_000);
  assert.equal(completed.data.resultHash.toHex(), native.generation_hash,
    'the receipt commits to what the CLI generated, prompt, sampling, tokens and steps');
  const receipt = (await api.query.verification.receipts(id)).unwrap();
  assert.equal(receipt.executor.toString(), nodeKey.address);
  assert.equal(receipt.verifiedBy.toString(), 'Unchallenged');
  assert.equal(receipt.outcome.asOutputs.resultHash.toHex(), native.generation_hash);
  assert.ok((await api.query.inference.generations(id)).isNone);
  await assertInvariants(api);
});
