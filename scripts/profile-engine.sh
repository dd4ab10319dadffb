#!/usr/bin/env bash
# Where the chain engine's time goes, per benchmark model: preparation, the phases of a run (a
# fresh instance, the snapshot restored, inputs written, the model run, outputs read, the
# instance released) with the node's own guest, and the run per operator (time, fuel,
# picoseconds per unit of fuel) with the same guest sources built with the feature `profile`,
# which report each node to the host.
#
#   scripts/profile-engine.sh [RUNS] [MODEL ...]   (default 15 runs; the benchmark's models)
#
# A measurement for engine work (issue 21), like scripts/bench-engine.sh: not a CI stage.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
runs="${1:-15}"
shift || true
need_test_models light_squeezenet
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(light_squeezenet light_shufflenet light_inception_v1 light_resnet50
	light_densenet121 pytorch_Conv2d pytorch_ConvTranspose2d pytorch_Linear sklearn_linear_regressor
	sklearn_random_forest_classifier)

# The profiling guest: the guest's sources with the feature `profile`, built for wasm32 with the
# engine build's target flags (primitives/engine/build.rs), in a target directory of its own.
target="${CARGO_TARGET_DIR:-$VERIML_ROOT/target}"
log "building the profiling guest"
env -u RUSTC_WORKSPACE_WRAPPER -u RUSTFLAGS CARGO_ENCODED_RUSTFLAGS="$(printf '%s\x1f%s\x1f%s' '-Ctarget-feature=+simd128,-relaxed-simd' --cfg 'getrandom_backend="unsupported"')" \
	cargo build --release --locked --target wasm32-unknown-unknown --features profile \
	--manifest-path primitives/engine-guest/Cargo.toml --target-dir "$target/engine-guest-profile"
guest="$target/engine-guest-profile/wasm32-unknown-unknown/release/veriml_engine_guest.wasm"
cargo build --release --locked -p veriml-engine --example profile
profile="$target/release/examples/profile"

results=$(mktemp)
for name in "${models[@]}"; do
	log "profiling $name"
	"$profile" "$models_dir/$name/model.onnx" "$models_dir/$name/input.json" "$runs" "$guest" \
		| python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" >>"$results"
done
python3 "$VERIML_ROOT/scripts/models/profile_report.py" "$results" "$runs"
