import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import { stringToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { decodeAddress } from '@polkadot/util-crypto';

/** The runtime's pallets of bonded nodes, by their name in `api.tx`, and the name they sign. */
export const NODE_ROLES = {
  inferenceNodes: 'InferenceNodes', dataNodes: 'DataNodes', storageNodes: 'StorageNodes',
} as const;
export type NodeRole = keyof typeof NODE_ROLES;

/**
 * What a node key signs to consent to be registered by `operator` (an address): the bytes
 * `veriml:<Pallet>:` followed by the operator's 32-byte account. Sign it with the node's key
 * wherever the key lives (`nodeKey.sign`, or `veriml-node sign` with the key's secret).
 */
export function registrationMessage(role: NodeRole, operator: string): Uint8Array {
  return u8aConcat(stringToU8a(`veriml:${NODE_ROLES[role]}:`), decodeAddress(operator));
}

/**
 * `inferenceNodes.register` / `dataNodes.register` / `storageNodes.register` of `nodeKey`'s
 * account, offering `services` (model hashes, feed ids, `['AllItems']`) with `bond`, to be signed and sent by `operator`; the proof is the
 * node key's signature of {@link registrationMessage}.
 */
export function registerNode(
  api: ApiPromise,
  role: NodeRole,
  nodeKey: KeyringPair,
  services: unknown[],
  bond: bigint,
  operator: string,
): SubmittableExtrinsic<'promise'> {
  const proof = { Sr25519: u8aToHex(nodeKey.sign(registrationMessage(role, operator))) };
  return api.tx[role].register(nodeKey.address, services, bond, proof);
}
