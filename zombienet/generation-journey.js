// Issue 25's lying node on a long generation (generation-journey.zndsl, on the network of
// inference-network.toml), run by zombienet as a js-script: CommonJS, with the shared helpers
// of scripts/e2e imported.
//
// 1. Dave registers the test decoder (generative/tiny_decoder, a context of 64 tokens) with its
//    tokenizer. What it generates from the prompt of generation.json, greedily, to the end of
//    its context, is what `veriml-node infer --generate --json` prints on this machine: the
//    tokens, every step's state hash, their root and the receipt's hash.
// 2. Eve bonds an attacker key, the only node serving the decoder, so Bob's generation is
//    assigned to it. It answers with the right tokens and step hashes that are right up to
//    step 39 and wrong from step 40 on (states that are not the decoder's).
// 3. Ferdie bonds Charlie's `infr` key (charlie's keystore) for the decoder. Its off-chain
//    worker generates the request again, finds step 40 as the first whose hash differs, and
//    challenges that step with its own state after step 39 (the answer's, their hashes
//    agree). Every node applying the block re-executes one step, not the generation: the
//    attacker is slashed (part of it to charlie) and the request goes to charlie's node.
// 4. Charlie answers; unchallenged through its window, the generation settles: its tokens,
//    steps root and receipt hash are the CLI's; Dave and Ferdie are paid, never the attacker.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const VML = 10n ** 12n;
const CONTEXT = 64;
const LIE_FROM = 40;

