// Data feeds on a running `--dev --role inference,data` node: a feed, a `feed` key put in the
// node's keystore and bonded as a data node, its source a local HTTP server this test runs
// (set over RPC, as `--data-source` would), and rounds aggregated from the values the node's
// off-chain worker fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { u8aToHex } from '@polkadot/util';
import { connect, account, send, sendOk, eventsOf, waitForEvent, registerNode, assertInvariants } from './lib/chain.mjs';
import { scrape, total } from './lib/prometheus.mjs';

const VML = 10n ** 12n;
let api;
let server;
let answer = { status: 200, body: '{"bitcoin": {"usd": "64123.45"}}' };
const requests = [];

/** The data node's key, put in the node's keystore in `before`. */
const node = account('veriml-dev-data-node');

before(async () => {
  api = await connect();
  await api.rpc.author.insertKey('feed', '//veriml-dev-data-node', u8aToHex(node.publicKey));
  // Its account must exist for its (free) submissions.
  await sendOk(api, api.tx.balances.transferKeepAlive(node.address, VML), account('Bob'));
  server = createServer((req, res) => {
    requests.push(req.url);
    res.writeHead(answer.status, { 'Content-Type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  server?.close();
  await api?.disconnect();
});

/** Points the node's source of `feed` at `url` + `path`, as `--data-source` would. */
async function setSource(feed, url, path) {
  const key = api.createType('(Bytes, u32)', ['veriml/feeds/source', feed]).toHex();
  const value = api.createType('(Bytes, Bytes)', [url, path]).toHex();
  await api.rpc.offchain.localStorageSet('PERSISTENT', key, value);
}

test('a data node fetches its source over HTTP and rounds are aggregated from its values', async () => {
  const owner = account('Ferdie');
  const operator = account('Bob');
  const roundLength = 2;
  const { events } = await sendOk(api, api.tx.feeds.registerFeed(
    'BTC/USD', 'test server, bitcoin.usd', 2, roundLength, 1, 100_000_000, // 10 %
  ), owner);
  const [registered] = eventsOf(events, 'feeds', 'FeedRegistered');
  const feed = registered.data.feed.toNumber();
  await setSource(feed, `http://127.0.0.1:${server.address().port}/btc`, 'bitcoin.usd');
  // The owner approves the operator whose node serves its feed; without that it may not.
  const refused = await send(api, registerNode(api, 'dataNodes', node, [feed], api.consts.dataNodes.minBond.toBigInt(), operator), operator);
  assert.equal(refused.error, 'dataNodes.NotAdmitted');
  await sendOk(api, api.tx.feeds.approveOperator(feed, operator.address), owner);
  await sendOk(api, registerNode(api, 'dataNodes', node, [feed], api.consts.dataNodes.minBond.toBigInt(), operator), operator);

  const { event: first } = await waitForEvent(
    api, 'feeds', 'RoundAggregated', (e) => e.data.feed.toNumber() === feed, 60_000,
  );
  assert.equal(first.data.value.toBigInt(), 6_412_345n, 'the value at the path, in cents');
  assert.ok(requests.length > 0, 'the node fetched from the server');
  const history = await api.query.feeds.history(feed);
  assert.equal(history.at(-1).value.toBigInt(), 6_412_345n);

  // The source moves; the next rounds follow it.
  answer = { status: 200, body: '{"bitcoin": {"usd": 65000.5}}' };
  const { event: moved } = await waitForEvent(
    api, 'feeds', 'RoundAggregated', (e) => e.data.feed.toNumber() === feed && e.data.value.toBigInt() === 6_500_050n, 60_000,
  );
  assert.equal(moved.data.submissions.toNumber(), 1);
});

test('bad answers from the source are not submitted: the round has no value and the node a strike', async () => {
  const owner = account('Ferdie');
  const operator = account('Bob');
  const { events } = await sendOk(api, api.tx.feeds.registerFeed('ETH/USD', 'test server, broken', 2, 2, 1, 100_000_000), owner);
  const feed = eventsOf(events, 'feeds', 'FeedRegistered')[0].data.feed.toNumber();
  await setSource(feed, `http://127.0.0.1:${server.address().port}/eth`, 'ethereum.usd');
  await sendOk(api, api.tx.feeds.approveOperator(feed, operator.address), owner);
  const served = (await api.query.dataNodes.nodes(node.address)).unwrap().services.map((f) => f.toNumber());
  await sendOk(api, api.tx.dataNodes.setServices(node.address, [...served, feed]), operator);
  // The server answers without `ethereum`: nothing to submit for this feed.
  const { event } = await waitForEvent(
    api, 'feeds', 'RoundWithoutValue', (e) => e.data.feed.toNumber() === feed, 60_000,
  );
  assert.equal(event.data.submissions.toNumber(), 0);
  assert.equal((await api.query.feeds.history(feed)).length, 0);

  // The node's metrics count the failed fetches by feed and kind (CI gives every dev node a
  // Prometheus endpoint, named in VERIML_PROMETHEUS).
  if (process.env.VERIML_PROMETHEUS) {
    const samples = await scrape(process.env.VERIML_PROMETHEUS);
    const failed = total(samples, 'veriml_feed_fetch_errors', { feed: String(feed), kind: 'value' });
    assert.ok(failed >= 1, `veriml_feed_fetch_errors{feed="${feed}",kind="value"} is ${failed}`);
  }
});

test('bad feeds and submissions are refused with named errors', async () => {
  const owner = account('Ferdie');
  const cases = [
    ['empty name', api.tx.feeds.registerFeed('', 'x', 2, 3, 1, 0), 'feeds.EmptyName'],
    ['round too short', api.tx.feeds.registerFeed('X', 'x', 2, 1, 1, 0), 'feeds.RoundTooShort'],
    ['no submissions needed', api.tx.feeds.registerFeed('X', 'x', 2, 3, 0, 0), 'feeds.InvalidMinSubmissions'],
    ['not a data node', api.tx.feeds.submit(0, 0, 1), 'feeds.NotADataNode'],
    ['unknown feed', registerNode(api, 'dataNodes', owner, [999], api.consts.dataNodes.minBond.toBigInt(), owner), 'dataNodes.UnknownService'],
  ];
  for (const [what, tx, expected] of cases) {
    const { error } = await send(api, tx, owner);
    assert.equal(error, expected, what);
  }
});

test('every pallet\'s invariants hold on the chain afterwards (try_state, through InvariantsApi)', async () => {
  await assertInvariants(api);
});
