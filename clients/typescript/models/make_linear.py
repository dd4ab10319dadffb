"""Writes models/linear.onnx, the quick start's model: a linear regression of three features,
prediction = features · [[0.5], [-1.25], [2.0]] + 0.75, in float32.

Made with the `onnx` package (PyPI): `python3 models/make_linear.py` (the repository's test
venv has it: `target/pyenv/bin/python`)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

weights = numpy_helper.from_array(np.array([[0.5], [-1.25], [2.0]], dtype=np.float32), "weights")
bias = numpy_helper.from_array(np.array([0.75], dtype=np.float32), "bias")
graph = helper.make_graph(
    [helper.make_node("Gemm", ["features", "weights", "bias"], ["prediction"])],
    "veriml-quickstart-linear",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3])],
    [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [1, 1])],
    [weights, bias],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="veriml")
model.ir_version = 8
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "linear.onnx")
onnx.save(model, out)
print(f"wrote {out} ({os.path.getsize(out)} bytes)")
