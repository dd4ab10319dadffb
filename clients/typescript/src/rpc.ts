// veriml's JSON-RPC methods (docs/rpc.md) described for @polkadot/api, and the shapes of
// their answers.
import { ApiPromise, WsProvider } from '@polkadot/api';
import '@polkadot/rpc-core/types/jsonrpc';
import type { AugmentedRpc } from '@polkadot/rpc-core/types';
import type { Bytes, Json, u64 } from '@polkadot/types-codec';
import type { AnyNumber } from '@polkadot/types-codec/types';
import type { BlockHash } from '@polkadot/types/interfaces/chain';
import type { H256 } from '@polkadot/types/interfaces/runtime';
import type { DefinitionRpc, DefinitionRpcSub } from '@polkadot/types/types';
import type { Observable } from 'rxjs';

type Hash = H256 | string | Uint8Array;
type RequestId = u64 | AnyNumber;

// `api.rpc.veriml.*`, typed (as @polkadot/api-augment types Substrate's own methods).
declare module '@polkadot/rpc-core/types/jsonrpc' {
  interface RpcInterface {
    veriml: {
      /** The ONNX bytes of a registered model, checked against its content hash. */
      modelBytes: AugmentedRpc<(modelHash: Hash, at?: BlockHash | string | Uint8Array) => Observable<Bytes>>;
      /** The receipt of a request with a storage proof against a block's state root: a `ReceiptProof`. */
      receiptProof: AugmentedRpc<(request: RequestId, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** A receipt from the node's archive with its Merkle Mountain Range proof: an `ArchivedReceipt`. */
      archivedReceipt: AugmentedRpc<(request: RequestId, verifiedIn: AnyNumber, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** The bytes of a content-store chunk, by its blake2-256, checked against it. */
      contentChunk: AugmentedRpc<(chunkHash: Hash) => Observable<Bytes>>;
      /** What a request of a model costs now: a `Quote`. */
      quote: AugmentedRpc<(model: Hash, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** Where a request stands: a `RequestStatus`. */
      request: AugmentedRpc<(request: RequestId, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** Yields a request's result once it is final (a `RequestStatus` with `finalizedIn`), then ends. */
      subscribeResult: AugmentedRpc<(request: RequestId) => Observable<Json>>;
      /** A prompt's tokens by a registered decoder's tokenizer: `{ tokens, stopTokens }`. */
      tokenize: AugmentedRpc<(model: Hash, text: string, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** An open generation's terms and its answer: a `Generation`. */
      generation: AugmentedRpc<(request: RequestId, at?: BlockHash | string | Uint8Array) => Observable<Json>>;
      /** Streams a generation as it is made and settled (`TokenStreamItem`s), ending with its result. */
      subscribeTokens: AugmentedRpc<(request: RequestId) => Observable<Json>>;
    };
  }
}

/** Pass as `rpc` to `ApiPromise.create` to get `api.rpc.veriml.*`. */
export const verimlRpc: Record<string, Record<string, DefinitionRpc | DefinitionRpcSub>> = {
  veriml: {
    modelBytes: {
      description: 'The ONNX bytes of a registered model, checked against its content hash.',
      params: [{ name: 'modelHash', type: 'H256' }, { name: 'at', type: 'BlockHash', isOptional: true }],
      type: 'Bytes',
    },
    receiptProof: {
      description: 'The receipt of a request with a storage proof against a block\'s state root.',
      params: [{ name: 'request', type: 'u64' }, { name: 'at', type: 'BlockHash', isOptional: true }],
      type: 'Json',
    },
    archivedReceipt: {
      description: 'A receipt from the node\'s archive, with what proves it against a header\'s MMR root.',
      params: [
        { name: 'request', type: 'u64' },
        { name: 'verifiedIn', type: 'u32' },
        { name: 'at', type: 'BlockHash', isOptional: true },
      ],
      type: 'Json',
    },
    contentChunk: {
      description: 'The bytes of a content-store chunk, by its blake2-256, checked against it.',
      params: [{ name: 'chunkHash', type: 'H256' }],
      type: 'Bytes',
    },
    quote: {
      description: 'What a request of a model costs now: { modelPrice, execution, protocol, total }.',
      params: [{ name: 'model', type: 'H256' }, { name: 'at', type: 'BlockHash', isOptional: true }],
      type: 'Json',
    },
    request: {
      description: 'Where a request stands: pending, assigned, completed, failed or closed.',
      params: [{ name: 'request', type: 'u64' }, { name: 'at', type: 'BlockHash', isOptional: true }],
      type: 'Json',
    },
    subscribeResult: {
      description: 'Yields a request\'s result once it is final, then ends.',
      params: [{ name: 'request', type: 'u64' }],
      pubsub: ['result', 'subscribeResult', 'unsubscribeResult'],
      type: 'Json',
    },
    tokenize: {
      description: 'A prompt\'s tokens by a registered decoder\'s tokenizer: { tokens, stopTokens }.',
      params: [
        { name: 'model', type: 'H256' },
        { name: 'text', type: 'Text' },
        { name: 'at', type: 'BlockHash', isOptional: true },
      ],
      type: 'Json',
    },
    generation: {
      description: 'An open generation: prompt, maxTokens, stopTokens, sampling, seed and its answer.',
      params: [{ name: 'request', type: 'u64' }, { name: 'at', type: 'BlockHash', isOptional: true }],
      type: 'Json',
    },
    subscribeTokens: {
      description: 'Streams a generation: its tokens as the node chooses them, its answer, then its result.',
      params: [{ name: 'request', type: 'u64' }],
      pubsub: ['tokens', 'subscribeTokens', 'unsubscribeTokens'],
      type: 'Json',
    },
  },
};

/** A node's answer to a generation, in its challenge window. */
export interface GenerationAnswer {
  node: string;
  tokens: number[];
  /** The Merkle root over its steps' state hashes. */
  stepsRoot: string;
  engineVersion: number;
  /** It settles at the start of this block unless a challenge shows it wrong before. */
  settlesAt: number;
}

/** `veriml_generation`: an open generation request. */
export interface Generation {
  request: number;
  prompt: number[];
  maxTokens: number;
  stopTokens: number[];
  sampling: { greedy: null } | { seeded: { temperatureMilli: number; topK: number; topPMicro: number } };
  /** Drawn with its first nodes (hex); null before. */
  seed: string | null;
  answer: GenerationAnswer | null;
}

/** A `veriml_tokens` notification (`veriml_subscribeTokens`), by its `kind`. */
export type TokenStreamItem =
  /** Tokens the node's worker chose, from index `from` on, and the text they settle (only from the node that generates it). */
  | { kind: 'tokens'; from: number; tokens: number[]; text: string | null }
  /** The node ran it again and chose other tokens (its engine changed): its tokens follow again from index 0. */
  | { kind: 'restarted' }
  /** The node's run ended: at a stop token, at `maxTokens`, or failed (it does not answer); the rest of the text. */
  | { kind: 'generated'; tokens: number; end: 'stopToken' | 'maxTokens' | 'failed'; text: string | null }
  /** An answer entered best block `at`: the tokens that settle unless challenged. */
  | { kind: 'proposed'; at: string; answer: GenerationAnswer }
  /** The request's final status (completed: its outputs the tokens and the steps root); the stream ends. */
  | ({ kind: 'result' } & RequestStatus);

/** `veriml_quote`: planck amounts as decimal strings. */
export interface Quote {
  modelPrice: string;
  execution: string;
  protocol: string;
  total: string;
}

/** `veriml_request` (and `veriml_result` notifications, which add `finalizedIn`). */
export interface RequestStatus {
  request: number;
  status: 'pending' | 'assigned' | 'proposed' | 'disputed' | 'completed' | 'failed' | 'closed';
  /** Content hash of the model (all but `closed`). */
  model?: string;
  /** `blake2_256(SCALE(inputs))` (all but `closed`). */
  inputHash?: string;
  // pending / assigned
  requester?: string;
  fee?: Quote;
  fuelLimit?: number;
  assigned?: string[];
  createdAt?: number;
  deadline?: number;
  // completed / failed
  executor?: string;
  engineVersion?: number;
  verifiedIn?: number;
  /** `ReExecution` or `Unchallenged`. */
  verifiedBy?: string;
  resultHash?: string;
  /** `blake2_256(outputs)`. */
  outputHash?: string;
  /** SCALE-encoded `Vec<Tensor>`. */
  outputs?: string;
  /** The engine's error, when `failed`. */
  error?: string;
  /** Hash of the finalised block the notification was read at (subscriptions only). */
  finalizedIn?: string;
}

/** `veriml_receiptProof`. */
export interface ReceiptProof {
  /** The block whose state root the proof is against. */
  at: string;
  /** The storage key of the receipt. */
  key: string;
  /** SCALE-encoded `pallet_verification::Receipt`. */
  receipt: string;
  /** Trie nodes (hex). */
  proof: string[];
}

/** `veriml_archivedReceipt`: hex strings, numbers for the leaf's index and the range's leaf count. */
export interface ArchivedReceipt {
  /** The block whose header carries the root the proof is against. */
  at: string;
  /** SCALE-encoded `BlockLeaf`: block number (u32), block hash, receipt count (u32), receipt log head. */
  leaf: string;
  /** The leaf's index, as the node says (a client derives it: `proveArchivedReceipt`). */
  leafIndex: number;
  /** The range's leaf count, as the node says (a client reads it with a proof). */
  leafCount: number;
  /** The proof's nodes. */
  items: string[];
  /** SCALE-encoded `pallet_verification::Receipt`. */
  receipt: string;
  /** The receipt log's head before the receipt. */
  before: string;
  /** The hashes of the receipts kept after it in its block. */
  after: string[];
}

/** An API connected to a veriml node at `url`, with `api.rpc.veriml.*`. */
export function connect(url: string): Promise<ApiPromise> {
  return ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true, rpc: verimlRpc });
}
