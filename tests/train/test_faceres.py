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
    return {
        "name": name,
        "op": op,
        "input": [src, kernel],
        "attr": {
            "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
            "padding": _b64("SAME"),
            "data_format": _b64("NHWC"),
            "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
        },
    }


def _tiny_graph(tmp_path):
    """conv s2 + bias + relu6, depthwise s2 + BN mul/add + relu6, mean, dense+relu, age/gender heads."""
    rng = np.random.default_rng(0)
    weights = {
        "k1": rng.normal(0, 0.1, (3, 3, 3, 4)),
        "b1": rng.normal(0, 1, 4),
        "six": np.array(6.0),
        "zero": np.array(0.0),
        "dw": rng.normal(0, 0.5, (3, 3, 4, 1)),
        "dw_mul": rng.uniform(0.5, 2, 4),
        "dw_add": rng.normal(0, 1, 4),
        "axes": np.array([1, 2], np.int32),
        "fk": rng.normal(0, 1, (4, 5)),
        "fb": rng.normal(0, 1, 5),
        "ak": rng.normal(0, 1, (5, 100)),
        "ab": rng.normal(0, 1, 100),
        "gk": rng.normal(0, 1, (5, 1)),
        "gb": rng.normal(0, 1, 1),
    }
    nodes = [{"name": k, "op": "Const"} for k in weights]
    nodes += [
        {
            "name": "input_1",
            "op": "Placeholder",
            "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "224"}, {"size": "224"}, {"size": "3"}]}}},
        },
        _conv("c1", "input_1", "k1", "Conv2D", 2),
        {"name": "c1_add", "op": "Add", "input": ["c1", "b1"]},
        {"name": "c1_relu", "op": "Relu", "input": ["c1_add"]},
        {"name": "c1_min", "op": "Minimum", "input": ["c1_relu", "six"]},
        {"name": "c1_max", "op": "Maximum", "input": ["c1_min", "zero"]},
        _conv("d1", "c1_max", "dw", "DepthwiseConv2dNative", 2),
        {"name": "d1_mul", "op": "Mul", "input": ["d1", "dw_mul"]},
        {"name": "d1_add", "op": "Add", "input": ["d1_mul", "dw_add"]},
        {"name": "d1_relu", "op": "Relu", "input": ["d1_add"]},
        {
            "name": "global_pooling/Mean",
            "op": "Mean",
            "input": ["d1_relu", "axes"],
            "attr": {"keep_dims": {"b": False}},
        },
        {
            "name": "feats/Relu",
            "op": "_FusedMatMul",
            "input": ["global_pooling/Mean", "fk", "fb"],
            "attr": {
                "fused_ops": {
                    "list": {"s": [base64.b64encode(b"BiasAdd").decode(), base64.b64encode(b"Relu").decode()]}
                }
            },
        },
        {
            "name": "age_pred/BiasAdd",
            "op": "_FusedMatMul",
            "input": ["feats/Relu", "ak", "ab"],
            "attr": {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}},
        },
        {
            "name": "gender_pred/BiasAdd",
            "op": "_FusedMatMul",
            "input": ["feats/Relu", "gk", "gb"],
            "attr": {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}},
        },
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
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["m.bin"], "weights": specs}],
    }
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


# MobileNet-v1's 13 depthwise-separable blocks: (depthwise stride, pointwise width)
_MOBILENET_V1 = (
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),
    (1, 1024),
)


def _relu6(name: str, src: str) -> list[dict]:
    return [
        {"name": f"{name}_relu", "op": "Relu", "input": [src]},
        {"name": f"{name}_min", "op": "Minimum", "input": [f"{name}_relu", "six"]},
        {"name": f"{name}_max", "op": "Maximum", "input": [f"{name}_min", "zero"]},
    ]


