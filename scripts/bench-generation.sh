#!/usr/bin/env bash
# Token generation's speed: the chain's engine (`veriml-node infer --generate`) against
# onnxruntime on the same decoder (target/test-models/generative/tiny_decoder, written by the
# test-model stage), the same greedy loop (one token fed a step, the cache carried), the same
# tokens, in one run on this machine. For each number of tokens:
#   chain cold   the generation in a fresh process: every step prepares the model for its
#                cache's length (tract's typing and optimising, in the guest) before it runs
#   chain warm   the same generation again in that process, each length's model prepared
#   ort          onnxruntime (one thread), its session made once
# Prints tokens a second and the ratios; exits non-zero if the tokens differ.
#
#   scripts/bench-generation.sh [TOKENS ...]     (default: 16 64 256)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
need_test_models generative/tiny_decoder
decoder="$models_dir/generative/tiny_decoder"
[ -x "$VERIML_NODE" ] || build_node
python="$VERIML_ROOT/target/pyenv/bin/python"
prompt="Errors should"
counts=("$@")
[ "${#counts[@]}" -gt 0 ] || counts=(16 64 256)

printf '%-7s %-6s %-14s %-14s %-14s %-11s %-11s\n' tokens steps "chain cold" "chain warm" onnxruntime "warm/ort" "cold/ort"
for tokens in "${counts[@]}"; do
	chain=$("$VERIML_NODE" infer --json --generate --model "$decoder/model.onnx" --tokenizer "$decoder/tokenizer.json" \
		--prompt "$prompt" --max-tokens "$tokens" --timings 3)
	"$python" - "$decoder" "$prompt" "$tokens" "$chain" <<'PY'
import json, sys, time
import numpy as np
import onnxruntime as ort

decoder, prompt, max_tokens, chain = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(f"{decoder}/model.onnx", options)
heads = session.get_inputs()[3].shape[1]
size = session.get_inputs()[3].shape[3]

def generate():
    past = [np.zeros((1, heads, 0, size), dtype=np.float32)] * 2
    fed, tokens = chain["prompt_tokens"], []
    for step in range(len(fed) + max_tokens - 1):
        token = fed[step] if step < len(fed) else tokens[-1]
        logits, *past = session.run(None, {
            "input_ids": np.array([[token]], dtype=np.int64),
            "attention_mask": np.ones((1, step + 1), dtype=np.int64),
            "position_ids": np.array([[step]], dtype=np.int64),
            "past_key_values.0.key": past[0], "past_key_values.0.value": past[1]})
        if step >= len(fed) - 1:
            tokens.append(int(np.argmax(logits[0, -1])))
            if tokens[-1] == 256:
                break
    return tokens

times = []
for _ in range(3):
    started = time.perf_counter()
    tokens = generate()
    times.append(time.perf_counter() - started)
ort_seconds = sorted(times)[1]
if tokens != chain["tokens"]:
    sys.exit(f"{max_tokens} tokens: onnxruntime's tokens differ from the chain engine's")
n = len(chain["tokens"])
cold, warm = chain["seconds"], chain["warm_seconds_median"]
print(f"{n:<7} {chain['steps']:<6} {n / cold:>8.1f} tok/s {n / warm:>8.1f} tok/s {n / ort_seconds:>8.1f} tok/s "
      f"{ort_seconds / warm:>9.3f}x {ort_seconds / cold:>9.3f}x")
PY
done
