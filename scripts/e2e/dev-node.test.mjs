// Checks a running --dev veriml node the way a polkadot.js user meets it.
// Run: VERIML_WS=ws://127.0.0.1:9944 node --test scripts/e2e/*.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';

const endpoint = process.env.VERIML_WS ?? 'ws://127.0.0.1:9944';
let api;

before(async () => {
  api = await ApiPromise.create({ provider: new WsProvider(endpoint), noInitWarn: true });
});

after(async () => {
  await api?.disconnect();
});

/** Resolves with the first header number the subscription yields that satisfies `pred`. */
function waitForHead(subscribe, pred, timeoutMs) {
  return new Promise((resolve, reject) => {
    let unsub;
    const timer = setTimeout(() => { unsub?.(); reject(new Error(`timed out after ${timeoutMs} ms`)); }, timeoutMs);
    subscribe((header) => {
      const n = header.number.toNumber();
      if (pred(n)) { clearTimeout(timer); unsub?.(); resolve(n); }
    }).then((u) => { unsub = u; });
  });
}

test('metadata names the runtime, its pallets and documents its calls', async () => {
  assert.equal(api.runtimeVersion.specName.toString(), 'veriml');
  const pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
  for (const name of ['System', 'Timestamp', 'Babe', 'Grandpa', 'Balances', 'TransactionPayment', 'Sudo']) {
    assert.ok(pallets.includes(name), `pallet ${name} in metadata (got ${pallets.join(', ')})`);
  }
  const transfer = api.tx.balances.transferKeepAlive.meta;
  assert.ok(transfer.docs.length > 0, 'calls carry their doc comments');
});

test('polkadot.js apps can document every veriml call, event, error, storage item and constant', async () => {
  // What apps shows comes from the metadata: each variant's doc comment, named fields and
  // named types. A missing `///` on a call or an error shows as a blank line there.
  const metadata = api.runtimeMetadata.asLatest;
  const lookup = api.registry.lookup;
  const undocumented = [];
  const unnamed = [];
  const veriml = ['Models', 'Escrow', 'InferenceNodes', 'Verification', 'Inference', 'Feeds', 'Workflows', 'DataNodes'];
  for (const pallet of metadata.pallets.filter((p) => veriml.includes(p.name.toString()))) {
    const name = pallet.name.toString();
    for (const kind of ['calls', 'events', 'errors']) {
      if (pallet[kind].isNone) continue;
      const { variants } = lookup.getSiType(pallet[kind].unwrap().type).def.asVariant;
      assert.ok(variants.length > 0, `${name} has ${kind}`);
      for (const variant of variants) {
        const where = `${name}.${kind}.${variant.name}`;
        if (variant.docs.join('').trim() === '') undocumented.push(where);
        for (const field of variant.fields) {
          if (field.name.isNone) unnamed.push(`${where}: a field without a name`);
          const typeName = lookup.getTypeDef(field.type).type;
          // A type apps cannot name shows as `Lookup123`.
          if (/^Lookup\d+$/.test(typeName)) unnamed.push(`${where}.${field.name}: type ${typeName}`);
        }
      }
    }
    for (const item of pallet.storage.unwrapOr({ items: [] }).items) {
      if (item.docs.join('').trim() === '') undocumented.push(`${name}.storage.${item.name}`);
    }
    for (const constant of pallet.constants) {
      if (constant.docs.join('').trim() === '') undocumented.push(`${name}.constants.${constant.name}`);
    }
  }
  assert.deepEqual(undocumented, [], 'every item has a doc comment');
  assert.deepEqual(unnamed, [], 'every field is named, with a named type');
  // Module errors decode to a named variant with its doc, as apps shows a failed extrinsic.
  const error = api.errors.inference.UnknownModel;
  assert.ok(error.meta.docs.join(' ').length > 0);
});

