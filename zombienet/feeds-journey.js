// Issue 5's data node on a three-node network (see feeds-network.toml), run by zombienet as a
// js-script (CommonJS, with the shared helpers of scripts/e2e imported).
//
// 1. The script serves BTC/USD on 127.0.0.1:18090, where dave's `--data-source` points.
// 2. Ferdie registers feed 0 (2 decimals, rounds of 2 blocks, one value needed); Eve bonds
//    dave's `feed` key (//Dave) as a data node.
// 3. Rounds are aggregated from dave's values, and follow the server when its price moves.
// 4. The server answers HTML: dave submits nothing, the round has no value and dave a strike;
//    a good answer again clears it.
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { createServer } = require('node:http');

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
    await lib.sendOk(api, api.tx.feeds.registerNode(dave.address, [feed], api.consts.feeds.minBond), eve);
    check(true, `Eve bonded dave's feed key ${dave.address}`);

    const aggregated = (value) => lib.waitForEvent(api, 'feeds', 'RoundAggregated',
      (e) => e.data.feed.toNumber() === feed && e.data.value.toBigInt() === value, 120_000);
    const first = await aggregated(6_412_345n);
    check(true, `round ${first.event.data.round} aggregated to 6412345 (64 123.45) in block #${first.blockNumber}`);
    check(fetches > 0, `dave fetched from the server (${fetches} requests)`);

    answer = '{"bitcoin": {"usd": "65000.5"}}';
    const moved = await aggregated(6_500_050n);
    check(true, `the price moved: round ${moved.event.data.round} aggregated to 6500050 in block #${moved.blockNumber}`);

    answer = '<html>502 Bad Gateway</html>';
    const { event: empty } = await lib.waitForEvent(api, 'feeds', 'RoundWithoutValue',
      (e) => e.data.feed.toNumber() === feed, 120_000);
    check(empty.data.submissions.toNumber() === 0, `a malformed answer: round ${empty.data.round} has no value`);
    const struck = (await api.query.feeds.dataNodes(dave.address)).unwrap();
    check(struck.strikes.toNumber() >= 1, `dave has ${struck.strikes} strike(s) for the missed round`);

    answer = '{"bitcoin": {"usd": 65100}}';
    await aggregated(6_510_000n);
    const cleared = (await api.query.feeds.dataNodes(dave.address)).unwrap();
    check(cleared.strikes.toNumber() === 0, 'a good value again cleared the strikes');
    const history = await api.query.feeds.history(feed);
    check(history.length >= 3, `the feed's history holds ${history.length} rounds`);
    return 0;
  } finally {
    server.close();
    await api.disconnect();
  }
}

module.exports = { run };
