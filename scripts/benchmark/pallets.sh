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
	[pallet_bonded_nodes]=pallets/bonded-nodes
	[pallet_verification]=pallets/verification
	[pallet_inference_requests]=pallets/inference-requests
	[pallet_data_feeds]=pallets/data-feeds
	[pallet_workflows]=pallets/workflows
)
# A pallet with instances in the runtime: each instance's weights go to the runtime
# (runtime/src/weights/<pallet>_<instance>.rs, from runtime-weight-template.hbs), which each
# instance's `Config` names; the pallet's own `weights.rs` (the `WeightInfo` trait, and `()`
# for mocks) takes the instance named here.
declare -A weights_instance=(
	[pallet_bonded_nodes]=inference_nodes
)
pallets=("$@")
[ "${#pallets[@]}" -gt 0 ] || pallets=("${!folders[@]}")

# benchmark PALLET TEMPLATE OUTPUT: runs every benchmark of PALLET and writes its weights with
# scripts/benchmark/TEMPLATE to OUTPUT (a file, or a folder: one file per instance).
benchmark() {
	"$node" benchmark pallet \
		--runtime "$runtime_wasm" \
		--genesis-builder-preset development \
		--pallet "$1" --extrinsic '*' \
		--steps "${STEPS:-20}" --repeat "${REPEAT:-10}" \
		--wasm-execution compiled \
		--heap-pages 4096 \
		--template "$VERIML_ROOT/scripts/benchmark/$2" \
		--output "$3"
}

for pallet in "${pallets[@]}"; do
	folder="${folders[$pallet]:?unknown pallet $pallet (known: ${!folders[*]})}"
	log "benchmarking $pallet"
	instance="${weights_instance[$pallet]:-}"
	if [ -z "$instance" ]; then
		benchmark "$pallet" weight-template.hbs "$VERIML_ROOT/$folder/src/weights.rs"
		continue
	fi
	by_instance="$bench_dir/$pallet/"
	rm -rf "$by_instance" && mkdir -p "$by_instance"
	benchmark "$pallet" weight-template.hbs "$by_instance"
	cp "$by_instance/${pallet}_${instance}.rs" "$VERIML_ROOT/$folder/src/weights.rs"
	log "benchmarking $pallet again for the runtime's per-instance weights"
	benchmark "$pallet" runtime-weight-template.hbs "$VERIML_ROOT/runtime/src/weights/"
done
log "weights written; review the diff and rebuild the runtime"
