#!/usr/bin/env bash
# Builds the engine's wasm guest, reproducibly (the same bytes from any checkout path on any
# machine with the pinned toolchain: see primitives/engine/build.rs), and prints its blake2-256,
# the guest hash the node logs at start-up and `veriml-node infer` prints. Fails if it differs
# from the hash pinned in primitives/engine/guest.blake2 (the engine's tests check the same).
#
#   scripts/build-engine-guest.sh [--pin]     --pin writes the new hash into the pin file instead
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$VERIML_ROOT"
cargo build --release --locked -p veriml-engine
wasm="${CARGO_TARGET_DIR:-$VERIML_ROOT/target}/engine-guest/veriml_engine_guest.metered.wasm"
hash="0x$(b2sum -l 256 "$wasm" | cut -d' ' -f1)"
pin="$VERIML_ROOT/primitives/engine/guest.blake2"
log "engine guest: $wasm ($(stat -c %s "$wasm") bytes)"
log "guest hash:   $hash"
if [ "${1:-}" = "--pin" ]; then
	echo "$hash" >"$pin"
	log "pinned in $pin"
elif [ "$hash" != "$(cat "$pin")" ]; then
	log "the pinned hash is $(cat "$pin"): the guest's bytes changed (pin the new hash with --pin if that was meant)"
	exit 1
fi
