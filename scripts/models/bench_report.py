#!/usr/bin/env python3
"""Adds onnxruntime's median latency to the engine benchmark's results and prints the table.

usage: bench_report.py RESULTS.jsonl MODELS_DIR REPEAT [THREADED.jsonl]

THREADED.jsonl holds the same script's results for some models with the chain's engine on more
threads (its rows' "threads"); they are printed beside the single-thread figures and
onnxruntime on as many threads.
"""
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

ort.set_default_logger_severity(3)
DTYPES = {"f32": np.float32, "i64": np.int64, "i32": np.int32, "i8": np.int8, "u8": np.uint8, "bool": np.bool_}


def onnxruntime_ms(folder, repeat, threads=1):
    try:
        options = ort.SessionOptions()
        # One thread, as the chain engine and native tract use (or as many as the threaded rows').
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(f"{folder}/model.onnx", options, providers=["CPUExecutionProvider"])
    except Exception:
        return None
    with open(f"{folder}/input.json") as f:
        inputs = json.load(f)["inputs"]
    feed = {
        i.name: np.array(t["data"], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        for i, t in zip(session.get_inputs(), inputs)
    }
    session.run(None, feed)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    results_path, models_dir, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threaded_path = sys.argv[4] if len(sys.argv) > 4 else None
    rows = [json.loads(line) for line in open(results_path)]
    print()
    print(f"{'model':<34} {'chain ms':>10} {'tract ms':>10} {'ort ms':>10} {'chain/tract':>12} {'chain/ort':>10}")
    speed_vs_tract, speed_vs_ort = [], []
    for row in rows:
        chain = row["chain"]["median_ms"]
        tract = row["native_tract"].get("median_ms")
        ort_ms = onnxruntime_ms(f"{models_dir}/{row['name']}", repeat)
        # Speed ratio: how fast the chain engine is relative to the other (1.0 = as fast).
        vs_tract = tract / chain if tract else None
        vs_ort = ort_ms / chain if ort_ms else None
        if vs_tract:
            speed_vs_tract.append(vs_tract)
        if vs_ort:
            speed_vs_ort.append(vs_ort)
        ms = lambda v: f"{v:>10.3f}" if v is not None else f"{'n/a':>10}"
        ratio = lambda v, width: f"{v:.2f}x".rjust(width) if v is not None else "n/a".rjust(width)
        print(f"{row['name']:<34} {chain:>10.3f} {ms(tract)} {ms(ort_ms)} "
              f"{ratio(vs_tract, 12)} {ratio(vs_ort, 10)}")
    # What one unit of fuel costs in time: the runtime's PicosecondsPerFuel must not be below
    # the largest of these (on reference hardware), or block weight would under-count.
    ps_per_fuel = [(row["chain"]["median_ms"] * 1e9 / row["chain"]["fuel"], row["name"])
                   for row in rows if row["chain"]["fuel"]]
    print()
    print("picoseconds per unit of fuel (chain engine): "
          + ", ".join(f"{name} {ps:.0f}" for ps, name in ps_per_fuel))
    if ps_per_fuel:
        worst = max(ps_per_fuel)
        print(f"largest: {worst[0]:.0f} ps/fuel ({worst[1]}); "
              f"median: {statistics.median(ps for ps, _ in ps_per_fuel):.0f} ps/fuel")
    geo = lambda xs: float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")
    print()
    print(f"geometric mean speed: chain engine = {geo(speed_vs_tract):.2f}x native tract (issue 21: >= 1.0), "
          f"{geo(speed_vs_ort):.2f}x onnxruntime (issue 21: >= 0.5)")
    threaded = [json.loads(line) for line in open(threaded_path)] if threaded_path else []
    if threaded:
        single = {row["name"]: row for row in rows}
        threads = threaded[0]["chain"]["threads"]
        print()
        print(f"with {threads} threads (the chain engine's --engine-threads; onnxruntime's intra-op threads; "
              f"native tract on one):")
        print(f"{'model':<34} {'chain ms':>10} {'1 thread':>10} {'speed-up':>9} {'ort ms':>10} "
              f"{'chain/tract':>12} {'chain/ort':>10}")
        for row in threaded:
            if row["name"] not in single:
                continue
            chain, one = row["chain"]["median_ms"], single[row["name"]]["chain"]["median_ms"]
            tract = row["native_tract"].get("median_ms")
            ort_ms = onnxruntime_ms(f"{models_dir}/{row['name']}", repeat, threads)
            same = row["chain"]["result_hash"] == single[row["name"]]["chain"]["result_hash"] \
                and row["chain"]["fuel"] == single[row["name"]]["chain"]["fuel"]
            ratio = lambda v, width: f"{v:.2f}x".rjust(width) if v else "n/a".rjust(width)
            print(f"{row['name']:<34} {chain:>10.3f} {one:>10.3f} {ratio(one / chain, 9)} "
                  f"{ort_ms if ort_ms is not None else float('nan'):>10.3f} "
                  f"{ratio(tract / chain if tract else None, 12)} {ratio(ort_ms / chain if ort_ms else None, 10)}"
                  + ("" if same else "   RESULT OR FUEL DIFFERS FROM ONE THREAD"))
            if not same:
                sys.exit(f"{row['name']}: the threaded engine's result hash or fuel differs from one thread's")


if __name__ == "__main__":
    main()
