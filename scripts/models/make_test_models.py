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
  sklearn-*            a regressor and a classifier made here with skl2onnx, and the model
                       families of scikit-learn that risk and audit users export (gradient
                       boosting, forests, extra trees, SVMs, kNN, linear and MLP models,
                       pipelines with scalers, imputers and encoders), each checked against
                       scikit-learn and onnxruntime
  xgboost-*, lightgbm-*  XGBoost and LightGBM regressors and classifiers, exported with
                       onnxmltools
  hostile/*            files the engine must refuse, each for a named reason
  stored_matmul_*      dense layers of 4 and 20 MiB of seeded weights, registered from the content
                       store (scripts/e2e/stored-model.test.mjs): the larger is past what a model
                       kept in state may be (8 MiB); and one of 100 MiB (stored_matmul_large,
                       scripts/bench-large-model.sh)
  adversarial/*        small models made to do as much work per unit of fuel as they can
                       (memory-bound operators, integer division, thousands of tiny nodes, a
                       large tree ensemble): scripts/bench-engine-adversarial.sh times them
                       against the weight the chain charges
  generative/*         a small decoder in Hugging Face's layout with its tokenizer.json, and a
                       prompt with onnxruntime's greedy tokens (primitives/engine/tests/generation.rs)
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
    """A tensor in the format of `veriml-node infer --input` (NaN and infinities as strings)."""
    # np.asarray, not np.ascontiguousarray: that one makes a scalar (shape []) a vector of one.
    array = np.asarray(array)
    data = array.reshape(-1).tolist()
    if array.dtype == np.float32:
        data = [v if np.isfinite(v) else ("NaN" if np.isnan(v) else ("inf" if v > 0 else "-inf")) for v in data]
    return {"dtype": DTYPES[array.dtype.name], "shape": list(array.shape), "data": data}


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


# The model families the engine is checked on: (folder, estimator, data set, classifier).
def sklearn_families():
    from sklearn import ensemble, impute, linear_model, neighbors, neural_network, pipeline, preprocessing, svm
    return [
        ("gradient_boosting_regressor", ensemble.GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0), "diabetes", False),
        # The same, written as the unified TreeEnsemble of ai.onnx.ml 5 (unified_tree_ensemble).
        ("gradient_boosting_regressor_unified", ensemble.GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0), "diabetes", False),
        ("random_forest_regressor", ensemble.RandomForestRegressor(n_estimators=12, max_depth=6, random_state=0), "diabetes", False),
        ("extra_trees_regressor", ensemble.ExtraTreesRegressor(n_estimators=12, max_depth=6, random_state=0), "diabetes", False),
        ("mlp_regressor", pipeline.make_pipeline(preprocessing.StandardScaler(), neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)), "diabetes", False),
        ("gradient_boosting_classifier_binary", ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), "breast_cancer", True),
        ("gradient_boosting_classifier", ensemble.GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), "iris", True),
        ("extra_trees_classifier_binary", ensemble.ExtraTreesClassifier(n_estimators=12, max_depth=5, random_state=0), "breast_cancer", True),
        ("random_forest_classifier_binary", ensemble.RandomForestClassifier(n_estimators=12, max_depth=5, random_state=0), "breast_cancer", True),
        ("logistic_regression", linear_model.LogisticRegression(max_iter=1000), "iris", True),
        ("scaler_logistic_regression_binary", pipeline.make_pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression(max_iter=1000)), "breast_cancer", True),
        ("mlp_classifier", pipeline.make_pipeline(preprocessing.StandardScaler(), neural_network.MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)), "iris", True),
        ("svr", svm.SVR(), "diabetes", False),
        ("svr_poly", svm.SVR(kernel="poly", degree=3), "diabetes", False),
        ("svc_probability", svm.SVC(probability=True, random_state=0), "iris", True),
        ("svc_probability_binary", svm.SVC(probability=True, random_state=0), "breast_cancer", True),
        ("svc", svm.SVC(), "iris", True),
        ("svc_sigmoid_binary", pipeline.make_pipeline(preprocessing.StandardScaler(), svm.SVC(kernel="sigmoid")), "breast_cancer", True),
        ("svc_linear_binary", pipeline.make_pipeline(preprocessing.StandardScaler(), svm.SVC(kernel="linear")), "breast_cancer", True),
        ("knn_regressor", neighbors.KNeighborsRegressor(), "diabetes", False),
        ("knn_classifier", neighbors.KNeighborsClassifier(), "iris", True),
        ("imputer_binarizer_linear_regression", pipeline.make_pipeline(impute.SimpleImputer(), preprocessing.Binarizer(threshold=0.0), linear_model.LinearRegression()), "diabetes", False),
        ("one_hot_linear_regression", pipeline.make_pipeline(preprocessing.OneHotEncoder(), linear_model.LinearRegression()), "categories", False),
        ("ordinal_gradient_boosting_classifier", pipeline.make_pipeline(preprocessing.OrdinalEncoder(), ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0)), "categories_as_floats", True),
        # Trained and run on data with missing values (NaN), which these route down the branch
        # each split learnt (nodes_missing_value_tracks_true).
        ("hist_gradient_boosting_regressor", ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=0), "diabetes_missing", False),
        ("hist_gradient_boosting_classifier_binary", ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0), "breast_cancer_missing", True),
        ("hist_gradient_boosting_classifier", ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0), "iris_missing", True),
    ]


# XGBoost and LightGBM, exported with onnxmltools: (folder, estimator, data set, classifier).
def boosting_library_families():
    import lightgbm
    import xgboost
    return [
        ("xgboost_regressor", xgboost.XGBRegressor(n_estimators=20, max_depth=3, random_state=0), "diabetes", False),
        ("xgboost_classifier_binary", xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0), "breast_cancer", True),
        ("xgboost_classifier", xgboost.XGBClassifier(n_estimators=20, max_depth=3, random_state=0), "iris", True),
        ("lightgbm_regressor", lightgbm.LGBMRegressor(n_estimators=20, random_state=0, verbose=-1), "diabetes", False),
        ("lightgbm_classifier_binary", lightgbm.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1), "breast_cancer", True),
        ("lightgbm_classifier", lightgbm.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1), "iris", True),
    ]


def sklearn_family_models():
    import warnings
    from skl2onnx import to_onnx
    from sklearn import datasets

    warnings.filterwarnings("ignore")
    data = {name: getattr(datasets, f"load_{name}")(return_X_y=True) for name in ("diabetes", "iris", "breast_cancer")}
    data = {name: (x.astype(np.float32), y) for name, (x, y) in data.items()}
    # The same with a tenth of the values missing.
    rng = np.random.default_rng(7)
    for name in ("diabetes", "iris", "breast_cancer"):
        x, y = data[name]
        data[f"{name}_missing"] = (np.where(rng.random(x.shape) < 0.1, np.float32(np.nan), x), y)
    # Three categorical columns of four categories each, as integers and as floats.
    rng = np.random.default_rng(5)
    categories = rng.integers(0, 4, size=(200, 3)).astype(np.int64)
    data["categories"] = (categories, categories @ np.array([1.5, -2.0, 0.5]) + rng.normal(size=200))
    data["categories_as_floats"] = (categories.astype(np.float32), (categories[:, 0] + categories[:, 1] > 3).astype(np.int64))
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    patch_skl2onnx_missing_value_flags()
    families = [(name, estimator, data_set, classifier, "skl2onnx") for name, estimator, data_set, classifier in sklearn_families()]
    families += [(name, estimator, data_set, classifier, "onnxmltools") for name, estimator, data_set, classifier in boosting_library_families()]
    for name, estimator, data_set, classifier, converter in families:
        x, y = data[data_set]
        estimator.fit(x, y)
        batch = x[::7][:24]
        if converter == "onnxmltools":
            types = [("input", FloatTensorType([None, x.shape[1]]))]
            if name.startswith("xgboost"):
                onx = convert_xgboost(estimator, initial_types=types, target_opset=13)
            else:
                onx = convert_lightgbm(estimator, initial_types=types, target_opset=13, zipmap=False)
        else:
            options = {id(estimator): {"zipmap": False}} if classifier else None
            if classifier and hasattr(estimator, "steps"):
                options = {id(estimator.steps[-1][1]): {"zipmap": False}}
            onx = to_onnx(estimator, batch, options=options, target_opset={"": 13, "ai.onnx.ml": 3})
            if name.endswith("_unified"):
                onx = unified_tree_ensemble(onx)
        if classifier:
            if hasattr(estimator, "predict_proba"):
                scores = estimator.predict_proba(batch)
            else:
                # An SVC without probabilities: its decision function; a binary one as
                # onnxruntime writes it, libsvm's score for the first class (scikit-learn's
                # negated) and its opposite.
                scores = estimator.decision_function(batch)
                if scores.ndim == 1:
                    scores = np.stack([scores, -scores], axis=1)
            reference = [estimator.predict(batch).astype(np.int64), scores.astype(np.float32)]
            tolerance = (1e-4, 1e-5)
        else:
            reference = [estimator.predict(batch).astype(np.float32).reshape(-1, 1)]
            tolerance = (1e-4, 1e-3)
        folder = name if converter == "onnxmltools" else f"sklearn_{name}"
        write(folder, onx.SerializeToString(), [batch], reference,
              f"{type(estimator).__module__.split('.')[0]} {type(estimator).__name__} ({data_set}, {converter})", *tolerance)


def patch_skl2onnx_missing_value_flags():
    """skl2onnx 1.20 writes a HistGradientBoosting leaf's nodes_missing_value_tracks_true as the
    Python bool False, which protobuf refuses in an ints attribute ("Expected an int, got a
    boolean"), so it exports no HistGradientBoosting model: the flag is written as the int it is."""
    from skl2onnx.common import tree_ensemble

    add_node = tree_ensemble.add_node
    if getattr(add_node, "flags_as_ints", False):
        return

    def add_node_with_int_flag(*args, nodes_missing_value_tracks_true=0, **kwargs):
        return add_node(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    add_node_with_int_flag.flags_as_ints = True
    tree_ensemble.add_node = add_node_with_int_flag


def unified_tree_ensemble(onx):
    """An exported model's TreeEnsembleRegressor (ai.onnx.ml 3) rewritten as the unified
    TreeEnsemble of ai.onnx.ml 5, which skl2onnx does not write yet: the same trees as lists of
    branches and leaves, the base value added to the first tree's leaves (version 5 has none)."""
    from onnx import TensorProto, helper

    (index, old), = [(i, n) for i, n in enumerate(onx.graph.node) if n.op_type == "TreeEnsembleRegressor"]
    a = {attribute.name: helper.get_attribute_value(attribute) for attribute in old.attribute}
    keys = list(zip(a["nodes_treeids"], a["nodes_nodeids"]))
    at = {key: j for j, key in enumerate(keys)}
    modes = [mode.decode() for mode in a["nodes_modes"]]
    branches = [key for key, mode in zip(keys, modes) if mode != "LEAF"]
    leaves = [key for key, mode in zip(keys, modes) if mode == "LEAF"]
    branch_index = {key: j for j, key in enumerate(branches)}
    leaf_index = {key: j for j, key in enumerate(leaves)}
    weights, targets = [0.0] * len(leaves), [0] * len(leaves)
    for tree, node, target, weight in zip(a["target_treeids"], a["target_nodeids"], a["target_ids"], a["target_weights"]):
        weights[leaf_index[(tree, node)]] += weight
        targets[leaf_index[(tree, node)]] = target
    first_tree = min(tree for tree, _ in keys)
    for j, (tree, _) in enumerate(leaves):
        if tree == first_tree:
            weights[j] += a.get("base_values", [0.0])[0]

    def child(tree, node):
        key = (tree, node)
        return (leaf_index[key], 1) if modes[at[key]] == "LEAF" else (branch_index[key], 0)

    code = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}
    lists = {name: [] for name in ("true", "true_leaf", "false", "false_leaf", "feature", "split", "mode", "missing")}
    for tree, node in branches:
        j = at[(tree, node)]
        (true, true_leaf), (false, false_leaf) = child(tree, a["nodes_truenodeids"][j]), child(tree, a["nodes_falsenodeids"][j])
        for name, value in (("true", true), ("true_leaf", true_leaf), ("false", false), ("false_leaf", false_leaf),
                            ("feature", a["nodes_featureids"][j]), ("split", a["nodes_values"][j]),
                            ("mode", code[modes[j]]), ("missing", a.get("nodes_missing_value_tracks_true", [0] * len(keys))[j])):
            lists[name].append(value)
    node = helper.make_node(
        "TreeEnsemble", old.input, old.output, domain="ai.onnx.ml", n_targets=a.get("n_targets", 1),
        aggregate_function=1, post_transform=0,  # SUM, NONE
        tree_roots=[branch_index[(tree, 0)] for tree in sorted(set(a["nodes_treeids"]))],
        nodes_featureids=lists["feature"], nodes_truenodeids=lists["true"], nodes_trueleafs=lists["true_leaf"],
        nodes_falsenodeids=lists["false"], nodes_falseleafs=lists["false_leaf"],
        nodes_missing_value_tracks_true=lists["missing"],
        nodes_modes=helper.make_tensor("nodes_modes", TensorProto.UINT8, [len(branches)], lists["mode"]),
        nodes_splits=helper.make_tensor("nodes_splits", TensorProto.FLOAT, [len(branches)], lists["split"]),
        leaf_targetids=targets, leaf_weights=helper.make_tensor("leaf_weights", TensorProto.FLOAT, [len(leaves)], weights))
    onx.graph.node[index].CopyFrom(node)
    for opset in onx.opset_import:
        if opset.domain == "ai.onnx.ml":
            opset.version = 5
    onx.ir_version = max(onx.ir_version, 10)
    return onx


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

    # Attention (opset 23) as a decoder step uses it: grouped-query heads (8 query heads share
    # 2 key/value heads) over a cache of 5 earlier tokens, causal, with the cache handed back;
    # and encoder-style over 4D heads with a boolean padding mask, a soft cap and the
    # probabilities as a fourth output. Reference: onnx's own evaluator; onnxruntime beside it.
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(23)
    f32 = TensorProto.FLOAT

    def attention_model(name, node, inputs, outputs, feeds):
        graph = helper.make_graph(
            [node], name, [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
            [helper.make_tensor_value_info(n, f32, None) for n in outputs])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
        model.ir_version = 10
        model_bytes = model.SerializeToString()
        reference = ReferenceEvaluator(model).run(None, dict(zip([i[0] for i in inputs], feeds)))
        write(name, model_bytes, feeds, reference, "onnx Attention node (opset 23), onnx's reference", 1e-5, 1e-6)

    # LSTM and GRU layers run from the end of the sequence (direction "reverse"), with biases
    # and an initial state; tract ran them forward.
    for op, gates in (("LSTM", 4), ("GRU", 3)):
        seq, batch_size, features, hidden = 5, 2, 3, 4
        weights = [rng.normal(0, 0.5, s).astype(np.float32) for s in
                   [(1, gates * hidden, features), (1, gates * hidden, hidden), (1, 2 * gates * hidden)]]
        graph = helper.make_graph(
            [helper.make_node(op, ["x", "w", "r", "b", "", "h0"], ["y", "y_h"], hidden_size=hidden, direction="reverse")],
            op.lower(), [helper.make_tensor_value_info("x", f32, [seq, batch_size, features]),
                         helper.make_tensor_value_info("h0", f32, [1, batch_size, hidden])],
            [helper.make_tensor_value_info("y", f32, None), helper.make_tensor_value_info("y_h", f32, None)],
            initializer=[numpy_helper.from_array(w, n) for w, n in zip(weights, ["w", "r", "b"])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
        model.ir_version = 8
        feeds = [rng.normal(0, 1, (seq, batch_size, features)).astype(np.float32),
                 rng.normal(0, 0.5, (1, batch_size, hidden)).astype(np.float32)]
        reference = ReferenceEvaluator(model).run(None, {"x": feeds[0], "h0": feeds[1]})
        write(f"onnx_{op.lower()}_reverse", model.SerializeToString(), feeds, reference,
              f"onnx {op} node, direction reverse, onnx's reference", 1e-5, 1e-6)

    # What onnxruntime and the Python reference compute differently, with onnxruntime's outputs
    # as the reference: Attention's scores of qk_matmul_output_mode 0 under a soft cap (the
    # products before it), and a tree's BRANCH_NEQ on NaN (true).
    def onnxruntime_model(name, graph, opsets, feeds, what, atol=1e-6):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        model.ir_version = 10
        model_bytes = model.SerializeToString()
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        reference = session.run(None, dict(zip([i.name for i in session.get_inputs()], feeds)))
        write(name, model_bytes, feeds, reference, what, 1e-5, atol)

    onnxruntime_model(
        "onnx_attention_softcap_raw_scores",
        helper.make_graph([helper.make_node("Attention", ["q", "k", "v"], ["y", "", "", "scores"], softcap=2.0)],
                          "attention", [helper.make_tensor_value_info(n, f32, [1, 2, 3, 4]) for n in "qkv"],
                          [helper.make_tensor_value_info(n, f32, None) for n in ("y", "scores")]),
        [("", 23)], [rng.normal(0, 3, (1, 2, 3, 4)).astype(np.float32) for _ in range(3)],
        "onnx Attention node (opset 23), soft cap, scores of mode 0, onnxruntime's outputs")
    onnxruntime_model(
        "onnx_tree_ensemble_neq_nan",
        helper.make_graph([helper.make_node(
            "TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=1,
            nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0], nodes_values=[0.5, 0, 0],
            nodes_modes=["BRANCH_NEQ", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
            target_treeids=[0, 0], target_nodeids=[1, 2], target_ids=[0, 0], target_weights=[1.0, 2.0])],
            "neq", [helper.make_tensor_value_info("x", f32, [3, 1])], [helper.make_tensor_value_info("y", f32, None)]),
        [("", 13), ("ai.onnx.ml", 3)], [np.array([[0.5], [np.nan], [1.0]], dtype=np.float32)],
        "onnx TreeEnsembleRegressor node, BRANCH_NEQ on NaN, onnxruntime's outputs")
    # (Their own random numbers: the models above and below keep their inputs.)
    ops_rng = np.random.default_rng(22)
    # DeformConv (opset 22): two groups, two offset groups, padding, a bias and a mask; offsets
    # large enough that taps sample across the image's border. Det of a batch of matrices.
    onnxruntime_model(
        "onnx_deform_conv",
        helper.make_graph(
            [helper.make_node("DeformConv", ["x", "w", "offset", "b", "mask"], ["y"], group=2, offset_group=2, pads=[1, 1, 1, 1])],
            "deform_conv", [helper.make_tensor_value_info(n, f32, s) for n, s in
                            [("x", [1, 4, 6, 6]), ("w", [4, 2, 3, 3]), ("offset", [1, 36, 6, 6]), ("b", [4]), ("mask", [1, 18, 6, 6])]],
            [helper.make_tensor_value_info("y", f32, None)]),
        [("", 22)],
        [ops_rng.normal(0, 1, (1, 4, 6, 6)).astype(np.float32), ops_rng.normal(0, 0.5, (4, 2, 3, 3)).astype(np.float32),
         ops_rng.normal(0, 1.5, (1, 36, 6, 6)).astype(np.float32), ops_rng.normal(0, 1, (4,)).astype(np.float32),
         ops_rng.uniform(0, 1, (1, 18, 6, 6)).astype(np.float32)],
        "onnx DeformConv node (opset 22), onnxruntime's outputs", atol=1e-5)
    onnxruntime_model(
        "onnx_det",
        helper.make_graph([helper.make_node("Det", ["x"], ["y"])], "det", [helper.make_tensor_value_info("x", f32, [3, 4, 4])],
                          [helper.make_tensor_value_info("y", f32, None)]),
        [("", 22)], [ops_rng.normal(0, 1, (3, 4, 4)).astype(np.float32)], "onnx Det node (opset 22), onnxruntime's outputs")
    # BatchNormalization in training mode (opset 15), its statistics inputs of the request: the
    # batch's own statistics, and the running ones handed back.
    onnxruntime_model(
        "onnx_batch_norm_training",
        helper.make_graph(
            [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y", "running_mean", "running_var"],
                              training_mode=1, momentum=0.8, epsilon=1e-3)],
            "batch_norm", [helper.make_tensor_value_info("x", f32, [2, 3, 4, 5])]
            + [helper.make_tensor_value_info(n, f32, [3]) for n in ("scale", "bias", "mean", "var")],
            [helper.make_tensor_value_info(n, f32, None) for n in ("y", "running_mean", "running_var")]),
        [("", 15)],
        [ops_rng.normal(1, 2, (2, 3, 4, 5)).astype(np.float32), ops_rng.normal(1, 0.5, (3,)).astype(np.float32),
         ops_rng.normal(0, 1, (3,)).astype(np.float32), ops_rng.normal(0, 1, (3,)).astype(np.float32),
         ops_rng.uniform(0.5, 2, (3,)).astype(np.float32)],
        "onnx BatchNormalization node (opset 15), training mode, onnxruntime's outputs")

    # The same inference-mode BatchNormalization twice: its statistics as initializers, and as
    # ConstantOfShape outputs (as the model zoo's light models give them). Both are constants
    # of the model that tract folds; the engine's tests check that both cost the same.
    statistics = {"scale": 1.5, "bias": 0.25, "mean": 0.5, "var": 2.0}
    bn_input = ops_rng.normal(0, 2, (1, 3, 4, 4)).astype(np.float32)
    for name, nodes, initializers in [
        ("onnx_batch_norm_initializers", [],
         [numpy_helper.from_array(np.full(3, v, np.float32), n) for n, v in statistics.items()]),
        ("onnx_batch_norm_constant_of_shape",
         [helper.make_node("ConstantOfShape", ["channels"], [n], value=helper.make_tensor("v", f32, [1], [v]))
          for n, v in statistics.items()],
         [numpy_helper.from_array(np.array([3], np.int64), "channels")]),
    ]:
        onnxruntime_model(
            name,
            helper.make_graph(nodes + [helper.make_node("BatchNormalization", ["x", *statistics], ["y"])], "batch_norm",
                              [helper.make_tensor_value_info("x", f32, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", f32, None)], initializer=initializers),
            [("", 15)], [bn_input], "onnx BatchNormalization node (opset 15), constant statistics, onnxruntime's outputs")

    # Operators whose sizes are constants of the model (CenterCropPad's shape, Col2Im's image
    # and block shapes, AffineGrid's size), as exporters write them: initializers.
    sizes_rng = np.random.default_rng(23)

    def int64s(name, values):
        return numpy_helper.from_array(np.array(values, np.int64), name)

    onnxruntime_model(
        "onnx_center_crop_pad",
        helper.make_graph([helper.make_node("CenterCropPad", ["x", "shape"], ["y"], axes=[2, 3])], "center_crop_pad",
                          [helper.make_tensor_value_info("x", f32, [1, 3, 6, 5])],
                          [helper.make_tensor_value_info("y", f32, None)], initializer=[int64s("shape", [3, 8])]),
        [("", 18)], [sizes_rng.normal(0, 1, (1, 3, 6, 5)).astype(np.float32)],
        "onnx CenterCropPad node (opset 18): a crop and a pad, onnxruntime's outputs")
    onnxruntime_model(
        "onnx_col2im",
        helper.make_graph([helper.make_node("Col2Im", ["x", "image", "block"], ["y"], pads=[0, 1, 1, 0], dilations=[1, 2],
                                            strides=[1, 1])], "col2im",
                          [helper.make_tensor_value_info("x", f32, [2, 8, 20])], [helper.make_tensor_value_info("y", f32, None)],
                          initializer=[int64s("image", [5, 5]), int64s("block", [2, 2])]),
        [("", 18)], [sizes_rng.normal(0, 1, (2, 8, 20)).astype(np.float32)],
        "onnx Col2Im node (opset 18): padding and dilation, overlapping blocks, onnxruntime's outputs")
    for name, theta, size, align in [("onnx_affine_grid", (2, 2, 3), [2, 3, 4, 5], 1),
                                     ("onnx_affine_grid_3d", (1, 3, 4), [1, 1, 2, 3, 4], 0)]:
        onnxruntime_model(
            name,
            helper.make_graph([helper.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=align)],
                              "affine_grid", [helper.make_tensor_value_info("theta", f32, list(theta))],
                              [helper.make_tensor_value_info("grid", f32, None)], initializer=[int64s("size", size)]),
            [("", 20)], [sizes_rng.normal(0, 1, theta).astype(np.float32)],
            f"onnx AffineGrid node (opset 20), {len(size) - 2}D, align_corners={align}, onnxruntime's outputs")

    # MaxPool's indices undone by MaxUnpool (SegNet's decoder), and Upsample of opset 9 (old
    # PyTorch exports), its scales an initializer.
    onnxruntime_model(
        "onnx_max_unpool",
        helper.make_graph([helper.make_node("MaxPool", ["x"], ["pooled", "indices"], kernel_shape=[2, 2], strides=[2, 2]),
                           helper.make_node("MaxUnpool", ["pooled", "indices"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                          "max_unpool", [helper.make_tensor_value_info("x", f32, [1, 2, 4, 6])],
                          [helper.make_tensor_value_info("y", f32, None)]),
        [("", 11)], [sizes_rng.normal(0, 1, (1, 2, 4, 6)).astype(np.float32)],
        "onnx MaxPool then MaxUnpool (opset 11), onnxruntime's outputs")
    for mode, scales in [("nearest", [1, 1, 2, 3]), ("linear", [1, 1, 2, 2])]:
        onnxruntime_model(
            f"onnx_upsample_{mode}",
            helper.make_graph([helper.make_node("Upsample", ["x", "scales"], ["y"], mode=mode)], "upsample",
                              [helper.make_tensor_value_info("x", f32, [1, 2, 3, 4])], [helper.make_tensor_value_info("y", f32, None)],
                              initializer=[numpy_helper.from_array(np.array(scales, np.float32), "scales")]),
            [("", 9)], [sizes_rng.normal(0, 1, (1, 2, 3, 4)).astype(np.float32)],
            f"onnx Upsample node (opset 9), {mode}, onnxruntime's outputs")

    # Pad in wrap mode (opset 19), pads longer than their axes.
    onnxruntime_model(
        "onnx_pad_wrap",
        helper.make_graph([helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap")], "pad",
                          [helper.make_tensor_value_info("x", f32, [1, 2, 3, 4])], [helper.make_tensor_value_info("y", f32, None)],
                          initializer=[int64s("pads", [0, 0, 2, 5, 0, 0, 4, 1])]),
        [("", 19)], [sizes_rng.normal(0, 1, (1, 2, 3, 4)).astype(np.float32)],
        "onnx Pad node (opset 19), wrap mode, pads longer than their axes, onnxruntime's outputs")

    batch, q_seq, past = 2, 3, 5
    attention_model(
        "onnx_attention_gqa_cache",
        helper.make_node("Attention", ["q", "k", "v", "", "past_key", "past_value"],
                         ["y", "present_key", "present_value"], is_causal=1, q_num_heads=8, kv_num_heads=2),
        [("q", f32, [batch, q_seq, 8 * 4]), ("k", f32, [batch, q_seq, 2 * 4]), ("v", f32, [batch, q_seq, 2 * 6]),
         ("past_key", f32, [batch, 2, past, 4]), ("past_value", f32, [batch, 2, past, 6])],
        ["y", "present_key", "present_value"],
        [rng.normal(0, 1, s).astype(np.float32) for s in
         [(batch, q_seq, 32), (batch, q_seq, 8), (batch, q_seq, 12), (batch, 2, past, 4), (batch, 2, past, 6)]])
    keep = np.ones((batch, 1, 4, 7), dtype=bool)
    keep[0, ..., 5:] = False  # the first sequence's last two keys are padding
    attention_model(
        "onnx_attention_mask_softcap",
        helper.make_node("Attention", ["q", "k", "v", "mask"], ["y", "", "", "scores"],
                         softcap=2.5, scale=0.3, qk_matmul_output_mode=3),
        [("q", f32, [batch, 3, 4, 8]), ("k", f32, [batch, 3, 7, 8]), ("v", f32, [batch, 3, 7, 5]),
         ("mask", TensorProto.BOOL, [batch, 1, 4, 7])],
        ["y", "scores"],
        [rng.normal(0, 2, s).astype(np.float32) for s in [(batch, 3, 4, 8), (batch, 3, 7, 8), (batch, 3, 7, 5)]]
        + [keep])


def stored_models():
    """Dense layers y = x·W of n×n seeded weights: 4 MiB (n = 1024) and 20 MiB (n = 2304: past
    what a model kept in state may be, and a run costing more fuel than the chain re-executes
    in every block, mostly for restoring its memory)."""
    from onnx import TensorProto, helper
    for n in (1024, 2304):
        rng = np.random.default_rng(n)
        w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
        x = rng.standard_normal((1, n)).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["y"])], f"dense_{n}",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
            [numpy_helper.from_array(w, "w")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        write(f"stored_matmul_{n}", model.SerializeToString(), [x], [x @ w], "made here (seeded weights)", 1e-4, 1e-5)
    # A dense layer of 100 MiB of weights, 2048 inputs and 12 800 outputs (50 KiB of results,
    # inside a result's 64 KiB): scripts/bench-large-model.sh stores, registers, requests and
    # verifies it. (A width the matrix kernel pads when packing, 12 808 say, holds the weights
    # three times and costs about 9 fuel a byte: docs/engine.md.)
    rows, cols = 2048, 12_800
    rng = np.random.default_rng(cols)
    w = (rng.standard_normal((rows, cols)) / np.sqrt(rows)).astype(np.float32)
    x = rng.standard_normal((1, rows)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "dense_large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cols])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    write("stored_matmul_large", model.SerializeToString(), [x], [x @ w], "made here (seeded weights)", 1e-4, 1e-5)


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
    # A shape whose dimension is an expression nested 100 000 parentheses deep: parsing it
    # recurses until the guest's stack runs out (its stack in linear memory, or the call stack
    # it counts in wasm terms), at the same depth on every CPU: a verdict, never the host's
    # native stack limit.
    nested = "(" * 100_000 + "N" + ")" * 100_000
    deep_x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [nested, 4])
    deep_y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [nested, 4])
    save("deeply_nested_shape", helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "deep", [deep_x], [deep_y]))
    # Tree ensembles whose trees are not trees, or whose leaves vote for what does not exist: a
    # cycle would walk forever, a missing child or class would read or write out of bounds.
    def forest(name, op, modes, true_ids, false_ids, **attributes):
        n = len(modes)
        node = helper.make_node(op, ["x"], ["label", "y"] if op.endswith("Classifier") else ["y"], domain="ai.onnx.ml",
                                nodes_treeids=[0] * n, nodes_nodeids=list(range(n)), nodes_featureids=[0] * n,
                                nodes_values=[0.5] * n, nodes_modes=modes, nodes_truenodeids=true_ids,
                                nodes_falsenodeids=false_ids, **attributes)
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])]
        if op.endswith("Classifier"):
            outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.INT64, [1]))
        save(name, helper.make_graph([node], name, [x], outputs), opsets=(("", 13), ("ai.onnx.ml", 3)))

    leaf = dict(target_treeids=[0], target_nodeids=[1], target_ids=[0], target_weights=[1.0], n_targets=1)
    forest("tree_with_a_cycle", "TreeEnsembleRegressor", ["BRANCH_LEQ", "LEAF"], [1, 0], [0, 0], **leaf)
    forest("tree_child_missing", "TreeEnsembleRegressor", ["BRANCH_LEQ", "LEAF"], [1, 0], [7, 0], **leaf)
    forest("tree_class_out_of_range", "TreeEnsembleClassifier", ["BRANCH_LEQ", "LEAF", "LEAF"], [1, 0, 0], [2, 0, 0],
           class_treeids=[0, 0], class_nodeids=[1, 2], class_ids=[0, 9], class_weights=[1.0, 1.0],
           classlabels_int64s=[0, 1])
    # The unified TreeEnsemble (ai.onnx.ml 5) unrolled as onnxruntime unrolls it: a branch that is
    # its own child would unroll forever, two branches sharing a subtree double it at each level,
    # a set membership branch without members would read past its set.
    def unified(name, modes, true_ids, true_leafs, false_ids, false_leafs, members=None):
        n = len(modes)
        attributes = {"membership_values": helper.make_tensor("m", TensorProto.FLOAT, [len(members)], members)} if members else {}
        node = helper.make_node(
            "TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", n_targets=1, tree_roots=[0],
            nodes_featureids=[0] * n, nodes_truenodeids=true_ids, nodes_trueleafs=true_leafs,
            nodes_falsenodeids=false_ids, nodes_falseleafs=false_leafs,
            nodes_modes=helper.make_tensor("modes", TensorProto.UINT8, [n], modes),
            nodes_splits=helper.make_tensor("splits", TensorProto.FLOAT, [n], [0.5] * n),
            leaf_targetids=[0, 0], leaf_weights=helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0]), **attributes)
        save(name, helper.make_graph([node], name, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])]),
             opsets=(("", 13), ("ai.onnx.ml", 5)))

    unified("tree_ensemble_with_a_cycle", [0, 0], [1, 0], [0, 0], [0, 1], [1, 1])
    unified("tree_ensemble_sharing_a_subtree", [0, 0, 0], [1, 2, 0], [0, 0, 1], [2, 0, 1], [0, 1, 1])
    unified("tree_ensemble_member_without_set", [0, 6], [1, 0], [0, 1], [0, 1], [1, 1], members=[float("nan")])
    # A root whose two children are one id, not both leaves: onnxruntime reads a leaf, the
    # reference a branch.
    unified("tree_ensemble_root_read_two_ways", [0, 0], [1, 0], [1, 1], [1, 1], [0, 1])
    # Attention whose mask covers more keys than there are.
    constant = lambda name, shape, values: helper.make_tensor(name, TensorProto.FLOAT, shape, values)
    save("attention_mask_too_long", helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["q"]), helper.make_node("Attention", ["q", "k", "v", "mask"], ["y"])],
        "attention", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 4])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 1, 4]),
                     constant("k", [1, 1, 3, 4], [0.5] * 12), constant("v", [1, 1, 3, 4], [0.5] * 12),
                     constant("mask", [1, 5], [0.0] * 5)]), opsets=(("", 23),))
    # DeformConv whose offsets have channels for 3 taps of a 2×2 kernel (it has 4), and Det of a
    # matrix that is not square.
    save("deform_conv_offsets_misfit", helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["image"]), helper.make_node("DeformConv", ["image", "w", "offset"], ["y"])],
        "deform_conv", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 2, 2]),
                     constant("w", [1, 1, 2, 2], [0.5] * 4), constant("offset", [1, 6, 1, 1], [0.0] * 6)]), opsets=(("", 22),))
    # DeformConv whose offsets are a vector: its shapes are checked before any axis is read.
    save("deform_conv_offsets_of_rank_one", helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["image"]), helper.make_node("DeformConv", ["image", "w", "offset"], ["y"])],
        "deform_conv", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 2, 2]),
                     constant("w", [1, 1, 2, 2], [0.5] * 4), constant("offset", [8], [0.0] * 8)]), opsets=(("", 22),))
    save("det_not_square", helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"])], "det", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]),
        opsets=(("", 22),))
    # Sizes that misfit or overflow, and an axis out of range, of ops whose sizes are constants.
    cols = [helper.make_node("Reshape", ["x", "cols_shape"], ["cols"])]
    cols_shape = helper.make_tensor("cols_shape", TensorProto.INT64, [3], [1, 4, 1])
    save("col2im_block_misfit", helper.make_graph(
        cols + [helper.make_node("Col2Im", ["cols", "image", "block"], ["y"])], "col2im", [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[cols_shape, helper.make_tensor("image", TensorProto.INT64, [2], [1, 1]),
                     helper.make_tensor("block", TensorProto.INT64, [2], [2, 2])]), opsets=(("", 18),))
    save("col2im_size_overflow", helper.make_graph(
        cols + [helper.make_node("Col2Im", ["cols", "image", "block"], ["y"], strides=[1 << 16, 1 << 16])], "col2im",
        [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[cols_shape, helper.make_tensor("image", TensorProto.INT64, [2], [1 << 16, 1 << 16]),
                     helper.make_tensor("block", TensorProto.INT64, [2], [1, 1])]), opsets=(("", 18),))
    save("affine_grid_size_of_three", helper.make_graph(
        [helper.make_node("Reshape", ["x", "theta_shape"], ["theta"]),
         helper.make_node("AffineGrid", ["theta", "size"], ["y"])], "affine_grid", [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[helper.make_tensor("theta_shape", TensorProto.INT64, [3], [1, 1, 4]),
                     helper.make_tensor("size", TensorProto.INT64, [3], [1, 1, 2])]), opsets=(("", 20),))
    save("center_crop_pad_axis_out_of_range", helper.make_graph(
        [helper.make_node("CenterCropPad", ["x", "shape"], ["y"], axes=[5])], "center_crop_pad", [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [1], [2])]), opsets=(("", 18),))
    # MaxUnpool with an index outside its output (fails the run), Upsample of opset 7 (its scales
    # an attribute: refused).
    save("max_unpool_index_outside", helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["image"]),
         helper.make_node("MaxUnpool", ["image", "indices"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
        "max_unpool", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1, 2, 2]),
                     helper.make_tensor("indices", TensorProto.INT64, [1, 1, 2, 2], [0, 3, 8, 99])]), opsets=(("", 11),))
    save("upsample_scales_attribute", helper.make_graph(
        [helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 2.0])], "upsample", [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opsets=(("", 7),))
    # Pad in wrap mode with a negative pad (wrap mode crops nothing).
    save("pad_wrap_negative", helper.make_graph(
        [helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap")], "pad", [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[helper.make_tensor("pads", TensorProto.INT64, [4], [0, -1, 0, 0])]), opsets=(("", 19),))
    # A reduction whose axes are an input (opset 18): its output shape depends on their value,
    # so the engine refuses it as given and runs it with the axes pinned (tests/pinned_inputs.rs).
    save("reduce_sum_runtime_axes", helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)], "reduce",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
         helper.make_tensor_value_info("axes", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]), opsets=(("", 18),))
    # A recurrent layer with an activation tract would ignore (it always computes the defaults).
    save("rnn_relu_activation", helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["seq"]),
         helper.make_node("RNN", ["seq", "w", "r"], ["y"], hidden_size=2, activations=["Relu"])],
        "rnn", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 1, 1, 2])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [3], [4, 1, 1]),
                     helper.make_tensor("w", TensorProto.FLOAT, [1, 2, 1], [0.5, -0.5]),
                     helper.make_tensor("r", TensorProto.FLOAT, [1, 2, 2], [0.1, 0.2, 0.3, 0.4])]), opsets=(("", 14),))
    # An SVM whose support vector counts add up past what a 32-bit count holds: wrapped, they
    # would pass the checks of the attributes' lengths and index past them when run.
    svm = helper.make_node("SVMClassifier", ["x"], ["label", "y"], domain="ai.onnx.ml", kernel_type="LINEAR",
                           classlabels_ints=[0, 1, 2], vectors_per_class=[1 << 31, 1 << 31, 1],
                           support_vectors=[0.5] * 4, coefficients=[1.0, 1.0], rho=[0.0] * 3)
    save("svm_vector_counts_overflow", helper.make_graph(
        [svm], "svm", [x], [helper.make_tensor_value_info("label", TensorProto.INT64, [1]),
                             helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])]),
         opsets=(("", 13), ("ai.onnx.ml", 1)))
    with open(os.path.join(OUT, "light_squeezenet", "model.onnx"), "rb") as f:
        squeezenet = f.read()
    with open(os.path.join(folder, "malformed_model.onnx"), "wb") as f:
        f.write(squeezenet[: len(squeezenet) // 3])
    with open(os.path.join(folder, "not_onnx.onnx"), "wb") as f:
        f.write(b"\x7fELF this is not a model at all")
    print(f"  hostile/*                            {len(os.listdir(folder))} files")


def adversarial_models():
    """Models that each do as much work per unit of fuel as one operator allows (adversarial/<name>).

    Most take a 1x1 input and blow it up to a large tensor with one memory-bound operator, then
    hand back one corner: a few hundred bytes of model, megabytes of memory work per run.
    """
    from onnx import TensorProto, helper

    folder = os.path.join(OUT, "adversarial")
    side = 4096  # 4096 x 4096 f32: 64 MiB

    def save(name, nodes, inputs, output, initializers, feeds, what, opset=13):
        graph = helper.make_graph(nodes, name, inputs, [output], initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        target = os.path.join(folder, name)
        os.makedirs(target, exist_ok=True)
        model_bytes = model.SerializeToString()
        with open(os.path.join(target, "model.onnx"), "wb") as f:
            f.write(model_bytes)
        with open(os.path.join(target, "input.json"), "w") as f:
            json.dump({"inputs": [tensor_json(x) for x in feeds]}, f)
        with open(os.path.join(target, "meta.json"), "w") as f:
            json.dump({"source": what}, f)
        print(f"  adversarial/{name:<24} {len(model_bytes):>9} bytes  {what}")

    def ints(name, values):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)

    x11 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])
    corner = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])
    one = [np.ones((1, 1), dtype=np.float32)]
    take_corner = helper.make_node("Slice", ["big", "zeros", "ones"], ["y"])
    corner_bounds = [ints("zeros", [0, 0]), ints("ones", [1, 1])]

    save("pad_64mib", [helper.make_node("Pad", ["x", "pads"], ["big"]), take_corner], [x11], corner,
         [ints("pads", [0, 0, side - 1, side - 1])] + corner_bounds, one, "Pad 1x1 to 64 MiB, one corner back")
    save("expand_64mib", [helper.make_node("Expand", ["x", "shape"], ["big"]), take_corner], [x11], corner,
         [ints("shape", [side, side])] + corner_bounds, one, "Expand 1x1 to 64 MiB")
    save("tile_64mib", [helper.make_node("Tile", ["x", "repeats"], ["big"]), take_corner], [x11], corner,
         [ints("repeats", [side, side])] + corner_bounds, one, "Tile 1x1 to 64 MiB")
    row = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 65536])
    save("concat_64mib", [helper.make_node("Concat", ["x"] * 256, ["big"], axis=0), take_corner], [row], corner,
         corner_bounds, [np.ones((1, 65536), dtype=np.float32)], "Concat 256 copies of a 256 KiB row")
    save("transpose_64mib",
         [helper.make_node("Expand", ["x", "shape"], ["wide"]),
          helper.make_node("Transpose", ["wide"], ["big"], perm=[1, 0]), take_corner], [x11], corner,
         [ints("shape", [side, side])] + corner_bounds, one, "Transpose a 64 MiB matrix")
    x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])
    corner4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])
    save("resize_64mib",
         [helper.make_node("Resize", ["x", "", "", "sizes"], ["big"], mode="nearest"),
          helper.make_node("Slice", ["big", "zeros", "ones"], ["y"])], [x4], corner4,
         [ints("sizes", [1, 1, side, side]), ints("zeros", [0, 0, 0, 0]), ints("ones", [1, 1, 1, 1])],
         [np.ones((1, 1, 2, 2), dtype=np.float32)], "Resize (nearest) 2x2 to 64 MiB")
    # LRN, which the host runs (fuel per element and per channel of the window): a window over
    # every channel of a 4 MiB tensor, and a window of one channel (a powf per element) over 16 MiB.
    for name, shape, size, what in [
        ("lrn_wide_window", [1, 256, 64, 64], 511, "LRN over all 256 channels of a 4 MiB tensor"),
        ("lrn_16mib", [1, 4, 1024, 1024], 1, "LRN of one channel (a powf per element) over 16 MiB"),
    ]:
        save(name,
             [helper.make_node("Expand", ["x", "shape"], ["wide"]),
              helper.make_node("LRN", ["wide"], ["big"], size=size),
              helper.make_node("Slice", ["big", "zeros", "ones"], ["y"])],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])], corner4,
             [ints("shape", shape), ints("zeros", [0, 0, 0, 0]), ints("ones", [1, 1, 1, 1])],
             [np.full((1, 1, 1, 1), 1.5, dtype=np.float32)], what)
    # Max pooling, which the host runs (fuel per output element, per tap of its window and per
    # input element): strided 3x3 windows over 16 MiB (SqueezeNet's pools, a gather of every
    # other column), a 31x31 window (961 taps an element), and 3x3 windows dilated by 64 rows
    # and columns (each tap a row's distance from the last).
    for name, shape, attributes, what in [
        ("max_pool_3x3s2_16mib", [1, 4, 1024, 1024], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         "MaxPool 3x3, stride 2, over 16 MiB"),
        ("max_pool_window_31", [1, 4, 128, 128], dict(kernel_shape=[31, 31], pads=[15, 15, 15, 15]),
         "MaxPool of a 31x31 window (961 taps) over 256 KiB"),
        ("max_pool_dilated_16mib", [1, 4, 1024, 1024], dict(kernel_shape=[3, 3], dilations=[64, 64]),
         "MaxPool 3x3 dilated by 64 over 16 MiB"),
    ]:
        save(name,
             [helper.make_node("Expand", ["x", "shape"], ["wide"]),
              helper.make_node("MaxPool", ["wide"], ["big"], **attributes),
              helper.make_node("Slice", ["big", "zeros", "ones"], ["y"])],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])], corner4,
             [ints("shape", shape), ints("zeros", [0, 0, 0, 0]), ints("ones", [1, 1, 1, 1])],
             [np.full((1, 1, 1, 1), 1.5, dtype=np.float32)], what)
    # Depthwise convolutions, which the host runs (fuel per output element, per tap of its
    # window, per tap of the kernel for each output row, per input element): ShuffleNet's strided
    # 3x3 over 16 MiB, 3x3 windows dilated by 64 rows and columns over 32 MiB of 8 planes (each
    # tap a row's distance from the last) and over 64 MiB of 4 planes (fewer planes than the
    # host's lanes: walked plane by plane), a 31x31 window (961 taps an element), a window whose
    # columns lie 16 apart (a cache line a tap, plane by plane), a sparse stride over 8 planes
    # (few taps of a large input) and an 8x8 window dilated by 16 with a stride of 3 over 8 planes
    # (each lane of each tap a stream of loads of its own); each reduced to its largest element in wasm.
    for name, shape, attributes, what in [
        ("depthwise_3x3s2_16mib", [1, 16, 512, 512], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         "depthwise Conv 3x3, stride 2, over 16 MiB"),
        ("depthwise_dilated_32mib", [1, 8, 1024, 1024], dict(kernel_shape=[3, 3], dilations=[64, 64]),
         "depthwise Conv 3x3 dilated by 64 over 32 MiB of 8 planes"),
        ("depthwise_dilated_4_planes", [1, 4, 2048, 2048], dict(kernel_shape=[3, 3], dilations=[64, 64]),
         "depthwise Conv 3x3 dilated by 64 over 64 MiB of 4 planes"),
        ("depthwise_window_31", [1, 8, 128, 128], dict(kernel_shape=[31, 31], pads=[15, 15, 15, 15]),
         "depthwise Conv of a 31x31 window (961 taps) over 512 KiB"),
        ("depthwise_columns_16_apart", [1, 2, 1024, 8192], dict(kernel_shape=[31, 2], strides=[1, 16]),
         "depthwise Conv 31x2, columns 16 apart, over 64 MiB of 2 planes: a cache line a tap"),
        ("depthwise_sparse_8_planes", [1, 8, 2048, 1024], dict(kernel_shape=[2, 2], strides=[64, 64]),
         "depthwise Conv 2x2 of stride 64 over 64 MiB of 8 planes: few taps of a large input"),
        # (tract's optimiser fails a depthwise Conv whose stride divides its dilation: 3, not 16.)
        ("depthwise_8x8_streams", [1, 8, 1024, 1024], dict(kernel_shape=[8, 8], dilations=[16, 16], strides=[3, 3]),
         "depthwise Conv 8x8 dilated by 16, stride 3, over 32 MiB of 8 planes: 512 streams of loads"),
    ]:
        channels, (kh, kw) = shape[1], attributes["kernel_shape"]
        save(name,
             [helper.make_node("Expand", ["x", "shape"], ["wide"]),
              helper.make_node("Conv", ["wide", "w", "b"], ["big"], group=channels, **attributes),
              helper.make_node("ReduceMax", ["big"], ["y"], keepdims=1)],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])], corner4,
             [ints("shape", shape),
              helper.make_tensor("w", TensorProto.FLOAT, [channels, 1, kh, kw], [0.25] * (channels * kh * kw)),
              helper.make_tensor("b", TensorProto.FLOAT, [channels], [0.5] * channels)],
             [np.full((1, 1, 1, 1), 1.5, dtype=np.float32)], what)
    # Convolutions whose im2col the host runs (fuel per element of the matrix, per row of it for
    # each output row, per column, per input element and tap of the window): tract packs the
    # matrix eagerly for a window of fewer than six taps whose product has more than one row
    # panel (2 groups of 16 output channels), and for any window over more than one batch. A 2x2
    # window of stride 64 over 64 MiB (each element a read of its own cache line and page), a
    # padded 2x2 window over 256 KiB (every element written), and a 31x2 window whose columns lie
    # 16 apart over two batches of 8 MiB (each tap's pass a cache line an element, 62 passes
    # over the same lines); each reduced to its largest element in wasm. (tract's optimiser
    # refuses such convolutions of a window one row high.)
    for name, shape, attributes, group, what in [
        ("im2col_2x2_stride_64", [1, 4, 2048, 2048], dict(kernel_shape=[2, 2], strides=[64, 64]), 2,
         "Conv of 2 groups, 2x2 window of stride 64 over 64 MiB: an element a cache line"),
        ("im2col_2x2_padded", [1, 2, 128, 256], dict(kernel_shape=[2, 2], pads=[1, 1, 1, 1]), 2,
         "Conv of 2 groups, 2x2 window padded by 1 over 256 KiB"),
        ("im2col_31x2_columns_16_apart", [2, 2, 256, 8192], dict(kernel_shape=[31, 2], strides=[1, 16]), 1,
         "Conv 31x2, columns 16 apart, over 2 batches of 8 MiB: a cache line an element, 62 taps"),
    ]:
        channels, (kh, kw), outputs = shape[1], attributes["kernel_shape"], 16 * group
        save(name,
             [helper.make_node("Expand", ["x", "shape"], ["wide"]),
              helper.make_node("Conv", ["wide", "w", "b"], ["big"], group=group, **attributes),
              helper.make_node("ReduceMax", ["big"], ["y"], keepdims=1)],
             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 1])], corner4,
             [ints("shape", shape),
              helper.make_tensor("w", TensorProto.FLOAT, [outputs, channels // group, kh, kw],
                                 [0.25] * (outputs * channels // group * kh * kw)),
              helper.make_tensor("b", TensorProto.FLOAT, [outputs], [0.5] * outputs)],
             [np.full((1, 1, 1, 1), 1.5, dtype=np.float32)], what)
    # Element-wise chains, which the host runs (fuel per element, per step of each element, per
    # operand element read and per run of a step, sixteen steps a call): 24 multiplies and adds
    # by a channel's constant over 64 MiB (a batch normalisation's steps; tract's optimiser
    # grows a chain past sixteen steps, the guest hands it over in two calls), runs of two
    # elements a scalar each (an operand of one element per pair of the accumulator's, expanded
    # at run time), an operand of 48 elements walked in lockstep (a run every 48 elements), and
    # subnormal numbers through every step (the slow path of some CPUs' arithmetic); each
    # reduced to its largest element in wasm.
    chain_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])]
    for name, shape, operand, operand_values, value, what in [
        ("bin_chain_24_steps_64mib", [16, 1024 * 1024], [16, 1], None, 1.5,
         "24 multiplies and adds by a row's constant over 64 MiB"),
        ("bin_chain_runs_of_2_32mib", [1 << 22, 2], [1 << 22, 1], "expanded", 1.5,
         "16 multiplies and adds, each operand element shared by 2 elements, over 32 MiB"),
        # (tract walks an operand in lockstep only where it is more than 32 elements, a multiple of 16.)
        ("bin_chain_period_48_64mib", [349526, 48], [1, 48], None, 1.5,
         "16 multiplies and adds by 48 elements in lockstep over 64 MiB"),
        ("bin_chain_subnormal_64mib", [16, 1024 * 1024], [16, 1], None, 1.0e-39,
         "16 multiplies and adds of subnormal numbers over 64 MiB"),
    ]:
        steps = 24 if name.startswith("bin_chain_24") else 16
        nodes = [helper.make_node("Expand", ["x", "shape"], ["v0"])]
        initializers = [ints("shape", shape)]
        if operand_values == "expanded":
            nodes.append(helper.make_node("Expand", ["x", "operand_shape"], ["b"]))
            initializers.append(ints("operand_shape", operand))
            operands = ["b", "b"]
        else:
            size = int(np.prod(operand))
            # A multiply by a little less than one and an add of a little: the values stay
            # what they were (subnormal where they start so).
            initializers += [helper.make_tensor("scale", TensorProto.FLOAT, operand, [0.999] * size),
                             helper.make_tensor("shift", TensorProto.FLOAT, operand, [value * 1.0e-3] * size)]
            operands = ["scale", "shift"]
        for i in range(steps):
            nodes.append(helper.make_node("Mul" if i % 2 == 0 else "Add", [f"v{i}", operands[i % 2]], [f"v{i + 1}"]))
        nodes.append(helper.make_node("ReduceMax", [f"v{steps}"], ["y"], keepdims=1))
        save(name, nodes, chain_inputs, corner, initializers,
             [np.full((1, 1), value, dtype=np.float32)], what)
    # Subnormal numbers outside the element-wise chain: a product by weights of 1e-39 (the host's
    # tiles; 16.8 times its weight under engine version 14 on an Intel Xeon, which takes a
    # microcode assist for every instruction that meets a subnormal) and square roots of
    # subnormal numbers over 64 MiB (tract's own kernel, in wasm). Engine version 15 flushes
    # subnormals (DAZ and FTZ): both run at a normal number's speed.
    # (Padded, not expanded, as the products below.)
    save("matmul_subnormal_weights",
         [helper.make_node("Pad", ["x", "a_pads", "one_value"], ["a"]),
          helper.make_node("Pad", ["tiny", "w_pads", "tiny_value"], ["w"]),
          helper.make_node("MatMul", ["a", "w"], ["big"]),
          helper.make_node("ReduceMax", ["big"], ["y"], keepdims=1)],
         [x11], corner,
         [ints("a_pads", [0, 0, 63, 1023]), ints("w_pads", [0, 0, 1023, 1023]),
          helper.make_tensor("one_value", TensorProto.FLOAT, [], [1.0]),
          helper.make_tensor("tiny", TensorProto.FLOAT, [1, 1], [1.0e-39]),
          helper.make_tensor("tiny_value", TensorProto.FLOAT, [], [1.0e-39])], one,
         "MatMul 64x1024 by 1024x1024 weights of 1e-39")
    save("sqrt_subnormal_64mib",
         [helper.make_node("Expand", ["x", "shape"], ["wide"]),
          helper.make_node("Sqrt", ["wide"], ["big"]),
          helper.make_node("ReduceMax", ["big"], ["y"], keepdims=1)],
         [x11], corner, [ints("shape", [side, side])], [np.full((1, 1), 1.0e-39, dtype=np.float32)],
         "Sqrt of 64 MiB of subnormal numbers, in wasm")
    # Matrix products with the least arithmetic per tile of output: a shared dimension of 1
    # and 2 over a 64 MiB output (262,144 tiles of 8 x 8 handed to the host whole), and a
    # product whose right operand is 8 columns of a long shared dimension; each reduced to its
    # largest element in wasm (scripts/profile-engine.sh times the product apart).
    for name, m, k, n, what in [
        ("matmul_k1_64mib", side, 1, side, "MatMul 4096x1 by 1x4096: 64 MiB of output, one step a tile"),
        ("matmul_k2_64mib", side, 2, side, "MatMul 4096x2 by 2x4096: 64 MiB of output, two steps a tile"),
        ("matmul_k65536_n8", 8, 65536, 8, "MatMul 8x65536 by 65536x8: one tile, 2 MiB of panels"),
    ]:
        # Padded, not expanded: tract's declutter fails on a product of two broadcasts.
        save(name,
             [helper.make_node("Pad", ["x", "a_pads", "half"], ["a"]),
              helper.make_node("Pad", ["x", "b_pads", "half"], ["b"]),
              helper.make_node("MatMul", ["a", "b"], ["big"]),
              # Every element read back: tract would compute only a slice's.
              helper.make_node("ReduceMax", ["big"], ["y"], keepdims=1)],
             [x11], corner,
             [ints("a_pads", [0, 0, m - 1, k - 1]), ints("b_pads", [0, 0, k - 1, n - 1]),
              helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])], one, what)
    # Gather with indices spread over the whole tensor: a cache miss per element.
    n = 1 << 22
    first = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    save("gather_16mib",
         [helper.make_node("Expand", ["xs", "n"], ["data"]),
          helper.make_node("Range", ["start", "limit", "step"], ["counting"]),
          helper.make_node("Mul", ["counting", "stride"], ["spread"]),
          helper.make_node("Mod", ["spread", "limit"], ["indices"]),
          helper.make_node("Gather", ["data", "indices"], ["big"], axis=0),
          helper.make_node("Slice", ["big", "zero", "one"], ["y"])],
         [helper.make_tensor_value_info("xs", TensorProto.FLOAT, [1])], first,
         [ints("n", [n]), helper.make_tensor("start", TensorProto.INT64, [], [0]),
          helper.make_tensor("limit", TensorProto.INT64, [], [n]), helper.make_tensor("step", TensorProto.INT64, [], [1]),
          helper.make_tensor("stride", TensorProto.INT64, [], [1000003]), ints("zero", [0]), ints("one", [1])],
         [np.ones((1,), dtype=np.float32)], "Gather 4M floats at scattered indices")
    # Integer division: one wasm instruction, tens of cycles.
    m = 1 << 20
    quotient = helper.make_tensor_value_info("y", TensorProto.INT64, [1])
    divisions = [helper.make_node("Add", ["xi", "counting"], ["q0"])]
    divisions += [helper.make_node("Div", [f"q{i}", "seven"], [f"q{i + 1}"]) for i in range(16)]
    save("int_div_16x1m",
         [helper.make_node("Range", ["start", "limit", "step"], ["counting"])] + divisions +
         [helper.make_node("Slice", ["q16", "zero", "one"], ["y"])],
         [helper.make_tensor_value_info("xi", TensorProto.INT64, [1])], quotient,
         [helper.make_tensor("start", TensorProto.INT64, [], [1 << 40]),
          helper.make_tensor("limit", TensorProto.INT64, [], [(1 << 40) + m]),
          helper.make_tensor("step", TensorProto.INT64, [], [1]),
          helper.make_tensor("seven", TensorProto.INT64, [], [7]), ints("zero", [0]), ints("one", [1])],
         [np.ones((1,), dtype=np.int64)], "16 integer divisions of 1M int64s")
    # Thousands of nodes on one number: per-node overhead, no arithmetic to speak of.
    nodes = [helper.make_node("Add" if i % 2 else "Mul", [f"v{i}", "x"], [f"v{i + 1}"]) for i in range(3000)]
    nodes[0].input[0] = "x"
    nodes[-1].output[0] = "y"
    save("tiny_nodes_3000", nodes, [x11], corner, [], one, "3000 Add/Mul nodes on a 1x1 tensor")

    # A large tree ensemble: branchy traversal, a cache miss per node visited.
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2000, 16)).astype(np.float32)
    labels = (features[:, 0] * features[:, 1] + np.sin(features[:, 2] * 3) > 0).astype(np.int64)
    forest = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0).fit(features, labels)
    batch = features[:32]
    onx = to_onnx(forest, batch, options={id(forest): {"zipmap": False}}, target_opset={"": 13, "ai.onnx.ml": 3})
    target = os.path.join(folder, "random_forest_100x12")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    with open(os.path.join(target, "input.json"), "w") as f:
        json.dump({"inputs": [tensor_json(batch)]}, f)
    print(f"  adversarial/random_forest_100x12     {len(onx.SerializeToString()):>9} bytes  100 trees of depth 12, 32 rows")


def generative_models():
    """A small decoder in the layout Hugging Face's exports (optimum) give a causal language
    model, with its tokenizer.json (generative/tiny_decoder): inputs input_ids, attention_mask,
    position_ids, past_key_values.N.key/value; outputs logits, present.N.key/value. Its weights
    are set, not trained, from the Zen of Python (the `this` module's text, which Python ships):
    a token's logits are its byte's bigram log-probabilities plus those of the byte two back,
    which an attention head finds in the cache (positions encoded so that each query attends to
    the position before it), each table factored to rank 48 at most, every weight on a grid (the
    same bytes on every machine). Tokens are bytes (a byte-level BPE
    without merges) and <|endoftext|>. generation.json has a prompt and onnxruntime's greedy
    tokens, fed one token a step with the cache, as veriml_engine's generate does."""
    import codecs
    import contextlib
    import io

    from onnx import TensorProto, helper
    with contextlib.redirect_stdout(io.StringIO()):
        import this  # prints the Zen of Python on import
    text = codecs.decode(this.s, "rot13").encode()
    vocab, rank, frequencies, heads, positions = 257, 48, 16, 4, 1024
    end_of_text = 256
    width = 2 * rank + 2 * frequencies  # this token | the token before last | position
    head = width // heads
    assert head == 2 * frequencies

    def log_probs(pairs):
        counts = np.full((vocab, vocab), 0.05)
        for a, b in pairs:
            counts[a, b] += 1
        return np.log(counts / counts.sum(axis=1, keepdims=True))
    # The same bytes on every machine: numpy's log, cos and sin and LAPACK's SVD differ in
    # their last bits from one CPU to another (and the SVD's vectors of equal singular values
    # altogether), so each table is rounded to a grid far coarser than those differences, and
    # the factors are the singular vectors of the singular values that are not zero (the
    # smoothed table's rank is under 48: its unseen bytes' rows are equal), signed by their
    # largest entry, rounded, and the other factor solved from the rounded one.
    def grid(values, bits):
        return np.round(np.asarray(values, dtype=np.float64) * 2.0 ** bits) / 2.0 ** bits
    bigram = grid(log_probs(list(zip(text, text[1:])) + [(text[-1], end_of_text)]), 20)
    skip = grid(log_probs(zip(text, text[2:])), 20)
    unigram = grid(np.log((np.bincount(np.frombuffer(text, np.uint8), minlength=vocab) + 0.05) / len(text)), 20)
    u, s, _ = np.linalg.svd(bigram)
    used = int(np.sum(s > 1e-6 * s[0]))
    assert used <= rank
    u = u[:, :used] * np.sign(u[np.abs(u[:, :used]).argmax(axis=0), np.arange(used)])
    embed = np.zeros((vocab, rank))
    embed[:, :used] = grid(u * np.sqrt(s[:used]), 10)
    bigram_unembed = np.zeros((rank, vocab))
    bigram_unembed[:used] = grid(np.linalg.lstsq(embed[:, :used], bigram, rcond=None)[0], 12)
    # The token two back, as the head copies its embedding: its logits through embed's inverse.
    skip_unembed = np.zeros((rank, vocab))
    skip_unembed[:used] = grid(np.linalg.lstsq(embed[:, :used], 0.8 * (skip - unigram), rcond=None)[0], 12)

    token_block, before_block, position_block = slice(0, rank), slice(rank, 2 * rank), slice(2 * rank, width)
    token_embed = np.zeros((vocab, width))
    token_embed[:, token_block] = embed
    angles = 2 * np.pi / np.geomspace(2.5, 8192, frequencies)
    place = np.arange(positions)[:, None] * angles
    position_embed = np.zeros((positions, width))
    position_embed[:, position_block] = grid(np.concatenate([np.cos(place), np.sin(place)], axis=1), 16)
    # Each head's query is its position turned back one step, its key its position: the scores
    # sum cos(angle * (i - 1 - j)), largest (16, by at least 3.2 over every other j < 1024) at
    # j = i - 1; 8x sharpens the softmax to that one position.
    cos, sin = np.diag(np.cos(angles)), np.diag(np.sin(angles))
    back_one = grid(np.block([[cos, -sin], [sin, cos]]) * 8.0 * np.sqrt(head), 12)
    wq, wk, wv, wo = (np.zeros((width, width)) for _ in range(4))
    for h in range(heads):
        wq[position_block, h * head:(h + 1) * head] = back_one
        wk[position_block, h * head:(h + 1) * head] = np.eye(head)
    wv[token_block, before_block] = np.eye(rank)
    wo[before_block, before_block] = np.eye(rank)
    unembed = np.zeros((width, vocab))
    unembed[token_block] = bigram_unembed
    unembed[before_block] = skip_unembed
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    weights = {
        "embed": f32(token_embed), "unembed": f32(unembed), "positions": f32(position_embed),
        "wq": f32(wq), "wk": f32(wk), "wv": f32(wv), "wo": f32(wo),
        "heads_shape": np.array([0, 0, heads, head], dtype=np.int64),
        "merged_shape": np.array([0, 0, width], dtype=np.int64),
        "scale": np.array(1.0 / np.sqrt(head), dtype=np.float32),
        "zero": np.array(0, dtype=np.int64), "one": np.array(1, dtype=np.int64),
        "one_index": np.array([1], dtype=np.int64),
        "allowed_score": np.array(0.0, dtype=np.float32), "masked_score": np.array(-1e9, dtype=np.float32),
    }
    initializers = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    node = helper.make_node
    nodes = [
        node("Gather", ["embed", "input_ids"], ["tokens"], axis=0),
        node("Gather", ["positions", "position_ids"], ["placed"], axis=0),
        node("Add", ["tokens", "placed"], ["hidden"]),
    ]
    for name in ("q", "k", "v"):
        nodes += [
            node("MatMul", ["hidden", f"w{name}"], [f"{name}_flat"]),
            node("Reshape", [f"{name}_flat", "heads_shape"], [f"{name}_split"]),
            node("Transpose", [f"{name}_split"], [f"{name}_heads"], perm=[0, 2, 1, 3]),
        ]
    nodes += [
        node("Concat", ["past_key_values.0.key", "k_heads"], ["present.0.key"], axis=2),
        node("Concat", ["past_key_values.0.value", "v_heads"], ["present.0.value"], axis=2),
        # The mask: key position j is seen from query position i where j <= i and
        # attention_mask[j] is 1.
        node("Shape", ["attention_mask"], ["mask_shape"]),
        node("Gather", ["mask_shape", "one"], ["keys"], axis=0),
        node("Range", ["zero", "keys", "one"], ["key_positions"]),
        node("Unsqueeze", ["position_ids", "one_index"], ["query_positions_column"]),
        node("Transpose", ["query_positions_column"], ["query_positions"], perm=[0, 2, 1]),
        node("LessOrEqual", ["key_positions", "query_positions"], ["causal"]),
        node("Unsqueeze", ["attention_mask", "one_index"], ["mask_row"]),
        node("Cast", ["mask_row"], ["mask_bool"], to=TensorProto.BOOL),
        node("And", ["causal", "mask_bool"], ["allowed"]),
        node("Where", ["allowed", "allowed_score", "masked_score"], ["bias_3d"]),
        node("Unsqueeze", ["bias_3d", "one_index"], ["bias"]),
        node("Transpose", ["present.0.key"], ["keys_t"], perm=[0, 1, 3, 2]),
        node("MatMul", ["q_heads", "keys_t"], ["raw_scores"]),
        node("Mul", ["raw_scores", "scale"], ["scaled_scores"]),
        node("Add", ["scaled_scores", "bias"], ["scores"]),
        node("Softmax", ["scores"], ["attention"], axis=-1),
        node("MatMul", ["attention", "present.0.value"], ["context_heads"]),
        node("Transpose", ["context_heads"], ["context_split"], perm=[0, 2, 1, 3]),
        node("Reshape", ["context_split", "merged_shape"], ["context"]),
        node("MatMul", ["context", "wo"], ["attended"]),
        node("Add", ["hidden", "attended"], ["residual"]),
        node("MatMul", ["residual", "unembed"], ["logits"]),
    ]
    info = helper.make_tensor_value_info
    inputs = [
        info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        info("attention_mask", TensorProto.INT64, ["batch_size", "past_sequence_length + sequence_length"]),
        info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        info("past_key_values.0.key", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length", head]),
        info("past_key_values.0.value", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length", head]),
    ]
    outputs = [
        info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab]),
        info("present.0.key", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length + sequence_length", head]),
        info("present.0.value", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length + sequence_length", head]),
    ]
    graph = helper.make_graph(nodes, "tiny_decoder", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    model_bytes = model.SerializeToString()

    # GPT-2's byte-level alphabet: each byte a printable character (tokenizers' ByteLevel).
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": end_of_text, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {**{chars[b]: b for b in range(256)}, "<|endoftext|>": end_of_text}, "merges": []},
    }

    folder = os.path.join(OUT, "generative", "tiny_decoder")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(model_bytes)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, ensure_ascii=False)

    # onnxruntime's greedy generation, one token a step (the prompt's too) with the cache.
    prompt, max_tokens = "Beautiful is better than", 64
    session = ort.InferenceSession(path)
    past = [np.zeros((1, heads, 0, head), dtype=np.float32)] * 2
    tokens, fed = [], list(prompt.encode())
    for step in range(len(fed) + max_tokens - 1):
        token = fed[step] if step < len(fed) else tokens[-1]
        feeds = {"input_ids": np.array([[token]], dtype=np.int64),
                 "attention_mask": np.ones((1, step + 1), dtype=np.int64),
                 "position_ids": np.array([[step]], dtype=np.int64),
                 "past_key_values.0.key": past[0], "past_key_values.0.value": past[1]}
        logits, *past = session.run(None, feeds)
        if step >= len(fed) - 1:
            tokens.append(int(np.argmax(logits[0, -1])))
            if tokens[-1] == end_of_text:
                break
    generated = bytes(t for t in tokens if t < 256).decode("utf-8", "replace")
    with open(os.path.join(folder, "generation.json"), "w") as f:
        json.dump({"prompt": prompt, "max_tokens": max_tokens, "stop_tokens": [end_of_text],
                   "onnxruntime_tokens": tokens, "onnxruntime_text": generated}, f)
    print(f"  generative/tiny_decoder              {len(model_bytes):>9} bytes  "
          f"a decoder in Hugging Face's layout: {prompt!r} -> {generated!r}")


def tokenizer_cases():
    """Tokenizers with merges, as Hugging Face's `tokenizers` trains and writes them
    (generative/tokenizers/NAME.json), and what that library encodes a set of texts to and
    decodes the ids back to (cases.json): the reference veriml_engine's tokenizer is checked
    against. Trained here on the Zen of Python, a few standard modules' docs and the texts encoded
    (so that merges span their digits, marks and symbols; no downloads):
    gpt2_style (GPT-2's byte-level BPE: ByteLevel's split by GPT-2's pattern), gpt2_prefix_space
    (the same with add_prefix_space), llama3_style (Llama 3's split pattern, then ByteLevel
    without its own split; ignore_merges), digits_style (digits split one by one before
    ByteLevel, as SmolLM's tokenizer does), qwen2_style (Qwen 2's NFC normalizer and split
    pattern), llama2_style (SentencePiece's BPE as Hugging Face converts Llama 2's: characters,
    byte fallback, Prepend and Replace normalizers, its decoders), metaspace_style (Metaspace
    before and after, a fused unknown token). Each has special tokens; gpt2_style a non-special
    added token matched in the text as it is, qwen2_style one matched in normalized text (after
    the special tokens)."""
    import codecs
    import collections
    import contextlib
    import io
    import textwrap

    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors,
                            trainers)
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    corpus = [codecs.decode(this.s, "rot13"), json.__doc__, collections.__doc__, textwrap.__doc__,
              "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14159 2026-12-06.",
              "naïve café résumé 日本語 Ωμέγα 🙂 don't it's we're I'll you've he'd"]
    texts = [
        "", " ", "   ", "\n", "\n\n", "x", "Hello, world!", "Beautiful is better than ugly.",
        "  leading spaces", "trailing spaces   ", "tabs\tand\nnew lines\r\n\r\nend",
        "it's they're we've I'm you'll he'd IT'S THEY'RE", "numbers 1234567 and 3.14159, -42, 0x1F",
        "naïve café résumé", "日本語のテキスト", "emoji 🙂🚀 done", "Ωμέγα Δέλτα", "ﬁligature",
        "مرحبا بالعالم", "नमस्ते दुनिया", "Ⅻ ² ٣٤ ５", "a\u00a0b\u2003c\u3000d", "\u0085next\u2028line",
        "zero\u200bwidth", "mixed<|endoftext|>special", "<|endoftext|><|endoftext|>x",
        "[veriml] added [veriml]", "<|begin_of_text|>Hi<|end_of_text|>", "12abc34", "don't stop!!!",
        "x" * 50, "Errors should never pass silently.\nUnless explicitly silenced.",
        "double  spaces,\n\nblank lines \n\t mixed\u3000 ideographic  x", "a\n\nb \u3000c  ", "end ",
        codecs.decode(this.s, "rot13"),
        # NFC composes these: combining marks, the ohm and angstrom signs, Hangul jamo.
        "e\u0301te\u0301 A\u030angstro\u0308m \u212b \u2126hm \u1100\u1161\u11a8 \u00c5",
        "[A\u030a] and [\u00c5]", "x<|im_start|>user", "<|im_start|>[\u00c5]<|im_end|>",
        # Byte tokens' text is text; the unknown token fused.
        "<0x41> <s>hi</s> \u2581x", "\u00a7\u00b6\u2020 \u2021\u00a7", " <s> lead",
    ]
    llama3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    qwen2 = llama3.replace(r"\p{N}{1,3}", r"\p{N}")

    def trained(pre_tokenizer, special, ignore_merges=False, vocab_size=2000, normalizer=None, model=None,
                decoder=None, limit_alphabet=None):
        tokenizer = Tokenizer(model or models.BPE(ignore_merges=ignore_merges))
        tokenizer.normalizer = normalizer
        tokenizer.pre_tokenizer = pre_tokenizer
        tokenizer.decoder = decoder or decoders.ByteLevel()
        alphabet = (dict(limit_alphabet=limit_alphabet) if limit_alphabet
                    else dict(initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=special,
                                      **alphabet)
        tokenizer.train_from_iterator(corpus + texts, trainer=trainer)
        return tokenizer

    gpt2 = trained(pre_tokenizers.ByteLevel(add_prefix_space=False), ["<|endoftext|>"])
    gpt2.add_tokens([AddedToken("[veriml]", special=False, normalized=False)])
    prefix = Tokenizer.from_str(gpt2.to_str())
    prefix.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizers = {
        "gpt2_style": gpt2,
        "gpt2_prefix_space": prefix,
        "llama3_style": trained(
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(llama3), "isolated"),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
            ["<|begin_of_text|>", "<|end_of_text|>"], ignore_merges=True),
        "digits_style": trained(
            pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False)]),
            ["<|endoftext|>"]),
        "qwen2_style": trained(
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(qwen2), "isolated"),
                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
            ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], normalizer=normalizers.NFC()),
    }
    # SentencePiece's BPE as Hugging Face converts it: characters as they are (no byte-level
    # alphabet), an alphabet of 80 characters so that the others are byte tokens <0xXX>
    # (llama2_style: Llama 2's normaliser and decoder) or the unknown token, runs of them one
    # (metaspace_style: Metaspace before and after, as newer conversions write it).
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    llama2 = trained(None, ["<unk>", "<s>", "</s>"] + bytes_, vocab_size=1500, limit_alphabet=80,
                     normalizer=normalizers.Sequence([normalizers.Prepend("\u2581"),
                                                      normalizers.Replace(" ", "\u2581")]),
                     model=models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True),
                     decoder=decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                                decoders.Fuse(), decoders.Strip(" ", 1, 0)]))
    # The byte tokens are the model's vocabulary, not added tokens: "<0x41>" in a text is text.
    llama2 = json.loads(llama2.to_str())
    llama2["added_tokens"] = [t for t in llama2["added_tokens"] if t["content"] not in bytes_]
    tokenizers["llama2_style"] = Tokenizer.from_str(json.dumps(llama2))
    metaspace = dict(replacement="\u2581", prepend_scheme="first", split=False)
    tokenizers["metaspace_style"] = trained(
        pre_tokenizers.Metaspace(**metaspace), ["<unk>", "<s>", "</s>"], vocab_size=1500, limit_alphabet=80,
        model=models.BPE(unk_token="<unk>", fuse_unk=True), decoder=decoders.Metaspace(**metaspace))
    # Post-processors that put special tokens around a prompt (add_special_tokens=True): Llama 2's
    # and Llama 3's BOS (Llama 3's after a ByteLevel one, which only moves offsets), and both ends.
    def template(tokenizer, single):
        special = {t: tokenizer.token_to_id(t) for t in single.split() if t != "$A"}
        return processors.TemplateProcessing(single=single, special_tokens=list(special.items()))
    tokenizers["llama2_style"].post_processor = template(tokenizers["llama2_style"], "<s> $A")
    tokenizers["metaspace_style"].post_processor = template(tokenizers["metaspace_style"], "<s> $A </s>")
    tokenizers["llama3_style"].post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        template(tokenizers["llama3_style"], "<|begin_of_text|> $A")])
    tokenizers["gpt2_style"].post_processor = processors.ByteLevel(trim_offsets=False)
    # Matched in normalized text, after the special tokens: "x<|im" is not found in
    # "x<|im_start|>", where "<|im_start|>" is found first.
    tokenizers["qwen2_style"].add_tokens([AddedToken("[\u00c5]", special=False, normalized=True),
                                          AddedToken("x<|im", special=False, normalized=True)])
    folder = os.path.join(OUT, "generative", "tokenizers")
    os.makedirs(folder, exist_ok=True)
    cases = []
    for name, tokenizer in tokenizers.items():
        tokenizer.save(os.path.join(folder, f"{name}.json"))
        # Long texts too (not trained on): a long run of spaces, the Zen of Python 20 times.
        for text in texts + ["x" + " " * 5000 + "y\n", codecs.decode(this.s, "rot13") * 20]:
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            cases.append({"tokenizer": name, "text": text, "ids": ids,
                          "with_special_tokens": tokenizer.encode(text, add_special_tokens=True).ids,
                          "decoded": tokenizer.decode(ids, skip_special_tokens=True)})
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f, ensure_ascii=False)
    merges = {name: len(json.loads(t.to_str())["model"]["merges"]) for name, t in tokenizers.items()}
    print(f"  generative/tokenizers                {len(cases):>9} cases  tokenizers' encodings, merges {merges}")


if __name__ == "__main__":
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    print(f"writing test models to {os.path.abspath(OUT)}")
    light_models()
    pytorch_models()
    sklearn_models()
    sklearn_family_models()
    operator_models()
    stored_models()
    hostile_models()
    adversarial_models()
    generative_models()
    tokenizer_cases()
