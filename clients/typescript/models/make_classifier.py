"""Writes models/classifier.onnx, the quick start's classifier: a logistic classifier of three
features into two classes, laid out as scikit-learn exports classifiers (skl2onnx): the label
first (int64), then the class probabilities (float32).

scores = features · W + b; probabilities = Softmax(scores); label = ArgMax(scores).

Made with the `onnx` package (PyPI): `python3 models/make_classifier.py` (the repository's
test venv has it: `target/pyenv/bin/python`). For `classifier.input.json` ([1, 2, 3]) it
prints the label and probabilities the quick start's `--expect` checks."""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.array([[0.5, -0.5], [-1.0, 1.0], [0.25, 0.75]], dtype=np.float32)
b = np.array([0.1, -0.1], dtype=np.float32)
graph = helper.make_graph(
    [
        helper.make_node("Gemm", ["features", "weights", "bias"], ["scores"]),
        helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
        helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1),
    ],
    "veriml-quickstart-classifier",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3])],
    [
        helper.make_tensor_value_info("label", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2]),
    ],
    [numpy_helper.from_array(W, "weights"), numpy_helper.from_array(b, "bias")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="veriml")
model.ir_version = 8
onnx.checker.check_model(model)
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "classifier.onnx")
onnx.save(model, out)
print(f"wrote {out} ({os.path.getsize(out)} bytes)")

with open(os.path.join(here, "classifier.input.json")) as f:
    features = np.array(json.load(f)["inputs"][0]["data"], dtype=np.float32).reshape(1, 3)
scores = features @ W + b
probabilities = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
print(f"label {int(scores.argmax())}, probabilities {probabilities.ravel().tolist()}")
