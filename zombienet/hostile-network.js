// Issue 20's hostile network (hostile-network.toml), run by zombienet as a js-script (CommonJS,
// with the shared helpers of scripts/e2e imported).
//
// Honest: alice and bob, validators and complete nodes (they re-execute every result they
// import and decide disputes), and charlie, an inference node (//Charlie's `infr` key, operated
// by Ferdie) whose off-chain worker computes its assignments and challenges wrong proposals.
// Hostile, driven by this script with keys it holds, as an attacker runs its own software:
//   - the liar (operated by Eve) serves both models and answers every assignment wrongly: a
//     made-up hash for the in-block model, zeros with a hash that commits to them for the
//     optimistic one (only re-execution shows they are wrong);
//   - the silent node (operated by Eve//stash) serves the in-block model and never answers;
//   - the dispute flooder (operated by Ferdie//stash) challenges every honest proposal;
//   - the request spammer (Dave//stash) sends 24 requests of the in-block model and 3 of the
//     optimistic one at once;
//   - a Sybil data set: 4 data nodes of one operator (Bob) try to serve a feed whose owner
//     (Alice) approved no one.
// (Zombienet gives the stash accounts of its nodes' names, Alice//stash to Charlie//stash, a
// small balance of their own, so none of them plays a part.)
// Checked over at least 60 blocks: finality never stalls; every request ends verified, failed,
// expired or abandoned, and those without a result are refunded in full; no wrong result is
// ever paid (every completed request was computed by charlie, results of one input agree,
// nothing is paid to a hostile operator); the liar, the silent node and the flooder lose bond;
// the sum of all accounts' free and reserved balances is the total issuance, which changes
// exactly by the fees and burns the events report; every pallet's invariants hold.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const VML = 10n ** 12n;
const BLOCKS = 60;
/** Most blocks finality may lag behind the best block at any time. */
const MAX_FINALITY_LAG = 20;
const SPAM_IN_BLOCK = 24;
const SPAM_OPTIMISTIC = 3;

function check(condition, message) {
  if (!condition) throw new Error(`hostile network: ${message}`);
  console.log(`  ✓ ${message}`);
}

/**
 * Sends transactions of one signer without waiting for each other, numbering them itself; each
 * resolves with `{ events, error }` once in a block, or once finalised with `until` =
 * 'finalized' (`error` also when it never gets there).
 */
