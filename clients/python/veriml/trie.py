"""A storage read proof checked against a block's state root alone (what ``veriml_receiptProof``
answers), for clients that trust a header but not the node they ask. Trie layout V1 (the
runtime's state version 1), blake2-256 node hashes: the codec of ``sp-trie``'s ``NodeCodec``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


class ProofError(Exception):
    """The proof does not lead from the state root to the key: a node on the way is missing or
    malformed (a forged value, or a proof for another block)."""


def _blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def _nibbles(data: bytes) -> list[int]:
    out: list[int] = []
    for b in data:
        out += [b >> 4, b & 0x0F]
    return out


@dataclass
class _Node:
    kind: str  # "empty", "leaf" or "branch"
    partial: list[int]
    value: tuple[str, bytes] | None  # ("inline", bytes) or ("hash", 32 bytes)
    children: list[bytes | None]


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise ProofError("a trie node ends early")
        out = self.data[self.at : self.at + count]
        self.at += count
        return out

    def byte(self) -> int:
        return self.take(1)[0]

    def compact(self) -> int:
        first = self.byte()
        mode = first & 0b11
        if mode == 0:
            return first >> 2
        if mode == 1:
            return (first | self.byte() << 8) >> 2
        if mode == 2:
            return int.from_bytes(bytes([first]) + self.take(3), "little") >> 2
        return int.from_bytes(self.take((first >> 2) + 4), "little")

    def length_prefixed(self) -> bytes:
        return self.take(self.compact())


def _decode(node: bytes) -> _Node:
    r = _Reader(node)
    first = r.byte()
    if first == 0:
        return _Node("empty", [], None, [])
    hashed = False
    has_value = False
    if first & 0xC0 == 0x40:
        kind, bits = "leaf", 6
    elif first & 0xC0 == 0x80:
        kind, bits = "branch", 6
    elif first & 0xC0 == 0xC0:
        kind, bits, has_value = "branch", 6, True
    elif first & 0xE0 == 0x20:
        kind, bits, hashed = "leaf", 5, True
    elif first & 0xF0 == 0x10:
        kind, bits, has_value, hashed = "branch", 4, True, True
    else:
        raise ProofError(f"unknown trie node header {first}")
    mask = (1 << bits) - 1
    count = first & mask
    if count == mask:
        while True:
            b = r.byte()
            count += b
            if b != 255:
                break
    partial = _nibbles(r.take((count + 1) // 2))
    if count % 2 == 1:  # an odd count is padded with a leading zero nibble
        partial = partial[1:]

    def value() -> tuple[str, bytes]:
        return ("hash", r.take(32)) if hashed else ("inline", r.length_prefixed())

    if kind == "leaf":
        return _Node(kind, partial, value(), [])
    bitmap = int.from_bytes(r.take(2), "little")
    own = value() if has_value else None
    children = [r.length_prefixed() if bitmap & (1 << c) else None for c in range(16)]
    return _Node(kind, partial, own, children)


def read_proven(state_root: bytes, proof: list[bytes], key: bytes) -> bytes | None:
    """The value under ``key`` proven by ``proof`` (trie nodes) against ``state_root``, or
    ``None`` if the proof shows there is none; raises :class:`ProofError` if the proof does not
    lead there."""
    nodes = {_blake2_256(node): node for node in proof}

    def lookup(hash_: bytes) -> bytes:
        try:
            return nodes[hash_]
        except KeyError:
            raise ProofError(f"the proof lacks node 0x{hash_.hex()}") from None

    def value_of(value: tuple[str, bytes]) -> bytes:
        return lookup(value[1]) if value[0] == "hash" else value[1]

    path = _nibbles(key)
    node = lookup(state_root)
    while True:
        decoded = _decode(node)
        if decoded.kind == "empty":
            return None
        partial = decoded.partial
        if path[: len(partial)] != partial:
            return None
        path = path[len(partial) :]
        if decoded.kind == "leaf":
            return value_of(decoded.value) if not path else None
        if not path:
            return value_of(decoded.value) if decoded.value else None
        child = decoded.children[path[0]]
        if child is None:
            return None
        path = path[1:]
        # A child of 32 bytes is its hash; shorter children are inlined.
        node = lookup(child) if len(child) == 32 else child
