"""What the client computes without a chain: tensors by dtype, and storage proofs."""

from pathlib import Path

import numpy as np
import pytest

from veriml import ProofError, blake2_256, read_proven, tensors


@pytest.mark.parametrize(
    "array",
    [
        np.array([[1.5, -2.25, 3.0]], dtype=np.float32),
        np.array([2**62, -(2**62) - 7], dtype=np.int64),
        np.array([[1, -2], [3, -4]], dtype=np.int32),
        np.array([-128, 127], dtype=np.int8),
        np.array([0, 255], dtype=np.uint8),
        np.array([True, False, True]),
    ],
)
def test_tensors_round_trip_by_dtype_little_endian(array):
    tensor = tensors.encode(array)
    assert tensor["shape"] == list(array.shape)
    assert tensor["data"] == array.astype(array.dtype.newbyteorder("<")).tobytes()
    (back,) = tensors.scale_decode(tensors.scale_encode([array]))
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_inputs_are_scale_encoded_as_the_chain_encodes_vec_tensor():
    # Vec<Tensor> of one f32[1, 3]: compact length, dtype index, shape Vec<u32>, data Vec<u8>.
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    expected = bytes([4, 0, 8]) + (1).to_bytes(4, "little") + (3).to_bytes(4, "little") + bytes([48]) + x.tobytes()
    assert tensors.scale_encode([x]) == expected
    big = np.zeros((1, 70), dtype=np.uint8)  # 70 bytes: a two-byte compact length
    assert tensors.scale_encode([big])[11:13] == (70 << 2 | 1).to_bytes(2, "little")
    assert np.array_equal(tensors.scale_decode(tensors.scale_encode([x, big]))[1], big)
    with pytest.raises(ValueError, match="end early"):
        tensors.scale_decode(expected[:-1])


def test_a_dtype_the_chain_does_not_have_is_refused():
    with pytest.raises(ValueError, match="not one of the chain's"):
        tensors.encode(np.array([1.0], dtype=np.float64))


def test_json_inputs_keep_int64_exact():
    array = tensors.from_json({"dtype": "i64", "shape": [2], "data": ["9007199254740993", 1]})
    assert array.tolist() == [9007199254740993, 1]


def compact(n: int) -> bytes:
    assert n < 64
    return bytes([n << 2])


def leaf(nibbles: list[int], value: bytes) -> bytes:
    """A trie leaf (layout V1, inline value): header 0b01 and the nibble count, the nibbles
    (an odd count padded with a leading zero), the length-prefixed value."""
    padded = ([0] if len(nibbles) % 2 else []) + nibbles
    partial = bytes(padded[i] << 4 | padded[i + 1] for i in range(0, len(padded), 2))
    return bytes([0x40 | len(nibbles)]) + partial + compact(len(value)) + value


def branch(children: dict[int, bytes]) -> bytes:
    """A branch without a value or partial key: header 0b10, bitmap, children by hash."""
    bitmap = sum(1 << c for c in children)
    out = bytes([0x80]) + bitmap.to_bytes(2, "little")
    for c in sorted(children):
        out += compact(32) + blake2_256(children[c])
    return out


def test_a_proof_leads_from_the_root_to_the_value_and_nothing_else():
    # Keys 0x12… and 0x34…: a branch at the root, a leaf on each side.
    left, right = leaf([2, 0xA, 0xB], b"receipt"), leaf([4, 0xC, 0xD], b"other")
    root = branch({1: left, 3: right})
    proof = [root, left, right]
    state_root = blake2_256(root)
    assert read_proven(state_root, proof, bytes([0x12, 0xAB])) == b"receipt"
    assert read_proven(state_root, proof, bytes([0x34, 0xCD])) == b"other"
    # A key the trie does not hold: proven absent.
    assert read_proven(state_root, proof, bytes([0x12, 0xAC])) is None
    assert read_proven(state_root, proof, bytes([0x52, 0xAB])) is None
    # A forged value changes the leaf's hash: the proof no longer reaches it.
    forged = leaf([2, 0xA, 0xB], b"forgery")
    with pytest.raises(ProofError, match="lacks node"):
        read_proven(state_root, [root, forged, right], bytes([0x12, 0xAB]))
    # A proof for another state root.
    with pytest.raises(ProofError, match="lacks node"):
        read_proven(blake2_256(b"another block"), proof, bytes([0x12, 0xAB]))


def test_the_packaged_example_model_is_the_typescript_quick_starts():
    repo = Path(__file__).resolve().parents[3]
    ts_models = repo / "clients" / "typescript" / "models"
    if not ts_models.is_dir():
        pytest.skip("not in the veriml repository")
    ours = Path(__file__).resolve().parents[1] / "veriml" / "models"
    for name in ("linear.onnx", "linear.input.json"):
        assert (ours / name).read_bytes() == (ts_models / name).read_bytes(), name


