// veriml quick start: one script, the three people of an inference on a `--dev` chain.
//
//   1. a model author uploads an ONNX model to the chain and registers it with a price;
//   2. an inference node operator makes sure a node serves it (dev chain only: the node's
//      signing key is put in its keystore over RPC and bonded);
//   3. a user asks for a quote, requests an inference paying from escrow, waits for the
//      verified, finalised result, and checks it against the chain without trusting the node:
//      the receipt is proven from the block header's state root, and the outputs, inputs and
//      model hash against the receipt; then again from the node's archive against the
//      header's Merkle Mountain Range root, as it is proven after its retention in state.
//
// Or, with --generate, a generation: Alice registers a decoder with its tokenizer, Dave asks
// it for tokens after a prompt, sees them stream from the node as it chooses them
// (`veriml_subscribeTokens`), then gets the verified receipt and proves it as above.
//
// Run against a node started with `./scripts/local-network.sh --dev`:
//   npm install && npm run quickstart -- [--ws ws://127.0.0.1:9944]
//     [--model models/linear.onnx --input models/linear.input.json] [--expect 4.75]
//   or, a classifier with an int64 label and float32 probabilities:
//     --model models/classifier.onnx --input models/classifier.input.json
//     --name quickstart-classifier --expect 1,0.013387,0.986613
//   or a generation of the test decoder (scripts/models/make-test-models.sh makes it):
//     --generate ../../target/test-models/generative/tiny_decoder [--prompt "Beautiful is better than"]
//     [--max-tokens 64] [--expect-text " is better than…"]
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ApiPromise } from '@polkadot/api';
import { Keyring } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import type { AccountInfo, EventRecord } from '@polkadot/types/interfaces';
import type { Option, Vec } from '@polkadot/types';
import { hexToU8a, stringToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { blake2AsHex, cryptoWaitReady } from '@polkadot/util-crypto';
import {
  connect, type Generation, type GenerationAnswer, type Quote, type ReceiptProof, type RequestStatus, type TokenStreamItem,
} from './rpc.js';
import { readProven } from './trie.js';
import { finalizedAfter, proveArchivedReceipt } from './archive.js';
import { registerNode } from './nodes.js';
import { decodeTensor, describe, dtypeOf, encodeTensor, type Tensor } from './tensors.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    ws: { type: 'string', default: process.env.VERIML_WS ?? 'ws://127.0.0.1:9944' },
    model: { type: 'string', default: join(here, '..', 'models', 'linear.onnx') },
    input: { type: 'string', default: join(here, '..', 'models', 'linear.input.json') },
    // Default: quickstart-linear, or quickstart-decoder with --generate.
    name: { type: 'string' },
    expect: { type: 'string' },
    // A folder with a decoder's model.onnx and tokenizer.json: generate instead.
    generate: { type: 'string' },
    prompt: { type: 'string', default: 'Beautiful is better than' },
    'max-tokens': { type: 'string', default: '64' },
    'context-length': { type: 'string', default: '128' },
    'expect-text': { type: 'string' },
  },
});

/** One planck is 10⁻¹² VML. */
const VML = 10n ** 12n;
const step = (text: string) => console.log(`\n== ${text}`);
const say = (text: string) => console.log(`   ${text}`);

/**
 * The input file of `veriml-node infer`: `{ "inputs": [{ "dtype": "f32", "shape": [..], "data": [..] }] }`,
 * any of the chain's dtypes (f32, i64, i32, i8, u8, bool; i64 values may be strings, exact beyond 2^53).
 */
function readInputs(path: string): Tensor[] {
  const { inputs } = JSON.parse(readFileSync(path, 'utf8')) as {
    inputs: { dtype: string; shape: number[]; data: (number | string | boolean)[] }[];
  };
  return inputs.map(({ dtype, shape, data }) => encodeTensor(dtypeOf(dtype), shape, data));
}

/** A transaction's own events, and the block that includes it. */
interface Sent { events: EventRecord[]; blockHash: string }

/**
 * Signs and sends `tx`; resolves with its events once it is in a block, rejects with the
 * module error's name and documentation if it failed.
 */
