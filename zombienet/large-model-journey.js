// Issue 24's large model on a four-node network (see large-model-network.toml), run by zombienet
// as a js-script (CommonJS, with the shared helpers of scripts/e2e imported).
//
// 1. Ferdie bonds dave's `stor` key (//Dave) as a storage node; it proves its challenges
//    throughout, from the block bodies it keeps.
// 2. Dave stores stored_matmul_large (a dense layer of just over 100 MiB, made by the test-model
//    stage) in the content store, chunk by chunk over many blocks, and registers it from there:
//    every node reads the chunks its database keeps, prepares the model and runs it once. Too
//    costly to re-execute in every block, it is verified optimistically.
// 3. Ferdie bonds charlie's `infr` key serving it; Bob's request is computed by charlie's node,
//    proposed, and settles unchallenged: the first verified result, matching the reference.
// 4. Helia (an IPFS client that is not veriml's) reads the model by the CID the chain records
//    for it, from the storage node (the only node with `--ipfs-server`): its chunks make the
//    manifest's root and its bytes hash to the registered model's hash.
// 5. A node started now warp-syncs (it never holds the blocks that carried the chunks) and
//    fetches the model's chunks from the storage node over bitswap.
// 6. Charlie serves another model; an attacker's key (operator Eve) serves this one, is
//    assigned Bob's next request and proposes a wrong result; charlie's node challenges it and
//    the chain decides by re-executing the model in a block, which every complete node, the new
//    one included, re-executes as it imports it: the new node reads the model from the chunks it
//    fetched. The attacker is slashed; the storage node missed no proof.
// Prints the upload throughput (MiB per block) and the time to the first verified result.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const VML = 10n ** 12n;

function check(condition, message) {
  if (!condition) throw new Error(`large-model journey: ${message}`);
  console.log(`  ✓ ${message}`);
}

