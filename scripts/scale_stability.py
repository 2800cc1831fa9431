#!/usr/bin/env python
"""How much a face's age moves with the detector's scale: the same faces of a photo found at
`max_side` 1280 (the default) and at full size, matched by box overlap (IoU >= 0.5).

Usage: python scripts/scale_stability.py [PHOTO] [--model FILE.onnx] [--json OUT]
Default photo: ../shared/data/group-photos/Solvay_conference_1927.jpg (2000x1333, 29 faces)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import howold
from howold.age_model import DEFAULT_MODEL_PATH
from howold.detect import box_iou
from howold.train.data import default_data_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "photo", nargs="?", default=str(default_data_root() / "group-photos" / "Solvay_conference_1927.jpg")
    )
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--small-side", type=int, default=1280)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    small = howold.Predictor(args.model, howold.DetectOptions(max_side=args.small_side)).predict(args.photo)
    full = howold.Predictor(args.model, howold.DetectOptions(max_side=None)).predict(args.photo)
    moves = []
    for face in full:
        best = max(small, key=lambda f: box_iou(f.box, face.box), default=None)
        if best is not None and box_iou(best.box, face.box) >= 0.5:
            moves.append(abs(best.age - face.age))
    moves = np.array(moves)
    result = {
        "photo": Path(args.photo).name,
        "model": Path(args.model).name,
        "faces_full": len(full),
        f"faces_{args.small_side}": len(small),
        "matched": int(len(moves)),
        "mean_move": round(float(moves.mean()), 2) if len(moves) else None,
        "max_move": round(float(moves.max()), 2) if len(moves) else None,
    }
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
