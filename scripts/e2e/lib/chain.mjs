// Helpers the end-to-end tests share: connecting, signing and sending, reading models.
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { blake2AsHex } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const endpoint = process.env.VERIML_WS ?? 'ws://127.0.0.1:9944';

/** The folder `scripts/models/make-test-models.sh` writes. */
export const modelsDir = process.env.VERIML_TEST_MODELS
  ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'target', 'test-models');

export async function connect() {
  return ApiPromise.create({ provider: new WsProvider(endpoint), noInitWarn: true });
}

/** A dev account (`//Alice`, `//Bob`, …). */
export function account(name) {
  return new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(`//${name}`);
}

/**
 * Signs and sends `tx`, resolving once it is in a block with `{ events, error }`: `error` is
 * `section.Name` of a module error (or the error's text), `null` on success. Rejects if the
 * transaction never makes it into a block.
 */
export function send(api, tx, signer, nonce = -1) {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, { nonce }, ({ status, events, dispatchError }) => {
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        reject(new Error(`transaction ${status.type}`));
      }
      if (!status.isInBlock) return;
      let error = null;
      if (dispatchError?.isModule) {
        const meta = api.registry.findMetaError(dispatchError.asModule);
        error = `${meta.section}.${meta.name}`;
      } else if (dispatchError) {
        error = dispatchError.toString();
      }
      resolve({ events, error, blockHash: status.asInBlock });
    }).catch(reject);
  });
}

/** Like `send`, but rejects with the error when the call fails. */
export async function sendOk(api, tx, signer, nonce = -1) {
  const outcome = await send(api, tx, signer, nonce);
  if (outcome.error) throw new Error(`${tx.method.section}.${tx.method.method} failed: ${outcome.error}`);
  return outcome;
}

/** The events of `section.method` among `events`. */
export function eventsOf(events, section, method) {
  return events.filter(({ event }) => event.section === section && event.method === method)
    .map(({ event }) => event);
}

/** A test model: its bytes, content hash and input specs as the chain takes them. */
export function testModel(name) {
  const folder = join(modelsDir, name);
  const bytes = readFileSync(join(folder, 'model.onnx'));
  const { inputs } = JSON.parse(readFileSync(join(folder, 'input.json'), 'utf8'));
  const specs = inputs.map(({ dtype, shape }) => ({ dtype: dtype.toUpperCase(), shape }));
  return { name, bytes, hash: blake2AsHex(bytes, 256), specs };
}

/** A hostile file of the test models (`hostile/<name>.onnx`). */
export function hostileModel(name) {
  const bytes = readFileSync(join(modelsDir, 'hostile', `${name}.onnx`));
  return { name, bytes, hash: blake2AsHex(bytes, 256), specs: [{ dtype: 'F32', shape: [1, 4] }] };
}

/**
 * Uploads `model`'s bytes: `begin_upload`, then its chunks of the chain's chunk size, all sent
 * at once with consecutive nonces. Resolves with the outcomes, in order.
 */
export async function uploadModel(api, model, signer) {
  const chunkBytes = api.consts.models.maxChunkBytes.toNumber();
  let nonce = (await api.rpc.system.accountNextIndex(signer.address)).toNumber();
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
