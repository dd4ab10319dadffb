#!/usr/bin/env bash
# The whole veriml test suite, on a fresh clone: installs what it needs, builds, and runs
#   0. formatting (cargo fmt --check)
#   1. the test models: real ONNX models and their reference outputs (onnx, onnxruntime,
#      scikit-learn from PyPI) and hostile files, in target/test-models
#   2. the release node build (with its wasm runtime and the engine's wasm guest); every
#      workspace crate is compiled by clippy-driver, so clippy's lints run in the build, and a
#      warning fails the lints stage after it (and the unit and benchmark tests' builds)
#   3. unit and integration tests of pallets, primitives and runtime, in the release profile
#      so they reuse the node build's artifacts (a separate invocation from the wasm build)
#   3b. the FRAME benchmarks of the pallets, each run once on the mock runtimes, and the
#      upgrade check: this runtime's upgrade, try-runtime style, on the state of a dev chain
#      the quick start has used (scripts/upgrade-check.sh; runtime/upgrade-check); their build
#      compiles only the crates `runtime-benchmarks` and `try-runtime` change
#      (runtime/benchmark-features; the lints stage checks it)
#   4. the proof of determinism: result hashes on this CPU and on an emulated CPU without AVX
#   5. a --dev node checked through @polkadot/api (blocks, finality, metadata, a transfer,
#      models uploaded and registered, hostile models refused, inferences, the veriml RPC)
#   5b. the TypeScript quick start client (clients/typescript) against a fresh --dev node
#   5c. the Python client (clients/python): installed with pip into a venv of its own, its
#      pytest suite offline and against a fresh --dev node (the quick start, typed errors)
#   6. the zombienet multi-node tests in zombienet/ (blocks, an inference journey, a data node, an engine upgrade,
#      a hostile network, storage nodes), one network after the other; beside them, once the
#      dev-node tests have ended, a model of 100 MiB on a network of its own
#   7. the engine against its weight: adversarial models timed against the weight charged
#      for them (scripts/bench-engine-adversarial.sh; fails if time exceeds weight)
#   8. the inference figures (throughput and latency on a --dev node of its own)
# Stages 3-6 run side by side once the node is built: the network tests mostly wait for
# blocks, so the CPU-bound ones (unit tests then benchmark tests and the upgrade check, one
# cargo after the other; determinism beside them) run at the lowest priority, and each e2e test
# file gets a --dev node of its own. Every parallel job's output is printed whole when it ends,
# never interleaved. The timings (stages 7 and 8) run alone, on a quiet machine.
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
		printf '  %-46s %5ss\n' "${stage_names[$i]}" "${stage_secs[$i]}"
	done
	printf '  %-46s %5ss\n' "total" "$(( $(date +%s) - suite_start ))"
}
trap print_stage_times EXIT

# Parallel jobs: each a subshell with `set -e` whose output goes to a log of its own.
jobs_dir=$(mktemp -d -t veriml-ci.XXXXXX)
job_names=() job_pids=() job_logs=()
start_job() {
	local name="$1"; shift
	local out="$jobs_dir/job${#job_names[@]}.log"
	(
		set +e
		start=$(date +%s)
		(set -e; "$@")
		rc=$?
		echo "$rc $(( $(date +%s) - start ))" >"$out.result"
		exit "$rc"
	) >"$out" 2>&1 &
	job_pids+=("$!") job_names+=("$name") job_logs+=("$out")
	log "=== started: $name"
}
# Waits for every started job, printing each one's output and time as soon as it ends (so a
# log cut short still has every finished job's) and, every five minutes, which still run;
# fails after all have ended if any failed.
collect_jobs() {
	local failed=() pending=("${!job_pids[@]}") still=() i rc secs waited=0
	while [ "${#pending[@]}" -ne 0 ]; do
		still=()
		for i in "${pending[@]}"; do
			if [ ! -f "${job_logs[$i]}.result" ]; then
				still+=("$i")
				continue
			fi
			wait "${job_pids[$i]}" || true
			read -r rc secs <"${job_logs[$i]}.result" || { rc=1; secs=0; }
			log "=== output of: ${job_names[$i]}"
			cat "${job_logs[$i]}"
			log "=== ${job_names[$i]}: $([ "$rc" -eq 0 ] && echo "done" || echo "FAILED (exit $rc)") in ${secs}s"
			stage_names+=("  ${job_names[$i]}") stage_secs+=("$secs")
			[ "$rc" -eq 0 ] || failed+=("${job_names[$i]}")
		done
		pending=("${still[@]}")
		[ "${#pending[@]}" -ne 0 ] || break
		sleep 2
		waited=$((waited + 2))
		if [ $((waited % 300)) -eq 0 ]; then
			local names=()
			for i in "${pending[@]}"; do names+=("${job_names[$i]}"); done
			log "still running: $(IFS=,; echo "${names[*]}")"
		fi
	done
	job_names=() job_pids=() job_logs=()
	if [ "${#failed[@]}" -ne 0 ]; then
		log "failed: ${failed[*]}"
		return 1
	fi
}

