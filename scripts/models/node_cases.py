#!/usr/bin/env python3
"""The ONNX backend node test cases, for the engine's coverage report (scripts/coverage-report.sh).

  node_cases.py write DIR    builds every node test case from the `onnx` package's own test-case
                             definitions (onnx.backend.test.case.node.collect_testcases, which
                             computes the expected outputs), keeps those whose inputs and outputs
                             all have the engine's interface dtypes, runs each through onnxruntime,
                             and writes the ones onnxruntime passes to DIR/<case>/ (model.onnx,
                             input.json, expected.json in the same format, meta.json)
  node_cases.py report DIR   reads the engine's verdicts (DIR/verdicts.jsonl, one JSON object per
                             case from the engine's `coverage` example) and prints how many of the
                             cases onnxruntime passes the engine passes too: as given, and with
                             their parameter inputs pinned where the engine needs their values to
                             fix shapes (verdict `pinned`); then the rest by operator
"""
import collections
import json
import os
import shutil
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_test_models import DTYPES, tensor_json  # noqa: E402  (the same tensors as the test models)


def fits_interface(values):
    return all(isinstance(v, np.ndarray) and v.dtype.name in DTYPES for v in values)


def operator_of(case):
    nodes = case.model.graph.node
    if len(nodes) == 1:
        node = nodes[0]
        return f"{node.domain + '.' if node.domain not in ('', 'ai.onnx') else ''}{node.op_type}"
    return f"{case.name[5:]} (a graph of {len(nodes)} nodes)"


def write(out):
    import onnxruntime as ort
    from onnx.backend.test.case.node import collect_testcases

    ort.set_default_logger_severity(4)
    warnings.filterwarnings("ignore")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    cases = collect_testcases()
    counts = collections.Counter()
    for case in cases:
        counts["cases"] += 1
        if not case.data_sets:
            continue
        inputs, expected = case.data_sets[0]
        if not (fits_interface(inputs) and fits_interface(expected)) or not inputs:
            continue
        counts["in the interface's dtypes"] += 1
        try:
            session = ort.InferenceSession(case.model.SerializeToString(), providers=["CPUExecutionProvider"])
            names = [i.name for i in session.get_inputs()]
            outputs = session.run(None, dict(zip(names, inputs)))
            passes = len(outputs) == len(expected) and all(
                o.dtype == e.dtype and o.shape == e.shape
                and np.allclose(o, e, rtol=case.rtol, atol=case.atol, equal_nan=True)
                for o, e in zip(outputs, expected))
        except Exception:
            passes = False
        if not passes:
            continue
        counts["passed by onnxruntime"] += 1
        folder = os.path.join(out, case.name)
        os.makedirs(folder)
        with open(os.path.join(folder, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        with open(os.path.join(folder, "input.json"), "w") as f:
            json.dump({"inputs": [tensor_json(x) for x in inputs]}, f)
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump({"inputs": [tensor_json(x) for x in expected]}, f)
        with open(os.path.join(folder, "meta.json"), "w") as f:
            json.dump({"operator": operator_of(case), "rtol": case.rtol, "atol": case.atol}, f)
    with open(os.path.join(out, "counts.json"), "w") as f:
        json.dump(counts, f)
    print(", ".join(f"{n} {what}" for what, n in counts.items()))


def report(out):
    with open(os.path.join(out, "counts.json")) as f:
        counts = json.load(f)
    verdicts = {}
    with open(os.path.join(out, "verdicts.jsonl")) as f:
        for line in f:
            verdict = json.loads(line)
            verdicts[verdict["case"]] = verdict
    total = counts["passed by onnxruntime"]
    passed = sum(1 for v in verdicts.values() if v["verdict"] == "pass")
    pinned = sum(1 for v in verdicts.values() if v["verdict"] == "pinned")
    print(f"ONNX backend node test cases: {counts['cases']}; {counts['in the interface' + chr(39) + 's dtypes']} "
          f"in the engine's dtypes, {total} of them passed by onnxruntime")
    print(f"the engine passes {passed} of the {total} cases onnxruntime passes as given: "
          f"{100.0 * passed / max(total, 1):.1f} %")
    print(f"and {pinned} more with their parameter inputs (of rank 0 or 1: integers, and any after the first) "
          f"pinned into the model "
          f"as `veriml-node infer --pin` pins them for registration, the chain preparing models for fixed shapes: "
          f"{passed + pinned} of {total}, {100.0 * (passed + pinned) / max(total, 1):.1f} %")
    kinds = collections.Counter(v["verdict"] if v["verdict"] != "refused" else v["detail"] for v in verdicts.values()
                                if v["verdict"] not in ("pass", "pinned"))
    print("the rest: " + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()))
    by_operator = collections.defaultdict(list)
    for name in sorted(verdicts):
        verdict = verdicts[name]
        if verdict["verdict"] not in ("pass", "pinned"):
            with open(os.path.join(out, name, "meta.json")) as f:
                operator = json.load(f)["operator"]
            pinned_too = f"; {verdict['pinned']}" if "pinned" in verdict else ""
            by_operator[operator].append(f"{name[5:]} ({verdict['detail']}{pinned_too})")
    for operator in sorted(by_operator, key=lambda o: (-len(by_operator[o]), o)):
        failures = by_operator[operator]
        shown = "; ".join(failures[:4]) + (f"; … {len(failures) - 4} more" if len(failures) > 4 else "")
        print(f"  {operator:<28} {len(failures):>3}  {shown}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "report"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else report)(sys.argv[2])
