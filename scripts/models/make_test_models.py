#!/usr/bin/env python3
"""Writes the real models the engine is tested and benchmarked on, with inputs and references.

For each model, a folder under OUT (default: target/test-models) with:
  model.onnx     the model
  input.json     its inputs, in the format of `veriml-node infer --input`
  expected.json  reference outputs: the ONNX backend test data's own where the `onnx`
                 package ships them, else scikit-learn's predictions; and onnxruntime's
  meta.json      tolerances and where the model comes from

Models:
  light/*              real architectures (squeezenet, shufflenet, inception v1, ...) from the
                       `onnx` package's backend test data, inputs as its test runner builds them
  pytorch-converted/*  layers converted from PyTorch, with their shipped input and output
  sklearn-*            a regressor and a classifier made here with skl2onnx
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ort.set_default_logger_severity(3)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../target/test-models")
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data")

LIGHT = ["squeezenet", "shufflenet", "inception_v1", "resnet50", "densenet121"]
PYTORCH = [
    "test_Conv2d", "test_Linear", "test_BatchNorm2d_eval", "test_Softmax", "test_Embedding",
    "test_ConvTranspose2d", "test_MaxPool2d", "test_AvgPool2d", "test_PReLU_2d", "test_Tanh",
    "test_Sigmoid", "test_GLU", "test_PixelShuffle", "test_Conv1d_groups", "test_LeakyReLU",
]

DTYPES = {"float32": "f32", "int64": "i64", "int32": "i32", "int8": "i8", "uint8": "u8", "bool": "bool"}


def tensor_json(array):
    array = np.ascontiguousarray(array)
    name = DTYPES[array.dtype.name]
    return {"dtype": name, "shape": list(array.shape), "data": array.reshape(-1).tolist()}


def ort_outputs(path, inputs):
    """onnxruntime's outputs, or None where it cannot run the model (some opset 6 layers)."""
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception:
        return None
    feed = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feed)


def write(name, model_bytes, inputs, reference, source, rtol, atol):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(model_bytes)
    with open(os.path.join(folder, "input.json"), "w") as f:
        json.dump({"inputs": [tensor_json(x) for x in inputs]}, f)
    runtime = ort_outputs(path, inputs)
    expected = {
        "reference": [tensor_json(x) for x in reference],
        "onnxruntime": None if runtime is None else [tensor_json(x) for x in runtime],
    }
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f)
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump({"source": source, "rtol": rtol, "atol": atol}, f)
    print(f"  {name:<36} {len(model_bytes):>9} bytes  {source}")


def light_models():
    for name in LIGHT:
        path = os.path.join(DATA, "light", f"light_{name}.onnx")
        # Some of these graphs list their weights as inputs too; onnxruntime knows the real one.
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        shape = session.get_inputs()[0].shape
        n = int(np.prod(shape))
        # As onnx's own test runner builds the input of its light models.
        x = (np.arange(n).reshape(shape) / n).astype(np.float32)
        reference = numpy_helper.to_array(onnx.load_tensor(os.path.join(DATA, "light", f"light_{name}_output_0.pb")))
        with open(path, "rb") as f:
            rtol = 2e-3 if name == "densenet121" else 1e-3
            write(f"light_{name}", f.read(), [x], [reference], "onnx backend test data (light)", rtol, 1e-7)


def pytorch_models():
    for name in PYTORCH:
        folder = os.path.join(DATA, "pytorch-converted", name)
        data = os.path.join(folder, "test_data_set_0")
        inputs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(data, "input_0.pb")))]
        reference = [numpy_helper.to_array(onnx.load_tensor(os.path.join(data, "output_0.pb")))]
        with open(os.path.join(folder, "model.onnx"), "rb") as f:
            write(f"pytorch_{name[5:]}", f.read(), inputs, reference, "onnx backend test data (pytorch-converted)", 1e-3, 1e-6)


