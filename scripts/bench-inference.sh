#!/usr/bin/env bash
# Prints inference throughput and latency on a fresh `--dev --role inference` node, for a small
# model (target ≥ 50 verified per 6 s block) and then for SqueezeNet (verified optimistically):
# verified inferences per block, blocks from request to verified and finalised result (target
# ≤ 3 for the small model), and what verifying one reserves of a block's weight. Builds the node
# if needed; needs the test models (scripts/models/make-test-models.sh); installs the npm
# workspace (scripts/e2e, clients/typescript).
#   REQUESTS=200 MODEL=pytorch_Linear CNN_REQUESTS=12 CNN_MODEL=light_squeezenet scripts/bench-inference.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
build_node
install_js_workspace
port=19955
start_bench_node "$port" 30455 --role inference
VERIML_WS="ws://127.0.0.1:$port" node "$VERIML_ROOT/scripts/e2e/bench-inference.mjs"