def _range(leaf_hashes):
    """A Merkle Mountain Range built as a tree, leaf by leaf: the peaks' hashes left to right, and
    per leaf its siblings from the bottom up and the index of its peak."""
    from veriml.archive import _merge

    peaks = []  # (height, hash, leaves under it: {leaf: [siblings]})
    for i, leaf in enumerate(leaf_hashes):
        height, node, paths = 0, leaf, {i: []}
        while peaks and peaks[-1][0] == height:
            _, left, left_paths = peaks.pop()
            for path in left_paths.values():
                path.append(node)
            for path in paths.values():
                path.append(left)
            node, height, paths = _merge(left, node), height + 1, {**left_paths, **paths}
        peaks.append((height, node, paths))
    return peaks


def _bag(hashes):
    from veriml.archive import _merge

    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = _merge(root, left)
    return root


def test_a_range_proof_gives_the_root_for_its_leaf_only():
    """pallet-mmr's proof of one leaf, in its order: the peaks left of the leaf's, the leaf's
    siblings bottom up, then the peaks right of it (bagged into one item when there are two or
    more), checked against a range built independently, for every leaf of ranges of 1 to 40."""
    from veriml.archive import ArchiveProofError, mmr_root

    for count in range(1, 41):
        leaves = [blake2_256(bytes([n, count])) for n in range(count)]
        peaks = _range(leaves)
        root = _bag([h for _, h, _ in peaks])
        for i in range(count):
            at = next(k for k, (_, _, paths) in enumerate(peaks) if i in paths)
            right = [h for _, h, _ in peaks[at + 1:]]
            items = [h for _, h, _ in peaks[:at]] + peaks[at][2][i] + ([_bag(right)] if right else [])
            assert mmr_root(i, count, leaves[i], items) == root, (count, i)
            # Another leaf, a changed item, another index: another root, or a refused proof.
            assert mmr_root(i, count, leaves[(i + 1) % count], items) != root or count == 1
            for k in range(len(items)):
                changed = items[:k] + [bytes(32)] + items[k + 1:]
                assert mmr_root(i, count, leaves[i], changed) != root
            for j in range(count):
                if j != i:
                    try:
                        assert mmr_root(j, count, leaves[i], items) != root
                    except ArchiveProofError:
                        pass
            try:
                assert mmr_root(i, count, leaves[i], items + [bytes(32)]) != root
            except ArchiveProofError:
                pass
        with pytest.raises(ArchiveProofError):
            mmr_root(count, count, leaves[0], [])


def test_a_receipt_is_found_in_its_blocks_log_only_with_its_neighbours():
    from veriml.archive import _merge, receipt_log_head

    receipts = [bytes([n]) * 10 for n in range(3)]
    hashes = [blake2_256(r) for r in receipts]
    head = bytes(32)
    for h in hashes:
        head = _merge(head, h)
    before = _merge(bytes(32), hashes[0])
    assert receipt_log_head(before, receipts[1], [hashes[2]]) == head
    assert receipt_log_head(before, receipts[2], [hashes[1]]) != head
    assert receipt_log_head(bytes(32), receipts[1], [hashes[2]]) != head


def test_the_content_root_is_the_runtimes():
    from veriml import content

    # veriml_primitives::content's test `a_known_root` holds the same figure.
    hashes = [content.chunk_hash(s) for s in (b"veriml", b"content", b"store")]
    assert content.content_root(hashes).hex() == "7745ebf6896fad1e033c4951478b970479521b1e77125af3929f5b24dea14c25"
    for n in range(1, 18):
        hashes = [content.chunk_hash(bytes([i, n])) for i in range(n)]
        root = content.content_root(hashes)
        for i in range(n):
            proof = content.chunk_proof(hashes, i)
            assert content.verify_chunk(root, n, i, hashes[i], proof)
            assert not content.verify_chunk(root, n, i, content.chunk_hash(b"other"), proof)
            if n > 1:
                assert not content.verify_chunk(root, n, (i + 1) % n, hashes[i], proof)
    assert [len(c) for c in content.split_chunks(bytes(10), 4)] == [4, 4, 2]


def test_the_file_node_the_runtime_builds():
    """``content::file_node``'s test vector (and the TypeScript client's)."""
    from veriml import content

    hashes = [content.chunk_hash(b"chunk-0"), content.chunk_hash(b"abc")]
    expected = b""
    for h, size in zip(hashes, [7, 3]):
        expected += bytes([0x12, 44, 0x0A, 38]) + content.chunk_cid(h) + bytes([0x12, 0, 0x18, size])
    expected += bytes([0x0A, 8, 0x08, 2, 0x18, 10, 0x20, 7, 0x20, 3])
    assert content.file_node(10, 7, hashes) == expected
    node = content.file_node(3 * 2**20 + 5, 2**20, [content.chunk_hash(bytes([i])) for i in range(4)])
    mib = bytes([0x20, 0x80, 0x80, 0x40])
    assert node.endswith(bytes([0x0A, 21, 0x08, 2, 0x18, 0x85, 0x80, 0xC0, 0x01]) + mib * 3 + bytes([0x20, 5]))
    assert content.file_cid(node)[:6] == bytes([0x01, 0x70, 0xA0, 0xE4, 0x02, 0x20])
