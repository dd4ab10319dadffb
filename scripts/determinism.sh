#!/usr/bin/env bash
# Proof of determinism: the chain's engine gives bit-identical result hashes on this CPU and on
# an older one without AVX (the same binaries under `qemu-x86_64 -cpu Nehalem`), and native
# tract, on the same models, would not have. It says which vector extensions this CPU has (the
# widest of them decide which kernels native tract picks; an AVX-512 CPU here is the issue's
# "AVX-512 CPU": qemu's emulation has no AVX-512).
#
#   scripts/determinism.sh [MODEL_NAME ...]     (default: a set of real models)
#
# Needs target/release/veriml-node and target/test-models (builds native tract itself); prints a table
# and exits non-zero if any chain hash differs between the two CPUs, or if the engine does not
# refuse, with its reason, a CPU below the instruction set it compiles for (x86-64-v2), or one
# whose `min` and `max` answer a flushed subnormal as stored (qemu's emulation: its runs under
# qemu are let through by VERIML_ENGINE_ACCEPT_AS_STORED_MIN_MAX=1; the real models take
# no `min` or `max` of a subnormal).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"

need_test_models light_squeezenet
command -v qemu-x86_64 >/dev/null || "$VERIML_ROOT/scripts/install-deps.sh"
[ -x "$VERIML_NODE" ] || build_node
# Native tract, for the "would it have differed" column: the guest's own code built for this
# machine, in the guest's workspace (tract alone, no wasmtime or Substrate crates) and at
# opt-level 1 (its bits depend on the kernels tract picks for the CPU at run time, not on the
# optimisation level), by rustc as the guest is (not clippy-driver, scripts/common.sh). The
# benchmark (scripts/bench-engine.sh) builds tract fully optimised.
env -u RUSTC_WORKSPACE_WRAPPER cargo build --locked --manifest-path primitives/engine-guest/Cargo.toml \
	--target-dir target/engine-guest --profile native-check --example native_result
native_result="$VERIML_ROOT/target/engine-guest/native-check/examples/native_result"

models=("$@")
if [ "${#models[@]}" -eq 0 ]; then
	models=(light_squeezenet light_shufflenet pytorch_Conv2d pytorch_Linear pytorch_BatchNorm2d_eval
		pytorch_ConvTranspose2d pytorch_Softmax sklearn_linear_regressor sklearn_random_forest_classifier
		sklearn_gradient_boosting_regressor sklearn_gradient_boosting_classifier_binary onnx_attention_gqa_cache
		onnx_lrn light_inception_v1 light_resnet50 light_densenet121)
fi

hash_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

# This CPU's vector extensions, as the kernel reports them.
extensions=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'sse4_2|avx|avx2|fma|avx512(f|bw|vl|dq|cd|_vnni|_bf16)' | sort | tr '\n' ' ' || true)
log "this CPU: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //'); vector extensions: ${extensions:-none reported}"
failures=0
printf '%-34s %-12s %-12s %-6s %-12s %-12s %-8s\n' model chain chain@Nehalem same native native@Nehalem same
for name in "${models[@]}"; do
	model="$models_dir/$name/model.onnx" input="$models_dir/$name/input.json"
	chain=$("$VERIML_NODE" infer --json --model "$model" --input "$input" | hash_of '["result_hash"]')
	chain_old=$(VERIML_ENGINE_ACCEPT_AS_STORED_MIN_MAX=1 qemu-x86_64 -cpu Nehalem "$VERIML_NODE" infer --json --model "$model" --input "$input" | hash_of '["result_hash"]')
	native=$("$native_result" "$model" "$input" | hash_of '.get("result_hash","error")')
	native_old=$(qemu-x86_64 -cpu Nehalem "$native_result" "$model" "$input" | hash_of '.get("result_hash","error")')
	same_chain=yes; [ "$chain" = "$chain_old" ] || { same_chain=NO; failures=$((failures + 1)); }
	same_native=yes; [ "$native" = "$native_old" ] || same_native=no
	printf '%-34s %-12s %-12s %-6s %-12s %-12s %-8s\n' "$name" "${chain:0:10}" "${chain_old:0:10}" "$same_chain" \
		"${native:0:10}" "${native_old:0:10}" "$same_native"
done
# The test decoder's generation (docs/model-authors.md, "Decoders"): 16 tokens sampled from a
# seed, one step a token fed; its hash commits to the tokens and to every step's state (logits
# and cache), and the sampling's arithmetic (its own exp, f64 sums) is the node's, on each CPU.
decoder="$models_dir/generative/tiny_decoder"
generate=(infer --json --generate --model "$decoder/model.onnx" --tokenizer "$decoder/tokenizer.json"
	--prompt "Errors should" --max-tokens 16 --temperature 0.9 --top-k 8 --top-p 0.95
	--seed 0x0101010101010101010101010101010101010101010101010101010101010101)
chain=$("$VERIML_NODE" "${generate[@]}" | hash_of '["generation_hash"]')
chain_old=$(VERIML_ENGINE_ACCEPT_AS_STORED_MIN_MAX=1 qemu-x86_64 -cpu Nehalem "$VERIML_NODE" "${generate[@]}" | hash_of '["generation_hash"]')
same_chain=yes; [ "$chain" = "$chain_old" ] || { same_chain=NO; failures=$((failures + 1)); }
printf '%-34s %-12s %-12s %-6s\n' "tiny_decoder, 16 tokens sampled" "${chain:0:10}" "${chain_old:0:10}" "$same_chain"
if [ "$failures" -ne 0 ]; then
	log "the chain engine differed between CPUs on $failures model(s)"
	exit 1
fi

log "the chain engine gave identical result hashes on both CPUs for all ${#models[@]} models and the decoder's generation"

# The engine compiles for x86-64-v2 on every CPU, so a CPU without it (Core 2: no SSE4.1 or
# SSE4.2) must be refused with the reason, never run other code.
model="$models_dir/pytorch_Linear/model.onnx" input="$models_dir/pytorch_Linear/input.json"
if refusal=$(qemu-x86_64 -cpu core2duo "$VERIML_NODE" infer --model "$model" --input "$input" 2>&1); then
	log "the engine ran on a CPU below x86-64-v2 (qemu -cpu core2duo); it must refuse to"
	exit 1
fi
grep -q 'not compatible with the native host' <<<"$refusal" || { log "no reason given on core2duo: $refusal"; exit 1; }
reason=${refusal##*EngineUnavailable)): }
log "on a CPU below x86-64-v2 (qemu -cpu core2duo) the engine refuses to start: ${reason%\")}"

# Every x86-64 processor measured (docs/engine.md, "Subnormal numbers flushed") answers a `min` or `max`
# of a subnormal read as zero with that zero; qemu answers the subnormal as stored. A flushing
# guest's bits would follow, so there the engine refuses to start unless told it runs under an
# emulator for a test, as the runs above are.
if refusal=$(qemu-x86_64 -cpu Nehalem "$VERIML_NODE" infer --model "$model" --input "$input" 2>&1); then
	log "the engine ran where min and max answer a flushed subnormal as stored (qemu -cpu Nehalem); it must refuse to"
	exit 1
fi
grep -q 'answer a flushed subnormal as stored' <<<"$refusal" || { log "no reason given under qemu: $refusal"; exit 1; }
log "where min and max answer a flushed subnormal as stored (qemu -cpu Nehalem) the engine refuses to start unless VERIML_ENGINE_ACCEPT_AS_STORED_MIN_MAX=1"
