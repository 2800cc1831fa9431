"""How the age error grows with blur, on UTKFace val (never test): picks `pipeline.BLUR_VARIANCE`.

    python scripts/blur_threshold.py [--model FILE.onnx] [--split val]

Prints MAE, range width and coverage per band of the crop's Laplacian variance (the measure behind the
`blurry` warning), then the share of faces and their MAE below candidate thresholds.
"""

from __future__ import annotations

import argparse

import numpy as np

from howold.age_model import DEFAULT_MODEL_PATH, AgeModel
from howold.quality import BLUR_VARIANCE, blur_variance
from howold.train.evaluate import EvalData, labelled_crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--split", default="val", choices=("train", "val"))
    args = parser.parse_args()
    model = AgeModel(args.model).prepare()
    images, true = labelled_crops(EvalData("utkface", args.split), model.info)
    est = model.predict(images)
    error, width = np.abs(est.age - true), est.high - est.low
    covered = (true >= est.low) & (true <= est.high)
    variance = np.array([blur_variance(c) for c in images])
    print(f"UTKFace {args.split}: {len(true)} crops, MAE {error.mean():.2f}; current threshold {BLUR_VARIANCE}")
    edges = np.quantile(variance, [0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1])
    for low, high in zip(edges[:-1], edges[1:]):
        band = (variance >= low) & (variance <= high)
        print(
            f"  variance {low:7.1f}–{high:7.1f}: n {band.sum():4d}  MAE {error[band].mean():.2f}  "
            f"width {width[band].mean():.1f}  coverage {covered[band].mean():.2f}"
        )
    for threshold in (10, 15, 18, 20, 30, 40, 60):
        below = variance < threshold
        if below.any():
            print(
                f"  below {threshold:3d}: {below.mean():6.1%} of faces, MAE {error[below].mean():.2f} "
                f"(the rest {error[~below].mean():.2f}), coverage {covered[below].mean():.2f}"
            )


if __name__ == "__main__":
    main()
