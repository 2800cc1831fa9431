#!/usr/bin/env python
"""Which framings to average for small faces (`pipeline.SMALL_FACE_FRAMINGS`), chosen on validation
photos (never test): how far a small face's age moves when its landmarks move by about a pixel, as
they do between detector scales, and its MAE, for each set of views.

    python scripts/small_face_views.py [--model FILE.onnx] [--data utkface,aaf] [--limit 300]
        [--shrink 0.3] [--noise 0.7]

Each val photo is shrunk (UTKFace's 200 px chips to 60 px: faces like the group photo's), its
largest face found by howold's detector (refined as in use), then read twice with Gaussian noise
of `--noise` photo pixels on its landmarks. Prints, per view set, the mean and 95th percentile of the
age's move between the two reads and the MAE.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

import howold
from howold.age_model import DEFAULT_MODEL_PATH, AgeModel
from howold.crop import crop_face, reframed_landmarks
from howold.errors import HowoldError
from howold.pipeline import SMALL_FACE_FRAMINGS
from howold.train.evaluate import EvalData, load_eval_samples, validation_sets

AS_CUT = (0.0, 0.0, 1.0)
WIDER, NARROWER = (0.0, 0.0, 1.05), (0.0, 0.0, 0.95)
MOVED = [(0.03, 0.0, 1.0), (-0.03, 0.0, 1.0), (0.0, 0.03, 1.0), (0.0, -0.03, 1.0)]  # eye-to-mouth spans
VIEW_SETS = {
    "one crop": [AS_CUT],
    "5% wider + narrower": [AS_CUT, WIDER, NARROWER],
    "moved 3% 4 ways": [AS_CUT, *MOVED],
    "all 7": [AS_CUT, *MOVED, WIDER, NARROWER],
    "shipped": list(SMALL_FACE_FRAMINGS),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--data", default="utkface,aaf", help="validation sets (or CSVs), separated by commas")
    parser.add_argument("--limit", type=int, default=300, help="photos per set")
    parser.add_argument("--shrink", type=float, default=0.3)
    parser.add_argument("--noise", type=float, default=0.7, help="landmark noise, photo pixels")
    args = parser.parse_args()
    try:
        validation_sets(EvalData(args.data, "val"), "choosing the small-face framings")
    except HowoldError as exc:
        parser.error(str(exc))
    model = AgeModel(args.model).prepare()
    every = EvalData(args.data, "val", limit=args.limit).sets()
    samples = [s for data in every for s in load_eval_samples(data)[1]]
    result = measure(model, samples, args.shrink, args.noise, np.random.default_rng(0))
    print(
        f"{args.data} val, {result['photos']} photos shrunk x{args.shrink} (face box median "
        f"{result['face_px']:.0f} px), landmark noise {args.noise} px"
    )
    for name, row in result["views"].items():
        print(
            f"  {name:20s} ({len(VIEW_SETS[name])} views): age move mean {row['move']:.2f}, "
            f"95th percentile {row['move_95']:.2f}; MAE {row['mae']:.2f}"
        )


def measure(model: AgeModel, samples, shrink: float, noise: float, rng: np.random.Generator) -> dict:
    """Per view set: the mean and 95th percentile of a small face's age move between two reads with
    `noise` px on its landmarks, and the MAE; photos where no face is found are left out."""
    finder = howold.Predictor(model=None)
    moves = {name: [] for name in VIEW_SETS}
    errors = {name: [] for name in VIEW_SETS}
    sizes = []
    for sample in samples:
        image = howold.load_image(sample.path)
        small = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        faces = finder.predict(small)
        if not faces:
            continue
        box = faces[0].box
        sizes.append(min(box[2] - box[0], box[3] - box[1]))
        points = np.array(faces[0].landmarks)
        reads = [_ages(model, small, points + rng.normal(0, noise, points.shape)) for _ in range(2)]
        for name in VIEW_SETS:
            moves[name].append(abs(reads[0][name] - reads[1][name]))
            errors[name].append(abs(reads[0][name] - (sample.low + sample.high) / 2))
    views = (
        {
            name: {
                "move": float(np.mean(moves[name])),
                "move_95": float(np.quantile(moves[name], 0.95)),
                "mae": float(np.mean(errors[name])),
            }
            for name in VIEW_SETS
        }
        if sizes
        else {}
    )
    return {"photos": len(sizes), "face_px": float(np.median(sizes)) if sizes else 0.0, "views": views}


def _ages(model: AgeModel, image: np.ndarray, points: np.ndarray) -> dict[str, float]:
    """The face's age under each view set, every distinct framing cut once."""
    framings = list(dict.fromkeys(f for views in VIEW_SETS.values() for f in views))
    crops = dict(
        zip(
            framings,
            (
                crop_face(image, p, model.info.crop_size, model.info.crop_margin)
                for p in reframed_landmarks(points, framings)
            ),
        )
    )
    return {
        name: float(model.predict_views(np.stack([crops[f] for f in views])[:, None]).age[0])
        for name, views in VIEW_SETS.items()
    }


if __name__ == "__main__":
    main()
