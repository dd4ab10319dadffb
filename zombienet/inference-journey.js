// The journey of issue 4 on a three-node network (see inference-network.toml), run by
// zombienet as a js-script: CommonJS, with the shared helpers of scripts/e2e imported.
//
// 1. Dave stores a real model (pytorch Linear, from scripts/models/make-test-models.sh) in the
//    content store and registers it from there: every node reads its bytes from the chunks its
//    own database keeps, checked against the hashes in state, to run and to re-execute it.
// 2. Eve bonds an attacker key; it is the only node serving the model, so Bob's request is
//    assigned to it. It submits a wrong result hash: every node re-executes, refutes it,
//    slashes its bond (part of it to Bob) and the request waits for another node.
// 3. Ferdie bonds Charlie's `infr` key (charlie's keystore). The waiting request is assigned
//    to it; charlie's off-chain worker computes and submits the result; the complete nodes
//    verify it; Dave, Ferdie and the protocol are paid; the output matches the reference.
// 4. A node started afterwards (the script starts it, joining alice; it prunes block bodies, so
//    the model's chunks leave its database with the blocks that stored them) syncs, fetches the
//    chunks from its peers over bitswap (alice and bob run with `--ipfs-server`) and imports
//    the block that re-executes the next result, of a second request.
// 5. Throughout: finality advances, nothing is ever paid to the attacker or its operator.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const VML = 10n ** 12n;

