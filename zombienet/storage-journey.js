// Issue 24's storage nodes on a four-node network (see storage-network.toml), run by zombienet
// as a js-script (CommonJS, with the shared helpers of scripts/e2e imported).
//
// 1. Ferdie bonds dave's and eve's `stor` keys (//Dave, //Eve) as storage nodes.
// 2. Charlie stores an item of two chunks (1 MiB and a bit) in the content store.
// 3. Every period each node is challenged on a segment of one of its chunks. Dave, which keeps
//    every block body, proves each challenge from its database (free, paid from the store's
//    account). Eve prunes bodies older than 5 blocks: once the item's blocks are pruned it has
//    nothing to prove from, misses three proofs in a row and is slashed a tenth of its bond.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { randomBytes } = require('node:crypto');

function check(condition, message) {
  if (!condition) throw new Error(`storage journey: ${message}`);
  console.log(`  ✓ ${message}`);
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  try {
    const [ferdie, charlie, dave, eve] = ['Ferdie', 'Charlie', 'Dave', 'Eve'].map(lib.account);
    const bond = api.consts.storageNodes.minBond.toBigInt();
    for (const node of [dave, eve]) {
      await lib.sendOk(api, lib.registerNode(api, 'storageNodes', node, ['AllItems'], bond, ferdie), ferdie);
    }
    check(true, `Ferdie bonded dave's and eve's stor keys with ${bond} each`);

    const seen = [];
    const unsubscribe = await lib.subscribeFinalizedEvents(api, (event) => seen.push(event));

    const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
    const content = lib.prepareContent(api, new Uint8Array(randomBytes(chunkBytes + 54321)));
    const { begin, chunks } = lib.storeContentTxs(api, content, 10_000);
    await lib.sendOk(api, begin, charlie);
    const first = await lib.nextNonce(api, charlie.address);
    const outcomes = await Promise.all(chunks.map((tx, i) => lib.send(api, tx, charlie, first + i, 'finalized')));
    check(outcomes.every((o) => o.error === null), `Charlie stored item ${content.root} (2 chunks)`);
    const storedAt = Math.max(...await Promise.all(outcomes.map(async (o) =>
      (await api.rpc.chain.getHeader(o.blockHash)).number.toNumber())));

    const period = Number(api.consts.storageProofs.challengePeriod.toString());
    const maxStrikes = api.consts.storageNodes.maxStrikes.toNumber();
    const slashed = await lib.waitSeen(seen, lib.eventIs('storageNodes', 'Slashed', (d) => d.node.toString() === eve.address),
      (maxStrikes + 3) * period * 6_500 + 60_000);
    check(slashed, `eve was slashed in block #${slashed?.blockNumber}: ${slashed?.event.data.toProtocol} to the protocol`);
    check(slashed.event.data.bond.toBigInt() === bond - bond / 10n, 'a tenth of its bond');
    const missed = seen.filter(lib.eventIs('storageProofs', 'ProofMissed', (d) => d.node.toString() === eve.address));
    check(missed.length >= maxStrikes, `eve missed ${missed.length} proofs, the first in block #${missed[0]?.blockNumber} (item stored in #${storedAt})`);
    check(missed.every((m) => m.event.data.root.toHex() === content.root), 'each on the stored item');

    const proven = seen.filter(lib.eventIs('storageProofs', 'Proven', (d) => d.node.toString() === dave.address));
    const davesChallenges = seen.filter(lib.eventIs('storageProofs', 'Challenged', (d) => d.node.toString() === dave.address));
    // Every challenge of dave's but the one still open was proven.
    check(proven.length >= davesChallenges.length - 1 && proven.length >= maxStrikes,
      `dave proved ${proven.length} of its ${davesChallenges.length} challenges`);
    check(!seen.some(lib.eventIs('storageProofs', 'ProofMissed', (d) => d.node.toString() === dave.address)), 'dave missed none');
    const reward = api.consts.storageProofs.proofReward.toBigInt();
    check(proven.every((p) => p.event.data.reward.toBigInt() === reward && p.event.data.operator.toString() === ferdie.address),
      `each proof paid Ferdie ${reward} from the store's account`);
    const daveRecord = (await api.query.storageNodes.nodes(dave.address)).unwrap();
    check(daveRecord.bond.toBigInt() === bond && daveRecord.strikes.toNumber() === 0, 'dave keeps its whole bond, no strikes');
    unsubscribe();
    await lib.assertInvariants(api);
    check(true, 'every pallet\'s invariants hold');
    return 0;
  } finally {
    await api.disconnect();
  }
}


module.exports = { run };
