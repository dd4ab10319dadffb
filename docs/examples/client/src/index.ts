export { verimlRpc, connect } from './rpc.js';
export type { Quote, RequestStatus, ReceiptProof } from './rpc.js';
export { readProven } from './trie.js';