test('docs/economics.md gives the runtime\'s own numbers', () => {
  // Rows like "| `inference.protocolShare` | 5 % | … |": each value, with its unit, must be
  // the constant in the metadata.
  const page = readFileSync(new URL('../../docs/economics.md', import.meta.url), 'utf8');
  const rows = [...page.matchAll(/^\| `(\w+)\.(\w+)` \| ([\d.]+) ?(VML|planck|%|blocks|fuel|MiB)? \|/gm)];
  assert.ok(rows.length >= 12, `economics.md names the constants (found ${rows.length})`);
  const decimal = (text, places) => {
    const [whole, fraction = ''] = text.split('.');
    return BigInt(whole + fraction.padEnd(places, '0'));
  };
  for (const [, pallet, name, number, unit] of rows) {
    const constant = api.consts[pallet]?.[name];
    assert.ok(constant, `${pallet}.${name} exists in the runtime`);
    const type = constant.toRawType();
    let actual; let documented;
    if (unit === 'VML') { actual = constant.toBigInt(); documented = decimal(number, 12); }
    else if (unit === '%' && ['Perbill', 'Permill', 'Percent'].includes(type)) {
      const parts = { Perbill: 1_000_000_000, Permill: 1_000_000, Percent: 100 }[type];
      actual = constant.toNumber(); documented = Number(number) * parts / 100;
    } else if (unit === 'MiB') { actual = constant.toNumber(); documented = Number(number) * 1024 * 1024; }
    else { actual = BigInt(constant.toString()); documented = BigInt(number); }
    assert.equal(actual, documented, `${pallet}.${name}: the page says ${number} ${unit ?? ''}`);
  }
});

test('chain properties give the token symbol, decimals and address format', async () => {
  const props = await api.rpc.system.properties();
  assert.equal(props.tokenSymbol.unwrap()[0].toString(), 'VML');
  assert.equal(props.tokenDecimals.unwrap()[0].toNumber(), 12);
  assert.equal(props.ss58Format.unwrap().toNumber(), 42);
  assert.equal(api.consts.balances.existentialDeposit.toBigInt(), 1_000_000_000n);
});

test('blocks are produced and finalised', async () => {
  const best = await waitForHead((cb) => api.rpc.chain.subscribeNewHeads(cb), (n) => n >= 3, 60_000);
  const finalised = await waitForHead((cb) => api.rpc.chain.subscribeFinalizedHeads(cb), (n) => n >= 2, 60_000);
  assert.ok(best >= 3 && finalised >= 2);
});

test('a signed transfer is included, emits its events and moves the balance', async () => {
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const alice = keyring.addFromUri('//Alice');
  const bob = keyring.addFromUri('//Bob');
  const amount = 5n * 10n ** 12n;
  const before = (await api.query.system.account(bob.address)).data.free.toBigInt();

  const events = await new Promise((resolve, reject) => {
    api.tx.balances.transferKeepAlive(bob.address, amount)
      .signAndSend(alice, ({ status, events, dispatchError }) => {
        if (dispatchError) reject(new Error(dispatchError.toString()));
        if (status.isFinalized) resolve(events);
      })
      .catch(reject);
  });

  const names = events.map(({ event }) => `${event.section}.${event.method}`);
  assert.ok(names.includes('balances.Transfer'), `events: ${names.join(', ')}`);
  assert.ok(names.includes('transactionPayment.TransactionFeePaid'));
  assert.ok(names.includes('system.ExtrinsicSuccess'));
  const after = (await api.query.system.account(bob.address)).data.free.toBigInt();
  assert.equal(after - before, amount);
});

test('a failing call reports a named, documented error', async () => {
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const bob = keyring.addFromUri('//Bob');
  // Bob is not the sudo key: the call is included, charged, and fails with sudo.RequireSudo.
  const error = await new Promise((resolve, reject) => {
    api.tx.sudo.sudo(api.tx.system.remark('0x00'))
      .signAndSend(bob, ({ status, dispatchError }) => {
        if (status.isInBlock) resolve(dispatchError);
      })
      .catch(reject);
  });
  assert.ok(error?.isModule, `a module error (got ${error?.toString()})`);
  const meta = api.registry.findMetaError(error.asModule);
  assert.equal(`${meta.section}.${meta.name}`, 'sudo.RequireSudo');
  assert.ok(meta.docs.join(' ').length > 0, 'the error carries its documentation');
});
