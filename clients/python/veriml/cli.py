"""``veriml``: the client's command line.

    veriml quote --model 0x…
    veriml infer --model 0x… --input inputs.json [--max-fee PLANCK] [--seed //Dave]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from substrateinterface import Keypair

from .client import Client
from .errors import VerimlError
from .quickstart import read_inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veriml", description="veriml's Python client")
    parser.add_argument("--url", default=os.environ.get("VERIML_WS", "ws://127.0.0.1:9944"))
    commands = parser.add_subparsers(dest="command", required=True)
    quote = commands.add_parser("quote", help="what a request of a model costs now")
    quote.add_argument("--model", required=True, help="the model's content hash (0x…)")
    infer = commands.add_parser("infer", help="pay for an inference and print its verified, proven outputs")
    infer.add_argument("--model", required=True, help="the model's content hash (0x…)")
    infer.add_argument("--input", required=True, type=Path, help="inputs as `veriml-node infer` reads them")
    infer.add_argument("--max-fee", type=int, help="most planck to pay (default: the current quote)")
    infer.add_argument("--seed", default=os.environ.get("VERIML_SEED", "//Dave"),
                       help="the paying account's secret URI (default //Dave, a dev account; or VERIML_SEED)")
    infer.add_argument("--timeout", type=float, default=180.0)
    options = parser.parse_args(argv)
    try:
        with Client(options.url) as client:
            if options.command == "quote":
                print(json.dumps(client.quote(options.model).__dict__))
                return 0
            signer = Keypair.create_from_uri(options.seed)
            result = client.infer(options.model, read_inputs(options.input), options.max_fee, signer, options.timeout)
            print(json.dumps({
                "request": result.request,
                "outputs": [{"dtype": str(o.dtype), "shape": list(o.shape), "data": o.ravel().tolist()} for o in result.outputs],
                "resultHash": result.result_hash,
                "executor": result.executor,
                "verifiedIn": result.verified_in,
                "provenBy": result.proven_by,
            }))
            return 0
    except VerimlError as error:
        print(f"veriml: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
