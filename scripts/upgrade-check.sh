#!/usr/bin/env bash
# The checks to run before a runtime upgrade, try-runtime style (runtime/upgrade-check): this
# checkout's runtime runs its upgrade on a chain's state with every migration's pre- and
# post-upgrade checks, the storage versions, the whole state decoded, every pallet's invariants,
# the upgrade's weight against a block, and a second run that must change nothing.
#
#   scripts/upgrade-check.sh ws://HOST:PORT    the chain's state at its finalised head
#   scripts/upgrade-check.sh --snapshot FILE   a snapshot taken before (scripts/lib/state-snapshot.mjs)
#   scripts/upgrade-check.sh                   a fresh dev node's, once the quick start has given it a
#                                              model, a paid inference and its receipt (what CI runs)
#
# Builds the checker (the runtime compiled natively with try-runtime; the on-chain wasm never has
# the feature) unless VERIML_UPGRADE_CHECK names a built one. Exits non-zero naming the first
# check that fails.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"

checker="${VERIML_UPGRADE_CHECK:-}"
if [ -z "$checker" ]; then
	# The features CI builds it with (beside the pallets' benchmark tests, scripts/test.sh), so
	# that this build finds CI's.
	SKIP_WASM_BUILD=1 cargo build --release --locked -p veriml-upgrade-check --features try-runtime,runtime-benchmarks
	checker="$VERIML_ROOT/target/release/veriml-upgrade-check"
fi

dir=$(mktemp -d -t veriml-upgrade.XXXXXX)
snapshot="$dir/snapshot.json"
case "${1:-}" in
--snapshot)
	snapshot="${2:?--snapshot FILE}"
	;;
ws://* | wss://*)
	node scripts/lib/state-snapshot.mjs "$1" "$snapshot"
	;;
"")
	[ -x "$VERIML_NODE" ] || build_node
	port=19968
	"$VERIML_NODE" --dev --tmp --role inference,data --rpc-port "$port" --port 30468 --no-mdns \
		--no-prometheus >"$dir/dev.log" 2>&1 &
	node_pid=$!
	trap 'kill "$node_pid" 2>/dev/null || true' EXIT
	wait_for_rpc "$port" 120 "$dir/dev.log"
	if ! VERIML_WS="ws://127.0.0.1:$port" npm run --silent quickstart -w veriml-client -- --expect 4.75; then
		log "the quick start failed on the dev node; its log:"
		tail -n 40 "$dir/dev.log"
		exit 1
	fi
	node scripts/lib/state-snapshot.mjs "ws://127.0.0.1:$port" "$snapshot"
	;;
*)
	echo "usage: scripts/upgrade-check.sh [ws://HOST:PORT | --snapshot FILE]" >&2
	exit 2
	;;
esac

"$checker" "$snapshot"
