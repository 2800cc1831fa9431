"""Batch norm folding helpers shared by `model` (loading an exported age model) and `faceres`
(loading FaceRes-deep's converted backbone); apart, so that neither imports the other for them."""

from __future__ import annotations

import torch


def conv_norm_pairs(model: torch.nn.Module) -> list[tuple[torch.nn.Conv2d, torch.nn.BatchNorm2d | None]]:
    """Each Conv2d of the network in order, with the batch norm that follows it (None after the last)."""
    modules = list(model.modules())
    return [
        (module, next((m for m in modules[i + 1 :] if isinstance(m, torch.nn.BatchNorm2d)), None))
        for i, module in enumerate(modules)
        if isinstance(module, torch.nn.Conv2d)
    ]


def set_folded_norm(bn: torch.nn.BatchNorm2d, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """Make `bn` (in eval mode) compute x * scale + shift: running mean 0, variance 1 - eps."""
    bn.weight.copy_(scale)
    bn.bias.copy_(shift)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
