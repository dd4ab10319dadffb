#!/usr/bin/env bash
# Generates the weights of veriml's pallets from their FRAME benchmarks: builds the node with
# `--features runtime-benchmarks` (into target/benchmarks, so the normal build is untouched),
# runs `veriml-node benchmark pallet` on the runtime wasm and writes each pallet's
# `src/weights.rs` with scripts/benchmark/weight-template.hbs.
#
#   scripts/benchmark/pallets.sh [PALLET ...]     (default: every veriml pallet)
#   STEPS=50 REPEAT=20 scripts/benchmark/pallets.sh   (more samples; defaults 20 and 10)
set -euo pipefail
source "$(dirname "$0")/../common.sh"
cd "$VERIML_ROOT"

target_dir="$VERIML_ROOT/target/benchmarks"
log "building veriml-node with runtime-benchmarks into $target_dir"
CARGO_TARGET_DIR="$target_dir" cargo build --release --locked -p veriml-node --features runtime-benchmarks
node="$target_dir/release/veriml-node"
runtime_wasm="$target_dir/release/wbuild/veriml-runtime/veriml_runtime.compact.compressed.wasm"

# pallet crate name -> its folder
declare -A folders=(
	[pallet_model_registry]=pallets/model-registry
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