def sklearn_models():
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression

    x, y = load_diabetes(return_X_y=True)
    x = x.astype(np.float32)
    regressor = LinearRegression().fit(x, y)
    batch = x[:16]
    onx = to_onnx(regressor, batch, target_opset={"": 13, "ai.onnx.ml": 3})
    write("sklearn_linear_regressor", onx.SerializeToString(), [batch],
          [regressor.predict(batch).astype(np.float32).reshape(-1, 1)], "scikit-learn LinearRegression, diabetes", 1e-4, 1e-3)

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    classifier = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(x, y)
    batch = x[::10]
    onx = to_onnx(classifier, batch, options={id(classifier): {"zipmap": False}},
                  target_opset={"": 13, "ai.onnx.ml": 3})
    write("sklearn_random_forest_classifier", onx.SerializeToString(), [batch],
          [classifier.predict(batch).astype(np.int64), classifier.predict_proba(batch).astype(np.float32)],
          "scikit-learn RandomForestClassifier, iris", 1e-4, 1e-5)


def operator_models():
    """Single operators the engine implements itself, against onnxruntime's outputs."""
    from onnx import TensorProto, helper

    # LRN (local response normalisation, as in Inception v1 and AlexNet) over 8 channels.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])
    graph = helper.make_graph(
        [helper.make_node("LRN", ["x"], ["y"], size=5, alpha=0.0002, beta=0.75, bias=2.0)], "lrn", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what onnxruntime reads
    model_bytes = model.SerializeToString()
    inputs = [np.random.default_rng(7).normal(0.0, 3.0, (1, 8, 6, 6)).astype(np.float32)]
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    reference = session.run(None, {"x": inputs[0]})
    write("onnx_lrn", model_bytes, inputs, reference, "onnx LRN node, onnxruntime's outputs", 1e-5, 1e-6)


def hostile_models():
    """Files the engine must refuse, each for a named reason (hostile/<reason>.onnx)."""
    from onnx import TensorProto, helper

    folder = os.path.join(OUT, "hostile")
    os.makedirs(folder, exist_ok=True)

    def save(name, graph, opsets=(("", 13),)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        with open(os.path.join(folder, f"{name}.onnx"), "wb") as f:
            f.write(model.SerializeToString())

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    save("non_deterministic_operator", helper.make_graph(
        [helper.make_node("RandomNormalLike", ["x"], ["y"])], "random", [x], [y]))
    save("unsupported_operator", helper.make_graph(
        [helper.make_node("FancyOp", ["x"], ["y"], domain="com.example")], "custom", [x], [y]),
        opsets=(("", 13), ("com.example", 1)))
    weights = helper.make_tensor("w", TensorProto.FLOAT, [1, 4], [0.0] * 4)
    weights.data_location = TensorProto.EXTERNAL
    weights.ClearField("float_data")
    entry = weights.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    save("external_data", helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "external", [x], [y], initializer=[weights]))
    # A 2^40-element tensor: no engine can even describe it.
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1 << 20, 1 << 20])
    big = helper.make_tensor_value_info("big", TensorProto.FLOAT, [1 << 20, 1 << 20])
    save("impossible_tensor", helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["big"])], "huge", [x], [big], initializer=[shape]))
    # A 1 GiB intermediate reduced to one number: a small answer that needs more memory than
    # an inference is granted.
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1 << 14, 1 << 14])
    total = helper.make_tensor_value_info("total", TensorProto.FLOAT, [])
    save("out_of_memory", helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                          value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
         helper.make_node("ReduceSum", ["ones"], ["total"], keepdims=0)],
        "greedy", [x], [total], initializer=[shape]))
    # An output of 64 MiB: more than an inference may hand back.
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [4096, 4096])
    wide = helper.make_tensor_value_info("wide", TensorProto.FLOAT, [4096, 4096])
    save("output_too_large", helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["wide"],
                          value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]))], "wide", [x], [wide], initializer=[shape]))
    with open(os.path.join(OUT, "light_squeezenet", "model.onnx"), "rb") as f:
        squeezenet = f.read()
    with open(os.path.join(folder, "malformed_model.onnx"), "wb") as f:
        f.write(squeezenet[: len(squeezenet) // 3])
    with open(os.path.join(folder, "not_onnx.onnx"), "wb") as f:
        f.write(b"\x7fELF this is not a model at all")
    print(f"  hostile/*                            {len(os.listdir(folder))} files")


if __name__ == "__main__":
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    print(f"writing test models to {os.path.abspath(OUT)}")
    light_models()
    pytorch_models()
    sklearn_models()
    operator_models()
    hostile_models()
