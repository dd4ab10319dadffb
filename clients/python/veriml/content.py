"""The content store's names (``veriml_primitives::content``): an item's bytes split into chunks
of ``contentStore.chunkBytes``, each kept by the nodes under its blake2-256, and the item named
by the root of a binary Merkle tree over the chunks' hashes: leaf ``blake2_256(0x00 ++ chunk
hash)``, inner node ``blake2_256(0x01 ++ left ++ right)``, the leaves padded with zero hashes to
the next power of two."""

from __future__ import annotations

import hashlib

_ZERO = bytes(32)


def chunk_hash(chunk: bytes) -> bytes:
    """The blake2-256 of a chunk: the key nodes keep and serve it under."""
    return hashlib.blake2b(chunk, digest_size=32).digest()


def split_chunks(data: bytes, chunk_bytes: int) -> list[bytes]:
    """``data`` in chunks of ``chunk_bytes`` (the last one the rest)."""
    return [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)]


def _leaf(hash_: bytes) -> bytes:
    return hashlib.blake2b(b"\x00" + hash_, digest_size=32).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.blake2b(b"\x01" + left + right, digest_size=32).digest()


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    width = 1
    while width < len(hashes):
        width *= 2
    levels = [[_leaf(h) for h in hashes] + [_ZERO] * (width - len(hashes))]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([_node(below[i], below[i + 1]) for i in range(0, len(below), 2)])
    return levels


def content_root(hashes: list[bytes]) -> bytes:
    """The root of the tree over the chunks' ``hashes``, in order: the item's name."""
    return _levels(hashes)[-1][0]


def chunk_proof(hashes: list[bytes], index: int) -> list[bytes]:
    """The siblings that prove chunk ``index``, from the leaf's up."""
    if not 0 <= index < len(hashes):
        raise IndexError(f"no chunk {index} of {len(hashes)}")
    proof, position = [], index
    for level in _levels(hashes)[:-1]:
        proof.append(level[position ^ 1])
        position //= 2
    return proof


def verify_chunk(root: bytes, chunks: int, index: int, hash_: bytes, proof: list[bytes]) -> bool:
    """Whether ``hash_`` is chunk ``index`` of the item of ``chunks`` chunks named ``root``."""
    depth = 0
    while (1 << depth) < chunks:
        depth += 1
    if not 0 <= index < chunks or len(proof) != depth:
        return False
    computed, position = _leaf(hash_), index
    for sibling in proof:
        computed = _node(computed, sibling) if position % 2 == 0 else _node(sibling, computed)
        position //= 2
    return computed == root


def chunk_cid(hash_: bytes) -> bytes:
    """The IPFS CID (v1, raw, blake2b-256) of a chunk, as bytes: what a node with
    ``--ipfs-server`` serves the chunk under over bitswap."""
    return bytes([0x01, 0x55, 0xA0, 0xE4, 0x02, 0x20]) + hash_


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes_field(field: int, data: bytes) -> bytes:
    return bytes([(field << 3) | 2]) + _varint(len(data)) + data


def file_node(byte_len: int, chunk_bytes: int, hashes: list[bytes]) -> bytes:
    """The UnixFS file node of an item of ``byte_len`` bytes in chunks of ``chunk_bytes`` whose
    hashes are ``hashes``, byte for byte as the runtime builds it (``content::file_node``): the
    canonical DAG-PB node linking each chunk as a ``raw`` leaf before the UnixFS ``Data`` of a
    file. Stored with ``contentStore.storeFileNode``; served under :func:`file_cid`."""
    sizes = [min(chunk_bytes, byte_len - i * chunk_bytes) for i in range(len(hashes))]
    links = b"".join(
        _bytes_field(2, _bytes_field(1, chunk_cid(h)) + _bytes_field(2, b"") + bytes([3 << 3]) + _varint(size))
        for h, size in zip(hashes, sizes)
    )
    data = bytes([1 << 3, 2, 3 << 3]) + _varint(byte_len) + b"".join(bytes([4 << 3]) + _varint(s) for s in sizes)
    return links + _bytes_field(1, data)


def file_cid(node: bytes) -> bytes:
    """The IPFS CID (v1, dag-pb, blake2b-256) of an item's file node, as bytes: an IPFS client
    reads the whole item under it from a node with ``--ipfs-server``."""
    return bytes([0x01, 0x70, 0xA0, 0xE4, 0x02, 0x20]) + hashlib.blake2b(node, digest_size=32).digest()


__all__ = [
    "chunk_hash",
    "split_chunks",
    "content_root",
    "chunk_proof",
    "verify_chunk",
    "chunk_cid",
    "file_node",
    "file_cid",
]