# The Rust style rustfmt.toml names, on every crate but the two whose sources are compiled into
# the pinned engine guest (their formatting moves panic locations, so the guest's bytes): the
# guest itself (outside the workspace) and veriml-inference-primitives.
formatting() {
	cargo fmt --check -p veriml-node -p veriml-runtime -p pallet-model-registry -p pallet-escrow \
		-p pallet-bonded-nodes -p pallet-verification -p pallet-inference-requests -p veriml-primitives \
		-p veriml-inference-interface -p veriml-engine -p veriml-offchain -p pallet-data-feeds \
		-p pallet-workflows -p pallet-content-store -p pallet-storage-proofs -p veriml-content-interface \
		-p veriml-upgrade-check -p veriml-benchmark-features
}

# Clippy's and rustc's verdict on what `cargo "$@"` compiles: every workspace crate is compiled
# by clippy-driver (RUSTC_WORKSPACE_WRAPPER, scripts/common.sh), so its lints run in the builds
# themselves, and cargo replays the diagnostics of the crates it finds up to date, so asking
# again after a build costs seconds. Prints every warning; fails if there is any.
no_warnings() {
	local out rc=0 verdict=0
	out=$(mktemp -t veriml-lints.XXXXXX)
	cargo "$@" --message-format=json >"$out" || rc=$?
	python3 "$VERIML_ROOT/scripts/lib/diagnostics.py" "$out" || verdict=$?
	rm -f "$out"
	[ "$rc" -eq 0 ] && [ "$verdict" -eq 0 ]
}

# The lints of the node build (node, runtime, pallets, primitives): a warning fails here, before
# any test runs. The tests' own code is linted as the unit tests and the benchmark tests build it.
# Also: no pallet depends on another (they meet through veriml-primitives' interfaces).
lints() {
	no_warnings build --release --locked -p veriml-node
	cargo metadata --format-version 1 --no-deps --locked | python3 "$VERIML_ROOT/scripts/lib/pallet-dependencies.py"
	python3 "$VERIML_ROOT/scripts/lib/benchmark-features.py" "${benchmark_build[@]}"
}

setup() {
	"$VERIML_ROOT/scripts/install-deps.sh"
	install_js_workspace
	npm_install "$VERIML_ROOT/zombienet"
}

unit_tests() {
	# The whole workspace, node included: the same feature set as the node build, so nothing
	# is compiled twice (leaving the node out changes features and rebuilds ~10 minutes).
	no_warnings test --release --locked --workspace --no-run
	cargo test --release --locked --workspace
}

# The benchmark tests' packages and features. Every FRAME benchmark runs once at its lowest and
# highest components on the pallets' mock runtimes and passes its verification, so
# `scripts/benchmark/pallets.sh` cannot find a broken one months later. In the same cargo run,
# so that the FRAME crates are compiled once for both: the upgrade checker (the runtime natively
# with try-runtime, no wasm) and its tests; the pallets' tests run with try-runtime too.
# veriml-benchmark-features gives the crates below FRAME the node build's features, so that
# this build reuses them (scripts/lib/benchmark-features.py, in the lints stage, checks it).
benchmark_build=(-p pallet-model-registry -p pallet-bonded-nodes -p pallet-verification -p pallet-inference-requests
	-p pallet-data-feeds -p pallet-workflows -p pallet-content-store -p pallet-storage-proofs -p veriml-upgrade-check
	-p veriml-benchmark-features --features runtime-benchmarks,try-runtime)
