#!/usr/bin/env python3
"""Checks that no veriml pallet depends on another veriml pallet: a pallet uses another through
the interfaces in `veriml-primitives` (as polkadot-sdk's pallets use `sp-staking`), and takes
the providing pallet only as a dev-dependency (for its mock runtime) or as an optional one
enabled by `runtime-benchmarks` (for the benchmarks' helpers). The runtime is where pallets meet.

Reads `cargo metadata --no-deps` on standard input; prints each offending dependency and exits 1
if there is any."""
import json
import sys

metadata = json.load(sys.stdin)
members = set(metadata["workspace_members"])
pallets = {p["name"] for p in metadata["packages"] if p["id"] in members and p["name"].startswith("pallet-")}
offending = []
for package in metadata["packages"]:
    if package["name"] not in pallets:
        continue
    for dependency in package["dependencies"]:
        if dependency["name"] in pallets and dependency["kind"] is None and not dependency["optional"]:
            offending.append(f"{package['name']} depends on {dependency['name']}")
        if dependency["name"] in pallets and dependency["optional"]:
            feature_users = [f for f, enables in package["features"].items()
                             if f"dep:{dependency['name']}" in enables or dependency["name"] in enables]
            if feature_users and set(feature_users) - {"runtime-benchmarks"}:
                offending.append(f"{package['name']} enables {dependency['name']} outside runtime-benchmarks "
                                 f"({', '.join(sorted(feature_users))})")
for line in offending:
    print(line)
if offending:
    print("a pallet uses another through veriml-primitives' interfaces, not its crate")
    sys.exit(1)
print(f"{len(pallets)} pallets, none depends on another")
