"""How the age error grows with poor exposure, on validation crops (never test): picks
`pipeline.CLIPPED_SHARE`, the threshold behind the `poor_light` warning.

    python scripts/light_threshold.py [--model FILE.onnx] [--data utkface,aaf]

Prints MAE, range width and coverage per band of the share of the face's pixels burnt white or
black (`quality.clipped_share`), then the share of faces and their MAE above candidate thresholds,
then the same crops made over- and under-exposed (few real val faces are), with the share flagged.
"""

from __future__ import annotations

import argparse

import numpy as np

from howold.age_model import DEFAULT_MODEL_PATH, AgeModel
from howold.quality import CLIPPED_SHARE, clipped_share
from howold.train.evaluate import EvalData, labelled_crops

# a hard flash and a dark room, as in tests/core/test_pipeline.py
EXPOSURES = (("over-exposed", 3.0, 40), ("under-exposed", 0.3, -20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--data", default="utkface,aaf", help="validation sets, separated by commas")
    args = parser.parse_args()
    model = AgeModel(args.model).prepare()
    images, true = [], []
    for data in args.data.split(","):
        crops, ages = labelled_crops(EvalData(data, "val"), model.info)
        images.append(crops)
        true.append(ages)
    images, true = np.concatenate(images), np.concatenate(true)
    est = model.predict(images)
    error, width = np.abs(est.age - true), est.high - est.low
    covered = (true >= est.low) & (true <= est.high)
    clipped = np.array([clipped_share(c) for c in images])
    print(
        f"{args.data} val: {len(true)} crops, MAE {error.mean():.2f}, coverage {covered.mean():.3f}; "
        f"current threshold {CLIPPED_SHARE}"
    )
    edges = np.unique(np.quantile(clipped, [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 1]))
    for low, high in zip(edges[:-1], edges[1:]):
        band = (clipped >= low) & (clipped <= high)
        print(
            f"  clipped {low:5.3f}–{high:5.3f}: n {band.sum():4d}  MAE {error[band].mean():.2f}  "
            f"width {width[band].mean():.1f}  coverage {covered[band].mean():.2f}"
        )
    for threshold in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4):
        above = clipped > threshold
        if above.any():
            print(
                f"  above {threshold:4.2f}: {above.mean():6.2%} of faces (n {above.sum()}), MAE "
                f"{error[above].mean():.2f} (the rest {error[~above].mean():.2f}), coverage "
                f"{covered[above].mean():.2f}"
            )
    for name, gain, offset in EXPOSURES:
        exposed = np.clip(images.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
        shown = model.predict(exposed)
        flagged = np.array([clipped_share(c) > CLIPPED_SHARE for c in exposed])
        print(
            f"  {name} (x{gain} {offset:+d}): MAE {np.abs(shown.age - true).mean():.2f}, coverage "
            f"{((true >= shown.low) & (true <= shown.high)).mean():.2f} at the plain temperature, "
            f"{flagged.mean():.0%} flagged poor_light"
        )


if __name__ == "__main__":
    main()