benchmark_tests() {
	SKIP_WASM_BUILD=1 no_warnings test --release --locked "${benchmark_build[@]}" --no-run
	SKIP_WASM_BUILD=1 cargo test --release --locked "${benchmark_build[@]}"
}

# This runtime's upgrade on a dev chain's state, try-runtime style, with the checker built above.
upgrade_check() {
	VERIML_UPGRADE_CHECK="$VERIML_ROOT/target/release/veriml-upgrade-check" "$VERIML_ROOT/scripts/upgrade-check.sh"
}

# A CPU-bound job, at the lowest priority so that the network tests beside it keep their block
# times: runs "$@" (run_stage calls, each logging its own time).
low_priority() {
	renice -n 19 -p "$BASHPID" >/dev/null
	"$@"
}
# The checks that compile: one cargo after the other (they share target/).
cargo_checks() {
	run_stage "unit tests" unit_tests
	run_stage "benchmark tests" benchmark_tests
	run_stage "upgrade check (try-runtime)" upgrade_check
}

# Compiles the engine's guest once into the compiled-code cache that every node and the
# determinism runs then load (and shows `infer` at work).
warm_engine_cache() {
	local model="$VERIML_ROOT/target/test-models/pytorch_Linear"
	"$VERIML_NODE" infer --model "$model/model.onnx" --input "$model/input.json"
}