function check(condition, message) {
  if (!condition) throw new Error(`journey: ${message}`);
  console.log(`  ✓ ${message}`);
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  const [dave, eve, ferdie, bob, alice] = ['Dave', 'Eve', 'Ferdie', 'Bob', 'Alice'].map(lib.account);
  const attacker = lib.account('Attacker');
  const charlie = lib.account('Charlie');
  const finalizedAtStart = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();

  // Every payment out of escrow, to check the attacker's side never receives one.
  const { payees, unsubscribe } = await lib.watchPayees(api);

  const model = lib.testModel('pytorch_Linear');
  // Setup steps wait for finality: the best block may switch to a fork that lacks them (lib.send).
  const { root } = await lib.registerStoredModel(api, model, dave, VML / 100n, 'finalized');
  const storedBy = await lib.blockHeight(api);
  check((await api.query.models.storedModels(model.hash)).unwrap().toHex() === root,
    `Dave registered ${model.name} (${model.hash}) from the content store's item ${root}`);

  await lib.sendOk(api, api.tx.balances.transferKeepAlive(attacker.address, 10n * VML), alice);
  const bond = 100n * VML;
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', attacker, [model.hash], bond, eve), eve, -1, 'finalized');
  const eveBefore = (await api.query.system.account(eve.address)).data;

  const inputs = lib.sampleInputs(model);
  const requested = await lib.sendOk(api, api.tx.inference.request(model.hash, inputs, 10n * VML), bob);
  const [request] = lib.eventsOf(requested.events, 'inference', 'Requested');
  const id = request.data.request.toNumber();
  const assigned = await lib.assignedIn(api, requested.blockHash, id);
  check(assigned.includes(attacker.address), `request ${id} assigned to the attacker`);

  // The attacker answers with plausible outputs and a made-up hash.
  const record = (await api.query.models.models(model.hash)).unwrap();
  const outputs = record.outputs.map((spec) => {
    const shape = spec.shape.map((d) => d.toNumber());
    return lib.floatTensor(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5));
  });
  const bobBefore = (await api.query.system.account(bob.address)).data.free.toBigInt();
  const lie = await lib.send(api, api.tx.inference.submitResult(id, outputs, `0x${'ab'.repeat(32)}`), attacker);
  check(lie.error === null, 'the wrong result was applied (and refuted), not refused');
  const [rejected] = lib.eventsOf(lie.events, 'inference', 'ResultRejected');
  check(rejected && rejected.data.node.toString() === attacker.address, 'inference.ResultRejected for the attacker');
  check(lib.eventsOf(lie.events, 'verification', 'ResultRefuted').length === 1, 'verification.ResultRefuted');
  const [slashed] = lib.eventsOf(lie.events, 'inferenceNodes', 'Slashed');
  check(slashed && slashed.data.node.toString() === attacker.address, 'inferenceNodes.Slashed for the attacker');
  const slashedAmount = rejected.data.slashed.toBigInt();
  check(slashedAmount === bond / 10n, `the attacker lost a tenth of its bond (${slashedAmount})`);
  const node = (await api.query.inferenceNodes.nodes(attacker.address)).unwrap();
  check(node.bond.toBigInt() === bond - slashedAmount, 'its bond is reduced on chain');
  const bobAfter = (await api.query.system.account(bob.address)).data.free.toBigInt();
  check(bobAfter - bobBefore === slashedAmount / 2n, 'Bob received half of the slash');
  const waiting = await lib.eventsInBlock(api, lie.blockHash, 'inference', 'AwaitingNode');
  check(waiting.filter((e) => e.data.request.toNumber() === id).length === 1, 'the request waits for another node');

  // The honest node joins; the request goes to it at the next block.
  const completion = lib.waitForEvent(api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 180_000);
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', charlie, [model.hash], bond, ferdie), ferdie);
  const { event: completed, blockNumber } = await completion;
  check(completed.data.node.toString() === charlie.address, `request ${id} completed by charlie's node in block ${blockNumber}`);

  const receipt = (await api.query.verification.receipts(id)).unwrap();
  check(receipt.executor.toString() === charlie.address, 'the receipt names charlie as executor');
  check(receipt.outcome.asOutputs.resultHash.toHex() === completed.data.resultHash.toHex(), 'the receipt holds the result hash');
  const stored = (await api.query.verification.outputs(id)).unwrap();
  const { reference, rtol, atol } = lib.referenceOutputs(model);
  check(stored.length === reference.length, 'as many outputs as the reference');
  stored.forEach((tensor, i) => {
    check(lib.allClose(lib.floatsOf(tensor), reference[i].data, rtol, atol), `output ${i} matches the reference within rtol ${rtol}`);
  });
  check((await api.query.inference.requests(id)).isNone, 'the request left no state behind');

  const finalized = await lib.waitForFinalized(api, blockNumber, 120_000);
  check(finalized >= blockNumber && finalized > finalizedAtStart, `finality advanced past the result (finalised #${finalized})`);

  // A node that joins now, keeping only the last 4 finalised blocks' bodies.
  const joiner = await lib.startJoiningNode(api, networkInfo.chainSpecPath, [
    '--blocks-pruning', '4', '--ipfs-server', '-lveriml::chunks=debug,veriml::engine=debug',
  ]);
  try {
    const until = async (what, condition) => {
      await lib.waitUntil(`${what} (the joining node's log: ${joiner.log})`, condition, 180_000);
      check(true, what);
    };
    await until('a node started now synced and pruned the bodies that carried the model\'s chunks',
      async () => await lib.blockHeight(joiner.api, true) > storedBy + 6);
    await until('it fetched the model\'s chunks from its peers', () => joiner.logged(/fetched \d+ chunks of stored models/));
    // The attacker's operator leaves, so the next request goes to charlie's node.
    await lib.sendOk(api, api.tx.inferenceNodes.unbond(attacker.address), eve, -1, 'finalized');
    let next = null;
    const again = lib.waitForEvent(api, 'inference', 'Completed', (e) => e.data.request.toNumber() === next, 180_000);
    const requestedAgain = await lib.sendOk(api, api.tx.inference.request(model.hash, inputs, 10n * VML), bob);
    next = lib.eventsOf(requestedAgain.events, 'inference', 'Requested')[0].data.request.toNumber();
    const { blockNumber: completedIn } = await again;
    await until(`it imported block ${completedIn}, which verified the next result`,
      async () => await lib.blockHeight(joiner.api) >= completedIn);
    // Its engine prepared the model while it synced the first results (the chunks were still
    // in its database then) and reuses it; stored-model-fetch.test.mjs has an engine read the
    // fetched chunks themselves.
    check(!joiner.logged(/is missing on this node/), 'no chunk was missing when its engine needed one');
  } finally {
    await joiner.stop();
  }

  unsubscribe();
  check(!payees.includes(attacker.address) && !payees.includes(eve.address), 'nothing was ever paid to the attacker or its operator');
  check(payees.includes(ferdie.address) && payees.includes(dave.address), "charlie's operator and the model owner were paid");
  const eveAfter = (await api.query.system.account(eve.address)).data;
  check(eveAfter.free.toBigInt() <= eveBefore.free.toBigInt(), "Eve's free balance did not grow");
  await api.disconnect();
  return 0;
}

module.exports = { run };
