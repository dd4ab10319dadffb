#!/usr/bin/env bash
# The engine's time against the weight the chain charges for it, on models made to do as much
# work per unit of fuel as they can (target/test-models/adversarial, written by the test-model
# stage) and on the CNNs the fuel rate was first calibrated on. For each model, in one run on
# this machine (`veriml-node infer --timings`):
#   request       a run of the prepared model, against submit_result's benchmarked base
#                 weight + fuel_used x the runtime's price of a unit of fuel of the node's engine
#                 version (EngineV<N>PicosecondsPerFuel, else EnginePicosecondsPerFuel: "price")
#   registration  preparing the model and its trial run, against register_model's base
#                 weight + (fuel_to_prepare + fuel of the trial run) x price
#   cache miss    preparing and running, as an importing node whose engine has not prepared the
#                 model does, against the weight of the first result of the model in a block:
#                 submit_result's base weight + (fuel_to_prepare + fuel_used) x price (the
#                 charge for reading the model's bytes left out)
# ps/fuel is the run's time per unit of fuel, to set against the price. Fails if
# any ratio (time / weight) is above 1.
#
#   scripts/bench-engine-adversarial.sh [REPEAT]      (default 5 timings per model)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
repeat="${1:-5}"
need_test_models adversarial
[ -x "$VERIML_NODE" ] || build_node

# The runtime's figures, read where they are defined.
# The price of the node's own engine version (its guest is what runs here): the runtime's
# `EngineV<version>PicosecondsPerFuel` where it names one, else `EnginePicosecondsPerFuel`.
engine_version=$(sed -n 's/^pub const ENGINE_VERSION: u32 = \([0-9]*\);.*/\1/p' primitives/inference/src/guest.rs)
ps_per_fuel=$(sed -n "s/.*pub const EngineV${engine_version}PicosecondsPerFuel: u64 = \([0-9_]*\);.*/\1/p" runtime/src/configs.rs | tr -d _)
[ -n "$ps_per_fuel" ] || ps_per_fuel=$(sed -n 's/.*pub const EnginePicosecondsPerFuel: u64 = \([0-9_]*\);.*/\1/p' runtime/src/configs.rs | tr -d _)
base_weight() { # the first body of `fn NAME` in a weights.rs: its Weight::from_parts ref time
	awk -v fn="fn $2(" 'index($0, fn) && /\{[[:space:]]*$/ { found = 1 } found && /Weight::from_parts\(/ {
		sub(/.*Weight::from_parts\(/, ""); sub(/,.*/, ""); gsub(/_/, ""); print; exit }' "$1"
}
submit_ps=$(base_weight pallets/inference-requests/src/weights.rs submit_result)
register_ps=$(base_weight pallets/model-registry/src/weights.rs register_model)
[ -n "$ps_per_fuel" ] && [ -n "$submit_ps" ] && [ -n "$register_ps" ] || { log "weights not found"; exit 1; }
log "engine version $engine_version at $ps_per_fuel ps a unit of fuel, submit_result base ${submit_ps} ps, register_model base ${register_ps} ps"

results=$(mktemp)
for folder in "$models_dir"/adversarial/* "$models_dir"/light_squeezenet "$models_dir"/light_shufflenet \
	"$models_dir"/sklearn_random_forest_classifier; do
	name=$(basename "$folder")
	"$VERIML_NODE" infer --model "$folder/model.onnx" --input "$folder/input.json" --json --timings "$repeat" \
		| python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("outputs"); d["name"]=sys.argv[1]; print(json.dumps(d))' "$name" \
		>>"$results"
done

python3 - "$results" "$ps_per_fuel" "$submit_ps" "$register_ps" <<'PY'
import json, sys
results, ps_per_fuel, submit_ps, register_ps = sys.argv[1], *map(int, sys.argv[2:])
rows = [json.loads(line) for line in open(results)]
print(f"{'model':<34} {'fuel/run':>13} {'ps/fuel':>7} {'run ms':>9} {'weight ms':>9} {'ratio':>6}   "
      f"{'register ms':>11} {'weight ms':>9} {'ratio':>6}   {'miss ratio':>10}")
worst = 0.0
for r in rows:
    run_weight = (submit_ps + r["fuel_used"] * ps_per_fuel) / 1e9
    register_weight = (register_ps + (r["fuel_to_prepare"] + r["fuel_all_zero_input"]) * ps_per_fuel) / 1e9
    run_ratio = r["run_ms_median"] / run_weight
    register_ratio = r["inspect_ms_median"] / register_weight
    miss_weight = (submit_ps + (r["fuel_to_prepare"] + r["fuel_used"]) * ps_per_fuel) / 1e9
    miss_ratio = r["inspect_ms_median"] / miss_weight
    worst = max(worst, run_ratio, register_ratio, miss_ratio)
    ps_per_fuel_here = r["run_ms_median"] * 1e9 / max(r["fuel_used"], 1)
    print(f"{r['name']:<34} {r['fuel_used']:>13} {ps_per_fuel_here:>7.0f} {r['run_ms_median']:>9.2f} {run_weight:>9.2f} {run_ratio:>6.2f}   "
          f"{r['inspect_ms_median']:>11.2f} {register_weight:>9.2f} {register_ratio:>6.2f}   {miss_ratio:>10.2f}")
print(f"worst ratio: {worst:.2f} (time / weight; must be at most 1)")
sys.exit(0 if worst <= 1.0 else 1)
PY