# Runs "$@" with VERIML_WS pointing at a fresh `--dev --role inference,data,storage` node on `port`, and
# VERIML_PROMETHEUS at its metrics (on `port` + 10000); prints the node's log when it fails. No
# mDNS: dev nodes running side by side share a genesis and would otherwise join into one network.
# `--ipfs-server`: the node serves the content store's chunks over bitswap (ipfs-bitswap.test.mjs,
# and to the node stored-model-fetch.test.mjs starts beside it).
with_dev_node() {
	local port="$1" p2p_port="$2"; shift 2
	local dir; dir=$(mktemp -d -t veriml-dev.XXXXXX)
	"$VERIML_NODE" --dev --tmp --role inference,data,storage --rpc-port "$port" --port "$p2p_port" \
		--prometheus-port $((port + 10000)) --no-mdns --ipfs-server >"$dir/dev.log" 2>&1 &
	local pid=$!
	local rc=0
	if wait_for_rpc "$port" 120; then
		VERIML_WS="ws://127.0.0.1:$port" VERIML_PROMETHEUS="http://127.0.0.1:$((port + 10000))/metrics" "$@" || rc=$?
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

# Each e2e test file on a dev node of its own, side by side.
start_dev_node_tests() {
	local i=0 file
	for file in "$VERIML_ROOT"/scripts/e2e/*.test.mjs; do
		start_job "dev node: $(basename "$file")" with_dev_node $((19944 + i)) $((30433 + i)) node --test "$file"
		i=$((i + 1))
	done
}

quickstart_client() {
	# What docs/quickstart.md tells a newcomer to run, on a fresh node; run twice, as a newcomer
	# would, the second time finding the model registered and served. 4.75 is the model's
	# output for [1, 2, 3] (0.5·1 − 1.25·2 + 2·3 + 0.75).
	local run=(npm run --silent quickstart -w veriml-client -- --expect 4.75)
	# And a classifier: an int64 label and float32 probabilities, each read by its dtype.
	local models="$VERIML_ROOT/clients/typescript/models"
	local classifier=(npm run --silent quickstart -w veriml-client -- --model "$models/classifier.onnx"
		--input "$models/classifier.input.json" --name quickstart-classifier --expect 1,0.013387,0.986613)
	# And its generative variant: the test decoder's 64 tokens streamed, then proven; the text
	# is onnxruntime's for the same decoder and prompt (the test-model stage wrote it).
	local decoder="${VERIML_TEST_MODELS:-$VERIML_ROOT/target/test-models}/generative/tiny_decoder" text
	text="$(node -p "require('$decoder/generation.json').onnxruntime_text")"
	local generate=(npm run --silent quickstart -w veriml-client -- --generate "$decoder" --expect-text "$text")
	# The client's own tests first (offline: the Merkle Mountain Range proofs it checks).
	(cd "$VERIML_ROOT" && npm run --silent test -w veriml-client)
	with_dev_node 19966 30466 bash -c "cd '$VERIML_ROOT' && ${run[*]} && ${run[*]} && ${classifier[*]} && ${generate[*]@Q}"
}

python_client() {
	# Installed as docs tell a user (pip install ./clients/python), with the versions CI pins.
	local venv="$VERIML_ROOT/target/pyclient"
	[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check -c "$VERIML_ROOT/clients/python/constraints.txt" \
		"$VERIML_ROOT/clients/python[test]"
	with_dev_node 19967 30467 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$VERIML_ROOT/clients/python"
}

# The zombienet tests named (files in zombienet/), one network after the other.
zombienet_tests() {
	local zombienet="$VERIML_ROOT/zombienet/node_modules/.bin/zombienet"
	local test
	for test in "$@"; do
		log "zombienet: $test"
		(cd "$VERIML_ROOT/zombienet" && PATH="$VERIML_ROOT/target/release:$PATH" \
			"$zombienet" --provider native --dir "$(mktemp -u -t veriml-zn.XXXXXX)" test "$VERIML_ROOT/zombienet/$test")
	done
}

# The zombienet test of a model of 100 MiB, on a network of its own beside the other zombienet
# tests': it waits for the jobs whose logs are named before `--` (the dev-node tests, which
# load both cores), so that at most two networks and the CPU-bound checks (at the lowest
# priority) share the machine.
large_model_journey() {
	local log
	while [ "$1" != "--" ]; do
		log="$1"; shift
		while [ ! -f "$log.result" ]; do sleep 2; done
	done
	zombienet_tests large-model-journey.zndsl
}

run_stage "setup" setup
run_stage "formatting (cargo fmt --check)" formatting
run_stage "test models" "$VERIML_ROOT/scripts/models/make-test-models.sh"
run_stage "release node build" build_node
run_stage "lints (clippy and rustc, replayed from the build)" lints
run_stage "engine compiled-code cache" warm_engine_cache
parallel_checks() {
	start_job "unit tests, benchmark tests, upgrade check" low_priority cargo_checks
	start_job "determinism (qemu Nehalem)" low_priority "$VERIML_ROOT/scripts/determinism.sh"
	local networks=() test
	for test in "$VERIML_ROOT"/zombienet/*.zndsl; do
		[ "$(basename "$test")" = large-model-journey.zndsl ] || networks+=("$(basename "$test")")
	done
	start_job "zombienet" zombienet_tests "${networks[@]}"
	local first_dev_job="${#job_logs[@]}"
	start_dev_node_tests
	start_job "quick start client (TypeScript)" quickstart_client
	start_job "Python client" python_client
	# scripts/bench-content-store.sh's figures (upload MiB per block), beside the tests (on a port
	# of its own: 19968 is the upgrade check's dev node, in the CPU-bound job beside it).
	start_job "content store figures" with_dev_node 19969 30469 env MIB=16 node "$VERIML_ROOT/scripts/e2e/bench-content-store.mjs"
	start_job "zombienet: a model of 100 MiB (after the dev-node tests)" large_model_journey "${job_logs[@]:$first_dev_job}" --
	collect_jobs
}
run_stage "parallel checks" parallel_checks
run_stage "engine against its weight (adversarial)" "$VERIML_ROOT/scripts/bench-engine-adversarial.sh"
run_stage "inference figures" "$VERIML_ROOT/scripts/bench-inference.sh"
log "all stages passed"
