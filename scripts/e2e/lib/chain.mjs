// Helpers the end-to-end tests share: connecting, signing and sending, reading models.
import { Keyring } from '@polkadot/api';
import { connect as connectClient, registerNode as registerNodeTx } from 'veriml-client';

// The content store's client steps, for the zombienet journeys (which import this file).
import { prepareContent, storeContentTxs } from 'veriml-client';
export { prepareContent, storeContentTxs };
import { blake2AsHex } from '@polkadot/util-crypto';
import { u8aConcat, u8aToHex, numberToU8a } from '@polkadot/util';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const endpoint = process.env.VERIML_WS ?? 'ws://127.0.0.1:9944';

/** The folder `scripts/models/make-test-models.sh` writes. */
export const modelsDir = process.env.VERIML_TEST_MODELS
  ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'target', 'test-models');

/** An API on `url` (default `VERIML_WS`) with veriml's RPC methods, as the TypeScript client connects. */
export function connect(url = endpoint) {
  return connectClient(url);
}

/**
 * `inferenceNodes.register` or `dataNodes.register` (`role`) of `nodeKey`, offering `services`
 * with `bond`, operated by `operator` (a key pair), with the node key's signed consent.
 */
export function registerNode(api, role, nodeKey, services, bond, operator) {
  return registerNodeTx(api, role, nodeKey, services, bond, operator.address);
}

/** A dev account (`//Alice`, `//Bob`, …). */
export function account(name) {
  return new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(`//${name}`);
}

/** Per account: one past the highest nonce of this process's transactions seen in a block. */
const usedNonces = new Map();

/**
 * The next nonce of `address`: the node's `system_accountNextIndex`, but never below one past
 * a transaction of this process already seen in a block. With BABE two authors can each build
 * a block on one parent; the node answers from its best block's view, and right after a switch
 * to a sibling fork it can answer a nonce an included transaction of ours already used (the
 * next transactions were then refused as outdated).
 */
export async function nextNonce(api, address) {
  const node = (await api.rpc.system.accountNextIndex(address)).toNumber();
  return Math.max(node, usedNonces.get(address) ?? 0);
}

/**
 * Signs and sends `tx` (with `nonce`, else {@link nextNonce}), resolving once it is in a block
 * (`until` = 'inBlock') or once its block is finalised (`until` = 'finalized') with
 * `{ events, error, blockHash }`: `error` is `section.Name` of a module error (or the error's
 * text), `null` on success. Rejects if the transaction never makes it into a block.
 *
 * With two or more BABE authors the best block can switch to a sibling fork that lacks a block
 * the transaction was in (the pool then includes it again, in another block, maybe with other
 * ids in its events); a step whose effects later reads of the best block rely on waits for
 * 'finalized', as every best block descends from the finalised one.
 */
export async function send(api, tx, signer, nonce = -1, until = 'inBlock') {
  const used = nonce === -1 ? await nextNonce(api, signer.address) : nonce;
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, { nonce: used }, ({ status, events, dispatchError }) => {
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        reject(new Error(`transaction ${status.type}`));
      }
      if (status.isInBlock) {
        usedNonces.set(signer.address, Math.max(usedNonces.get(signer.address) ?? 0, used + 1));
      }
      if (!(until === 'finalized' ? status.isFinalized : status.isInBlock)) return;
      let error = null;
      if (dispatchError?.isModule) {
        const meta = api.registry.findMetaError(dispatchError.asModule);
        error = `${meta.section}.${meta.name}`;
      } else if (dispatchError) {
        error = dispatchError.toString();
      }
      resolve({ events, error, blockHash: until === 'finalized' ? status.asFinalized : status.asInBlock });
    }).catch(reject);
  });
}

/** The JSON-RPC error code of a failed call (`RpcError: 7002: …`), `null` if it succeeds. */
export async function rpcErrorCode(call) {
  try {
    await call();
  } catch (error) {
    return Number(/(-?\d+):/.exec(String(error.message))?.[1]);
  }
  return null;
}

/** Like `send`, but rejects with the error when the call fails. */
export async function sendOk(api, tx, signer, nonce = -1, until = 'inBlock') {
  const outcome = await send(api, tx, signer, nonce, until);
  if (outcome.error) throw new Error(`${tx.method.section}.${tx.method.method} failed: ${outcome.error}`);
  return outcome;
}

/** The events of `section.method` among `events`. */
export function eventsOf(events, section, method) {
  return events.filter(({ event }) => event.section === section && event.method === method)
    .map(({ event }) => event);
}

