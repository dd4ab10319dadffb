// Measures, on a running `--dev` node (scripts/bench-content-store.sh starts one), the content
// store's upload throughput: one item of `MIB` MiB (default 32) stored chunk by chunk, with at
// most `IN_FLIGHT` chunk transactions (default 9: three blocks' worth) waiting in the pool at a
// time. Prints MiB per block over the blocks that carried chunks, the time it took, and what the
// owner paid; then fetches the item back through `veriml_contentChunk` and checks it against
// its root. Asserts nothing about speed.
import { randomBytes } from 'node:crypto';
import { u8aEq } from '@polkadot/util';
import { connect, account, send, sendOk, eventsOf, nextNonce } from './lib/chain.mjs';
import { prepareContent, storeContentTxs, fetchContent } from 'veriml-client';

const mib = Number(process.env.MIB ?? 32);
const inFlight = Number(process.env.IN_FLIGHT ?? 9);
const api = await connect();
const owner = account('Ferdie');
const bytes = new Uint8Array(randomBytes(mib * 1024 * 1024));
const content = prepareContent(api, bytes);
const { begin, chunks } = storeContentTxs(api, content, 14_400);
const free = async () => (await api.query.system.account(owner.address)).data.free.toBigInt();
const before = await free();
const started = Date.now();
await sendOk(api, begin, owner);
let nonce = await nextNonce(api, owner.address);
const blocks = new Map();
const pending = new Set();
for (const [index, tx] of chunks.entries()) {
  const sent = send(api, tx, owner, nonce++).then(async (outcome) => {
    if (outcome.error) throw new Error(`chunk ${index}: ${outcome.error}`);
    const number = (await api.rpc.chain.getHeader(outcome.blockHash)).number.toNumber();
    blocks.set(number, (blocks.get(number) ?? 0) + 1);
    if (eventsOf(outcome.events, 'contentStore', 'ContentStored').length) console.log(`item ${content.root} stored in block #${number}`);
    pending.delete(sent);
  });
  pending.add(sent);
  if (pending.size >= inFlight) await Promise.race(pending);
}
await Promise.all(pending);
const seconds = (Date.now() - started) / 1000;
const numbers = [...blocks.keys()].sort((a, b) => a - b);
const span = numbers[numbers.length - 1] - numbers[0] + 1;
const paid = before - (await free());
console.log(`content store upload: ${mib} MiB in ${chunks.length} chunks over ${span} blocks (#${numbers[0]}–#${numbers[numbers.length - 1]}): `
  + `${(mib / span).toFixed(2)} MiB per block (most in one block: ${Math.max(...blocks.values())} chunks), ${seconds.toFixed(0)} s, `
  + `${(mib / seconds).toFixed(2)} MiB/s`);
console.log(`paid by the owner: ${(Number(paid) / 1e12).toFixed(3)} VML (length and weight fees, retention for a day; deposit held apart)`);
const fetchStarted = Date.now();
const back = await fetchContent(api, content.root);
if (!u8aEq(back, bytes)) throw new Error('the item fetched back is not the bytes stored');
console.log(`fetched back and checked against its root over veriml_contentChunk in ${((Date.now() - fetchStarted) / 1000).toFixed(1)} s`);
await api.disconnect();
