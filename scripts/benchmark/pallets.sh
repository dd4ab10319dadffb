#!/usr/bin/env bash
# Generates the weights of veriml's pallets from their FRAME benchmarks: builds the node with
# `--features runtime-benchmarks` (in the normal target dir, so only what the feature changes is
# compiled again, then copied to target/benchmarks; the next normal build relinks the node),
# runs `veriml-node benchmark pallet` on the runtime wasm and writes each pallet's
# `src/weights.rs` with scripts/benchmark/weight-template.hbs.
#
#   scripts/benchmark/pallets.sh [PALLET ...]     (default: every veriml pallet)
#   STEPS=50 REPEAT=20 scripts/benchmark/pallets.sh   (more samples; defaults 20 and 10)
#   SKIP_BUILD=1 scripts/benchmark/pallets.sh         (reuse target/benchmarks)
#
# frame-benchmarking-cli depends on `frame-storage-access-test-runtime`, whose build script
# (substrate-wasm-builder 35) panics with "Failed to find entry for package
# frame-storage-access-test-runtime" when that crate comes from crates.io. Its wasm only serves
# `benchmark storage`, which veriml does not use, so its wasm build is skipped.
set -euo pipefail
source "$(dirname "$0")/../common.sh"
cd "$VERIML_ROOT"

bench_dir="$VERIML_ROOT/target/benchmarks"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
	log "building veriml-node with runtime-benchmarks"
	SKIP_FRAME_STORAGE_ACCESS_TEST_RUNTIME_WASM_BUILD=1 \
		cargo build --release --locked -p veriml-node --features runtime-benchmarks
	mkdir -p "$bench_dir"
	cp "$VERIML_ROOT/target/release/veriml-node" "$bench_dir/veriml-node"
	cp "$VERIML_ROOT/target/release/wbuild/veriml-runtime/veriml_runtime.compact.compressed.wasm" "$bench_dir/"
fi
node="$bench_dir/veriml-node"
runtime_wasm="$bench_dir/veriml_runtime.compact.compressed.wasm"

# pallet crate name -> its folder
declare -A folders=(
	[pallet_model_registry]=pallets/model-registry
	[pallet_inference_nodes]=pallets/inference-nodes
	[pallet_inference_requests]=pallets/inference-requests
	[pallet_data_feeds]=pallets/data-feeds
	[pallet_workflows]=pallets/workflows
)
pallets=("$@")
[ "${#pallets[@]}" -gt 0 ] || pallets=("${!folders[@]}")

for pallet in "${pallets[@]}"; do
	folder="${folders[$pallet]:?unknown pallet $pallet (known: ${!folders[*]})}"
	log "benchmarking $pallet"
	"$node" benchmark pallet \
		--runtime "$runtime_wasm" \
		--genesis-builder-preset development \
		--pallet "$pallet" --extrinsic '*' \
		--steps "${STEPS:-20}" --repeat "${REPEAT:-10}" \
		--wasm-execution compiled \
		--heap-pages 4096 \
		--template "$VERIML_ROOT/scripts/benchmark/weight-template.hbs" \
		--output "$VERIML_ROOT/$folder/src/weights.rs"
done
log "weights written; review the diff and rebuild the runtime"
