export { verimlRpc, connect } from './rpc.js';
export type { Quote, RequestStatus, ReceiptProof } from './rpc.js';
export { readProven } from './trie.js';
export { registrationMessage, registerNode, NODE_ROLES } from './nodes.js';
export type { NodeRole } from './nodes.js';
export { decodeTensor, encodeTensor, dtypeOf, describe } from './tensors.js';
export type { DType, Tensor, Values } from './tensors.js';