function send(api: ApiPromise, tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair, nonce = -1): Promise<Sent> {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, { nonce }, ({ status, events, dispatchError }) => {
      if (status.isInvalid || status.isDropped || status.isUsurped) reject(new Error(`transaction ${status.type}`));
      if (!status.isInBlock) return;
      if (dispatchError?.isModule) {
        const { section, name, docs } = api.registry.findMetaError(dispatchError.asModule);
        reject(new Error(`${tx.method.section}.${tx.method.method} failed: ${section}.${name} (${docs.join(' ')})`));
      } else if (dispatchError) {
        reject(new Error(`${tx.method.section}.${tx.method.method} failed: ${dispatchError.toString()}`));
      } else {
        resolve({ events, blockHash: status.asInBlock.toHex() });
      }
    }).catch(reject);
  });
}

/** The field `name` of the first `section.method` event among `events`. */
function eventField(events: EventRecord[], section: string, method: string, name: string): Codec {
  const found = events.find(({ event }) => event.section === section && event.method === method);
  if (!found) throw new Error(`no ${section}.${method} event`);
  const index = found.event.data.names?.indexOf(name) ?? -1;
  if (index < 0) throw new Error(`${section}.${method} has no field ${name}`);
  return found.event.data[index];
}

/** Uploads `bytes` (content hash `hash`) in chunks, all sent at once. */
async function upload(api: ApiPromise, author: KeyringPair, bytes: Uint8Array, hash: string) {
  const chunkBytes = Number(api.consts.models.maxChunkBytes.toString());
  let nonce = Number((await api.rpc.system.accountNextIndex(author.address)).toString());
  const sent = [send(api, api.tx.models.beginUpload(hash, bytes.length), author, nonce++)];
  for (let index = 0; index * chunkBytes < bytes.length; index += 1) {
    const chunk = u8aToHex(bytes.subarray(index * chunkBytes, (index + 1) * chunkBytes));
    sent.push(send(api, api.tx.models.uploadChunk(hash, index, chunk), author, nonce++));
  }
  await Promise.all(sent);
  say(`uploaded ${bytes.length} bytes in ${sent.length - 1} chunk(s); deposit held while the model is registered`);
}

/** Whether `hash` is registered already (then the author has nothing to do). */
async function registered(api: ApiPromise, hash: string) {
  const existing = await api.query.models.models(hash) as Option<Codec>;
  if (existing.isSome) say(`model ${hash} is registered already; nothing to do`);
  return existing.isSome;
}

/** The model author: uploads the bytes, then registers the model. */
async function registerModel(api: ApiPromise, author: KeyringPair, bytes: Uint8Array, hash: string, inputs: Tensor[]) {
  step(`model author ${author.address}: upload and register the model`);
  if (await registered(api, hash)) return;
  await upload(api, author, bytes, hash);
  const specs = inputs.map(({ dtype, shape }) => ({ dtype, shape }));
  const price = VML / 100n;
  const { events } = await send(api, api.tx.models.registerModel(hash, options.name ?? 'quickstart-linear', 1, specs, price), author);
  say(`registered as "${options.name ?? 'quickstart-linear'}" v1 at ${price} planck per inference `
    + `(models.ModelRegistered, model ${eventField(events, 'models', 'ModelRegistered', 'modelHash').toString()})`);
}

/** A decoder in Hugging Face's layout and its `tokenizer.json`, as files and content hashes. */
interface Decoder { model: Uint8Array; hash: string; tokenizer: Uint8Array; tokenizerHash: string }

/** The model author: uploads a decoder and its tokenizer, then registers them, priced per token. */
async function registerDecoder(api: ApiPromise, author: KeyringPair, decoder: Decoder) {
  step(`model author ${author.address}: upload and register the decoder with its tokenizer`);
  if (await registered(api, decoder.hash)) return;
  await upload(api, author, decoder.tokenizer, decoder.tokenizerHash);
  await upload(api, author, decoder.model, decoder.hash);
  const price = VML / 1000n;
  const context = Number(options['context-length']);
  const name = options.name ?? 'quickstart-decoder';
  await send(api, api.tx.models.registerDecoder(decoder.hash, name, 1, context, decoder.tokenizerHash, price), author);
  say(`registered as "${name}" v1 for ${context} tokens of context at ${price} planck per token `
    + '(models.registerDecoder: the engine ran its first and last steps to measure it)');
}

/**
 * The operator, on a dev chain: the node's `infr` signing key into its keystore (unsafe RPC,
 * allowed on a local `--dev` node), funded, and bonded to serve the model. On a real network the
 * operator runs `veriml-node key insert --key-type infr` and `inferenceNodes.register` instead.
 */
