"""FaceRes-deep's TF.js graph -> an equivalent ONNX model, with numpy and onnx.helper only (no TensorFlow).

`convert_faceres` walks the TF graph node by node; each TF op has one small function in `CONVERTERS`
(keyed by the op name) that adds its ONNX nodes and returns the output's shape. The TF graph is
NHWC; the ONNX graph transposes the input once and runs NCHW.

Checks (2026-11-29): the ONNX model matches tfjs 4.22 (CPU backend, same weights) to 5e-7 on the
age softmax and 2e-6 (relative) on the feature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from howold.train.faceres.tfjs import INPUT_SIZE, NPM_PACKAGE, OUTPUTS, node_attr, read_tfjs, same_pads

Shape = tuple  # a tensor's NCHW spatial (H, W), or ("vec",) after the global mean


class _Graph:
    """The ONNX graph being built: nodes, initializers, and each converted TF node's tensor and shape."""

    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.consts = consts
        self.nodes: list = []
        self.initializers: list = []
        self.shapes: dict[str, Shape] = {}  # tensor -> NCHW spatial (H, W) or ("vec",)
        self.names: dict[str, str] = {}  # TF node name -> ONNX tensor name

    def add(self, op_type: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, **attrs))

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def src(self, tf_name: str) -> str:
        return self.names[tf_name.split(":")[0]]

    def base_shape(self, inputs: list[str]) -> Shape:
        """The shape of the first input that is not a constant (elementwise ops keep it)."""
        base = [i for i in inputs if i.split(":")[0] not in self.consts][0]
        return self.shapes[base.split(":")[0]]


def _placeholder(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
    if dims[1:] != [INPUT_SIZE, INPUT_SIZE, 3]:
        raise ValueError(f"input shape {dims}: expected (N, 224, 224, 3)")
    g.add("Transpose", ["input"], [node["name"]], perm=[0, 3, 1, 2])
    return (dims[1], dims[2])


def _conv(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    """Conv2D and DepthwiseConv2dNative (NHWC, SAME or VALID) -> Conv with explicit pads."""
    op, name = node["op"], node["name"]
    if node_attr(node, "data_format") not in (None, "NHWC") or node_attr(node, "padding") not in ("SAME", "VALID"):
        raise ValueError(f"{name}: unsupported data_format/padding")
    if any(d != 1 for d in (node_attr(node, "dilations") or [1])):
        raise ValueError(f"{name}: dilations are not supported")
    kernel = g.consts[inputs[1]]
    kh, kw = kernel.shape[:2]
    strides = node_attr(node, "strides")
    h, w = g.shapes[inputs[0]]
    if node_attr(node, "padding") == "SAME":
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
    g.add(
        "Conv",
        [g.src(inputs[0]), g.const(name + "/W", onnx_w.astype(np.float32))],
        [name],
        kernel_shape=[kh, kw],
        strides=strides[1:3],
        pads=[top, left, bottom, right],
        group=group,
    )
    return (oh, ow)


def _binary(onnx_op: str) -> Callable[[_Graph, dict, list[str]], Shape]:
    """Add, Mul, Minimum, Maximum with one constant operand (per-channel: NHWC last axis -> NCHW axis 1)."""

    def convert(g: _Graph, node: dict, inputs: list[str]) -> Shape:
        name = node["name"]
        a, b = inputs
        if a in g.consts:
            a, b = b, a
        value = g.consts[b]
        if value.ndim == 1:  # per-channel: NHWC last axis -> NCHW axis 1
            value = value.reshape(1, -1, 1, 1) if len(g.shapes[a.split(":")[0]]) == 2 else value
        g.add(onnx_op, [g.src(a), g.const(name + "/c", value.astype(np.float32))], [name])
        return g.base_shape(inputs)

    return convert


def _unary(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    """Relu and Sigmoid: the same op in ONNX."""
    g.add(node["op"], [g.src(inputs[0])], [node["name"]])
    return g.base_shape(inputs)


def _softmax(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    g.add("Softmax", [g.src(inputs[0])], [node["name"]], axis=-1)
    return g.base_shape(inputs)


def _mean(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    """Only the global spatial mean (axes 1, 2 of NHWC, no keep_dims) -> ReduceMean over H, W."""
    name = node["name"]
    axes = [int(a) for a in np.atleast_1d(g.consts[inputs[1]])]
    if sorted(axes) != [1, 2] or node_attr(node, "keep_dims"):
        raise ValueError(f"{name}: only a global spatial mean is supported")
    g.add("ReduceMean", [g.src(inputs[0])], [name], axes=[2, 3], keepdims=0)
    return ("vec",)


def _fused_matmul(g: _Graph, node: dict, inputs: list[str]) -> Shape:
    """_FusedMatMul with BiasAdd (and optionally Relu) -> Gemm (+ Relu)."""
    name = node["name"]
    if node_attr(node, "transpose_a") or node_attr(node, "transpose_b"):
        raise ValueError(f"{name}: transposed MatMul is not supported")
    fused = node_attr(node, "fused_ops") or []
    if not fused or fused[0] != "BiasAdd" or len(fused) > 2 or (len(fused) == 2 and fused[1] != "Relu"):
        raise ValueError(f"{name}: fused ops {fused} are not supported")
    gemm_out = name + "/gemm" if len(fused) == 2 else name
    g.add(
        "Gemm",
        [
            g.src(inputs[0]),
            g.const(name + "/W", g.consts[inputs[1]].astype(np.float32)),
            g.const(name + "/b", g.consts[inputs[2]].astype(np.float32)),
        ],
        [gemm_out],
    )
    if len(fused) == 2:
        g.add("Relu", [gemm_out], [name])
    return g.base_shape(inputs)


# TF op -> its converter: adds the ONNX nodes for one TF node and returns the output's shape.
CONVERTERS: dict[str, Callable[[_Graph, dict, list[str]], Shape]] = {
    "Placeholder": _placeholder,
    "Conv2D": _conv,
    "DepthwiseConv2dNative": _conv,
    "Add": _binary("Add"),
    "Mul": _binary("Mul"),
    "Minimum": _binary("Min"),
    "Maximum": _binary("Max"),
    "Relu": _unary,
    "Sigmoid": _unary,
    "Softmax": _softmax,
    "Mean": _mean,
    "_FusedMatMul": _fused_matmul,
}


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
    from onnx import TensorProto, helper

    nodes, weights = read_tfjs(json_path, bin_path)
    consts: dict[str, np.ndarray] = {}
    for node in nodes:
        if node["op"] == "Const":
            if node["name"] not in weights:
                raise ValueError(f"constant {node['name']} has no weights")
            consts[node["name"]] = weights[node["name"]]
    g = _Graph(consts)
    for node in nodes:
        op, name, inputs = node["op"], node["name"], [i for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            continue
        if op not in CONVERTERS:
            raise ValueError(f"{name}: TF op {op} is not supported")
        shape = CONVERTERS[op](g, node, inputs)
        g.names[name], g.shapes[name] = name, shape

    outs = []
    for key in outputs:
        g.add("Identity", [g.names[OUTPUTS[key]]], [key])
        width = {"age": 100, "gender": 1, "feature": 1024}[key]
        outs.append(helper.make_tensor_value_info(key, TensorProto.FLOAT, ["N", width]))
    graph = helper.make_graph(
        g.nodes,
        "faceres_deep",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        outs,
        g.initializers,
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
