#!/usr/bin/env python
"""FG-NET bias by photo colour and age: is "reads old scans too old" about grey scans?

Runs each model (with its flip, as howold does) on FG-NET's cached crops and prints MAE and bias
(predicted - true) for grey and colour photos, ages 0-12 and 13+. A crop counts as grey when its
channels differ by < 2 levels on average. FG-NET is a test set: this describes, it tunes nothing.

    python scripts/fgnet_bias.py howold/models/age_model.onnx [more.onnx ...]
"""

from __future__ import annotations

import sys

import numpy as np


def main(models: list[str]) -> None:
    from howold.age_model import AgeModel, decode_distribution, softmax
    from howold.train.evaluate import EvalData, cached_crops, true_ages

    first = AgeModel(models[0]).prepare()
    crops = cached_crops(EvalData("fgnet", "all", cache_dir="cache/crops"), first.info)
    images = np.asarray(crops.images)
    _, ages = true_ages(crops.samples)
    channels = images.astype(np.int16)
    grey = (np.abs(channels[..., 0] - channels[..., 1]).mean(axis=(1, 2)) < 2) & (
        np.abs(channels[..., 1] - channels[..., 2]).mean(axis=(1, 2)) < 2
    )
    print(f"FG-NET: {len(ages)} crops, {grey.mean():.0%} grey")
    for path in models:
        model = AgeModel(path).prepare()
        flipped = np.ascontiguousarray(images[:, :, ::-1])
        probs = (softmax(model.logits(images)[0]) + softmax(model.logits(flipped)[0])) / 2
        error = decode_distribution(probs, min_age=model.info.min_age)[0] - ages
        for name, mask in (("grey", grey), ("colour", ~grey)):
            for band, (low, high) in (("0-12", (0, 12)), ("13+", (13, 200))):
                m = mask & (ages >= low) & (ages <= high)
                print(
                    f"{path}  {name:6s} {band:4s} n={m.sum():4d}  MAE {np.abs(error[m]).mean():5.2f}  "
                    f"bias {error[m].mean():+5.2f}"
                )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/fgnet_bias.py MODEL.onnx [MODEL.onnx ...]")
    main(sys.argv[1:])