function check(condition, message) {
  if (!condition) throw new Error(`generation journey: ${message}`);
  console.log(`  ✓ ${message}`);
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  const { blake2AsHex } = await import('@polkadot/util-crypto');
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  const [dave, eve, ferdie, bob, alice] = ['Dave', 'Eve', 'Ferdie', 'Bob', 'Alice'].map(lib.account);
  const attacker = lib.account('Attacker');
  const charlie = lib.account('Charlie');
  const finalizedAtStart = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
  const { payees, unsubscribe } = await lib.watchPayees(api);
  const { model, tokenizer, generate } = lib.testDecoder();
  // Prompt and tokens together fill the context: the longest generation the decoder takes.
  const maxTokens = CONTEXT - generate(1).prompt_tokens.length;
  const native = generate(maxTokens);
  check(native.tokens.length === maxTokens && native.step_hashes.length === CONTEXT - 1,
    `the CLI generates ${maxTokens} tokens in ${native.step_hashes.length} steps: "${native.text}"`);

  // Setup steps wait for finality: the best block may switch to a fork that lacks them (lib.send).
  await lib.uploadBytes(api, tokenizer, dave);
  await lib.uploadBytes(api, model, dave);
  const pricePerToken = VML / 1000n;
  await lib.sendOk(api, api.tx.models.registerDecoder(model.hash, 'tiny-decoder', 1, CONTEXT, tokenizer.hash,
    pricePerToken), dave, -1, 'finalized');
  check((await api.query.models.decoders(model.hash)).isSome, `Dave registered the test decoder ${model.hash}`);

  await lib.sendOk(api, api.tx.balances.transferKeepAlive(attacker.address, 10n * VML), alice);
  const bond = 100n * VML;
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', attacker, [model.hash], bond, eve), eve, -1, 'finalized');

  const requested = await lib.sendOk(api, api.tx.inference.generate(model.hash, native.prompt_tokens, maxTokens,
    native.stop_tokens, { Greedy: null }, 10n * VML), bob);
  const [made] = lib.eventsOf(requested.events, 'inference', 'GenerationRequested');
  const id = made.data.request.toNumber();
  check((await lib.assignedIn(api, requested.blockHash, id)).includes(attacker.address),
    `generation ${id} of ${maxTokens} tokens assigned to the attacker`);

  // The lie: the right tokens, the right states up to step 39, then states that are not the
  // decoder's.
  const steps = native.step_hashes.map((hash, step) => (step < LIE_FROM ? hash : blake2AsHex(`lie ${step}`, 256)));
  const engineVersion = (await api.query.models.engineGuest()).version.toNumber();
  const lie = await lib.send(api, api.tx.inference.submitGeneration(id, native.tokens, steps, engineVersion), attacker);
  check(lie.error === null && lib.eventsOf(lie.events, 'inference', 'GenerationProposed').length === 1,
    'the attacker\'s answer is proposed: nothing but re-executing a step shows it wrong');

  // Charlie's node joins: it watches the answer, then takes the request.
  const refutation = lib.waitForEvent(api, 'inference', 'GenerationRefuted', (e) => e.data.request.toNumber() === id,
    180_000);
  const completion = lib.waitForEvent(api, 'inference', 'GenerationCompleted',
    (e) => e.data.request.toNumber() === id, 300_000);
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', charlie, [model.hash], bond, ferdie), ferdie);
  const { event: refuted, blockHash: refutedIn } = await refutation;
  check(refuted.data.node.toString() === attacker.address && refuted.data.challenger.toString() === charlie.address,
    'charlie\'s node challenged the attacker\'s answer and the chain found it wrong');
  // The challenge in that block: one step, the first whose hash differs.
  const block = await api.rpc.chain.getBlock(refutedIn);
  const challenge = block.block.extrinsics.map((xt) => xt.method)
    .find((call) => call.section === 'inference' && call.method === 'challengeGeneration');
  check(challenge.args[1].isState && challenge.args[1].asState.step.toNumber() === LIE_FROM,
    `the dispute is of step ${LIE_FROM}, the first wrong one, re-executed alone`);
  // Figures: what the dispute weighed (one step re-executed), against a block's 2 s.
  const index = block.block.extrinsics.findIndex((xt) => xt.method.section === 'inference'
    && xt.method.method === 'challengeGeneration');
  const blockEvents = await (await api.at(refutedIn)).query.system.events();
  const success = blockEvents.find(({ phase, event }) => phase.isApplyExtrinsic
    && phase.asApplyExtrinsic.toNumber() === index && event.section === 'system' && event.method === 'ExtrinsicSuccess');
  const disputeMs = Number(success.event.data.dispatchInfo.weight.refTime.toBigInt() / 1_000_000n) / 1000;
  console.log(`  figure: the one-step dispute weighed ${disputeMs} ms of compute (a block has 2,000)`);
  const [rejected] = await lib.eventsInBlock(api, refutedIn, 'inference', 'ResultRejected');
  check(rejected.data.node.toString() === attacker.address && rejected.data.slashed.toBigInt() > 0n,
    `the attacker was slashed ${rejected.data.slashed.toBigInt()}`);

  const { event: completed, blockNumber } = await completion;
  const requestedAt = (await api.rpc.chain.getHeader(requested.blockHash)).number.toNumber();
  console.log(`  figure: ${blockNumber - requestedAt} blocks from the request (#${requestedAt}) to the verified `
    + `result (#${blockNumber}), a dispute and a second node's answer included`);
  check(completed.data.node.toString() === charlie.address, `generation ${id} settled, answered by charlie's node`);
  check(JSON.stringify(completed.data.tokens.map((t) => t.toNumber())) === JSON.stringify(native.tokens),
    'its tokens are the CLI\'s');
  check(completed.data.stepsRoot.toHex() === native.steps_root, 'its steps root is the CLI\'s');
  check(completed.data.resultHash.toHex() === native.generation_hash, 'its receipt hash is the CLI\'s');
  const receipt = (await api.query.verification.receipts(id)).unwrap();
  check(receipt.executor.toString() === charlie.address, 'the receipt names charlie as executor');

  const finalized = await lib.waitForFinalized(api, blockNumber, 120_000);
  check(finalized >= blockNumber && finalized > finalizedAtStart, `finality advanced past the settlement (#${finalized})`);
  unsubscribe();
  check(!payees.includes(attacker.address) && !payees.includes(eve.address), 'nothing was paid to the attacker or its operator');
  check(payees.includes(ferdie.address) && payees.includes(dave.address), "charlie's operator and the decoder's owner were paid");
  await lib.assertInvariants(api);
  await api.disconnect();
  return 0;
}

module.exports = { run };
