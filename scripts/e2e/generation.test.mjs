// Token generation on a running `--dev --role inference` node (issue 25): a user registers the
// test decoder with its tokenizer and asks it for tokens after a prompt (`inference.generate`);
// the sampling seed is drawn with the request's node; the node's off-chain worker generates
// through the chain's engine and answers with its tokens and every step's state hash
// (`submitGeneration`); unchallenged through its window, the answer settles: the fee for the
// tokens made is paid, the rest refunded, and its receipt kept. The tokens, the steps' root and
// the receipt's hash are those `veriml-node infer --generate` prints on this machine. The
// requester streams the generation from the node (`veriml_subscribeTokens`): the tokens as
// its worker chooses them, then the answer on chain, then the verified result.
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

  // The node tokenizes a prompt with the decoder's registered tokenizer as the CLI does.
  const tokenized = (await api.rpc.veriml.tokenize(model.hash, testDecoder().prompt)).toJSON();
  assert.deepEqual([tokenized.tokens, tokenized.stopTokens], [native.prompt_tokens, native.stop_tokens]);
  await assert.rejects(api.rpc.veriml.tokenize(tokenizer.hash, 'x'), /7001.*no decoder/);

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

  // The requester streams it from the node generating it: its tokens as they are chosen, the
  // run's end, the answer that entered a block, then the verified result.
  const items = [];
  const streamed = new Promise((resolve, reject) => {
    api.rpc.veriml.subscribeTokens(id, (item) => {
      items.push(item.toJSON());
      if (items.at(-1).kind === 'result') resolve();
    }).catch(reject);
  });
  const view = (await api.rpc.veriml.generation(id)).toJSON();
  assert.deepEqual([view.prompt, view.maxTokens, view.stopTokens, view.sampling],
    [native.prompt_tokens, maxTokens, native.stop_tokens, { greedy: null }]);
  assert.match(view.seed, /^0x[0-9a-f]{64}$/);
  const called = (await api.call.inferenceApi.generation(id)).unwrap();
  assert.deepEqual(called.prompt.map((t) => t.toNumber()), native.prompt_tokens, 'the runtime API view, as the RPC');
  assert.equal(called.seed.unwrap().toHex(), view.seed);

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

  await streamed;
  const kinds = items.map((item) => item.kind);
  const tokenItems = kinds.filter((kind) => kind === 'tokens').length;
  assert.ok(tokenItems >= 1);
  assert.deepEqual(kinds, [...Array(tokenItems).fill('tokens'), 'generated', 'proposed', 'result']);
  let tokens = [];
  for (const item of items.slice(0, tokenItems)) {
    assert.equal(item.from, tokens.length, 'each item continues the last');
    tokens = tokens.concat(item.tokens);
  }
  assert.deepEqual(tokens, native.tokens, 'the tokens streamed are those the CLI generates');
  const end = native.stop_tokens.includes(native.tokens.at(-1)) ? 'stopToken' : 'maxTokens';
  const { text: rest, ...generated } = items[tokenItems];
  assert.deepEqual(generated, { kind: 'generated', tokens: native.tokens.length, end });
  const text = items.slice(0, tokenItems).map((item) => item.text).join('') + rest;
  assert.equal(text, native.text, 'the text streamed is the text the CLI prints');
  const { answer: streamedAnswer } = items[tokenItems + 1];
  assert.deepEqual([streamedAnswer.node, streamedAnswer.tokens, streamedAnswer.stepsRoot],
    [nodeKey.address, native.tokens, native.steps_root]);
  const result = items.at(-1);
  assert.equal(result.status, 'completed');
  assert.equal(result.resultHash, native.generation_hash);
  assert.match(result.finalizedIn, /^0x[0-9a-f]{64}$/);

  // Settled: no open generation any more, and a new stream gives its result at once.
  await assert.rejects(api.rpc.veriml.generation(id), /7012.*not an open generation/);
  await assert.rejects(api.rpc.veriml.subscribeTokens(1_000_000, () => {}), /7007.*no request/);
  const settled = await new Promise((resolve, reject) => {
    api.rpc.veriml.subscribeTokens(id, (item) => resolve(item.toJSON())).catch(reject);
  });
  assert.deepEqual([settled.kind, settled.status, settled.resultHash], ['result', 'completed', native.generation_hash]);
  await assertInvariants(api);
});
