"""`howold export`: a training checkpoint → ONNX model + JSON sidecar (the model's rules).

The ONNX graph takes "input" float32 (N, 3, S, S), normalised with the sidecar's mean/std on
0..1 RGB, and returns "logits" (N, 101) over ages 0..100. Export checks parity: torch and
onnxruntime softmax probabilities must agree within 1e-4. The input's height and width are fixed at
S, and the padding of TF-"same" convolutions (timm's tf_ backbones) is frozen into constants for it
(`freeze_pads`).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from howold.age_model import ModelInfo, write_model_info
from howold.errors import ModelError
from howold.train.config import TrainConfig
from howold.train.data import MAX_AGE, MIN_AGE

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4


class _Net(torch.nn.Module):
    """The bare network in standard memory format, for tracing."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def parity(onnx_path: str | Path, net: torch.nn.Module, input_size: int, n: int = 4, seed: int = 0) -> float:
    """Max abs difference of softmax probabilities, torch vs onnxruntime, on random inputs."""
    import onnxruntime as ort

    x = torch.randn(n, 3, input_size, input_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = torch.softmax(net(x), dim=1).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"input": x.numpy()})
    got = np.exp(logits - logits.max(1, keepdims=True))
    got /= got.sum(1, keepdims=True)
    return float(np.abs(got - expected).max())


def freeze_pads(path: str | Path, input_size: int) -> int:
    """Rewrite the ONNX model at `path` with every Pad's amounts as constants for (N, 3, S, S) inputs,
    S = `input_size`, and drop the shape arithmetic that computed them; return how many Pads changed.

    TF-"same" padding (timm's tf_efficientnet_lite backbones) exports as Shape, Gather, Div, Ceil, ...
    before each strided convolution, run on every call, and the Pad they feed keeps onnxruntime from
    fusing it into the convolution. The shipped lite0 at 128 px: 595 nodes -> 170, 3.17 -> 2.37 ms a crop
    on one thread, logits bit-identical (`python scripts/freeze_pads.py howold/models/age_model.onnx`).
    The amounts are read by running the graph itself on a zero input, so they are exactly its own."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    pads = [node for node in graph.node if node.op_type == "Pad" and node.input[1] not in constants]
    if not pads:
        return 0
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for node in pads:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(node.input[1], onnx.TensorProto.INT64, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, 3, input_size, input_size), np.float32)
    amounts = session.run([node.input[1] for node in pads], {graph.input[0].name: zeros})
    for node, amount in zip(pads, amounts):
        name = f"{node.name}/frozen_pads"
        graph.initializer.append(numpy_helper.from_array(np.asarray(amount, np.int64), name))
        node.input[1] = name
    _drop_unused(graph)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(pads)


def _drop_unused(graph) -> None:
    """Remove the nodes and initializers no graph output depends on."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def model_info(cfg: TrainConfig, mean, std, metrics: dict, training: dict) -> ModelInfo:
    """The sidecar of a model trained with `cfg`: its preprocessing, age range and export choices."""
    import howold.crop

    d = cfg.data
    margin = howold.crop.DEFAULT_MARGIN if d.crop_margin is None else d.crop_margin
    return ModelInfo(
        name=cfg.name,
        version=str(cfg.version),
        backbone=cfg.model.backbone,
        input_size=int(d.input_size),
        crop_size=int(d.crop_size),
        crop_margin=float(margin),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        output="age_logits",
        min_age=MIN_AGE,
        max_age=MAX_AGE,
        temperature=1.0,
        interval=float(cfg.export.interval),
        tta_flip=bool(cfg.export.tta_flip),
        metrics=metrics,
        training=training,
    )


def export(
    ckpt: str | Path,
    out: str | Path,
    opset: int = 17,
    check: bool = True,
    name: str | None = None,
    version: str | None = None,
    tta_flip: bool | None = None,
) -> dict:
    """Write `out` (.onnx) and its sidecar; return the sidecar dict. `name`, `version` and `tta_flip`
    replace the training config's (a run released under another name than it was trained under; a
    copy without flip averaging, e.g. as a distillation teacher)."""
    from howold.train.checkpoints import load_module

    ckpt, out = Path(ckpt), Path(out)
    if not ckpt.is_file():
        raise ModelError(f"checkpoint {ckpt} not found.")
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=False)
    module = load_module(ckpt)
    cfg, hp = module.cfg, module.hparams
    size = int(cfg.data.input_size)
    network = module.net
    if cfg.model.freeze_bn:  # back to batch norm, which the export folds into the convolutions
        from timm.layers import unfreeze_batch_norm_2d

        network = unfreeze_batch_norm_2d(network)
    net = _Net(network.to(memory_format=torch.contiguous_format)).eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (torch.zeros(1, 3, size, size),),
            str(out),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},  # height and width stay S
            opset_version=opset,
            dynamo=False,
        )
    freeze_pads(out, size)
    diff = parity(out, net, size) if check else None
    if diff is not None and diff > PARITY_TOLERANCE:
        raise ModelError(f"ONNX export differs from torch by {diff:.2e} (> {PARITY_TOLERANCE}).")
    best = _best_score(checkpoint)
    metrics = {"val_mae_torch": best} if best is not None else {}
    training = {
        "checkpoint": ckpt.name,
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
        "data": {"train": cfg.data.train, "val": cfg.data.val},
        "config": hp["cfg"],
        "onnx_opset": opset,
        "parity_max_abs_diff": diff,
    }
    export_cfg = cfg.export if tta_flip is None else dataclasses.replace(cfg.export, tta_flip=tta_flip)
    released = dataclasses.replace(cfg, name=name or cfg.name, version=version or cfg.version, export=export_cfg)
    info = model_info(released, hp["mean"], hp["std"], metrics, training)
    written = write_model_info(out, info)
    log.info("wrote %s and %s (parity %.2e)", out, written.name, diff or 0.0)
    return info.to_dict()


def _best_score(checkpoint: dict) -> float | None:
    for key, state in checkpoint.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and state.get("best_model_score") is not None:
            return round(float(state["best_model_score"]), 4)
    return None