def _mobilenet_graph(tmp_path):
    """FaceRes-deep's layout at full size with random weights: stem, 13 blocks (depthwise + Mul/Add,
    pointwise + Add, ReLU6 after each), mean, dense 256 + ReLU, age (100) and gender heads."""
    rng = np.random.default_rng(0)
    weights = {"six": np.array(6.0), "zero": np.array(0.0), "axes": np.array([1, 2], np.int32)}
    nodes = [
        {
            "name": "input_1",
            "op": "Placeholder",
            "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "224"}, {"size": "224"}, {"size": "3"}]}}},
        }
    ]

    def pointwise(name, src, kernel_shape, stride):
        weights[f"{name}_k"] = rng.normal(0, (2 / np.prod(kernel_shape[:3])) ** 0.5, kernel_shape)
        weights[f"{name}_shift"] = rng.normal(0, 0.1, kernel_shape[-1])
        nodes.extend(
            [
                _conv(name, src, f"{name}_k", "Conv2D", stride),
                {"name": f"{name}_add", "op": "Add", "input": [name, f"{name}_shift"]},
                *_relu6(name, f"{name}_add"),
            ]
        )
        return f"{name}_max"

    src = pointwise("c0", "input_1", (3, 3, 3, 32), 2)
    width = 32
    for i, (stride, out) in enumerate(_MOBILENET_V1, 1):
        dw = f"dw{i}"
        weights[f"{dw}_k"] = rng.normal(0, 0.3, (3, 3, width, 1))
        weights[f"{dw}_scale"], weights[f"{dw}_shift"] = rng.uniform(0.5, 2, width), rng.normal(0, 0.1, width)
        nodes.extend(
            [
                _conv(dw, src, f"{dw}_k", "DepthwiseConv2dNative", stride),
                {"name": f"{dw}_mul", "op": "Mul", "input": [dw, f"{dw}_scale"]},
                {"name": f"{dw}_add", "op": "Add", "input": [f"{dw}_mul", f"{dw}_shift"]},
                *_relu6(dw, f"{dw}_add"),
            ]
        )
        src = pointwise(f"pw{i}", f"{dw}_max", (1, 1, width, out), 1)
        width = out
    weights.update(
        fk=rng.normal(0, 0.05, (1024, 256)),
        fb=rng.normal(0, 0.1, 256),
        ak=rng.normal(0, 0.1, (256, 100)),
        ab=rng.normal(0, 1, 100),
        gk=rng.normal(0, 0.1, (256, 1)),
        gb=rng.normal(0, 1, 1),
    )
    fused = lambda *ops: {"fused_ops": {"list": {"s": [base64.b64encode(op.encode()).decode() for op in ops]}}}  # noqa: E731
    nodes += [
        {"name": "global_pooling/Mean", "op": "Mean", "input": [src, "axes"], "attr": {"keep_dims": {"b": False}}},
        {
            "name": "feats/Relu",
            "op": "_FusedMatMul",
            "input": ["global_pooling/Mean", "fk", "fb"],
            "attr": fused("BiasAdd", "Relu"),
        },
        {
            "name": "age_pred/BiasAdd",
            "op": "_FusedMatMul",
            "input": ["feats/Relu", "ak", "ab"],
            "attr": fused("BiasAdd"),
        },
        {
            "name": "gender_pred/BiasAdd",
            "op": "_FusedMatMul",
            "input": ["feats/Relu", "gk", "gb"],
            "attr": fused("BiasAdd"),
        },
        {"name": "age_pred/Softmax", "op": "Softmax", "input": ["age_pred/BiasAdd"]},
        {"name": "gender_pred/Sigmoid", "op": "Sigmoid", "input": ["gender_pred/BiasAdd"]},
    ]
    nodes = [{"name": k, "op": "Const"} for k in weights] + nodes
    specs, blobs = [], []
    for name, value in weights.items():
        value = value.astype(np.int32 if value.dtype == np.int32 else np.float32)
        dtype = "int32" if value.dtype == np.int32 else "float32"
        specs.append({"name": name, "shape": list(value.shape), "dtype": dtype})
        blobs.append(value.tobytes())
    (tmp_path / "m.bin").write_bytes(b"".join(blobs))
    (tmp_path / "m.json").write_text(
        json.dumps(
            {
                "format": "graph-model",
                "modelTopology": {"node": nodes},
                "weightsManifest": [{"paths": ["m.bin"], "weights": specs}],
            }
        )
    )
    return faceres.convert_faceres(tmp_path / "m.json", tmp_path / "m.bin", tmp_path / "m.onnx")


