#!/usr/bin/env python
"""Cheap ideas for the point age, measured on UTKFace + AAF val (cached crops, pooled; each photo once).

    python experiments/val_ideas.py median MODEL.onnx                  # mean against median of the distribution
    python experiments/val_ideas.py mix MODEL.onnx OTHER.onnx          # (1 - w) p + w p_other, w = 0 .. 0.5
    python experiments/val_ideas.py soup OUT.ckpt A.ckpt B.ckpt ...    # the checkpoints' weights averaged
    howold export OUT.ckpt --out out/soup/age_model.onnx --no-flip  # then howold val on each val set

MODEL_CARD.md, training log, "Eighth": the figures of weight averaging, the median and the mixture
with FaceRes-deep's untrained network (`experiments/zero_shot.py`). Val only: never a test split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from howold.age_model import AgeModel, decode_distribution  # noqa: E402
from howold.train.evaluate import EvalData, labelled_crops  # noqa: E402

VAL_SETS = ("utkface", "aaf")


def distributions(model_path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per val set: the model's age distributions at temperature 1 (no flip) and the true ages."""
    model = AgeModel(model_path)
    out = {}
    for kind in VAL_SETS:
        crops, ages = labelled_crops(EvalData(kind, "val"), model.info)
        out[kind] = (model.estimates_from_logits(model.logits(crops), temperature=1.0).probs, ages)
    return out


def report(name: str, errors: dict[str, np.ndarray]) -> None:
    pooled = np.concatenate(list(errors.values()))
    sets = ", ".join(f"{kind} {e.mean():.3f}" for kind, e in errors.items())
    print(f"{name}: pooled val MAE {pooled.mean():.3f} ({sets})")


def median(args) -> None:
    dists = distributions(args.model)
    ages = np.arange(101)
    mean_err = {k: np.abs(p @ ages - a) for k, (p, a) in dists.items()}
    # the one decoder's central range of width 0: both ends are the 50% quantile
    median_err = {k: np.abs(decode_distribution(p, interval=0.0)[1] - a) for k, (p, a) in dists.items()}
    report("mean", mean_err)
    report("median", median_err)
    diff = np.concatenate([median_err[k] - mean_err[k] for k in dists])
    print(f"median - mean: {diff.mean():+.4f} ± {diff.std() / np.sqrt(len(diff)):.4f} (standard error)")


def mix(args) -> None:
    first, second = distributions(args.model), distributions(args.other)
    ages = np.arange(101)
    for weight in args.weights:
        report(
            f"w={weight:.2f}",
            {k: np.abs(((1 - weight) * p + weight * second[k][0]) @ ages - a) for k, (p, a) in first.items()},
        )


def soup(args) -> None:
    import torch

    checkpoints = [torch.load(p, map_location="cpu", weights_only=False) for p in args.checkpoints]
    states = [c["state_dict"] for c in checkpoints]
    averaged = {
        key: (sum(s[key].double() for s in states) / len(states)).to(value.dtype)
        if value.is_floating_point()
        else value
        for key, value in states[0].items()
    }
    checkpoints[0]["state_dict"] = averaged
    torch.save(checkpoints[0], args.out)
    print(f"wrote {args.out}: the weights of {len(states)} checkpoints averaged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="idea", required=True)
    p = sub.add_parser("median")
    p.add_argument("model")
    p = sub.add_parser("mix")
    p.add_argument("model")
    p.add_argument("other")
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    p = sub.add_parser("soup")
    p.add_argument("out")
    p.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    {"median": median, "mix": mix, "soup": soup}[args.idea](args)


if __name__ == "__main__":
    main()