async function serveModel(api: ApiPromise, operator: KeyringPair, keyring: Keyring, hash: string) {
  step(`operator ${operator.address}: make sure an inference node serves the model`);
  const serving = await api.query.inferenceNodes.nodesByService(hash) as Vec<Codec>;
  if (serving.length > 0) {
    say(`served by ${serving.map(String).join(', ')}`);
    return;
  }
  // `--dev` puts //Alice's keys in the keystore, `infr` included, and scripts/local-network.sh
  // gives its inference node (Charlie, ws://127.0.0.1:9946) //Charlie's; a node with neither
  // gets a dev key inserted over RPC.
  let nodeKey: KeyringPair | undefined;
  for (const seed of ['//Alice', '//Charlie']) {
    const candidate = keyring.addFromUri(seed);
    if ((await api.rpc.author.hasKey(u8aToHex(candidate.publicKey), 'infr')).isTrue) {
      nodeKey = candidate;
      break;
    }
  }
  if (!nodeKey) {
    const seed = '//veriml-dev-inference-node';
    nodeKey = keyring.addFromUri(seed);
    const publicKey = u8aToHex(nodeKey.publicKey);
    if (!(await api.rpc.author.hasKey(publicKey, 'infr')).isTrue) {
      await api.rpc.author.insertKey('infr', seed, publicKey);
      say(`inserted the infr key ${nodeKey.address} into the node's keystore`);
    }
  }
  const record = await api.query.inferenceNodes.nodes(nodeKey.address) as Option<Codec>;
  if (record.isSome) {
    const { operator: owner, services } = record.unwrap().toJSON() as { operator: string; services: string[] };
    if (owner !== operator.address) throw new Error(`node ${nodeKey.address} is operated by ${owner}, not ${operator.address}`);
    await send(api, api.tx.inferenceNodes.setServices(nodeKey.address, [...services, hash]), operator);
    say(`node ${nodeKey.address} now serves the model too (inferenceNodes.setServices)`);
    return;
  }
  // The node pays no fee for accepted results, but its account must exist.
  const { data: { free } } = await api.query.system.account(nodeKey.address) as AccountInfo;
  if (free.isZero()) await send(api, api.tx.balances.transferKeepAlive(nodeKey.address, VML), operator);
  const bond = BigInt(api.consts.inferenceNodes.minBond.toString());
  // The node key consents to being operated by `operator` (its signature of the registration
  // message), so nobody can register a key they do not hold.
  await send(api, registerNode(api, 'inferenceNodes', nodeKey, [hash], bond, operator.address), operator);
  say(`node ${nodeKey.address} bonded with ${bond} planck, serving the model (inferenceNodes.register)`);
}

/** Resolves with the request's result once it is final (`veriml_subscribeResult`). */
function finalResult(api: ApiPromise, request: number, timeoutMs = 180_000): Promise<RequestStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no final result within ${timeoutMs / 1000} s`)), timeoutMs);
    api.rpc.veriml.subscribeResult(request, (answer: Codec) => {
      clearTimeout(timer);
      resolve(answer.toJSON() as unknown as RequestStatus);
    }).catch((error: Error) => { clearTimeout(timer); reject(error); });
  });
}

/** The user: quote, request, wait for the final result, check it against the header. */
async function requestAndCheck(api: ApiPromise, user: KeyringPair, bytes: Uint8Array, hash: string, inputs: Tensor[]) {
  step(`user ${user.address}: request an inference and check its result`);
  // What we pay for is what we uploaded: the chain's copy hashes to the model hash.
  const stored = (await api.rpc.veriml.modelBytes(hash)) as unknown as Codec;
  if (blake2AsHex(stored.toU8a(true), 256) !== hash || u8aToHex(stored.toU8a(true)) !== u8aToHex(bytes)) {
    throw new Error('the chain\'s copy of the model is not the file');
  }
  const quote = (await api.rpc.veriml.quote(hash)).toJSON() as unknown as Quote;
  say(`quote: ${quote.total} planck (model ${quote.modelPrice} + execution ${quote.execution} + protocol ${quote.protocol})`);

  const { events, blockHash } = await send(api, api.tx.inference.request(hash, inputs, quote.total), user);
  const request = Number(eventField(events, 'inference', 'Requested', 'request').toString());
  // Its node is drawn at the end of the block, from that block's randomness: the block's event.
  const drawn = (await (await api.at(blockHash)).query.system.events() as unknown as EventRecord[])
    .find(({ event }) => event.section === 'inference' && event.method === 'Assigned'
      && Number(event.data[0].toString()) === request);
  say(`request #${request}: fee held in escrow, `
    + (drawn ? `assigned to ${(drawn.event.data[1].toJSON() as string[]).join(', ')}` : 'waiting for a node'));

  const result = await finalResult(api, request);
  if (result.status === 'closed') {
    throw new Error(`request #${request} expired without a result: is the node at ${options.ws} an inference `
      + 'node (--role inference)? On the three-node network, use Charlie\'s: --ws ws://127.0.0.1:9946');
  }
  if (result.status !== 'completed') throw new Error(`request #${request} failed: ${result.error}`);
  const finalized = await api.rpc.chain.getHeader(result.finalizedIn!);
  say(`verified in block #${result.verifiedIn} by re-execution, final in #${finalized.number.toNumber()}; `
    + `computed by ${result.executor}`);

  const inputsType = api.tx.inference.request.meta.args[1].type.toString();
  const inputHash = blake2AsHex(api.createType(inputsType, inputs).toU8a(), 256);
  const outputs = await proveReceipt(api, request, result, hash, inputHash);

  // Each output read by its own dtype: a classifier's int64 label is a label, not a float.
  outputs.forEach((tensor, i) => say(`output ${i}: ${describe(tensor)}`));
  say(`result hash ${result.resultHash} (compare: veriml-node infer --model … --input …)`);
  return outputs.flatMap((tensor) => decodeTensor(tensor) as (number | bigint | boolean)[]);
}

