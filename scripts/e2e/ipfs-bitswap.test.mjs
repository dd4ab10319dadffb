// The content store's items fetched by an IPFS client that is not veriml's: Helia (the
// JavaScript IPFS implementation) dials the dev node (`--ipfs-server`, which CI's dev nodes run
// with) and asks its bitswap server for each chunk of a stored item by CID (v1, raw, blake2b-256
// of the chunk), and for a whole item by one CID, its UnixFS file node's (v1, dag-pb,
// blake2b-256), which `@helia/unixfs` reads as a file. It trusts nothing but the CIDs: Helia
// checks every block against its CID, and the test checks the chunks' hashes against the
// item's root on chain and the bytes against what was stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hexToU8a, u8aConcat, u8aEq, u8aToHex } from '@polkadot/util';
import { connect, account, sendOk } from './lib/chain.mjs';
import { prepareContent, storeContentTxs, contentRoot, chunkCid, fileCid, chunkHash } from 'veriml-client';

// Helia's dependencies use Promise.withResolvers (Node.js 22); CI runs Node.js 20.
Promise.withResolvers ??= function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
};
const { createHelia } = await import('helia');
const { CID } = await import('multiformats/cid');
const { blake2b256 } = await import('@multiformats/blake2/blake2b');
const { multiaddr } = await import('@multiformats/multiaddr');
const { unixfs } = await import('@helia/unixfs');

let api;
let helia;

before(async () => { api = await connect(); });
after(async () => {
  await helia?.stop();
  await api?.disconnect();
});

test('Helia fetches a stored item\'s chunks by CID, and the whole item by its file CID, from the node\'s bitswap server', async () => {
  const owner = account('Ferdie');
  const chunkBytes = Number(api.consts.contentStore.chunkBytes.toString());
  const bytes = new Uint8Array(randomBytes(chunkBytes + 54321));
  const content = prepareContent(api, bytes);
  const { begin, chunks, fileNode } = storeContentTxs(api, content, 100);
  await sendOk(api, begin, owner);
  for (const tx of chunks) await sendOk(api, tx, owner);
  const { events } = await sendOk(api, fileNode, owner);
  const stored = events.find(({ event }) => event.section === 'contentStore' && event.method === 'FileNodeStored');
  assert.equal(stored.event.data.nodeHash.toHex(), u8aToHex(fileCid(content.fileNode).slice(6)));

  // The chunk list as the chain keeps it, checked against the root.
  const listed = (await api.query.contentStore.itemChunks(content.root)).unwrap().map((h) => h.toU8a());
  assert.ok(u8aEq(contentRoot(listed), hexToU8a(content.root)));

  // The node's address, from its RPC.
  const peer = (await api.rpc.system.localPeerId()).toString();
  const address = (await api.rpc.system.localListenAddresses()).map(String)
    .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'));
  assert.ok(address, 'the node listens on a loopback TCP address');
  helia = await createHelia({ hashers: [blake2b256] });
  await helia.start();
  await helia.libp2p.dial(multiaddr(address.includes('/p2p/') ? address : `${address}/p2p/${peer}`));

  const fetched = [];
  for (const hash of listed) {
    const cid = CID.decode(chunkCid(hash));
    let block = await helia.blockstore.get(cid, { signal: AbortSignal.timeout(30_000) });
    // Helia 7 streams a block as parts.
    if (block && typeof block[Symbol.asyncIterator] === 'function') {
      const parts = [];
      for await (const part of block) parts.push(part.subarray ? part.subarray() : part);
      block = u8aConcat(...parts);
    }
    const digest = await blake2b256.digest(block);
    assert.equal(u8aToHex(digest.digest), u8aToHex(hash), `chunk ${cid} hashes to its CID`);
    fetched.push(block);
  }
  assert.ok(u8aEq(u8aConcat(...fetched), bytes), 'the chunks from IPFS are the bytes stored');

  // The whole item by one CID, read as a UnixFS file; its chunks are the ones in the item's
  // chunk list (the manifest), so the bytes are the item's.
  const file = CID.decode(fileCid(content.fileNode));
  const parts = [];
  for await (const part of unixfs(helia).cat(file, { signal: AbortSignal.timeout(60_000) })) parts.push(part);
  const whole = u8aConcat(...parts);
  const hashes = [];
  for (let at = 0; at < whole.length; at += chunkBytes) hashes.push(chunkHash(whole.subarray(at, at + chunkBytes)));
  assert.ok(u8aEq(contentRoot(hashes), hexToU8a(content.root)), 'the file\'s chunks make the item\'s root');
  assert.ok(u8aEq(whole, bytes), 'the file from IPFS is the bytes stored');
  console.log(`  ${file}: ${whole.length} bytes read by @helia/unixfs`);
});