def test_faceres_backbone_computes_what_the_converted_model_does(tmp_path):
    """model.pretrained=faceres: timm's network with the loaded weights, fed RGB normalised as the
    sidecar says, gives FaceRes-deep's age distribution on the BGR image, shifted one bin (age = bin + 1)."""
    ort = pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    from timm.layers import freeze_batch_norm_2d

    from howold.train.config import ModelConfig
    from howold.train.model import build_network

    onnx_path = _mobilenet_graph(tmp_path)
    net = build_network(ModelConfig(backbone=faceres.BACKBONE, pretrained="faceres", pretrained_file=str(onnx_path)))
    net = freeze_batch_norm_2d(net).eval()
    rgb = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    bgr = rgb[..., ::-1] - faceres.BGR_MEAN
    expected = session.run(None, {"input": np.ascontiguousarray(bgr)})[0]
    mean, std = np.array(faceres.BACKBONE_MEAN) * 255, np.array(faceres.BACKBONE_STD) * 255
    x = torch.from_numpy(((rgb - mean) / std).astype(np.float32)).permute(0, 3, 1, 2)
    with torch.no_grad():
        probs = torch.softmax(net(x), 1).numpy()
    assert probs.shape == (2, 101)
    shifted = probs[:, faceres.AGE_OFFSET :] / probs[:, faceres.AGE_OFFSET :].sum(1, keepdims=True)
    np.testing.assert_allclose(shifted, expected, rtol=1e-3, atol=1e-6)
    assert probs[:, 0] == pytest.approx(probs[:, 1] / 2, rel=1e-4)  # age 0 starts as age 1's row minus log 2


def _tiny_graph_onnx(tmp_path):
    json_path, bin_path = _tiny_graph(tmp_path)
    return faceres.convert_faceres(json_path, bin_path, tmp_path / "tiny.onnx")


def test_faceres_backbone_asks_for_its_network_and_file(tmp_path):
    from howold.errors import ModelError
    from howold.train.config import ModelConfig
    from howold.train.model import build_network

    with pytest.raises(ModelError, match="expected model.backbone=mobilenetv1_100"):
        build_network(ModelConfig(backbone="tf_efficientnet_lite0", pretrained="faceres"))
    with pytest.raises(ModelError, match="is not FaceRes-deep's converted model"):
        build_network(
            ModelConfig(
                backbone=faceres.BACKBONE, pretrained="faceres", pretrained_file=str(_tiny_graph_onnx(tmp_path))
            )
        )
    with pytest.raises(ModelError, match="fetch"):
        build_network(
            ModelConfig(backbone=faceres.BACKBONE, pretrained="faceres", pretrained_file=str(tmp_path / "x.onnx"))
        )


@pytest.mark.slow
def test_faceres_backbone_trains_one_batch_and_exports_a_howold_model(tmp_path, tiny_run, face_paths):
    """The whole path with model.pretrained=faceres: one training batch, then an ONNX export whose
    parity the export checks, read back by AgeModel with the sidecar's caffe-style normalisation."""
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    pytest.importorskip("lightning")
    from howold.age_model import AgeModel
    from howold.train.config import load_config
    from howold.train.export import PARITY_TOLERANCE, export
    from howold.train.run import train

    onnx_path = _mobilenet_graph(tmp_path)
    cfg = load_config(
        None,
        [
            *tiny_run(),
            "name=faceres",
            f"model.backbone={faceres.BACKBONE}",
            "model.pretrained=faceres",
            f"model.pretrained_file={onnx_path}",
            "model.freeze_bn=true",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
        ],
    )
    summary = train(cfg)
    sidecar = export(summary["best_checkpoint"], tmp_path / "model.onnx")
    assert sidecar["training"]["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert sidecar["backbone"] == faceres.BACKBONE
    assert sidecar["mean"] == pytest.approx(faceres.BACKBONE_MEAN)
    assert sidecar["std"] == pytest.approx(faceres.BACKBONE_STD)
    estimates = AgeModel(tmp_path / "model.onnx").prepare().predict(np.full((2, 64, 64, 3), 128, np.uint8))
    assert estimates.probs.shape == (2, 101) and np.all(np.isfinite(estimates.age))