async function senderOf(lib, api, signer, until = 'inBlock') {
  let nonce = await lib.nextNonce(api, signer.address);
  return (tx) => lib.send(api, tx, signer, nonce++, until).catch((error) => ({ error: String(error), events: [] }));
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  const [dave, ferdie, alice] = ['Dave', 'Ferdie', 'Alice'].map(lib.account);
  const [liarOperator, silentOperator, flooderOperator, spammer, sybilOperator, feedOwner] =
    ['Eve', 'Eve//stash', 'Ferdie//stash', 'Dave//stash', 'Bob', 'Alice'].map(lib.account);
  const [charlie, liar, silent, flooder] = ['Charlie', 'Liar', 'Silent', 'Flooder'].map(lib.account);
  const hostileOperators = [liarOperator, silentOperator, flooderOperator].map((a) => a.address);
  const hostileNodes = [liar, silent, flooder].map((a) => a.address);

  // Setup: the models, the honest node and the hostile ones. With two BABE authors the best
  // block may switch to a sibling fork that lacks a setup transaction for a while, so each
  // setup step waits for finality before the script reads its effects from the best block.
  const linear = lib.testModel('pytorch_Linear');
  const squeeze = lib.testModel('light_squeezenet');
  const sigmoid = lib.testModel('pytorch_Sigmoid');
  const records = [];
  for (const model of [linear, squeeze, sigmoid]) {
    records.push(await lib.registerModel(api, model, dave, VML / 100n, 'finalized'));
  }
  const squeezeRecord = records[1];
  check(squeezeRecord.verification.toString() === 'Optimistic', `${squeeze.name} is verified optimistically`);
  const minBond = api.consts.inferenceNodes.minBond.toBigInt();
  const deposit = api.consts.verification.challengeDeposit.toBigInt();
  const fund = await senderOf(lib, api, alice);
  await Promise.all([
    fund(api.tx.balances.transferKeepAlive(charlie.address, 3n * deposit)),
    fund(api.tx.balances.transferKeepAlive(liar.address, VML)),
    fund(api.tx.balances.transferKeepAlive(flooder.address, 3n * deposit)),
  ]);
  const nodes = [
    [charlie, ferdie, [linear.hash, squeeze.hash], 3n * minBond],
    [liar, liarOperator, [linear.hash, squeeze.hash], 3n * minBond],
    [silent, silentOperator, [linear.hash], 3n * minBond],
    [flooder, flooderOperator, [sigmoid.hash], minBond],
  ];
  // One operator each, so side by side.
  await Promise.all(nodes.map(([key, operator, services, bond]) => lib.sendOk(api,
    lib.registerNode(api, 'inferenceNodes', key, services, bond, operator), operator, -1, 'finalized')));
  const bondOf = async (key) => (await api.query.inferenceNodes.nodes(key.address)).unwrap().bond.toBigInt();
  const bondsBefore = { liar: await bondOf(liar), silent: await bondOf(silent), flooder: await bondOf(flooder) };
  check(true, 'charlie, the liar, the silent node and the flooder are bonded');

  // From here on every block is accounted for.
  const startHeader = await api.rpc.chain.getHeader();
  const start = startHeader.number.toNumber();
  const accountsSum = async (hash) => {
    const at = await api.at(hash);
    const entries = await at.query.system.account.entries();
    const sum = entries.reduce((total, [, info]) => total + info.data.free.toBigInt() + info.data.reserved.toBigInt(), 0n);
    return { sum, issuance: (await at.query.balances.totalIssuance()).toBigInt() };
  };
  const atStart = await accountsSum(startHeader.hash);
  check(atStart.sum === atStart.issuance, `at #${start} the accounts hold the total issuance (${atStart.issuance})`);

  let worstLag = 0;
  let best = start;
  const unsubscribeBest = await api.rpc.chain.subscribeNewHeads((header) => { best = header.number.toNumber(); });
  const unsubscribeFinal = await api.rpc.chain.subscribeFinalizedHeads((header) => {
    worstLag = Math.max(worstLag, best - header.number.toNumber());
  });

  // The hostile software: the liar answers its assignments wrongly, the flooder challenges
  // every proposal of charlie's.
  const engineVersion = (await api.query.models.engineGuest()).version.toNumber();
  const zerosLike = (record) => record.outputs.map((spec) => {
    const shape = spec.shape.map((d) => d.toNumber());
    return lib.floatTensor(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0));
  });
  const lie = await senderOf(lib, api, liar);
  const flood = await senderOf(lib, api, flooder);
  const answered = new Set();
  const challenged = new Set();
  const hostileOutcomes = [];
  const unsubscribeAttack = await api.rpc.chain.subscribeNewHeads(async (header) => {
    const at = await api.at(header.hash);
    for (const [key] of await at.query.inference.assignments.entries(liar.address)) {
      const id = key.args[1].toNumber();
      if (answered.has(id)) continue;
      answered.add(id);
      const request = (await at.query.inference.requests(id)).unwrap();
      const model = request.model.toHex();
      const record = (await at.query.models.models(model)).unwrap();
      const outputs = zerosLike(record);
      const hash = model === squeeze.hash
        ? lib.resultHash(api, engineVersion, model, request.inputHash, outputs)
        : `0x${'ab'.repeat(32)}`;
      lie(api.tx.inference.submitResult(id, outputs, hash)).then(({ error }) => hostileOutcomes.push(['lie', id, error]));
    }
    for (const { event } of await at.query.system.events()) {
      if (event.section === 'verification' && event.method === 'ResultProposed'
        && event.data.node.toString() === charlie.address) {
        const id = event.data.request.toNumber();
        if (challenged.has(id)) continue;
        challenged.add(id);
        flood(api.tx.verification.challenge(id)).then(({ error }) => hostileOutcomes.push(['challenge', id, error]));
      }
    }
  });

  // The Sybil data set: refused, whatever its bond.
  const registered = await lib.sendOk(api,
    api.tx.feeds.registerFeed('ETH/USD', 'owner-approved nodes only', 2, 2, 1, 50_000_000), feedOwner, -1, 'finalized');
  const feed = lib.eventsOf(registered.events, 'feeds', 'FeedRegistered')[0].data.feed.toNumber();
  const dataBond = api.consts.dataNodes.minBond.toBigInt();
  const sybil = await senderOf(lib, api, sybilOperator, 'finalized');
  const sybils = await Promise.all([1, 2, 3, 4].map((i) => sybil(
    lib.registerNode(api, 'dataNodes', lib.account(`Sybil${i}`), [feed], 10n * dataBond, sybilOperator),
  )));
  check(sybils.every(({ error }) => error === 'dataNodes.NotAdmitted'),
    `4 Sybil data nodes are refused a feed whose owner approved no one (${sybils.map((s) => s.error)})`);
  check((await api.query.dataNodes.nodesByService(feed)).length === 0, 'no node serves the feed');

  // The request spammer; the ids come from the events of the finalised blocks (a request
  // included again after a fork switch may get another id).
  const spam = await senderOf(lib, api, spammer, 'finalized');
  const requests = await Promise.all([
    ...Array.from({ length: SPAM_IN_BLOCK }, () => spam(api.tx.inference.request(linear.hash, lib.sampleInputs(linear), 10n * VML))),
    ...Array.from({ length: SPAM_OPTIMISTIC }, () => spam(api.tx.inference.request(squeeze.hash, lib.sampleInputs(squeeze), 10n * VML))),
  ]);
  const made = requests.map(({ events, error }) => {
    if (error) throw new Error(`hostile network: a spammed request failed: ${error}`);
    return lib.eventsOf(events, 'inference', 'Requested')[0];
  });
  const ids = made.map((e) => e.data.request.toNumber());
  check(ids.length === SPAM_IN_BLOCK + SPAM_OPTIMISTIC, `the spammer made ${ids.length} requests`);

  // Until every request has ended, and for at least BLOCKS blocks.
  const deadline = Date.now() + 15 * 60 * 1000;
  for (;;) {
    const open = (await Promise.all(ids.map((id) => api.query.inference.requests(id)))).filter((r) => r.isSome).length;
    if (open === 0 && best >= start + BLOCKS) break;
    if (Date.now() > deadline) throw new Error(`hostile network: ${open} requests still open at #${best}`);
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
  unsubscribeAttack();
  const end = best;
  await lib.waitForFinalized(api, end, 180_000);
  unsubscribeBest();
  unsubscribeFinal();
  check(end - start >= BLOCKS, `the network ran ${end - start} blocks (#${start} to #${end})`);
  check(worstLag <= MAX_FINALITY_LAG, `finality never lagged more than ${worstLag} blocks behind the best block`);

  // Every event of the finalised blocks from the start.
  const events = (await lib.finalizedEvents(api, start + 1, end)).map(({ event }) => event);
  const of = (section, method) => events.filter((e) => e.section === section && e.method === method);

  // Every request ended; those without a result were refunded in full.
  const fees = new Map(made.map((e) => [e.data.request.toNumber(), e.data.fee]));
  const total = (fee) => fee.modelPrice.toBigInt() + fee.execution.toBigInt() + fee.protocol.toBigInt();
  const ended = new Map();
  for (const method of ['Completed', 'Failed', 'Expired', 'Abandoned', 'Cancelled']) {
    for (const e of of('inference', method)) {
      const id = e.data.request.toNumber();
      if (!fees.has(id)) continue;
      check(!ended.has(id), `request ${id} ended once (${method})`);
      ended.set(id, { method, event: e });
    }
  }
  check(ids.every((id) => ended.has(id)), `every request ended: ${[...new Set([...ended.values()].map((v) => v.method))]}`);
  for (const [id, { method, event }] of ended) {
    if (['Expired', 'Abandoned', 'Cancelled'].includes(method)) {
      check(event.data.refunded.toBigInt() === total(fees.get(id)), `request ${id} (${method}) was refunded its whole fee`);
    }
  }
  const completed = [...ended.values()].filter((v) => v.method === 'Completed').map((v) => v.event);
  check(completed.length > 0, `${completed.length} requests completed`);

  // No wrong result paid.
  check(completed.every((e) => e.data.node.toString() === charlie.address), 'every completed request was computed by charlie');
  for (const model of [linear.hash, squeeze.hash]) {
    const hashes = new Set(completed.filter((e) => {
      const request = made.find((m) => m.data.request.eq(e.data.request));
      return request.data.model.toHex() === model;
    }).map((e) => e.data.resultHash.toHex()));
    check(hashes.size <= 1, `the completed results of the same input to ${model.slice(0, 10)}… agree`);
  }
  const payees = of('escrow', 'Paid').map((e) => e.data.payee.toString());
  check(!payees.some((p) => hostileOperators.includes(p) || hostileNodes.includes(p)),
    `nothing of ${payees.length} escrow payments went to a hostile operator or node`);

  // The attackers lost bond.
  const rejected = of('inference', 'ResultRejected').filter((e) => e.data.node.toString() === liar.address).length;
  const upheld = of('verification', 'ChallengeUpheld').length;
  check(rejected + upheld > 0, `the liar was refuted ${rejected} times in block and ${upheld} times on challenge`);
  check(await bondOf(liar) < bondsBefore.liar, `the liar lost bond (${bondsBefore.liar} → ${await bondOf(liar)})`);
  const lapsed = of('inference', 'AssignmentLapsed').filter((e) => e.data.node.toString() === silent.address).length;
  check(lapsed > 0 && await bondOf(silent) < bondsBefore.silent, `the silent node lapsed ${lapsed} times and lost bond`);
  const lost = of('verification', 'ChallengeRejected').filter((e) => e.data.challenger.toString() === flooder.address);
  check(lost.length > 0 && lost.every((e) => e.data.forfeited.toBigInt() === deposit),
    `the flooder's ${lost.length} challenges were rejected, each forfeiting its deposit`);
  check(await bondOf(flooder) < bondsBefore.flooder, 'the flooder lost bond');
  console.log(`  hostile transactions: ${hostileOutcomes.map(([what, id, error]) => `${what} ${id}: ${error ?? 'ok'}`).join('; ')}`);

  // The money: the accounts hold the total issuance, which changed exactly by what the events
  // report leaving it (fees, burns).
  const endHash = await api.rpc.chain.getBlockHash(end);
  const atEnd = await accountsSum(endHash);
  check(atEnd.sum === atEnd.issuance, `at #${end} the accounts hold the total issuance (${atEnd.issuance})`);
  const sum = (list, field) => list.reduce((t, e) => t + e.data[field].toBigInt(), 0n);
  const feesPaid = sum(of('transactionPayment', 'TransactionFeePaid'), 'actualFee');
  const burned = sum(of('balances', 'Burned'), 'amount') + sum(of('balances', 'BurnedHeld'), 'amount')
    + sum(of('balances', 'DustLost'), 'amount');
  const minted = sum(of('balances', 'Minted'), 'amount');
  check(atEnd.issuance - atStart.issuance === minted - feesPaid - burned,
    `the issuance changed by ${atEnd.issuance - atStart.issuance}: fees ${feesPaid}, burns ${burned}, mints ${minted}`);
  // What the spammer still holds is the receipt deposits of its completed and failed requests.
  const kept = [...ended].filter(([, v]) => ['Completed', 'Failed'].includes(v.method))
    .reduce((t, [id]) => t + made.find((m) => m.data.request.toNumber() === id).data.receiptDeposit.toBigInt(), 0n);
  check(await lib.held(api, spammer.address) === kept, `the spammer holds only its receipts' deposits (${kept})`);

  await lib.assertInvariants(api);
  check(true, "every pallet's invariants hold");
  await api.disconnect();
  return 0;
}

module.exports = { run };
