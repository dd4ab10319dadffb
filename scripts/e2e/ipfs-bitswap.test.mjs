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
import { heliaDialling, fileCidOf, CID, blake2b256 } from './lib/ipfs.mjs';
import { prepareContent, storeContentTxs, contentRoot, chunkCid, fileCid } from 'veriml-client';

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

  helia = await heliaDialling(api);

  const fetched = [];
  for (const hash of listed) {
    const cid = CID.decode(chunkCid(hash));
    const block = await helia.block(cid);
    const digest = await blake2b256.digest(block);
    assert.equal(u8aToHex(digest.digest), u8aToHex(hash), `chunk ${cid} hashes to its CID`);
    fetched.push(block);
  }
  assert.ok(u8aEq(u8aConcat(...fetched), bytes), 'the chunks from IPFS are the bytes stored');

  // The whole item by one CID, the one the chain records for it, read as a UnixFS file; its
  // chunks are the ones in the item's chunk list (the manifest), so the bytes are the item's.
  const file = await fileCidOf(api, content.root);
  assert.ok(u8aEq(file.bytes, fileCid(content.fileNode)), 'the CID named on chain is the file node\'s');
  const whole = await helia.cat(file);
  assert.equal(prepareContent(api, whole).root, content.root, 'the file\'s chunks make the item\'s root');
  assert.ok(u8aEq(whole, bytes), 'the file from IPFS is the bytes stored');
  console.log(`  ${file}: ${whole.length} bytes read by @helia/unixfs`);
});
