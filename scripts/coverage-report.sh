#!/usr/bin/env bash
# The engine's coverage of the ONNX standard: every ONNX backend node test case (built from the
# `onnx` package's own test-case definitions, with their expected outputs) whose inputs and outputs
# have the engine's interface dtypes and that onnxruntime passes, run through the chain's engine;
# prints how many of them the engine passes too, and the rest by operator.
#
#   scripts/coverage-report.sh [DIR]     the cases and verdicts go to DIR (target/node-cases)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
cases="${1:-$VERIML_ROOT/target/node-cases}"
venv="$VERIML_ROOT/target/pyenv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/models/requirements.txt
log "writing the node test cases onnxruntime passes to $cases"
"$venv/bin/python" scripts/models/node_cases.py write "$cases"
log "building the engine's coverage example"
cargo build --release --locked -p veriml-engine --example coverage
log "running every case through the chain's engine"
target/release/examples/coverage "$cases" >"$cases/verdicts.jsonl"
"$venv/bin/python" scripts/models/node_cases.py report "$cases"
