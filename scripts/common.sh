# Shared helpers for veriml's scripts. Source it; don't run it.

VERIML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERIML_NODE="$VERIML_ROOT/target/release/veriml-node"

# Every workspace crate is compiled by clippy-driver: rustc with clippy's lints (the set in the
# workspace's [workspace.lints]), so each build lints what it compiles at no extra cold cost, where
# a `cargo clippy` of its own would type-check every dependency a second time (about 25 minutes
# cold on 2 cores). Dependencies are compiled by rustc as before; the engine's guest
# (primitives/engine/build.rs) is built without the wrapper, so its pinned bytes do not change.
# clippy-driver turns MIR optimisations off for the crates it lints; LLVM optimises them as before.
export RUSTC_WORKSPACE_WRAPPER="${RUSTC_WORKSPACE_WRAPPER-clippy-driver}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Waits until a node answers JSON-RPC on 127.0.0.1:$1, or fails after $2 seconds, showing the
# end of the node's log $3 when one is given.
wait_for_rpc() {
	local port="$1" limit="${2:-120}" node_log="${3:-}" waited=0
	until curl -sf -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' \
		"http://127.0.0.1:$port" >/dev/null 2>&1; do
		sleep 1
		waited=$((waited + 1))
		if [ "$waited" -ge "$limit" ]; then
			log "no JSON-RPC answer on port $port after ${limit}s"
			[ -n "$node_log" ] && tail -n 20 "$node_log"
			return 1
		fi
	done
}

# Starts a fresh `--dev` node for a figures script, RPC on port $1 and p2p on $2 (more node
# flags after them), stops it when the script exits, and waits for its RPC.
start_bench_node() {
	local port="$1" p2p_port="$2"; shift 2
	local dir; dir=$(mktemp -d -t veriml-bench.XXXXXX)
	"$VERIML_NODE" --dev --tmp --rpc-port "$port" --port "$p2p_port" --no-prometheus "$@" >"$dir/node.log" 2>&1 &
	BENCH_NODE_PID=$!
	trap 'kill $BENCH_NODE_PID 2>/dev/null || true; wait $BENCH_NODE_PID 2>/dev/null || true' EXIT
	wait_for_rpc "$port" 120 "$dir/node.log"
}

# Sets models_dir to the engine's test models ($VERIML_TEST_MODELS, else target/test-models),
# writing them first (the test-model stage's script) where `$1`, a folder in them, is missing.
need_test_models() {
	models_dir="${VERIML_TEST_MODELS:-$VERIML_ROOT/target/test-models}"
	[ -d "$models_dir/$1" ] || "$VERIML_ROOT/scripts/models/make-test-models.sh"
}

# Builds the release node (and its wasm runtime). Cargo prints its own progress.
build_node() {
	log "building veriml-node (release; a cold build takes 20 to 50 minutes on 2 cores)"
	(cd "$VERIML_ROOT" && cargo build --release --locked -p veriml-node)
}

# Installs an npm folder's pinned packages, from its lockfile when there is one.
npm_install() {
	local dir="$1"
	if [ -f "$dir/package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	else
		(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
	fi
}

# The repository's npm workspace (the TypeScript client in clients/typescript and the e2e
# tests in scripts/e2e, which import it): packages installed, the client compiled to dist/.
install_js_workspace() {
	npm_install "$VERIML_ROOT"
	(cd "$VERIML_ROOT" && npm run --silent build -w veriml-client)
}
