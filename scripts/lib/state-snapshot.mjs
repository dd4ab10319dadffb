// The whole state of a running chain at its finalised head (or at BLOCK_HASH), as the upgrade
// checker reads it (runtime/upgrade-check: Snapshot):
//   node scripts/lib/state-snapshot.mjs WS_URL OUT.json [BLOCK_HASH]
// Keys are listed a page at a time (state_getKeysPaged) and read in batches (state_queryStorageAt),
// all at one block; the checker compares the state's root with that block's header.
import { WsProvider } from '@polkadot/api';
import { writeFileSync } from 'node:fs';

const [url, out, at] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node scripts/lib/state-snapshot.mjs WS_URL OUT.json [BLOCK_HASH]');
  process.exit(2);
}

const PAGE = 1000;
const provider = new WsProvider(url, false);
await provider.connect();
await provider.isReady;
try {
  const hash = at ?? await provider.send('chain_getFinalizedHead', []);
  const header = await provider.send('chain_getHeader', [hash]);
  const runtime = await provider.send('state_getRuntimeVersion', [hash]);
  const top = {};
  let bytes = 0;
  for (let start = null; ;) {
    const keys = await provider.send('state_getKeysPaged', ['0x', PAGE, start, hash]);
    if (keys.length === 0) break;
    const [{ changes }] = await provider.send('state_queryStorageAt', [keys, hash]);
    for (const [key, value] of changes) {
      if (value === null) throw new Error(`key ${key} has no value at ${hash}`);
      top[key] = value;
      bytes += (key.length + value.length - 4) / 2;
    }
    if (keys.length < PAGE) break;
    start = keys[keys.length - 1];
  }
  const snapshot = {
    block: { hash, number: parseInt(header.number, 16), stateRoot: header.stateRoot },
    runtime: { specName: runtime.specName, specVersion: runtime.specVersion },
    top,
  };
  writeFileSync(out, JSON.stringify(snapshot));
  console.log(`state of block #${snapshot.block.number} ${hash} (${runtime.specName} spec ${runtime.specVersion}): `
    + `${Object.keys(top).length} keys, ${(bytes / 1048576).toFixed(2)} MiB -> ${out}`);
} finally {
  await provider.disconnect();
}
