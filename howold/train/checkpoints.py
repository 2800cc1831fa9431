"""Reading howold training checkpoints: the whole module for export and plots, or only the network's
weights to start another run from. A checkpoint holds the config as a plain dict, so checkpoints
written before a config field was added still load (the field takes its default)."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import torch

from howold.errors import HowoldError
from howold.train.config import from_dict
from howold.train.model import build_network
from howold.train.module import AgeModule

log = logging.getLogger(__name__)


def load_training_checkpoint(net: torch.nn.Module, path: str) -> None:
    """Load the network weights (head included) of a howold training checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    except (OSError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError) as exc:
        raise HowoldError(f"{path}: not a howold training checkpoint ({exc}).") from exc
    weights = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
    try:
        net.load_state_dict(weights)
    except RuntimeError as exc:
        raise HowoldError(f"{path}: its network does not match model.backbone ({str(exc)[:200]}).") from exc
    log.info("started from the network of %s", path)


def load_module(ckpt: str | Path) -> AgeModule:
    """Rebuild the module from the checkpoint's saved config and load its weights (CPU, eval)."""
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=False)
    hp = checkpoint["hyper_parameters"]
    cfg = from_dict(hp["cfg"])
    net = build_network(cfg.model, init_weights=False)
    module = AgeModule(net, cfg, hp["mean"], hp["std"])
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()
