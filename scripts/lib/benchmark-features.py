#!/usr/bin/env python3
"""Checks that CI's benchmark build compiles only what its features change: the FRAME crates
that `runtime-benchmarks` and `try-runtime` reach, the crates built on them, and
frame-benchmarking's own dependencies; every other crate must be one the node build or the
unit-test build already compiled, so that cargo reuses it.

Cargo unifies a dependency's features over the packages a build selects, so the benchmark
build (the pallets and the upgrade checker, without the node) would give crates such as libc,
syn, tokio or sp-core fewer features than the node build does, and recompile all of them and
every crate above them (402 crates, ~25 minutes on 2 cores, where ~70 are needed).
`runtime/benchmark-features` names those features; this script finds any that are missing.

    benchmark-features.py CARGO_ARGS...   (the benchmark build's `cargo test` arguments)

Reads the three builds' unit graphs (`cargo --unit-graph`, a nightly flag: RUSTC_BOOTSTRAP
lets this stable toolchain print it; nothing is compiled). Prints each crate whose features
differ and the line to add; exits 1 if there is any."""
import hashlib
import json
import os
import subprocess
import sys

FRAME_FEATURES = ("runtime-benchmarks", "try-runtime")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def unit_graph(args, extra_env=None):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1", **(extra_env or {}))
    run = subprocess.run(["cargo", *args, "--locked", "--unit-graph", "-Z", "unstable-options"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} --unit-graph failed:\n{run.stderr}")
    return json.loads(run.stdout)["units"]


def package(unit):
    return unit["pkg_id"].split("#")[-1]


def own(unit):
    """What cargo hashes of the unit itself: its crate, side (a build's own profile, or the
    build-override profile of build scripts and proc-macros), mode and features."""
    return (package(unit), unit["target"]["name"], unit["mode"], json.dumps(unit["profile"], sort_keys=True),
            tuple(unit["features"]))


def identities(units):
    """A hash per unit of its own part and its dependencies' hashes: equal iff cargo can reuse it."""
    memo = {}

    def identity(i):
        if i not in memo:
            deps = sorted(identity(d["index"]) for d in units[i]["dependencies"])
            memo[i] = hashlib.sha1(repr((own(units[i]), deps)).encode()).hexdigest()
        return memo[i]
    return [identity(i) for i in range(len(units))]


def main(bench_args):
    built_units = unit_graph(["build", "--release", "-p", "veriml-node"])
    built_units_ws = unit_graph(["test", "--release", "--workspace", "--no-run"])
    bench = unit_graph(["test", "--release", *bench_args, "--no-run"], {"SKIP_WASM_BUILD": "1"})
    built = set(identities(built_units)) | set(identities(built_units_ws))
    built_units += built_units_ws
    built_own = {own(u) for u in built_units}
    built_packages = {package(u) for u in built_units}
    bench_identities = identities(bench)
    missing = []
    for unit, identity in zip(bench, bench_identities):
        if identity in built or own(unit) in built_own:
            continue  # reused, or rebuilt only because something below it is
        if any(f in FRAME_FEATURES or f.startswith("frame-") for f in unit["features"]):
            continue  # the features under test
        if package(unit) not in built_packages:
            continue  # only the benchmark build has it (frame-benchmarking's dependencies)
        side = "build-dependencies" if unit["profile"]["opt_level"] != "3" else "dependencies"
        same = [u["features"] for u in built_units
                if package(u) == package(unit) and u["mode"] == unit["mode"]
                and u["profile"] == unit["profile"]]
        node = min(same, key=lambda f: len(set(f) ^ set(unit["features"]))) if same else []
        missing.append(f"{package(unit)} ({unit['mode']}, [{side}]): the benchmark build gives it "
                       f"{unit['features']}, the node build {node}; add {sorted(set(node) - set(unit['features']))}")
    added = sum(1 for identity in bench_identities if identity not in built)
    for line in sorted(set(missing)):
        print(line)
    if missing:
        print("runtime/benchmark-features/Cargo.toml lacks the features above: the benchmark build would "
              "recompile these crates and every crate above them")
        return 1
    print(f"the benchmark build adds {added} of its {len(bench)} units to the node and unit-test builds', "
          "each one that runtime-benchmarks or try-runtime changes or adds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
