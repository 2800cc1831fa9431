"""An independent pure-numpy forward of FaceRes-deep's TF graph, in TF's own layout (NHWC) and
padding rule, used to check the conversion to ONNX."""

from __future__ import annotations

import numpy as np

from howold.train.faceres.tfjs import node_attr, same_pads


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
            values[name] = _np_conv(ins[0], ins[1], node_attr(node, "strides")[1], op != "Conv2D")
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
            values[name] = np.maximum(y, 0) if "Relu" in node_attr(node, "fused_ops") else y
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
