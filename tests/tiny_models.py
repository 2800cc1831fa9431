"""A tiny but real ONNX age model, written by tests (no torch needed), and a check on ONNX graphs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from howold.age_model import ModelInfo, write_model_info


def write_tiny_age_model(
    folder: Path,
    *,
    name: str = "tiny",
    weights: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    classes: int = 101,
    sidecar: dict | None = None,
) -> Path:
    """Write a real ONNX age model: global average pool -> linear -> logits, plus its sidecar."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = rng.normal(0, 1.0, (3, classes)).astype(np.float32) if weights is None else weights
    bias = np.zeros(classes, np.float32) if bias is None else bias
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        ],
        "tiny_age",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        initializer=[
            numpy_helper.from_array(weights.astype(np.float32), "W"),
            numpy_helper.from_array(bias.astype(np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    info = {
        "name": name, "version": "0.0.1",
        "backbone": "tiny-test-net", "input_size": 32, "crop_size": 64, "crop_margin": 0.5,
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "output": "age_logits",
        "min_age": 0, "max_age": classes - 1, "temperature": 1.0, "interval": 0.8,
        "tta_flip": False, "training": {},
        "metrics": {"utkface_test": {"overall": {"n": 25, "mae": 9.9, "coverage": 0.8}}},
    }  # fmt: skip
    info.update(sidecar or {})
    write_model_info(path, ModelInfo.from_dict(info))
    return path


def break_sidecar(model: Path, change: dict) -> None:
    """Write `change` into a model's sidecar by hand, past the writer's checks: a sidecar howold
    did not write, for the reader's tests."""
    path = model.with_suffix(".json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


def computed_pads(path) -> list[str]:
    """The Pad nodes of an ONNX graph whose amounts are computed at run time rather than constant."""
    import pytest

    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(path)).graph
    constants = {init.name for init in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "Pad" and node.input[1] not in constants]
