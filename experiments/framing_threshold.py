#!/usr/bin/env python
"""A change weighed and not shipped (issue 31): read faces from the SMALL_FACE_FRAMINGS only below a
smaller size than the detector's refine_below (160 px), to save their two extra age-model crops. Each val
photo's largest face is read both ways, from its 3 framings and from its crop alone, with its short side;
every threshold T (framings for faces under T px) is then scored from those two readings.

Usage: python experiments/framing_threshold.py [--split val] [--limit N]

Measured (model 1.0.0, every val photo, the faces' short sides after refinement: UTKFace's 144-200 px, AAF's
96-128 px):

| T | UTKFace MAE / coverage | AAF MAE / coverage | FG-NET MAE / coverage | pooled MAE |
|---|---|---|---|---|
| 0 (one crop) | 4.620 / 0.7954 | 5.184 / 0.7915 | 5.107 / 0.7067 | 4.8930 |
| 96 | 4.620 / 0.7954 | 5.163 / 0.7944 | 5.107 / 0.7067 | 4.8832 |
| 112 | 4.620 / 0.7954 | 5.139 / 0.8019 | 5.107 / 0.7067 | 4.8720 |
| 128 | 4.619 / 0.7954 | 5.138 / 0.8023 | 5.107 / 0.7067 | 4.8710 |
| 144 | 4.619 / 0.7959 | 5.138 / 0.8023 | 5.107 / 0.7067 | 4.8710 |
| 160 (shipped) | 4.611 / 0.7976 | 5.138 / 0.8023 | 5.107 / 0.7067 | 4.8666 |

Every threshold under 160 loses MAE or coverage on some set: the framings stay where they are."""

from __future__ import annotations

import argparse

import numpy as np

import howold
from howold.io import open_photo
from howold.train.evaluate import EvalData, load_eval_samples, true_ages

THRESHOLDS = (0, 96, 112, 128, 144, 160)


def readings(kind: str, split: str, limit: int | None, predictor: howold.Predictor) -> np.ndarray:
    """Per photo with a face: true age, exact label or not, the largest face's short side, then (age, low,
    high) from its framings and (age, low, high) from its crop alone."""
    _, samples, _, _ = load_eval_samples(EvalData(kind, split, limit=limit))
    exact, true = true_ages(samples)
    rows = []
    for sample, age, is_exact in zip(samples, true, exact):
        try:
            photo = open_photo(sample.path)
        except howold.HowoldError:
            continue
        framed = predictor._estimates(photo)[0]
        if not framed:
            continue
        single = predictor._estimates(photo, framings=False)[0][0].face
        face = framed[0].face
        side = min(face.box[2] - face.box[0], face.box[3] - face.box[1])
        rows.append([age, is_exact, side, face.age, face.age_low, face.age_high, single.age, single.age_low,
                     single.age_high])  # fmt: skip
    return np.array(rows, dtype=float).reshape(-1, 9)


def score(rows: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The absolute errors and the coverage of the exact-age faces, framings used under `threshold`."""
    framed = rows[:, 2] < threshold
    age, low, high = (np.where(framed, rows[:, 3 + i], rows[:, 6 + i]) for i in range(3))
    exact, true = rows[:, 1].astype(bool), rows[:, 0]
    inside = (true >= low) & (true <= high)
    return np.abs(age - true)[exact], float(inside[exact].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    predictor = howold.Predictor(threads=1).prepare()
    sets = {kind: readings(kind, args.split, args.limit, predictor) for kind in ("utkface", "aaf", "fgnet")}
    print("| T | " + " | ".join(f"{kind} MAE / coverage / share framed" for kind in sets) + " | pooled MAE |")
    print("|---" * (len(sets) + 2) + "|")
    for threshold in THRESHOLDS:
        cells, errors = [], []
        for rows in sets.values():
            error, coverage = score(rows, threshold)
            errors.append(error)
            cells.append(f"{error.mean():.3f} / {coverage:.4f} / {(rows[:, 2] < threshold).mean():.2f}")
        print(f"| {threshold} | " + " | ".join(cells) + f" | {np.concatenate(errors).mean():.4f} |")


if __name__ == "__main__":
    main()
