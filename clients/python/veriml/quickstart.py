"""veriml quick start in Python: the three people of an inference on a ``--dev`` chain.

1. a model author uploads an ONNX model and registers it with a price;
2. an inference node operator makes sure a node serves it (dev chain: the node's signing key is
   put in its keystore over RPC and bonded);
3. a user asks for a quote, requests an inference paying from escrow, waits for the verified,
   finalised result and checks it without trusting the node: the receipt is proven from a
   finalised header's state root, and the outputs and inputs against the receipt.

Run against a node started with ``./scripts/local-network.sh --dev``::

    pip install ./clients/python
    python -m veriml.quickstart [--url ws://127.0.0.1:9944] [--model m.onnx --input m.input.json] [--expect 4.75]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from . import tensors
from .client import VML, Client, blake2_256
from .errors import VerimlError
from .nodes import serve_on_dev_node


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def say(text: str) -> None:
    print(f"   {text}", flush=True)


def read_inputs(path: Path) -> list[np.ndarray]:
    """``veriml-node infer``'s input file: ``{"inputs": [{"dtype", "shape", "data"}]}``."""
    return [tensors.from_json(entry) for entry in json.loads(path.read_text())["inputs"]]


def describe(array: np.ndarray) -> str:
    return f"{tensors.chain_dtype(array.dtype).lower()}{list(array.shape)} = {array.ravel().tolist()}"


def matches(expected: list[str], outputs: list[np.ndarray]) -> bool:
    """Integers and booleans exactly, floats within 1e-5."""
    values = [v for array in outputs for v in array.ravel().tolist()]
    if len(values) != len(expected):
        return False
    for e, v in zip(expected, values):
        if isinstance(v, bool):
            ok = (e in ("true", "1")) == v
        elif isinstance(v, int):
            ok = e.lstrip("-").isdigit() and int(e) == v
        else:
            ok = abs(float(e) - v) <= 1e-5 + 1e-5 * abs(float(e))
        if not ok:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    models = resources.files("veriml") / "models"
    parser = argparse.ArgumentParser(prog="python -m veriml.quickstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("VERIML_WS", "ws://127.0.0.1:9944"))
    parser.add_argument("--model", type=Path, default=Path(str(models / "linear.onnx")))
    parser.add_argument("--input", type=Path, default=Path(str(models / "linear.input.json")))
    parser.add_argument("--name", default="quickstart-linear")
    parser.add_argument("--expect", help="comma-separated expected outputs, flattened")
    options = parser.parse_args(argv)

    author, operator, user = (Client.dev_account(n) for n in ("Alice", "Bob", "Dave"))
    data = options.model.read_bytes()
    model = "0x" + blake2_256(data).hex()
    inputs = read_inputs(options.input)
    try:
        with Client(options.url) as client:
            head = client.substrate.get_block_header()["header"]["number"]
            step(f"connected to {options.url}: {client.substrate.chain} at block #{head}")
            say(f"model {options.model}: {len(data)} bytes, content hash {model}")

            step(f"model author {author.ss58_address}: upload and register the model")
            if client.model(model) is not None:
                say(f"model {model} is registered already; nothing to do")
            else:
                client.upload_model(data, signer=author)
                say(f"uploaded {len(data)} bytes; deposit held while the model is registered")
                price = VML // 100
                client.register_model(model, options.name, inputs, price, signer=author)
                say(f'registered as "{options.name}" v1 at {price} planck per inference (models.ModelRegistered)')

            step(f"operator {operator.ss58_address}: make sure an inference node serves the model")
            serve_on_dev_node(client, model, operator, say)

            step(f"user {user.ss58_address}: request an inference and check its result")
            if client.model_bytes(model) != data:
                raise VerimlError("the chain's copy of the model is not the file")
            quote = client.quote(model)
            say(f"quote: {quote.total} planck (model {quote.model_price} + execution {quote.execution} "
                f"+ protocol {quote.protocol})")
            request = client.request(model, inputs, max_fee=quote.total, signer=user)
            say(f"request #{request.id}: fee held in escrow, "
                + (f"assigned to {', '.join(request.assigned)}" if request.assigned else "waiting for a node"))
            result = request.wait()
            say(f"verified in block #{result.verified_in} by re-execution; computed by {result.executor}")
            say(f"receipt proven by block #{result.proven_by} ({result.proven_by_hash[:18]}…)")
            if result.receipt["input_hash"] != client.input_hash(inputs):
                raise VerimlError("the proven receipt's input hash is not these inputs'")
            if result.receipt["model_hash"] != model:
                raise VerimlError("the proven receipt's model hash is not this model's")
            say("receipt matches: model hash, input hash, output hash, result hash")
            for i, output in enumerate(result.outputs):
                say(f"output {i}: {describe(output)}")
            say(f"result hash {result.result_hash} (compare: veriml-node infer --model … --input …)")
            if options.expect is not None:
                expected = [e.strip() for e in options.expect.split(",")]
                if not matches(expected, result.outputs):
                    raise VerimlError(f"outputs differ from --expect {expected}")
                say("outputs equal --expect")
            step("done: a paid inference, computed, verified by re-execution, final and proven")
    except VerimlError as error:
        print(f"\nquickstart failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
