export { verimlRpc, connect } from './rpc.js';
export type { Quote, RequestStatus, ReceiptProof, ArchivedReceipt, Generation, GenerationAnswer, TokenStreamItem } from './rpc.js';
export { readProven } from './trie.js';
export { decodeLeafProof, decodeOpaqueLeaves, leafHash, mmrRootFromProof, verifyLeafProof } from './mmr.js';
export {
  proveArchivedReceipt, checkArchivedReceipt, finalizedAfter, decodeBlockLeaf, mmrRootOf, receiptLogHead, MMR_ROOT_ENGINE_ID,
} from './archive.js';
export type { BlockLeaf, ProvenArchivedReceipt } from './archive.js';
export {
  chunkHash, splitChunks, contentRoot, chunkProof, verifyChunk, prepareContent, storeContentTxs, fetchContent, chunkCid,
  fileNode, fileCid, fileNodeCid,
} from './content.js';
export type { PreparedContent } from './content.js';
export { registrationMessage, registerNode, NODE_ROLES } from './nodes.js';
export type { NodeRole } from './nodes.js';
export { decodeTensor, encodeTensor, dtypeOf, describe } from './tensors.js';
export type { DType, Tensor, Values } from './tensors.js';
