"""A receipt proven after its retention in state: from a node's archive
(``veriml_archivedReceipt``), against the Merkle Mountain Range root a trusted header carries
(docs/rpc.md, "Proving a receipt after its retention"); the TypeScript client's ``archive.ts`` and
``mmr.ts``.

Each block's leaf in the range holds the block's number and hash and its receipt log, the
receipts kept in it folded into one head, ``head = blake2_256(head ++ blake2_256(receipt))`` from
zero. Every header carries the range's root (a ``vmmr`` consensus digest item). The range proof
is pallet-mmr's (polkadot-ckb-merkle-mountain-range): a node is ``blake2_256(left ++ right)``,
the peaks are bagged right to left, ``bag = blake2_256(right ++ left)``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


class ArchiveProofError(Exception):
    """What a node answered does not prove the receipt against the header."""


def _blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def _merge(left: bytes, right: bytes) -> bytes:
    return _blake2_256(left + right)


def _mmr_size(leaves: int) -> int:
    return 2 * leaves - bin(leaves).count("1")


def _leaf_position(index: int) -> int:
    """The position of leaf ``index`` among all nodes (ckb's ``leaf_index_to_pos``)."""
    trailing_zeros = ((index + 1) & -(index + 1)).bit_length() - 1
    return _mmr_size(index + 1) - trailing_zeros - 1


def _height(position: int) -> int:
    """The height of the node at ``position``, leaves being 0 (ckb's ``pos_height_in_tree``)."""
    peak = (1 << position.bit_length()) - 1
    while peak > 0:
        if position >= peak:
            position -= peak
        peak >>= 1
    return position


def _peaks(size: int) -> list[int]:
    """The positions of the peaks of a range of ``size`` nodes, left to right."""
    peaks, position, total = [], size, 0
    peak = (1 << size.bit_length()) - 1
    while peak > 0:
        if position >= peak:
            position -= peak
            peaks.append(total + peak - 1)
            total += peak
        peak >>= 1
    return peaks


def mmr_root(index: int, leaf_count: int, leaf_hash: bytes, items: list[bytes]) -> bytes:
    """The root that leaf ``index`` (hashing to ``leaf_hash``) of a range of ``leaf_count`` leaves
    and the proof ``items`` give (ckb's ``calculate_root`` for one leaf). Raises
    ``ArchiveProofError`` on a malformed proof: items missing or left over, a wrong size."""
    if not 0 <= index < leaf_count:
        raise ArchiveProofError(f"leaf index {index} not below the leaf count {leaf_count}")
    if any(len(item) != 32 for item in items):
        raise ArchiveProofError("a proof item is not 32 bytes")
    pending = list(items)

    def need() -> bytes:
        if not pending:
            raise ArchiveProofError(f"the range proof has too few items ({len(items)})")
        return pending.pop(0)

    position = _leaf_position(index)
    hashes: list[bytes] = []
    proven = last_was_item = False
    for peak in _peaks(_mmr_size(leaf_count)):
        if not proven and position <= peak:
            node, at, height = leaf_hash, position, 0
            while at != peak:
                if _height(at + 1) > height:  # a right child: its parent follows it
                    node, at = _merge(need(), node), at + 1
                else:
                    node, at = _merge(node, need()), at + (2 << height)
                height += 1
                if at > peak:
                    raise ArchiveProofError("the range proof's path leaves its peak")
            hashes.append(node)
            proven, last_was_item = True, False
        elif pending:
            hashes.append(pending.pop(0))
            last_was_item = True
        elif last_was_item:
            break  # the peaks to the right were bagged into the last item
        else:
            raise ArchiveProofError(f"the range proof has too few items ({len(items)})")
    if not proven:
        raise ArchiveProofError(f"the range proof has too few items ({len(items)})")
    if pending:
        raise ArchiveProofError(f"the range proof has {len(pending)} items too many")
    root = hashes.pop()
    while hashes:
        root = _merge(root, hashes.pop())
    return root


@dataclass(frozen=True)
class BlockLeaf:
    """One block's leaf in the range (``veriml_primitives::verification::BlockLeaf``)."""

    block: int
    hash: bytes
    receipts: int
    head: bytes

    @staticmethod
    def decode(data: bytes) -> "BlockLeaf":
        if len(data) != 72:
            raise ArchiveProofError(f"a block leaf is 72 bytes, not {len(data)}")
        return BlockLeaf(
            block=int.from_bytes(data[0:4], "little"),
            hash=data[4:36],
            receipts=int.from_bytes(data[36:40], "little"),
            head=data[40:72],
        )


def receipt_log_head(before: bytes, receipt: bytes, after: list[bytes]) -> bytes:
    """The receipt log's head after ``receipt`` (its SCALE bytes), kept after the head ``before``
    and followed by the receipts hashing to ``after``."""
    head = _merge(before, _blake2_256(receipt))
    for following in after:
        head = _merge(head, following)
    return head


def _compact(value: int) -> bytes:
    if value < 1 << 6:
        return bytes([value << 2])
    if value < 1 << 14:
        return ((value << 2) | 1).to_bytes(2, "little")
    if value < 1 << 30:
        return ((value << 2) | 2).to_bytes(4, "little")
    length = (value.bit_length() + 7) // 8
    return bytes([((length - 4) << 2) | 3]) + value.to_bytes(length, "little")


def header_hash(header: dict) -> bytes:
    """The hash of a header as ``chain_getHeader`` answers it (digest items as SCALE hex)."""
    encoded = (
        bytes.fromhex(header["parentHash"][2:])
        + _compact(int(header["number"], 16))
        + bytes.fromhex(header["stateRoot"][2:])
        + bytes.fromhex(header["extrinsicsRoot"][2:])
        + _compact(len(header["digest"]["logs"]))
        + b"".join(bytes.fromhex(log[2:]) for log in header["digest"]["logs"])
    )
    return _blake2_256(encoded)


#: A ``Consensus`` digest item (variant 4) of engine ``vmmr`` holding 32 bytes (compact 32).
_ROOT_ITEM = bytes([4]) + b"vmmr" + bytes([32 << 2])


def mmr_root_of(header: dict) -> bytes | None:
    """The range's root a header (as ``chain_getHeader`` answers it) carries, or None."""
    for log in header["digest"]["logs"]:
        item = bytes.fromhex(log[2:])
        if item.startswith(_ROOT_ITEM) and len(item) == len(_ROOT_ITEM) + 32:
            return item[len(_ROOT_ITEM):]
    return None


def check_archived_receipt(archived: dict, header: dict, leaf_count: int, request: int, verified_in: int) -> BlockLeaf:
    """Checks ``archived`` (what ``veriml_archivedReceipt`` answered for the receipt of ``request``
    kept in block ``verified_in``) against ``header`` (``chain_getHeader``'s answer for
    ``archived["at"]``, trusted), whose range has ``leaf_count`` leaves (proven against the
    header's state root); returns the leaf. Raises ``ArchiveProofError`` saying what fails."""
    if "0x" + header_hash(header).hex() != archived["at"]:
        raise ArchiveProofError(f"the header is not of block {archived['at']}")
    root = mmr_root_of(header)
    if root is None:
        raise ArchiveProofError("the header carries no range root")
    leaf_bytes = bytes.fromhex(archived["leaf"][2:])
    leaf = BlockLeaf.decode(leaf_bytes)
    if leaf.block != verified_in:
        raise ArchiveProofError(f"the leaf is of block #{leaf.block}, not #{verified_in}")
    # The last leaf at block N is of block N - 1 (appended at the start of N).
    index = leaf_count - int(header["number"], 16) + leaf.block
    items = [bytes.fromhex(item[2:]) for item in archived["items"]]
    if mmr_root(index, leaf_count, _blake2_256(leaf_bytes), items) != root:
        raise ArchiveProofError(f"the leaf of block #{leaf.block} is not in the range whose root the header carries")
    receipt = bytes.fromhex(archived["receipt"][2:])
    after = [bytes.fromhex(h[2:]) for h in archived["after"]]
    if receipt_log_head(bytes.fromhex(archived["before"][2:]), receipt, after) != leaf.head:
        raise ArchiveProofError(f"the receipt is not in block #{leaf.block}'s receipt log")
    # The receipt's first field is its request id (u64).
    if int.from_bytes(receipt[:8], "little") != request:
        raise ArchiveProofError(f"the receipt is of request {int.from_bytes(receipt[:8], 'little')}, not {request}")
    return leaf
