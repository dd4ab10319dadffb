// Issue 5's data node on a three-node network (see feeds-network.toml), run by zombienet as a
// js-script (CommonJS, with the shared helpers of scripts/e2e imported).
//
// 1. The script serves BTC/USD on 127.0.0.1:18090, where dave's `--data-source` points.
// 2. Ferdie registers feed 0 (2 decimals, rounds of 2 blocks, one value needed); Eve bonds
//    dave's `feed` key (//Dave) as a data node.
// 3. Rounds are aggregated from dave's values, and follow the server when its price moves.
// 4. The server answers HTML: dave submits nothing, the round has no value and dave a strike;
//    a good answer again clears it.
// Meanwhile (issue 5's workflows) dave is also an inference node (its `infr` key, //Dave,
// bonded by Eve) serving the quick start's linear model, and Ferdie runs a workflow: the model
// on the feed's last 3 values every 3 blocks, with a budget for two runs. Each run's request is
// computed by dave and verified by the validators; its output is checked against the feed's
// history at the block of the run; the workflow ends by itself and refunds the rest.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');

function check(condition, message) {
  if (!condition) throw new Error(`feeds journey: ${message}`);
  console.log(`  ✓ ${message}`);
}

async function run(nodeName, networkInfo) {
  const lib = await import(pathToFileURL(join(__dirname, '..', 'scripts', 'e2e', 'lib', 'chain.mjs')));
  let answer = '{"bitcoin": {"usd": 64123.45}}';
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches += 1;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(answer);
  });
  await new Promise((resolve) => server.listen(18090, '127.0.0.1', resolve));
  const api = await lib.connect(networkInfo.nodesByName[nodeName].wsUri);
  try {
    const [ferdie, eve, dave] = ['Ferdie', 'Eve', 'Dave'].map(lib.account);
    const registered = await lib.sendOk(api, api.tx.feeds.registerFeed('BTC/USD', 'local test server', 2, 2, 1, 50_000_000), ferdie);
    const feed = lib.eventsOf(registered.events, 'feeds', 'FeedRegistered')[0].data.feed.toNumber();
    check(feed === 0, 'Ferdie registered feed 0, the one dave has a source for');
    await lib.sendOk(api, api.tx.feeds.approveOperator(feed, eve.address), ferdie);
    check(true, 'Ferdie approved Eve to run data nodes for the feed');
    await lib.sendOk(api, lib.registerNode(api, 'dataNodes', dave, [feed], api.consts.dataNodes.minBond.toBigInt(), eve), eve);
    check(true, `Eve bonded dave's feed key ${dave.address}`);

    // Every event of the finalised chain from now on, with its block's hash: the workflow's runs
    // interleave with the feed's rounds. Not the best blocks': two BABE authors can build a block
    // each on one parent, and both forks' events would count (a run seen twice in "block 16").
    const seen = [];
    const unsubscribe = await lib.subscribeFinalizedEvents(api, (event) => seen.push(event));
    const workflow = await startWorkflow(api, lib, feed, ferdie, eve, dave);

    const aggregated = (value) => lib.waitForEvent(api, 'feeds', 'RoundAggregated',
      (e) => e.data.feed.toNumber() === feed && e.data.value.toBigInt() === value, 120_000);
    const first = await aggregated(6_412_345n);
    check(true, `round ${first.event.data.round} aggregated to 6412345 (64 123.45) in block #${first.blockNumber}`);
    check(fetches > 0, `dave fetched from the server (${fetches} requests)`);

    answer = '{"bitcoin": {"usd": "65000.5"}}';
    const moved = await aggregated(6_500_050n);
    check(true, `the price moved: round ${moved.event.data.round} aggregated to 6500050 in block #${moved.blockNumber}`);

    answer = '<html>502 Bad Gateway</html>';
    const { event: empty, blockHash: emptyIn } = await lib.waitForEvent(api, 'feeds', 'RoundWithoutValue',
      (e) => e.data.feed.toNumber() === feed, 120_000);
    check(empty.data.submissions.toNumber() === 0, `a malformed answer: round ${empty.data.round} has no value`);
    // Read in the block that ended the round, which struck dave: the best block may have
    // switched since to a sibling fork without it (two BABE authors).
    const struck = (await (await api.at(emptyIn)).query.dataNodes.nodes(dave.address)).unwrap();
    check(struck.strikes.toNumber() >= 1, `dave has ${struck.strikes} strike(s) for the missed round`);

    answer = '{"bitcoin": {"usd": 65100}}';
    await aggregated(6_510_000n);
    const cleared = (await api.query.dataNodes.nodes(dave.address)).unwrap();
    check(cleared.strikes.toNumber() === 0, 'a good value again cleared the strikes');
    const history = await api.query.feeds.history(feed);
    check(history.length >= 3, `the feed's history holds ${history.length} rounds`);

    await checkWorkflow(api, lib, workflow, seen);
    unsubscribe();
    return 0;
  } finally {
    server.close();
    await api.disconnect();
  }
}

