"""Tensors as the chain takes and gives them (``Tensor``: dtype, shape, little-endian bytes), to
and from numpy arrays of the same dtype, and ``Vec<Tensor>``'s SCALE encoding (what a request's
input hash and a result's output hash are taken of)."""

from __future__ import annotations

import numpy as np

#: The chain's dtypes (as its metadata names them) and numpy's, little-endian.
DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "Bool": np.dtype("bool"),
}

_BY_NAME = {name.lower(): name for name in DTYPES}


def chain_dtype(name: str | np.dtype) -> str:
    """The chain's name for a dtype given as ``f32``/``F32``/``float32`` or a numpy dtype."""
    if isinstance(name, str) and name.lower() in _BY_NAME:
        return _BY_NAME[name.lower()]
    wanted = np.dtype(name).newbyteorder("<") if np.dtype(name).byteorder not in "|" else np.dtype(name)
    for chain_name, dtype in DTYPES.items():
        if dtype == wanted:
            return chain_name
    raise ValueError(f"dtype {name} is not one of the chain's: {', '.join(n.lower() for n in DTYPES)}")


def encode(array: np.ndarray) -> dict:
    """``array`` as the chain's ``Tensor`` (the value SCALE encoding takes)."""
    array = np.asarray(array)
    dtype = chain_dtype(array.dtype)
    data = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
    return {"dtype": dtype, "shape": [int(d) for d in array.shape], "data": data}


def _compact(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return (n << 2 | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return (n << 2 | 2).to_bytes(4, "little")
    body = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([(len(body) - 4) << 2 | 3]) + body


#: The chain's ``DType`` variants in their SCALE order (`primitives/inference/src/tensor.rs`).
_ORDER = list(DTYPES)


def scale_encode(arrays: list[np.ndarray]) -> bytes:
    """``SCALE(Vec<Tensor>)`` of ``arrays``: a request's inputs hash to ``blake2_256`` of it."""
    out = _compact(len(arrays))
    for array in arrays:
        tensor = encode(array)
        out += bytes([_ORDER.index(tensor["dtype"])]) + _compact(len(tensor["shape"]))
        out += b"".join(int(d).to_bytes(4, "little") for d in tensor["shape"])
        out += _compact(len(tensor["data"])) + tensor["data"]
    return out


def scale_decode(data: bytes) -> list[np.ndarray]:
    """The arrays of ``SCALE(Vec<Tensor>)`` (a result's outputs), each by its dtype."""
    at = 0

    def compact() -> int:
        nonlocal at
        mode = data[at] & 0b11
        if mode == 3:
            size = (data[at] >> 2) + 4
            value = int.from_bytes(data[at + 1 : at + 1 + size], "little")
            at += 1 + size
            return value
        size = {0: 1, 1: 2, 2: 4}[mode]
        value = int.from_bytes(data[at : at + size], "little") >> 2
        at += size
        return value

    def take(count: int) -> bytes:
        nonlocal at
        if at + count > len(data):
            raise ValueError("the encoded tensors end early")
        at += count
        return data[at - count : at]

    arrays = []
    for _ in range(compact()):
        dtype = _ORDER[take(1)[0]]
        shape = [int.from_bytes(take(4), "little") for _ in range(compact())]
        arrays.append(np.frombuffer(take(compact()), dtype=DTYPES[dtype]).reshape(shape).copy())
    if at != len(data):
        raise ValueError("bytes left after the encoded tensors")
    return arrays


def from_json(entry: dict) -> np.ndarray:
    """One input of ``veriml-node infer``'s JSON files: ``{"dtype": "f32", "shape": [..], "data": [..]}``
    (i64 values may be strings, exact beyond 2^53)."""
    dtype = DTYPES[chain_dtype(entry.get("dtype", "f32"))]
    values = entry["data"]
    if dtype == DTYPES["I64"]:
        values = [int(v) for v in values]
    return np.array(values, dtype=dtype).reshape(entry["shape"])