/**
 * Proves request `request`'s final `result` without trusting the node: its receipt against
 * the state root of a finalised header, committing to model `hash`, `inputHash` and the
 * outputs; then again from the node's archive against the header's Merkle Mountain Range
 * root. Resolves with the outputs.
 */
async function proveReceipt(api: ApiPromise, request: number, result: RequestStatus, hash: string, inputHash: string) {
  // The receipt, proven against the state root of a finalised header: no trust in this node.
  const { at, key, receipt, proof } = (await api.rpc.veriml.receiptProof(request, result.finalizedIn))
    .toJSON() as unknown as ReceiptProof;
  const header = await api.rpc.chain.getHeader(at);
  const proven = readProven(header.stateRoot.toHex(), proof, key);
  if (proven !== receipt) throw new Error('the receipt is not proven by the header\'s state root');
  const receiptType = api.query.verification.receipts.creator.meta.type.asMap.value;
  const decoded = api.createType(api.registry.lookup.getTypeDef(receiptType).type, hexToU8a(receipt)).toJSON() as {
    modelHash: string; inputHash: string; executor: string; outcome: { outputs?: { outputHash: string; resultHash: string } };
  };
  say(`receipt proven by block #${header.number.toNumber()}'s state root ${header.stateRoot.toHex().slice(0, 18)}…`);

  // The receipt commits to this model, these inputs and these outputs.
  const outputs = hexToU8a(result.outputs!);
  const checks: [string, boolean][] = [
    ['model hash', decoded.modelHash === hash],
    ['input hash', decoded.inputHash === inputHash],
    ['output hash', decoded.outcome.outputs?.outputHash === blake2AsHex(outputs, 256)],
    ['result hash', decoded.outcome.outputs?.resultHash === result.resultHash],
  ];
  for (const [what, ok] of checks) {
    if (!ok) throw new Error(`the proven receipt's ${what} does not match`);
  }
  say(`receipt matches: ${checks.map(([what]) => what).join(', ')}`);

  // The same receipt from the node's archive, proven against the Merkle Mountain Range root
  // the finalised header carries: how it stays provable after its week in state.
  const archived = await proveArchivedReceipt(
    api, request, result.verifiedIn!, await finalizedAfter(api, result.verifiedIn!),
  );
  if (u8aToHex(archived.receipt) !== receipt) throw new Error('the archived receipt is not the one in state');
  say(`receipt proven again by block #${archived.header.number.toNumber()}'s range root `
    + `(leaf of block #${archived.leaf.block}, ${archived.leaf.receipts} receipt(s) in it): provable after it leaves state`);

  const inputsType = api.tx.inference.request.meta.args[1].type.toString();
  return api.createType(inputsType, outputs).toJSON() as unknown as Tensor[];
}

/**
 * The user: tokenizes the prompt, requests a generation, prints its text as the node streams
 * it, then waits for the verified, final result and proves it. Resolves with the text.
 */
