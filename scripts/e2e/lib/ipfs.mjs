// Helia, the JavaScript IPFS implementation (an IPFS client that is not veriml's), dialled to a
// veriml node's bitswap server (`--ipfs-server`): what ipfs-bitswap.test.mjs and the zombienet
// large-model journey fetch stored items with. Helia checks every block it receives against
// its CID.
import { u8aConcat } from '@polkadot/util';
import { fileNodeCid } from 'veriml-client';
import { peerAddress } from './chain.mjs';

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

export { CID, blake2b256 };

/**
 * A Helia node (hashing blake2b-256 too, the content store's hash) that dialled the node `api`
 * is connected to, over plain TCP or WebSocket ({@link peerAddress}). `block(cid)` reads one
 * block, `cat(cid)` a UnixFS file, whole, each from that node's bitswap server within
 * `timeoutMs`; `stop()` ends it.
 */
export async function heliaDialling(api) {
  const helia = await createHelia({ hashers: [blake2b256] });
  await helia.start();
  await helia.libp2p.dial(multiaddr(await peerAddress(api)));
  return {
    async block(cid, timeoutMs = 30_000) {
      const block = await helia.blockstore.get(cid, { signal: AbortSignal.timeout(timeoutMs) });
      // Helia 7 streams a block as parts.
      if (!block || typeof block[Symbol.asyncIterator] !== 'function') return block;
      const parts = [];
      for await (const part of block) parts.push(part.subarray ? part.subarray() : part);
      return u8aConcat(...parts);
    },
    async cat(cid, timeoutMs = 60_000) {
      const parts = [];
      for await (const part of unixfs(helia).cat(cid, { signal: AbortSignal.timeout(timeoutMs) })) parts.push(part);
      return u8aConcat(...parts);
    },
    stop: () => helia.stop(),
  };
}

/**
 * The CID under which nodes serve stored item `root` as one file: its file node's, as the chain
 * records it (`contentStore.fileNodes`); throws if no file node was stored for it.
 */
export async function fileCidOf(api, root) {
  const nodeHash = await api.query.contentStore.fileNodes(root);
  if (nodeHash.isNone) throw new Error(`no file node is stored for item ${root}`);
  return CID.decode(fileNodeCid(nodeHash.unwrap().toU8a()));
}
