// An engine upgrade on a running network (issue 18), run by zombienet as a js-script on the
// three-node network of inference-network.toml:
//
// 1. Dave registers a model; Ferdie bonds charlie's `infr` key; Bob's request is computed by
//    charlie and verified by alice and bob with the genesis guest (engine version N).
// 2. Root (Alice, sudo) stores a new engine guest declaring version N+1 with
//    `models.setEngineGuest` (`veriml-node engine-guest --declare-version` writes it: the same
//    code under the next version, so its bytes and hash differ and its result hashes differ).
//    Every node starts compiling it; it takes over `EngineGuestDelay` blocks later.
// 3. The model's fuel figures were measured with the genesis guest (modelsApi.modelsToRemeasure
//    lists it): Ferdie measures it again with `models.remeasureModel`; a second time is refused.
// 4. Bob's same request again: same outputs, a receipt of engine version N+1, another result
//    hash. The nodes ran the guest they found in state, not the one they were built with.
// 5. A fresh node (same binary, empty database) syncs from genesis, re-executing every block:
//    the results before the switch with the genesis guest, those after with the new guest it
//    reads from its own state. It reaches the same block hashes and state roots.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');

const VML = 10n ** 12n;

function check(condition, message) {
  if (!condition) throw new Error(`engine upgrade: ${message}`);
  console.log(`  ✓ ${message}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function completedRequest(lib, api, model, requester) {
  const inputs = lib.sampleInputs(model);
  const requested = await lib.sendOk(api, api.tx.inference.request(model.hash, inputs, 10n * VML), requester);
  const id = lib.eventsOf(requested.events, 'inference', 'Requested')[0].data.request.toNumber();
  const { blockNumber } = await lib.waitForEvent(api, 'inference', 'Completed', (e) => e.data.request.toNumber() === id, 180_000);
  const receipt = (await api.query.verification.receipts(id)).unwrap();
  return { id, blockNumber, receipt };
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  const [alice, bob, dave, ferdie] = ['Alice', 'Bob', 'Dave', 'Ferdie'].map(lib.account);
  const charlie = lib.account('Charlie');

  const genesisGuest = (await api.query.models.engineGuest()).toJSON();
  check(genesisGuest.version > 0, `the chain names engine guest ${genesisGuest.hash}, engine version ${genesisGuest.version}`);

  // 1. A result verified with the genesis guest.
  const model = lib.testModel('pytorch_Linear');
  // Setup steps wait for finality: the best block may switch to a fork that lacks them (lib.send).
  await lib.registerModel(api, model, dave, VML / 100n, 'finalized');
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', charlie, [model.hash], 100n * VML, ferdie), ferdie, -1, 'finalized');
  const before = await completedRequest(lib, api, model, bob);
  check(before.receipt.engineVersion.toNumber() === genesisGuest.version, `request ${before.id} verified in block ${before.blockNumber} with engine version ${genesisGuest.version}`);

  // 2. Root stores the next guest.
  const payload = join(fs.mkdtempSync(join(os.tmpdir(), 'veriml-guest-')), 'guest.zst');
  const next = genesisGuest.version + 1;
  const printed = execFileSync('veriml-node', ['engine-guest', '--declare-version', String(next), '--out', payload]).toString();
  const code = fs.readFileSync(payload);
  check(code.length < 4 * 1024 * 1024, `veriml-node engine-guest wrote the guest declaring version ${next} (${code.length} bytes compressed)`);
  const scheduled = await lib.sendOk(api, api.tx.sudo.sudo(api.tx.models.setEngineGuest(`0x${code.toString('hex')}`)), alice);
  const [event] = lib.eventsOf(scheduled.events, 'models', 'EngineGuestScheduled');
  check(event && event.data.version.toNumber() === next, `models.EngineGuestScheduled: guest ${event.data.guest.toHex()}, takes over at block ${event.data.activatesAt}`);
  check(printed.includes(event.data.guest.toHex()), 'the chain identified the guest as the command did');
  const newGuest = event.data.guest.toHex();

  const { blockNumber: switchedAt } = await lib.waitForEvent(api, 'models', 'EngineGuestActivated', () => true, 300_000);
  const named = (await api.query.models.engineGuest()).toJSON();
  check(named.hash === newGuest && named.version === next, `from block ${switchedAt} the chain runs guest ${newGuest} (engine version ${next})`);

  // 3. The model's figures were the genesis guest's: anyone measures it again, once.
  const stale = (await api.call.modelsApi.modelsToRemeasure()).map((hash) => hash.toHex());
  check(stale.includes(model.hash), `modelsApi.modelsToRemeasure lists the model (${stale.length} in all)`);
  const registered = (await api.call.modelsApi.model(model.hash)).unwrap();
  check(registered.measuredWith.toNumber() === genesisGuest.version, `its figures were measured with engine version ${genesisGuest.version}`);
  // Setup for the request below: waited for finality, as lib.send says.
  const remeasured = await lib.sendOk(api, api.tx.models.remeasureModel(model.hash), ferdie, -1, 'finalized');
  const [measured] = lib.eventsOf(remeasured.events, 'models', 'ModelRemeasured');
  check(measured && measured.data.engineVersion.toNumber() === next,
    `models.ModelRemeasured by Ferdie: engine version ${next}, ${measured.data.fuelPerRun} fuel a run, ${measured.data.fuelToPrepare} to prepare`);
  const now = (await api.call.modelsApi.model(model.hash)).unwrap();
  check(now.measuredWith.toNumber() === next && now.fuelPerRun.eq(measured.data.fuelPerRun), 'the model view carries the new figures');
  check(!(await api.call.modelsApi.modelsToRemeasure()).some((hash) => hash.toHex() === model.hash), 'no longer listed to measure again');
  const again = await lib.send(api, api.tx.models.remeasureModel(model.hash), ferdie);
  check(again.error === 'models.AlreadyMeasured', `measured again with the same guest: ${again.error}`);

  // 4. The same request with the new guest.
  const after = await completedRequest(lib, api, model, bob);
  check(after.receipt.engineVersion.toNumber() === next, `request ${after.id} verified in block ${after.blockNumber} with engine version ${next}`);
  const [oldOutcome, newOutcome] = [before, after].map(({ receipt }) => receipt.outcome.asOutputs);
  check(oldOutcome.outputHash.toHex() === newOutcome.outputHash.toHex(), 'the same outputs');
  check(oldOutcome.resultHash.toHex() !== newOutcome.resultHash.toHex(), 'a result hash of the new engine version');
  // Compared once final on each node: with BABE two authors can each build a block at one
  // height, and until finality the nodes' best chains may hold different ones.
  await lib.waitForFinalized(api, after.blockNumber, 120_000);
  const canonical = (await api.rpc.chain.getBlockHash(after.blockNumber)).toHex();
  for (const name of ['bob', 'charlie']) {
    const other = await lib.connect(networkInfo.nodesByName[name].wsUri);
    await lib.waitForFinalized(other, after.blockNumber, 120_000);
    const hash = await other.rpc.chain.getBlockHash(after.blockNumber);
    check(hash.toHex() === canonical, `${name} finalised the same block ${after.blockNumber}`);
    await other.disconnect();
  }

  // 5. A node started now syncs from genesis across the upgrade.
  const target = after.blockNumber + 1;
  await lib.waitForFinalized(api, target, 120_000);
  const listening = (await api.rpc.system.localListenAddresses()).map(String);
  const bootnodes = [...listening.filter((a) => a.includes('/127.0.0.1/')), ...listening];
  check(bootnodes.length > 0, `alice listens on ${bootnodes[0]} (of ${listening.join(', ')})`);
  const basePath = fs.mkdtempSync(join(os.tmpdir(), 'veriml-fresh-'));
  const logPath = join(basePath, 'node.log');
  const log = fs.openSync(logPath, 'w');
  const fresh = spawn('veriml-node', [
    '--chain', networkInfo.chainSpecPath, '--base-path', basePath, '--port', '31533', '--rpc-port', '9977',
    '--no-prometheus', '--no-telemetry', '--no-mdns', '--name', 'fresh', '--bootnodes', ...bootnodes.slice(0, 1),
  ], { stdio: ['ignore', log, log] });
  try {
    const freshApi = await lib.connect('ws://127.0.0.1:9977');
    const deadline = Date.now() + 300_000;
    // Its finalised head, not its best: below it its chain is the one alice finalised.
    let finalized = 0;
    while (Date.now() < deadline) {
      finalized = (await freshApi.rpc.chain.getHeader(await freshApi.rpc.chain.getFinalizedHead())).number.toNumber();
      if (finalized >= target) break;
      await sleep(2000);
    }
    check(finalized >= target, `the fresh node synced from genesis and finalised block ${finalized}`);
    for (const number of [before.blockNumber, switchedAt, after.blockNumber, target]) {
      const [ours, theirs] = await Promise.all([api, freshApi].map(async (client) => {
        const hash = await client.rpc.chain.getBlockHash(number);
        return { hash: hash.toHex(), stateRoot: (await client.rpc.chain.getHeader(hash)).stateRoot.toHex() };
      }));
      check(ours.hash === theirs.hash && ours.stateRoot === theirs.stateRoot, `block ${number}: same hash and state root ${ours.stateRoot.slice(0, 18)}…`);
    }
    const freshReceipt = (await freshApi.query.verification.receipts(after.id)).unwrap();
    check(freshReceipt.engineVersion.toNumber() === next, 'its state holds the receipt of the new engine version');
    await freshApi.disconnect();
    const text = fs.readFileSync(logPath, 'utf8');
    check(text.includes(`engine version ${next}`) && !text.includes('panicked'), `it loaded guest ${newGuest.slice(0, 18)}… from its own state (its log)`);
  } catch (error) {
    console.log(fs.readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n'));
    throw error;
  } finally {
    fresh.kill('SIGINT');
  }
  await api.disconnect();
  return 0;
}

module.exports = { run };
