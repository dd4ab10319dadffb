#!/usr/bin/env python3
"""Prints scripts/profile-engine.sh's tables: per model, preparation and the phases of a run;
then per model, its operators by time (with their fuel and picoseconds per unit of fuel).

usage: profile_report.py RESULTS.jsonl RUNS
"""
import json
import sys

# Operators listed per model: the costliest by time; the rest summed on one line.
TOP_OPERATORS = 8
# The runtime's charge per unit of fuel (runtime/src/lib.rs, EnginePicosecondsPerFuel).
CHARGED_PS_PER_FUEL = 400


def main():
    results_path, runs = sys.argv[1], int(sys.argv[2])
    rows = [json.loads(line) for line in open(results_path)]
    print()
    print(f"phases of a run with the node's guest, median of {runs} runs (µs); "
          "fixed = all but the model's own run")
    print(f"{'model':<34} {'prepare ms':>10} {'snapshot':>9} {'instance':>9} {'restore':>8} "
          f"{'inputs':>7} {'run':>10} {'outputs':>8} {'release':>8} {'fixed':>8} {'total':>10} {'fixed %':>8}")
    for row in rows:
        p = row["phases_us"]
        print(f"{row['name']:<34} {row['prepare_ms']:>10.1f} {row['snapshot_bytes'] // 1024:>7}Ki "
              f"{p['instantiate']:>9.1f} {p['restore']:>8.1f} {p['inputs']:>7.1f} {p['run']:>10.1f} "
              f"{p['outputs']:>8.1f} {p['release']:>8.1f} {p['fixed']:>8.1f} {p['total']:>10.1f} {100 * p['fixed'] / p['total']:>7.0f}%")
    print()
    print(f"operators with the profiling guest (tract's optimised ops), median of {runs} runs; "
          f"ps/fuel against the {CHARGED_PS_PER_FUEL} charged")
    for row in rows:
        ops = row.get("operators") or []
        if not ops:
            continue
        total = sum(op["time_us"] for op in ops) or 1.0
        fuel = sum(op["fuel"] for op in ops)
        extra = row["fuel_per_run_profiling"] - row["fuel_per_run"]
        print(f"{row['name']}: {total / 1000:.2f} ms in {sum(op['nodes'] for op in ops)} nodes, "
              f"{fuel / 1e6:.1f} M fuel ({total * 1e6 / fuel if fuel else 0:.0f} ps/fuel); the profiling guest's "
              f"run {extra:+,} fuel ({100 * extra / row['fuel_per_run']:+.2f} %) against the node's guest")
        ops.sort(key=lambda op: -op["time_us"])
        shown, rest = ops[:TOP_OPERATORS], ops[TOP_OPERATORS:]
        for op in shown:
            print(f"  {op['op'][:40]:<40} {op['nodes']:>4} nodes {op['time_us'] / 1000:>9.3f} ms "
                  f"{100 * op['time_us'] / total:>5.1f}% {op['fuel'] / 1e6:>9.2f} M fuel {op['ps_per_fuel']:>6.0f} ps/fuel")
        if rest:
            time_rest = sum(op["time_us"] for op in rest)
            fuel_rest = sum(op["fuel"] for op in rest)
            print(f"  {f'{len(rest)} other operators':<40} {sum(op['nodes'] for op in rest):>4} nodes "
                  f"{time_rest / 1000:>9.3f} ms {100 * time_rest / total:>5.1f}% {fuel_rest / 1e6:>9.2f} M fuel "
                  f"{time_rest * 1e6 / fuel_rest if fuel_rest else 0:>6.0f} ps/fuel")


if __name__ == "__main__":
    main()
