"""FaceRes-deep as a backbone to fine-tune (`model.pretrained=faceres` in howold.train.model): timm's
network and head shape, filled with the weights of the ONNX model of `convert_faceres`."""

from __future__ import annotations

import logging
import os

import numpy as np

from howold.train.faceres.peer import AGE_OFFSET

log = logging.getLogger(__name__)

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

    from howold.train.folding import conv_norm_pairs, set_folded_norm

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
