"""FaceRes-deep conversion: a tiny TF.js graph of the same ops, converted to ONNX, against numpy."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

pytest.importorskip("onnx")

from howold.train import faceres  # noqa: E402


def _b64(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _conv(name: str, src: str, kernel: str, op: str, stride: int) -> dict:
    return {"name": name, "op": op, "input": [src, kernel],
            "attr": {"strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}}, "padding": _b64("SAME"),
                     "data_format": _b64("NHWC"), "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}}


def _tiny_graph(tmp_path):
    """conv s2 + bias + relu6, depthwise s2 + BN mul/add + relu6, mean, dense+relu, age/gender heads."""
    rng = np.random.default_rng(0)
    weights = {
        "k1": rng.normal(0, 0.1, (3, 3, 3, 4)), "b1": rng.normal(0, 1, 4), "six": np.array(6.0),
        "zero": np.array(0.0), "dw": rng.normal(0, 0.5, (3, 3, 4, 1)), "dw_mul": rng.uniform(0.5, 2, 4),
        "dw_add": rng.normal(0, 1, 4), "axes": np.array([1, 2], np.int32), "fk": rng.normal(0, 1, (4, 5)),
        "fb": rng.normal(0, 1, 5), "ak": rng.normal(0, 1, (5, 100)), "ab": rng.normal(0, 1, 100),
        "gk": rng.normal(0, 1, (5, 1)), "gb": rng.normal(0, 1, 1),
    }
    nodes = [{"name": k, "op": "Const"} for k in weights]
    nodes += [
        {"name": "input_1", "op": "Placeholder",
         "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "224"}, {"size": "224"}, {"size": "3"}]}}}},
        _conv("c1", "input_1", "k1", "Conv2D", 2),
        {"name": "c1_add", "op": "Add", "input": ["c1", "b1"]},
        {"name": "c1_relu", "op": "Relu", "input": ["c1_add"]},
        {"name": "c1_min", "op": "Minimum", "input": ["c1_relu", "six"]},
        {"name": "c1_max", "op": "Maximum", "input": ["c1_min", "zero"]},
        _conv("d1", "c1_max", "dw", "DepthwiseConv2dNative", 2),
        {"name": "d1_mul", "op": "Mul", "input": ["d1", "dw_mul"]},
        {"name": "d1_add", "op": "Add", "input": ["d1_mul", "dw_add"]},
        {"name": "d1_relu", "op": "Relu", "input": ["d1_add"]},
        {"name": "global_pooling/Mean", "op": "Mean", "input": ["d1_relu", "axes"],
         "attr": {"keep_dims": {"b": False}}},
        {"name": "feats/Relu", "op": "_FusedMatMul", "input": ["global_pooling/Mean", "fk", "fb"],
         "attr": {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode(),
                                               base64.b64encode(b"Relu").decode()]}}}},
        {"name": "age_pred/BiasAdd", "op": "_FusedMatMul", "input": ["feats/Relu", "ak", "ab"],
         "attr": {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}}},
        {"name": "gender_pred/BiasAdd", "op": "_FusedMatMul", "input": ["feats/Relu", "gk", "gb"],
         "attr": {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}}},
        {"name": "age_pred/Softmax", "op": "Softmax", "input": ["age_pred/BiasAdd"]},
        {"name": "gender_pred/Sigmoid", "op": "Sigmoid", "input": ["gender_pred/BiasAdd"]},
    ]
    specs, blobs = [], []
    for name, value in weights.items():
        dtype = "int32" if value.dtype == np.int32 else "float32"
        value = value.astype(np.int32 if dtype == "int32" else np.float32)
        specs.append({"name": name, "shape": list(value.shape), "dtype": dtype})
        blobs.append(value.tobytes())
    (tmp_path / "m.bin").write_bytes(b"".join(blobs))
    model = {"format": "graph-model", "modelTopology": {"node": nodes},
             "weightsManifest": [{"paths": ["m.bin"], "weights": specs}]}
    (tmp_path / "m.json").write_text(json.dumps(model))
    return tmp_path / "m.json", tmp_path / "m.bin"


def test_same_pads_match_tensorflow():
    assert faceres.same_pads(224, 3, 2) == (0, 1, 112)  # asymmetric: TF pads after only
    assert faceres.same_pads(112, 3, 1) == (1, 1, 112)
    assert faceres.same_pads(7, 3, 2) == (1, 1, 4)
    assert faceres.same_pads(14, 1, 1) == (0, 0, 14)


def test_conversion_matches_numpy_reference(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    json_path, bin_path = _tiny_graph(tmp_path)
    out = faceres.convert_faceres(json_path, bin_path, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    nodes, weights = faceres.read_tfjs(json_path, bin_path)
    image = np.random.default_rng(1).normal(0, 50, (224, 224, 3)).astype(np.float32)
    age, gender, feature = session.run(None, {"input": image[None]})
    ref = faceres.reference_forward(nodes, weights, image)
    np.testing.assert_allclose(feature[0], ref["global_pooling/Mean"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(age[0], ref["age_pred/Softmax"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gender[0], ref["gender_pred/Sigmoid"], rtol=1e-4, atol=1e-6)


def test_age_rule_and_distribution():
    probs = np.zeros((1, 100))
    probs[0, 30], probs[0, 31], probs[0, 50] = 0.3, 0.1, 0.2
    assert faceres.age_from_probs(probs, offset=1)[0] == pytest.approx(1 + (30 * 0.3 + 50 * 0.2) / 0.5)
    dist = faceres.to_age_distribution(probs, offset=1)
    assert dist.shape == (1, 101) and dist.sum() == pytest.approx(1.0)
    assert dist[0, 31] == pytest.approx(0.5) and dist[0, 0] == 0


def test_cut_box_margin_and_border():
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = faceres.cut_box(image, (0, 0, 100, 100), margin=0.1, size=224)
    assert crop.shape == (224, 224, 3)
    assert crop[112, 112, 0] == 200 and crop[2, 2, 0] == 0  # outside the photo: black