async function generateAndCheck(api: ApiPromise, user: KeyringPair, decoder: Decoder) {
  step(`user ${user.address}: request a generation and check its result`);
  const maxTokens = Number(options['max-tokens']);
  // The prompt's tokens by the decoder's registered tokenizer, and where to stop.
  const { tokens: prompt, stopTokens } = (await api.rpc.veriml.tokenize(decoder.hash, options.prompt))
    .toJSON() as unknown as { tokens: number[]; stopTokens: number[] };
  say(`prompt ${JSON.stringify(options.prompt)}: ${prompt.length} tokens; stops at ${JSON.stringify(stopTokens)}`);
  const maxFee = 10n * VML;
  const sampling = { Greedy: null };
  const { events } = await send(api,
    api.tx.inference.generate(decoder.hash, prompt, maxTokens, stopTokens, sampling, maxFee), user);
  const request = Number(eventField(events, 'inference', 'Requested', 'request').toString());
  const fee = eventField(events, 'inference', 'Requested', 'fee').toJSON() as Record<string, string | number>;
  say(`request #${request}: ${maxTokens} tokens at most, greedy; held ${JSON.stringify(fee)} planck `
    + '(the part for tokens not made is refunded)');

  // The tokens as the node's worker chooses them, then its answer on chain, then the result.
  const streamed: number[] = [];
  let [text, notifications] = ['', 0];
  let answer: GenerationAnswer | undefined;
  // The generation as the block with its answer has it: its seed, drawn with its node.
  let terms: Promise<Generation> | undefined;
  const result = await new Promise<RequestStatus>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no final result within 300 s')), 300_000);
    process.stdout.write('   text: ');
    api.rpc.veriml.subscribeTokens(request, (json: Codec) => {
      const item = json.toJSON() as unknown as TokenStreamItem;
      if (item.kind === 'restarted') {
        // The node ran it again and chose other tokens (its engine changed): sent again.
        streamed.length = 0;
        text = '';
        process.stdout.write('\n   (the node generates it again) text: ');
      } else if (item.kind === 'tokens') {
        streamed.push(...item.tokens);
        notifications += 1;
        text += item.text ?? '';
        process.stdout.write(item.text ?? '');
      } else if (item.kind === 'generated') {
        text += item.text ?? '';
        process.stdout.write(`${item.text ?? ''}\n`);
        say(`the node generated ${item.tokens} tokens (end: ${item.end}), streamed in ${notifications} notification(s)`);
      } else if (item.kind === 'proposed') {
        answer = item.answer;
        terms = api.rpc.veriml.generation(request, item.at).then((json) => json.toJSON() as unknown as Generation);
        // Awaited below; not an unhandled rejection meanwhile.
        terms.catch(() => {});
        say(`its answer is on chain: ${item.answer.tokens.length} tokens, steps root ${item.answer.stepsRoot}, `
          + `settles at block #${item.answer.settlesAt} unless challenged`);
      } else {
        clearTimeout(timer);
        resolve(item);
      }
    }).catch((error: Error) => { clearTimeout(timer); reject(error); });
  });
  if (result.status !== 'completed') throw new Error(`generation #${request} ${result.status}: ${result.error ?? ''}`);
  say(`settled in block #${result.verifiedIn} (${result.verifiedBy}), computed by ${result.executor}`);

  // The receipt's outputs are the tokens and the steps root: those streamed and answered.
  const generation = await api.query.inference.generations(request) as Option<Codec>;
  if (generation.isSome) throw new Error('a settled generation is still open');
  // The receipt commits to this request: prompt, max tokens, stop tokens, sampling and seed.
  if (!answer || !terms) throw new Error(`generation #${request} settled without an answer seen on chain`);
  const { seed } = await terms;
  const generateArgs = api.tx.inference.generate.meta.args;
  const inputHash = blake2AsHex(u8aConcat(
    stringToU8a('veriml/generation'),
    api.createType(generateArgs[1].type.toString(), prompt).toU8a(),
    api.createType('u32', maxTokens).toU8a(),
    api.createType(generateArgs[3].type.toString(), stopTokens).toU8a(),
    api.createType(generateArgs[4].type.toString(), sampling).toU8a(),
    api.createType('Option<[u8; 32]>', seed).toU8a(),
  ), 256);
  const outputs = await proveReceipt(api, request, result, decoder.hash, inputHash);
  const tokens = (decodeTensor(outputs[0]) as bigint[]).map(Number);
  const root = u8aToHex(Uint8Array.from(decodeTensor(outputs[1]) as number[]));
  // Only the node generating it streams tokens (another node, e.g. Charlie on the three-node
  // network when the client is connected elsewhere, streams the answer and the result).
  if (streamed.length === 0) {
    say('(this node did not generate it: no tokens streamed; connect to the assigned node to see them)');
  } else if (JSON.stringify(tokens) !== JSON.stringify(streamed)) {
    throw new Error('the receipt\'s tokens are not those streamed');
  }
  if (JSON.stringify(answer.tokens) !== JSON.stringify(tokens) || answer.stepsRoot !== root) {
    throw new Error('the receipt\'s tokens and steps root are not the answer\'s');
  }
  say(`receipt's tokens and steps root are those streamed and answered (${tokens.length} tokens)`);
  say(`result hash ${result.resultHash} (compare: veriml-node infer --generate --model … --tokenizer … `
    + `--prompt ${JSON.stringify(options.prompt)} --max-tokens ${maxTokens} prints it as its generation hash)`);
  return text;
}

