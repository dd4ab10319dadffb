#!/usr/bin/env bash
# The path of a model of just over 100 MiB on a fresh `--dev` node: stored in the content store
# (MiB per block), registered from it (its fuel figures), requested and verified (the time to
# the first verified result). Builds the node and the test models if needed; installs the npm
# workspace. A measurement, not a CI stage (about five minutes: 100 one-MiB chunks at three a
# block, then the challenge window of an optimistic result).
#   scripts/bench-large-model.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
build_node
install_js_workspace
need_test_models stored_matmul_large
port=19958
# The pool holds the chunks waiting for a block.
start_bench_node "$port" 30458 --role inference,storage --pool-kbytes 65536 --rpc-max-request-size 32
VERIML_WS="ws://127.0.0.1:$port" node "$VERIML_ROOT/scripts/e2e/bench-large-model.mjs"
