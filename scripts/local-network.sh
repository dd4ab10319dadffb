#!/usr/bin/env bash
# Sets up this machine, builds veriml-node and starts a local network on it:
#   scripts/local-network.sh          two validators (Alice, Bob: complete nodes), an inference
#                                     node (Charlie, `infr` key //Charlie) and a storage node (Dave,
#                                     `stor` key //Dave, IPFS bitswap server) on the `local` chain
#   scripts/local-network.sh --dev    one development node (Alice, also an inference node with
#                                     the `infr` key //Alice), state discarded on exit
# Register the inference node's key account with `inferenceNodes.register` (any funded account,
# may operate it, with the key's signed consent: docs/operators.md, "Registering a node key")
# before requests for your model can be served, and the storage node's with
# `storageNodes.register` (service `AllItems`) for it to be challenged and paid.
# Ctrl-C stops the network. Chain data lives under $VERIML_NET_DIR (default: a fresh temp dir).
set -euo pipefail
source "$(dirname "$0")/common.sh"

mode="local"
[ "${1:-}" = "--dev" ] && mode="dev"

"$VERIML_ROOT/scripts/install-deps.sh"
build_node

net_dir="${VERIML_NET_DIR:-$(mktemp -d -t veriml-net.XXXXXX)}"
mkdir -p "$net_dir"
pids=()
cleanup() {
	log "stopping the network"
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ "$mode" = "dev" ]; then
	"$VERIML_NODE" --dev --role complete,inference --base-path "$net_dir/dev" --rpc-port 9944 --rpc-cors all \
		>"$net_dir/dev.log" 2>&1 &
	pids+=($!)
	wait_for_rpc 9944 120 "$net_dir/dev.log"
	log "development node up: ws://127.0.0.1:9944 (log: $net_dir/dev.log)"
else
	# Alice's fixed network key gives Bob a known bootnode address.
	alice_key=0000000000000000000000000000000000000000000000000000000000000001
	alice_peer=12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp
	"$VERIML_NODE" --chain local --alice --validator --base-path "$net_dir/alice" \
		--node-key "$alice_key" --port 30333 --rpc-port 9944 --rpc-cors all \
		>"$net_dir/alice.log" 2>&1 &
	pids+=($!)
	# A validator on a non-dev chain needs a network key; a fixed one keeps restarts simple.
	bob_key=0000000000000000000000000000000000000000000000000000000000000002
	"$VERIML_NODE" --chain local --bob --validator --base-path "$net_dir/bob" \
		--node-key "$bob_key" --port 30334 --rpc-port 9945 --rpc-cors all \
		--bootnodes "/ip4/127.0.0.1/tcp/30333/p2p/$alice_peer" \
		>"$net_dir/bob.log" 2>&1 &
	pids+=($!)
	# Charlie computes inferences: not a validator; its `infr` key is //Charlie's.
	"$VERIML_NODE" key insert --chain local --base-path "$net_dir/charlie" \
		--key-type infr --scheme sr25519 --suri //Charlie
	"$VERIML_NODE" --chain local --role inference --base-path "$net_dir/charlie" \
		--port 30335 --rpc-port 9946 --rpc-cors all \
		--bootnodes "/ip4/127.0.0.1/tcp/30333/p2p/$alice_peer" \
		>"$net_dir/charlie.log" 2>&1 &
	pids+=($!)
	# Dave keeps and proves the content store's items, and serves them over IPFS bitswap.
	"$VERIML_NODE" key insert --chain local --base-path "$net_dir/dave" \
		--key-type stor --scheme sr25519 --suri //Dave
	"$VERIML_NODE" --chain local --role storage --ipfs-server --base-path "$net_dir/dave" \
		--port 30336 --rpc-port 9947 --rpc-cors all \
		--bootnodes "/ip4/127.0.0.1/tcp/30333/p2p/$alice_peer" \
		>"$net_dir/dave.log" 2>&1 &
	pids+=($!)
	wait_for_rpc 9944 120 "$net_dir/alice.log"
	wait_for_rpc 9945 120 "$net_dir/bob.log"
	wait_for_rpc 9946 120 "$net_dir/charlie.log"
	wait_for_rpc 9947 120 "$net_dir/dave.log"
	log "Alice:   ws://127.0.0.1:9944 (validator, complete node; log: $net_dir/alice.log)"
	log "Bob:     ws://127.0.0.1:9945 (validator, complete node; log: $net_dir/bob.log)"
	log "Charlie: ws://127.0.0.1:9946 (inference node, infr key //Charlie; log: $net_dir/charlie.log)"
	log "Dave:    ws://127.0.0.1:9947 (storage node, stor key //Dave; log: $net_dir/dave.log)"
fi
log "polkadot.js apps: https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A9944#/explorer"
log "network running; Ctrl-C stops it"
tail -n 0 -F "$net_dir"/*.log | grep --line-buffered -E "Imported|finalized|Error|WARN|request [0-9]+:|🧮|proved segment" &
pids+=($!)
wait "${pids[0]}"