/**
 * The events of `section.method` in block `blockHash`, its transactions' and its hooks'. A
 * request's nodes are drawn at the end of the block that makes it or leaves it short of nodes
 * (from that block's randomness), so `inference.Assigned` and `AwaitingNode` are the block's
 * events, not the transaction's.
 */
export async function eventsInBlock(api, blockHash, section, method) {
  return eventsOf(await (await api.at(blockHash)).query.system.events(), section, method);
}

/**
 * Every event of the finalised blocks `from` to `to` (both included), in chain order, each with
 * its block's number and hash. Read the finalised chain to count events: with BABE two authors
 * can build on one parent in one slot, and a best-block subscription sees both forks' blocks.
 */
export async function finalizedEvents(api, from, to) {
  const found = [];
  for (let blockNumber = from; blockNumber <= to; blockNumber += 1) {
    const blockHash = await api.rpc.chain.getBlockHash(blockNumber);
    for (const { event } of await (await api.at(blockHash)).query.system.events()) {
      found.push({ event, blockNumber, blockHash });
    }
  }
  return found;
}

/**
 * Calls `onEvent({ event, blockNumber, blockHash })` for every event of every block finalised
 * from now on, in chain order (finality can move several blocks at once: each block in between
 * is read). Returns a function that unsubscribes.
 */
export async function subscribeFinalizedEvents(api, onEvent) {
  const head = await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead());
  let next = head.number.toNumber() + 1;
  let reading = Promise.resolve();
  return api.rpc.chain.subscribeFinalizedHeads((header) => {
    const to = header.number.toNumber();
    reading = reading.then(async () => {
      if (to < next) return;
      const from = next;
      next = to + 1;
      for (const seen of await finalizedEvents(api, from, to)) onEvent(seen);
    }).catch((error) => console.error(`reading finalised blocks to #${to}: ${error.message}`));
  });
}

/** The first of the `seen` events (as {@link subscribeFinalizedEvents} reports them) for which `matches` holds, polling each second; null after `timeoutMs`. */
export async function waitSeen(seen, matches, timeoutMs) {
  for (let waited = 0; waited <= timeoutMs; waited += 1000) {
    const found = seen.find(matches);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

/** Polls `condition` (sync or async) each second until it holds; throws `${what}: not within …` after `timeoutMs`. */
export async function waitUntil(what, condition, timeoutMs) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

/** The number of `client`'s best block, or of its finalised one. */
export async function blockHeight(client, finalized = false) {
  // Not `getHeader(undefined)`: @polkadot/api sends that as a hash and gets the genesis header.
  const header = finalized
    ? await client.rpc.chain.getHeader(await client.rpc.chain.getFinalizedHead())
    : await client.rpc.chain.getHeader();
  return header.number.toNumber();
}

/** Matches a seen event `section.method` whose data passes `test`. */
export const eventIs = (section, method, test = () => true) =>
  ({ event }) => event.section === section && event.method === method && test(event.data);

/** The nodes request `id` was assigned to in block `blockHash` (its `inference.Assigned` there). */
export async function assignedIn(api, blockHash, id) {
  const found = (await eventsInBlock(api, blockHash, 'inference', 'Assigned'))
    .find((event) => event.data.request.toNumber() === id);
  return found ? found.data.nodes.map(String) : [];
}

/** A test model: its bytes, content hash and input specs as the chain takes them. */
export function testModel(name) {
  const folder = join(modelsDir, name);
  const bytes = readFileSync(join(folder, 'model.onnx'));
  const { inputs } = JSON.parse(readFileSync(join(folder, 'input.json'), 'utf8'));
  const specs = inputs.map(({ dtype, shape }) => ({ dtype: dtype.toUpperCase(), shape }));
  return { name, bytes, hash: blake2AsHex(bytes, 256), specs, folder };
}

/** A float tensor as the chain takes it: dtype, shape and little-endian bytes (hex). */
export function floatTensor(shape, values) {
  const bytes = new Uint8Array(new Float32Array(values).buffer);
  return { dtype: 'F32', shape, data: u8aToHex(bytes) };
}

/** The values of a float tensor read from the chain. */
export function floatsOf(tensor) {
  const bytes = tensor.data.toU8a(true);
  return Array.from(new Float32Array(bytes.slice().buffer));
}

/** A test model's sample inputs (`input.json`), as chain tensors. */
export function sampleInputs(model) {
  const { inputs } = JSON.parse(readFileSync(join(model.folder, 'input.json'), 'utf8'));
  return inputs.map(({ shape, data }) => floatTensor(shape, data));
}

/** A test model's reference outputs (`expected.json`) and tolerances (`meta.json`). */
export function referenceOutputs(model) {
  const { reference } = JSON.parse(readFileSync(join(model.folder, 'expected.json'), 'utf8'));
  const { rtol, atol } = JSON.parse(readFileSync(join(model.folder, 'meta.json'), 'utf8'));
  return { reference, rtol, atol };
}

/** Whether `actual` is within `rtol`/`atol` of `expected`, element by element. */
export function allClose(actual, expected, rtol, atol) {
  return actual.length === expected.length
    && actual.every((a, i) => Math.abs(a - expected[i]) <= atol + rtol * Math.abs(expected[i]));
}

/**
 * Resolves with the first event of `section.method` for which `matches(event)` holds, and the
 * number of the block it is in; rejects after `timeoutMs`.
 */
export function waitForEvent(api, section, method, matches = () => true, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no ${section}.${method} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    api.rpc.chain.subscribeNewHeads(async (header) => {
      const found = (await eventsInBlock(api, header.hash, section, method)).find(matches);
      if (found) {
        clearTimeout(timer);
        unsubscribe();
        resolve({ event: found, blockNumber: header.number.toNumber(), blockHash: header.hash });
      }
    }).then((unsub) => { unsubscribe = unsub; }).catch(reject);
  });
}

