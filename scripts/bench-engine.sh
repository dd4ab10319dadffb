#!/usr/bin/env bash
# Engine benchmark: per model, the median latency of one inference with the chain's engine
# (tract in wasm under wasmtime, prepared model cached), native tract (the same Rust code built
# natively) and onnxruntime, in one run on this machine, printed with the ratios; then the CNNs
# again with the chain's engine on as many threads as the machine has cores (its large matrix
# products split between them: `--engine-threads`), beside onnxruntime on as many.
#
#   scripts/bench-engine.sh [REPEAT]      (default 15 runs per model and engine)
#
# Targets: chain engine >= 0.5x native tract's speed and >= 0.3x onnxruntime's.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
repeat="${1:-15}"
need_test_models light_squeezenet
cargo build --release --locked -p veriml-engine --features native-tract --example compare
compare="$VERIML_ROOT/target/release/examples/compare"

models=(light_squeezenet light_shufflenet light_inception_v1 light_resnet50 pytorch_Conv2d
	pytorch_ConvTranspose2d pytorch_Linear sklearn_linear_regressor sklearn_random_forest_classifier)
results=$(mktemp)
for name in "${models[@]}"; do
	log "benchmarking $name"
	"$compare" "$models_dir/$name/model.onnx" "$models_dir/$name/input.json" "$repeat" \
		| python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" >>"$results"
done
threads=$(nproc)
threaded=$(mktemp)
trap 'rm -f "$results" "$threaded"' EXIT
if [ "$threads" -gt 1 ]; then
	for name in light_squeezenet light_shufflenet light_inception_v1 light_resnet50; do
		log "benchmarking $name on $threads threads"
		VERIML_ENGINE_THREADS=$threads "$compare" "$models_dir/$name/model.onnx" "$models_dir/$name/input.json" "$repeat" \
			| python3 -c 'import json,sys; d=json.load(sys.stdin); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" >>"$threaded"
	done
fi
"$VERIML_ROOT/target/pyenv/bin/python" "$VERIML_ROOT/scripts/models/bench_report.py" "$results" "$models_dir" "$repeat" "$threaded"
