#!/usr/bin/env python
"""Export a training config's starting network, before any training step, as a howold age model:
what the pretrained weights read through howold's own detector and crop (e.g. FaceRes-deep's age head
on the 128 px crop, `configs/history/faceres_ft.yaml`), measured with `howold val` like any trained model.

    python experiments/zero_shot.py configs/history/faceres_ft.yaml out/m20z/age_model.onnx
    howold val --model out/m20z/age_model.onnx --data fgnet --end-to-end
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from howold.train.config import load_config  # noqa: E402
from howold.train.export import export  # noqa: E402
from howold.train.model import build_network, normalisation  # noqa: E402
from howold.train.module import AgeModule  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("out", help="the .onnx to write, with its sidecar")
    args = parser.parse_args()
    cfg = load_config(args.config)
    net = build_network(cfg.model)
    mean, std = normalisation(net)
    module = AgeModule(net, cfg, mean, std)
    checkpoint = {
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(module.hparams),
        "epoch": 0,
        "global_step": 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zero_shot.ckpt"
        torch.save(checkpoint, path)
        export(path, args.out, tta_flip=False)
    print(f"wrote {args.out}: {cfg.model.backbone} as it starts ({cfg.model.pretrained} weights), untrained")


if __name__ == "__main__":
    main()
