#!/usr/bin/env bash
# Prints the content store's upload throughput (MiB per block, MiB per second) on a fresh
# `--dev` node: one item of MIB MiB (default 32) stored in 1 MiB chunks, then fetched back and
# checked against its root. Builds the node if needed; installs the npm workspace.
#   MIB=64 IN_FLIGHT=9 scripts/bench-content-store.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
build_node
install_js_workspace
port=19956
# The pool holds the chunks waiting for a block: room for IN_FLIGHT of them and more.
start_bench_node "$port" 30456 --pool-kbytes 65536 --rpc-max-request-size 32
VERIML_WS="ws://127.0.0.1:$port" node "$VERIML_ROOT/scripts/e2e/bench-content-store.mjs"
