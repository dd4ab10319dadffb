#!/usr/bin/env bash
# The whole veriml test suite, on a fresh clone: installs what it needs, builds, and runs
#   1. the test models: real ONNX models and their reference outputs (onnx, onnxruntime,
#      scikit-learn from PyPI) and hostile files, in target/test-models
#   2. the release node build (with its wasm runtime and the engine's wasm guest)
#   3. unit and integration tests of pallets, primitives and runtime, in the release profile
#      so they reuse the node build's artifacts (a separate invocation from the wasm build)
#   3b. the FRAME benchmarks of the pallets, each run once on the mock runtimes
#   4. the proof of determinism: result hashes on this CPU and on an emulated CPU without AVX
#   5. a --dev node checked through @polkadot/api (blocks, finality, metadata, a transfer,
#      models uploaded and registered, hostile models refused, inferences, the veriml RPC)
#   5b. the TypeScript quick start client (docs/examples/client) against a fresh --dev node
#   6. the zombienet multi-node tests in zombienet/ (blocks, an inference journey, a data node)
# Prints how long each stage took. `.ci/run` runs exactly this.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"

suite_start=$(date +%s)
stage_names=()
stage_secs=()
run_stage() {
	local name="$1"; shift
	local start; start=$(date +%s)
	log "=== stage: $name"
	"$@"
	local took=$(( $(date +%s) - start ))
	stage_names+=("$name"); stage_secs+=("$took")
	log "=== stage: $name done in ${took}s"
}
print_stage_times() {
	log "stage times:"
	for i in "${!stage_names[@]}"; do
		printf '  %-28s %5ss\n' "${stage_names[$i]}" "${stage_secs[$i]}"
	done
	printf '  %-28s %5ss\n' "total" "$(( $(date +%s) - suite_start ))"
}
trap print_stage_times EXIT

setup() {
	"$VERIML_ROOT/scripts/install-deps.sh"
	install_js_workspace
	npm_install "$VERIML_ROOT/zombienet"
}

unit_tests() {
	# The whole workspace, node included: the same feature set as the node build, so nothing
	# is compiled twice (leaving the node out changes features and rebuilds ~10 minutes).
	cargo test --release --locked --workspace
}

benchmark_tests() {
	# Every FRAME benchmark runs once at its lowest and highest components on the pallets'
	# mock runtimes and passes its verification, so `scripts/benchmark/pallets.sh` cannot find
	# a broken one months later.
	cargo test --release --locked -p pallet-model-registry -p pallet-inference-nodes \
		-p pallet-inference-requests -p pallet-data-feeds -p pallet-workflows \
		--features runtime-benchmarks
}

# Runs "$@" with VERIML_WS pointing at a fresh `--dev --role inference,data` node on `port`; prints
# the node's log when it fails.
with_dev_node() {
	local port="$1" p2p_port="$2"; shift 2
	local dir; dir=$(mktemp -d -t veriml-dev.XXXXXX)
	"$VERIML_NODE" --dev --tmp --role inference,data --rpc-port "$port" --port "$p2p_port" --no-prometheus \
		>"$dir/dev.log" 2>&1 &
	local pid=$!
	local rc=0
	if wait_for_rpc "$port" 120; then
		VERIML_WS="ws://127.0.0.1:$port" "$@" || rc=$?
	else
		rc=1
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if [ "$rc" -ne 0 ]; then
		log "dev node log (last 60 lines):"; tail -n 60 "$dir/dev.log"
	fi
	return "$rc"
}

dev_node_tests() {
	with_dev_node 19944 30433 node --test "$VERIML_ROOT"/scripts/e2e/*.test.mjs
}

quickstart_client() {
	# What docs/quickstart.md tells a newcomer to run, on a fresh node; run twice, as a newcomer
	# would, the second time finding the model registered and served. 4.75 is the model's
	# output for [1, 2, 3] (0.5·1 − 1.25·2 + 2·3 + 0.75).
	local run=(npm run --silent quickstart -w veriml-client -- --expect 4.75)
	with_dev_node 19966 30466 bash -c "cd '$VERIML_ROOT' && ${run[*]} && ${run[*]}"
}

zombienet_tests() {
	local zombienet="$VERIML_ROOT/zombienet/node_modules/.bin/zombienet"
	local test
	for test in "$VERIML_ROOT"/zombienet/*.zndsl; do
		log "zombienet: $(basename "$test")"
		(cd "$VERIML_ROOT/zombienet" && PATH="$VERIML_ROOT/target/release:$PATH" \
			"$zombienet" --provider native --dir "$(mktemp -u -t veriml-zn.XXXXXX)" test "$test")
	done
}

run_stage "setup" setup
run_stage "test models" "$VERIML_ROOT/scripts/models/make-test-models.sh"
run_stage "release node build" build_node
run_stage "unit tests" unit_tests
run_stage "benchmark tests" benchmark_tests
run_stage "determinism (qemu Nehalem)" "$VERIML_ROOT/scripts/determinism.sh"
run_stage "dev node (@polkadot/api)" dev_node_tests
run_stage "quick start client (TypeScript)" quickstart_client
run_stage "inference figures" "$VERIML_ROOT/scripts/bench-inference.sh"
run_stage "zombienet" zombienet_tests
log "all stages passed"