/** Whether `actual` is `expected` (as given to --expect): integers and booleans exactly, floats within 1e-5. */
function matches(expected: string, actual: number | bigint | boolean): boolean {
  if (typeof actual === 'bigint') return /^-?\d+$/.test(expected) && BigInt(expected) === actual;
  if (typeof actual === 'boolean') return (expected === 'true' || expected === '1') === actual;
  const e = Number(expected);
  return Math.abs(e - actual) <= 1e-5 + 1e-5 * Math.abs(e);
}

async function main() {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const [author, operator, user] = ['//Alice', '//Bob', '//Dave'].map((uri) => keyring.addFromUri(uri));
  if (options.generate !== undefined) {
    await generation(keyring, author, operator, user, options.generate);
    return;
  }
  const bytes = new Uint8Array(readFileSync(options.model));
  const hash = blake2AsHex(bytes, 256);
  const inputs = readInputs(options.input);

  const api = await connect(options.ws);
  try {
    const [chain, head] = await Promise.all([api.rpc.system.chain(), api.rpc.chain.getHeader()]);
    step(`connected to ${options.ws}: ${chain.toString()} at block #${head.number.toNumber()}`);
    say(`model ${options.model}: ${bytes.length} bytes, content hash ${hash}`);
    await registerModel(api, author, bytes, hash, inputs);
    await serveModel(api, operator, keyring, hash);
    const outputs = await requestAndCheck(api, user, bytes, hash, inputs);
    if (options.expect !== undefined) {
      const expected = options.expect.split(',').map((e) => e.trim());
      const close = expected.length === outputs.length && expected.every((e, i) => matches(e, outputs[i]));
      if (!close) throw new Error(`outputs [${outputs.join(', ')}] differ from --expect [${expected.join(', ')}]`);
      say(`outputs equal --expect`);
    }
    step('done: a paid inference, computed, verified by re-execution, final and proven');
  } finally {
    await api.disconnect();
  }
}

/** `--generate folder`: the three people of a generation of the decoder in `folder`. */
async function generation(keyring: Keyring, author: KeyringPair, operator: KeyringPair, user: KeyringPair, folder: string) {
  const file = (name: string) => new Uint8Array(readFileSync(join(folder, name)));
  const [model, tokenizer] = [file('model.onnx'), file('tokenizer.json')];
  const decoder = { model, hash: blake2AsHex(model, 256), tokenizer, tokenizerHash: blake2AsHex(tokenizer, 256) };
  const api = await connect(options.ws);
  try {
    const [chain, head] = await Promise.all([api.rpc.system.chain(), api.rpc.chain.getHeader()]);
    step(`connected to ${options.ws}: ${chain.toString()} at block #${head.number.toNumber()}`);
    say(`decoder ${folder}: ${model.length} bytes, content hash ${decoder.hash}; tokenizer ${decoder.tokenizerHash}`);
    await registerDecoder(api, author, decoder);
    await serveModel(api, operator, keyring, decoder.hash);
    const text = await generateAndCheck(api, user, decoder);
    if (options['expect-text'] !== undefined) {
      if (text !== options['expect-text']) throw new Error(`the text ${JSON.stringify(text)} differs from --expect-text`);
      say('text equals --expect-text');
    }
    step('done: a paid generation, streamed, unchallenged through its window, final and proven');
  } finally {
    await api.disconnect();
  }
}

main().catch((error: Error) => {
  console.error(`\nquickstart failed: ${error.message}`);
  process.exit(1);
});