/** Resolves once the finalised head is at least `number`; rejects after `timeoutMs`. */
export function waitForFinalized(api, number, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`block ${number} not finalised within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    api.rpc.chain.subscribeFinalizedHeads((header) => {
      if (header.number.toNumber() >= number) {
        clearTimeout(timer);
        unsubscribe();
        resolve(header.number.toNumber());
      }
    }).then((unsub) => { unsubscribe = unsub; }).catch(reject);
  });
}

/**
 * The consensus result hash of `outputs` for `model` on inputs hashing to `inputHash` by engine
 * version `engineVersion`: blake2_256(SCALE(engine_version, model, input_hash, outputs)).
 */
export function resultHash(api, engineVersion, model, inputHash, outputs) {
  const outputsType = api.tx.inference.submitResult.meta.args[1].type.toString();
  const encoded = u8aConcat(
    numberToU8a(engineVersion, 32).reverse(), // u32 little-endian
    api.createType('H256', model).toU8a(),
    api.createType('H256', inputHash).toU8a(),
    api.createType(outputsType, outputs).toU8a(),
  );
  return blake2AsHex(encoded, 256);
}

/**
 * Uploads and registers `model` from `author` at `price` per inference; resolves with its record
 * as the block that registered it holds it (once that block is in, or finalised: see `send`).
 */
export async function registerModel(api, model, author, price, until = 'inBlock') {
  await uploadBytes(api, model, author);
  const { blockHash } = await sendOk(api,
    api.tx.models.registerModel(model.hash, model.name, 1, model.specs, price), author, -1, until);
  return (await (await api.at(blockHash)).query.models.models(model.hash)).unwrap();
}

/**
 * Stores `model`'s bytes from `author` in the content store (kept `retainFor` blocks, at most
 * `inFlight` chunks in the pool) and registers the item as a model at `price`
 * (`models.registerStoredModel`): the way for models above `models.maxModelBytes`. Resolves
 * with the item's root, what the upload took ({@link storeContent}'s answer) and the registering
 * transaction's outcome (`sendOk`'s), each step awaited in a block or finalised (`until`).
 */
export async function registerStoredModel(api, model, author, price, until = 'inBlock', { retainFor = 600, inFlight = 9 } = {}) {
  const stored = await storeContent(api, model.bytes, author, { retainFor, until, inFlight, fileNode: true });
  const registered = await sendOk(api,
    api.tx.models.registerStoredModel(stored.root, model.name, 1, model.specs, price), author, -1, until);
  return { root: stored.root, stored, ...registered };
}

/**
 * Stores `bytes` in the content store from `owner` (kept `retainFor` blocks), the chunk
 * transactions sent with at most `inFlight` waiting in the pool at a time (a node's pool holds
 * 20 MiB by default), each awaited `until` in a block or finalised, then, with `fileNode`, the
 * item's file node. Resolves with the item's root and what the upload took: the blocks that
 * carried chunks (number → chunks), their span and the seconds (bench-content-store.mjs and
 * bench-large-model.mjs print them).
 */
export async function storeContent(api, bytes, owner, { inFlight = 9, retainFor = 14_400, until = 'inBlock', fileNode = false } = {}) {
  const content = prepareContent(api, bytes);
  const txs = storeContentTxs(api, content, retainFor);
  const { begin, chunks } = txs;
  const started = Date.now();
  await sendOk(api, begin, owner, -1, until);
  let nonce = await nextNonce(api, owner.address);
  const blocks = new Map();
  const pending = new Set();
  for (const [index, tx] of chunks.entries()) {
    const sent = send(api, tx, owner, nonce++, until).then(async (outcome) => {
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
  if (fileNode) await sendOk(api, txs.fileNode, owner, -1, until);
  const numbers = [...blocks.keys()].sort((a, b) => a - b);
  return {
    root: content.root,
    chunks: chunks.length,
    blocks,
    first: numbers[0],
    last: numbers[numbers.length - 1],
    span: numbers[numbers.length - 1] - numbers[0] + 1,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * The record of `model`, registered from `author` at `price` if no one has registered it yet
 * (tests sharing a dev node may register the same test model).
 */
export async function ensureModel(api, model, author, price) {
  const existing = await api.query.models.models(model.hash);
  return existing.isSome ? existing.unwrap() : registerModel(api, model, author, price);
}

/** A hostile file of the test models (`hostile/<name>.onnx`). */
export function hostileModel(name) {
  const bytes = readFileSync(join(modelsDir, 'hostile', `${name}.onnx`));
  return { name, bytes, hash: blake2AsHex(bytes, 256), specs: [{ dtype: 'F32', shape: [1, 4] }] };
}

/**
 * Uploads content-addressed bytes (`{ bytes, hash }`: a model, or a request's inputs):
 * `begin_upload`, then its chunks of the chain's chunk size, all sent at once with consecutive
 * nonces. Resolves with the outcomes, in order.
 */
export async function uploadBytes(api, model, signer) {
  const chunkBytes = api.consts.models.maxChunkBytes.toNumber();
  let nonce = await nextNonce(api, signer.address);
  const sent = [sendOk(api, api.tx.models.beginUpload(model.hash, model.bytes.length), signer, nonce++)];
  for (let index = 0; index * chunkBytes < model.bytes.length; index += 1) {
    // As hex: @polkadot/api reads a Uint8Array given for `Bytes` as already SCALE-encoded.
    const chunk = u8aToHex(model.bytes.subarray(index * chunkBytes, (index + 1) * chunkBytes));
    sent.push(sendOk(api, api.tx.models.uploadChunk(model.hash, index, chunk), signer, nonce++));
  }
  return Promise.all(sent);
}

/** Held (reserved) balance of `address`. */
export async function held(api, address) {
  return (await api.query.system.account(address)).data.reserved.toBigInt();
}

/**
 * Runs every pallet's `try_state` invariants on the chain's best state through the runtime API
 * `InvariantsApi` (the checks the pallets' tests run after every block) and fails with the
 * pallet and the broken invariant if one does not hold.
 */
export async function assertInvariants(api) {
  // Decoded from `state_call` (what `api.call.invariantsApi.check` sends): @polkadot/api 16
  // leaves answers holding bytes undecoded (docs/rpc.md).
  const raw = (await api.rpc.state.call('InvariantsApi_check', '0x')).toU8a(true);
  const result = api.createType('Result<(), (Bytes, Bytes)>', raw);
  if (result.isErr) {
    const [pallet, broken] = result.asErr;
    throw new Error(`invariant of ${pallet.toUtf8()} broken: ${broken.toUtf8()}`);
  }
}

/**
 * Bonds an inference node (key `keyName`, put in the dev node's keystore) serving `model`, with
 * `operator`'s bond; `requester` requests `model` on its sample inputs. Resolves with the
 * request's id and its verified outputs.
 */
export async function requestVerified(api, model, operator, requester, keyName) {
  const nodeKey = account(keyName);
  await api.rpc.author.insertKey('infr', `//${keyName}`, u8aToHex(nodeKey.publicKey));
  await sendOk(api, api.tx.balances.transferKeepAlive(nodeKey.address, 10n ** 12n), operator);
  const bond = api.consts.inferenceNodes.minBond.toBigInt();
  await sendOk(api, registerNode(api, 'inferenceNodes', nodeKey, [model.hash], bond, operator), operator);
  const { events } = await sendOk(
    api, api.tx.inference.request(model.hash, sampleInputs(model), 10n * 10n ** 12n), requester,
  );
  const id = eventsOf(events, 'inference', 'Requested')[0].data.request.toNumber();
  const started = Date.now();
  for (const deadline = started + 240_000; Date.now() < deadline;) {
    const outputs = await api.query.verification.outputs(id);
    if (outputs.isSome) {
      console.log(`  ${model.name}: verified ${((Date.now() - started) / 1000).toFixed(0)} s after the request`);
      return { id, outputs: outputs.unwrap() };
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  throw new Error(`${model.name}: no verified result within 240 s`);
}

/** The node binary the tests start themselves: `VERIML_NODE`, else the release build. */
/**
 * The test decoder (`generative/tiny_decoder` of the test models): its folder, its model's and
 * tokenizer's bytes with their hashes, and the prompt of its `generation.json`.
 */
export function testDecoder() {
  const folder = join(modelsDir, 'generative', 'tiny_decoder');
  const file = (name) => {
    const bytes = readFileSync(join(folder, name));
    return { bytes, hash: blake2AsHex(bytes, 256) };
  };
  const { prompt } = JSON.parse(readFileSync(join(folder, 'generation.json'), 'utf8'));
  /**
   * What `veriml-node infer --generate --json` prints for at most `maxTokens` tokens after the
   * prompt, greedily, stopping at the tokenizer's special tokens: the engine of this machine.
   */
  const generate = (maxTokens) => JSON.parse(execFileSync(nodeBinary, [
    'infer', '--generate', '--model', join(folder, 'model.onnx'), '--tokenizer', join(folder, 'tokenizer.json'),
    '--prompt', prompt, '--max-tokens', String(maxTokens), '--json',
  ], { encoding: 'utf8' }));
  return { folder, model: file('model.onnx'), tokenizer: file('tokenizer.json'), prompt, generate };
}

/**
 * Every account paid out of escrow from now on (`escrow.Paid`'s payees, as they are announced),
 * to check a journey's attacker is never paid; `unsubscribe` stops watching.
 */
export async function watchPayees(api) {
  const payees = [];
  const unsubscribe = await api.query.system.events((events) => {
    for (const event of eventsOf(events, 'escrow', 'Paid')) payees.push(event.data.payee.toString());
  });
  return { payees, unsubscribe };
}

export const nodeBinary = process.env.VERIML_NODE
  ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'target', 'release', 'veriml-node');

/** A TCP port free on this machine now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The address peers dial the node `api` is connected to at, with its peer id: its loopback plain
 * TCP address if it listens on one (a dev node), else its loopback WebSocket one (zombienet's
 * nodes).
 */
export async function peerAddress(api) {
  const peerId = (await api.rpc.system.localPeerId()).toString();
  const addresses = (await api.rpc.system.localListenAddresses()).map(String);
  const loopback = addresses.filter((a) => a.startsWith('/ip4/127.0.0.1/tcp/'));
  const address = loopback.find((a) => !a.includes('/ws')) ?? loopback[0];
  if (!address) throw new Error(`the node listens on no loopback TCP address: ${addresses}`);
  return address.includes('/p2p/') ? address : `${address}/p2p/${peerId}`;
}

/**
 * Starts a full node (`--role complete`) of chain `chain` (a chain spec's id or path) that joins
 * the node `api` is connected to, with `args` added; its log goes to a file. Resolves once it
 * answers RPC with `{ api, log, logText(), logged(pattern), stop() }`.
 */
export async function startJoiningNode(api, chain, args = []) {
  const address = await peerAddress(api);
  const dir = mkdtempSync(join(tmpdir(), 'veriml-joiner.'));
  const log = join(dir, 'node.log');
  const out = openSync(log, 'w');
  const rpcPort = await freePort();
  const child = spawn(nodeBinary, [
    '--chain', chain, '--base-path', join(dir, 'data'), '--rpc-port', String(rpcPort), '--port', String(await freePort()),
    '--no-prometheus', '--no-mdns', '--no-telemetry',
    '--bootnodes', address, ...args,
  ], { stdio: ['ignore', out, out] });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (exited !== null) throw new Error(`the joining node exited (${exited}); its log is ${log}`);
    try {
      // Plain HTTP first: @polkadot/api keeps retrying a socket that does not open yet.
      await fetch(`http://127.0.0.1:${rpcPort}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'system_health', params: [] }),
      });
      const joined = await connectClient(`ws://127.0.0.1:${rpcPort}`);
      return {
        api: joined,
        log,
        logText: () => readFileSync(log, 'utf8'),
        logged: (pattern) => pattern.test(readFileSync(log, 'utf8')),
        async stop() {
          await joined.disconnect();
          child.kill();
        },
      };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  child.kill();
  throw new Error(`the joining node did not answer RPC within 60 s; its log is ${log}`);
}