/** Registers the linear model, bonds dave's `infr` key for it and registers Ferdie's workflow. */
async function startWorkflow(api, lib, feed, ferdie, eve, dave) {
  const bytes = readFileSync(join(__dirname, '..', 'clients', 'typescript', 'models', 'linear.onnx'));
  const { blake2AsHex } = await import('@polkadot/util-crypto');
  const model = { name: 'linear', bytes, hash: blake2AsHex(bytes, 256), specs: [{ dtype: 'F32', shape: [1, 3] }] };
  // Setup steps wait for finality: the best block may switch to a fork that lacks them (lib.send).
  await lib.registerModel(api, model, ferdie, 10n ** 10n, 'finalized');
  await lib.sendOk(api, lib.registerNode(api, 'inferenceNodes', dave, [model.hash], 100n * 10n ** 12n, eve), eve, -1, 'finalized');
  check(true, `Eve bonded dave's infr key for the linear model ${model.hash}`);
  const fee = (await api.rpc.veriml.quote(model.hash)).toJSON().total;
  const perRun = BigInt(fee);
  const budget = 2n * perRun + perRun / 2n;
  const { events } = await lib.sendOk(api,
    api.tx.workflows.register(model.hash, [{ feed, values: 3 }], 3, perRun, budget), ferdie);
  const registered = lib.eventsOf(events, 'workflows', 'Registered')[0];
  const id = registered.data.workflow.toNumber();
  check(true, `Ferdie registered workflow ${id}: the model on feed ${feed}'s last 3 values every 3 blocks, budget ${budget} for runs of ${perRun}`);
  return { id, model, perRun, budget, ferdie };
}


/** The workflow's two runs were verified inferences of the feed's values; then it ended. */
async function checkWorkflow(api, lib, workflow, seen) {
  const ended = await lib.waitSeen(seen, lib.eventIs('workflows', 'Ended', (d) => d.workflow.toNumber() === workflow.id), 300_000);
  check(ended && ended.event.data.reason.toString() === 'BudgetSpent',
    `workflow ${workflow.id} ended: ${ended?.event.data.reason} in block #${ended?.blockNumber}`);
  check(ended.event.data.refunded.toBigInt() === workflow.perRun / 2n,
    `the rest of the budget, ${ended.event.data.refunded}, was refunded`);

  const runs = seen.filter(lib.eventIs('workflows', 'Ran', (d) => d.workflow.toNumber() === workflow.id));
  check(runs.length === 2, `the workflow ran twice (blocks ${runs.map((r) => r.blockNumber).join(', ')})`);
  for (const run of runs) {
    const request = run.event.data.request.toNumber();
    const completed = await lib.waitSeen(seen, lib.eventIs('inference', 'Completed', (d) => d.request.toNumber() === request), 120_000);
    check(completed, `run ${run.event.data.run}: request ${request} completed in block #${completed?.blockNumber}`);
    // The input was the feed's last 3 values (2 decimals) when the run was made.
    const history = (await (await api.at(run.blockHash)).query.feeds.history(0))
      .map((round) => Number(round.value.toBigInt()) / 100);
    const [x0, x1, x2] = history.slice(-3);
    const expected = 0.5 * x0 - 1.25 * x1 + 2 * x2 + 0.75;
    const [got] = lib.floatsOf((await api.query.verification.outputs(request)).unwrap()[0]);
    check(Math.abs(got - expected) <= 1e-3 * Math.abs(expected) + 1e-3,
      `request ${request}: 0.5·${x0} − 1.25·${x1} + 2·${x2} + 0.75 = ${got}`);
    const receipt = (await api.query.verification.receipts(request)).unwrap();
    check(receipt.verifiedBy.toString() === 'ReExecution', `request ${request}: its receipt says verified by re-execution`);
  }
  check((await api.query.workflows.workflows(workflow.id)).isNone, 'nothing of the workflow is left in storage');
}

module.exports = { run };
