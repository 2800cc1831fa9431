#!/usr/bin/env python
"""Write a copy of a checkpoint trained with EMA (optim.ema_decay) whose weights are the raw,
non-averaged ones, so both can be exported and compared on val.
Usage: python experiments/raw_weights.py runs/NAME/checkpoints/best-XX.ckpt OUT.ckpt"""

from __future__ import annotations

import sys

import torch


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    if "current_model_state" not in checkpoint:
        sys.exit(f"{source}: no raw weights inside (the run did not use optim.ema_decay).")
    checkpoint["state_dict"] = checkpoint.pop("current_model_state")
    checkpoint.pop("averaging_state", None)
    torch.save(checkpoint, target)
    print(f"wrote {target} with the raw weights of {source}")


if __name__ == "__main__":
    main()
