// Measures, on a running `--dev` node (scripts/bench-content-store.sh starts one), the content
// store's upload throughput: one item of `MIB` MiB (default 32) stored chunk by chunk, with at
// most `IN_FLIGHT` chunk transactions (default 9: three blocks' worth) waiting in the pool at a
// time. Prints MiB per block over the blocks that carried chunks, the time it took, and what the
// owner paid; then fetches the item back through `veriml_contentChunk` and checks it against
// its root. Asserts nothing about speed.
import { randomBytes } from 'node:crypto';
import { u8aEq } from '@polkadot/util';
import { connect, account, storeContent } from './lib/chain.mjs';
import { fetchContent } from 'veriml-client';

const mib = Number(process.env.MIB ?? 32);
const inFlight = Number(process.env.IN_FLIGHT ?? 9);
const api = await connect();
const owner = account('Ferdie');
const bytes = new Uint8Array(randomBytes(mib * 1024 * 1024));
const free = async () => (await api.query.system.account(owner.address)).data.free.toBigInt();
const before = await free();
const stored = await storeContent(api, bytes, owner, { inFlight });
const paid = before - (await free());
console.log(`content store upload: ${mib} MiB in ${stored.chunks} chunks over ${stored.span} blocks (#${stored.first}–#${stored.last}): `
  + `${(mib / stored.span).toFixed(2)} MiB per block (most in one block: ${Math.max(...stored.blocks.values())} chunks), ${stored.seconds.toFixed(0)} s, `
  + `${(mib / stored.seconds).toFixed(2)} MiB/s`);
console.log(`paid by the owner: ${(Number(paid) / 1e12).toFixed(3)} VML (length and weight fees, retention for a day; deposit held apart)`);
const fetchStarted = Date.now();
const back = await fetchContent(api, stored.root);
if (!u8aEq(back, bytes)) throw new Error('the item fetched back is not the bytes stored');
console.log(`fetched back and checked against its root over veriml_contentChunk in ${((Date.now() - fetchStarted) / 1000).toFixed(1)} s`);
await api.disconnect();
