#!/usr/bin/env bash
# Installs the Python packages of scripts/models/requirements.txt into target/pyenv and writes
# the engine's test models to target/test-models (or $VERIML_TEST_MODELS).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/pyenv"
out="${VERIML_TEST_MODELS:-$root/target/test-models}"
if [ ! -x "$venv/bin/python" ]; then
	python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/models/requirements.txt"
"$venv/bin/python" "$root/scripts/models/make_test_models.py" "$out"
