"""veriml's Python client: pay for ONNX inferences on a veriml chain and get outputs that were
verified by re-execution, finalised, and proven against a finalised header's state root.

    from veriml import Client
    with Client("ws://127.0.0.1:9944", signer=Client.dev_account("Dave")) as client:
        result = client.infer(model_hash, [inputs])
        print(result.outputs, "receipt proven by block", result.proven_by)
"""

from .client import DEFAULT_URL, VML, Client, Generation, Quote, Request, Result, Streamed, blake2_256
from .errors import (
    ChainError,
    FeeAboveMax,
    InputMismatch,
    InsufficientBalance,
    ModelDeprecated,
    NoNodeAvailable,
    ProofMismatch,
    RequestClosed,
    ResultFailed,
    TransactionRefused,
    UnknownModel,
    VerimlError,
)
from .trie import ProofError, read_proven

__all__ = [
    "DEFAULT_URL",
    "VML",
    "ChainError",
    "Client",
    "Generation",
    "FeeAboveMax",
    "InputMismatch",
    "InsufficientBalance",
    "ModelDeprecated",
    "NoNodeAvailable",
    "ProofError",
    "ProofMismatch",
    "Quote",
    "Request",
    "RequestClosed",
    "Result",
    "Streamed",
    "ResultFailed",
    "TransactionRefused",
    "UnknownModel",
    "VerimlError",
    "blake2_256",
    "read_proven",
]