async function run(nodeName, networkInfo) {
  const e2e = join(__dirname, '..', 'scripts', 'e2e');
  const lib = await import(pathToFileURL(join(e2e, 'lib', 'chain.mjs')));
  const { heliaDialling, fileCidOf } = await import(pathToFileURL(join(e2e, 'lib', 'ipfs.mjs')));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  const daveApi = await lib.connect(networkInfo.nodesByName.dave.wsUri);
  const [ferdie, dave, eve, bob, charlie] = ['Ferdie', 'Dave', 'Eve', 'Bob', 'Charlie'].map(lib.account);
  const attacker = lib.account('Attacker');
  let joiner = null;
  let helia = null;
  try {
    const seen = [];
    const unsubscribe = await lib.subscribeFinalizedEvents(api, (event) => seen.push(event));

    // 1. The storage node, and a small model in state for charlie to serve later.
    await lib.sendOk(api, lib.registerNode(api, 'storageNodes', dave, ['AllItems'], api.consts.storageNodes.minBond.toBigInt(), ferdie),
      ferdie, -1, 'finalized');
    check(true, "Ferdie bonded dave's stor key as a storage node");
    const small = lib.testModel('pytorch_Sigmoid');
    await lib.registerModel(api, small, bob, VML / 100n, 'finalized');

    // 2. The model, stored and registered. Each step waits for finality (a chunk in a block
    // that a fork drops would be missing from the item); 18 chunks in flight keep blocks full.
    const model = lib.testModel('stored_matmul_large');
    const mib = model.bytes.length / (1024 * 1024);
    check(mib >= 100, `the test model ${model.name} is ${mib.toFixed(2)} MiB`);
    const started = Date.now();
    const { root, stored, events } = await lib.registerStoredModel(api, model, dave, VML / 100n, 'finalized', { inFlight: 18 });
    console.log(`  upload: ${mib.toFixed(2)} MiB in ${stored.chunks} chunks over ${stored.span} blocks (#${stored.first}-#${stored.last}): `
      + `${(mib / stored.span).toFixed(2)} MiB per block, ${stored.seconds.toFixed(0)} s`);
    check(stored.span >= 10, `stored over ${stored.span} blocks`);
    const [registered] = lib.eventsOf(events, 'models', 'ModelRegistered');
    check(registered?.data.modelHash.toHex() === model.hash, `Dave registered ${model.name} (${model.hash}) from item ${root}`);
    const record = (await api.query.models.models(model.hash)).unwrap();
    check(record.verification.toString() === 'Optimistic',
      `verified optimistically: ${record.fuelToPrepare} fuel to prepare, ${record.fuelPerRun} a run`);

    // 3. The first result.
    const bond = api.consts.inferenceNodes.minBond.toBigInt();
    await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', charlie, [model.hash], bond, ferdie), ferdie, -1, 'finalized');
    const inputs = lib.sampleInputs(model);
    const first = lib.eventsOf((await lib.sendOk(api, api.tx.inference.request(model.hash, inputs, 10n * VML), bob)).events,
      'inference', 'Requested')[0].data.request.toNumber();
    const { blockNumber: settledIn } = await lib.waitForEvent(api, 'inference', 'Completed',
      (e) => e.data.request.toNumber() === first, 300_000);
    const receipt = (await api.query.verification.receipts(first)).unwrap();
    check(receipt.executor.toString() === charlie.address && receipt.verifiedBy.toString() === 'Unchallenged',
      `request ${first} computed by charlie's node, settled unchallenged in block #${settledIn}`);
    const { reference, rtol, atol } = lib.referenceOutputs(model);
    const outputs = (await api.query.verification.outputs(first)).unwrap();
    check(lib.allClose(lib.floatsOf(outputs[0]), reference[0].data, rtol, atol), `its ${reference[0].data.length} outputs match the reference`);
    console.log(`  first verified result ${((Date.now() - started) / 1000).toFixed(0)} s after the upload began`);

    // 4 and 5 side by side: Helia reads the model from the storage node while a new node syncs.
    joiner = await lib.startJoiningNode(api, networkInfo.chainSpecPath, [
      '--sync', 'warp', '--blocks-pruning', '4', '--ipfs-server', '-lveriml::chunks=debug,veriml::engine=debug',
    ]);
    const cid = await fileCidOf(api, root);
    helia = await heliaDialling(daveApi);
    const reading = Date.now();
    const whole = await helia.cat(cid, 600_000);
    const seconds = (Date.now() - reading) / 1000;
    check(lib.prepareContent(api, whole).root === root, `Helia read ${cid} from the storage node in ${seconds.toFixed(0)} s `
      + `(${(mib / seconds).toFixed(1)} MiB/s): its chunks make the manifest's root`);
    check(Buffer.compare(Buffer.from(whole), model.bytes) === 0, `its bytes are the registered model's (blake2-256 ${model.hash})`);
    await helia.stop();
    helia = null;

    const until = async (what, condition, timeoutMs = 300_000) => {
      await lib.waitUntil(`${what} (the new node's log: ${joiner.log})`, condition, timeoutMs);
      check(true, what);
    };
    await until('a node started now warp-synced past the blocks that carried the chunks',
      async () => await lib.blockHeight(joiner.api, true) > settledIn);
    const fetched = () => [...joiner.logText().matchAll(/fetched (\d+) chunks of stored models \((\d+\.\d) MiB\) from peers ahead of need in (\d+) ms/g)];
    await until('it fetched the model\'s chunks from the storage node',
      () => fetched().reduce((sum, [, count]) => sum + Number(count), 0) >= stored.chunks);
    for (const [line] of fetched()) console.log(`    ${line}`);

    // 6. A wrong result of the model, challenged and decided by re-execution.
    await lib.sendOk(api, api.tx.inferenceNodes.setServices(charlie.address, [small.hash]), ferdie, -1, 'finalized');
    await lib.sendOk(api, api.tx.balances.transferKeepAlive(attacker.address, 10n * VML), eve);
    await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', attacker, [model.hash], bond, eve), eve, -1, 'finalized');
    const requested = await lib.sendOk(api, api.tx.inference.request(model.hash, inputs, 10n * VML), bob);
    const [made] = lib.eventsOf(requested.events, 'inference', 'Requested');
    const id = made.data.request.toNumber();
    check((await lib.assignedIn(api, requested.blockHash, id)).includes(attacker.address), `request ${id} assigned to the attacker`);
    const engineVersion = (await api.query.models.engineGuest()).version.toNumber();
    const shape = record.outputs[0].shape.map((d) => d.toNumber());
    const zeros = [lib.floatTensor(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0))];
    const proposed = await lib.sendOk(api, api.tx.inference.submitResult(id, zeros,
      lib.resultHash(api, engineVersion, model.hash, made.data.inputHash, zeros)), attacker);
    check(lib.eventsOf(proposed.events, 'verification', 'ResultProposed').length === 1, 'the attacker proposed zeros');
    // Read from the finalised chain: a block that re-executes the model is slow to import, so
    // the next author may build beside it, and the best chain's block of the decision can be
    // reorganised away (the new node then never has it under that number).
    const decided = await lib.waitSeen(seen, lib.eventIs('verification', 'ChallengeUpheld', (d) => d.request.toNumber() === id), 300_000);
    check(decided, `the challenge of request ${id} was decided in a finalised block`);
    const { event: upheld, blockNumber: decidedIn, blockHash: decision } = decided;
    check(upheld.data.slashed.toBigInt() === bond / 10n, `charlie's node challenged it; re-executed and upheld in block #${decidedIn}, the attacker slashed a tenth of its bond`);
    await until(`the new node imported block #${decidedIn}, re-executing the model`,
      async () => (await joiner.api.rpc.chain.getBlockHash(decidedIn)).toHex() === decision.toHex()
        && await lib.blockHeight(joiner.api, true) >= decidedIn);
    const read = joiner.logText().match(new RegExp(`read a stored model of ${model.bytes.length} bytes from ${stored.chunks} chunks in [\\d.]+ ms`));
    check(read, `its engine read the model from the fetched chunks: "${read?.[0]}"`);
    check(!joiner.logged(/is missing on this node|is corrupt on this node/), 'no chunk was missing when its engine needed one');

    // The storage node proved every challenge it was set.
    unsubscribe();
    const proven = seen.filter(lib.eventIs('storageProofs', 'Proven', (d) => d.node.toString() === dave.address));
    const missed = seen.filter(lib.eventIs('storageProofs', 'ProofMissed', (d) => d.node.toString() === dave.address));
    check(proven.length >= 1 && missed.length === 0, `the storage node proved ${proven.length} challenges and missed none`);
    await lib.assertInvariants(api);
    check(true, 'every pallet\'s invariants hold');
    return 0;
  } finally {
    await helia?.stop();
    await joiner?.stop();
    await daveApi.disconnect();
    await api.disconnect();
  }
}

module.exports = { run };
