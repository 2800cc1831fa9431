"""Fit a model's survival offsets on validation photos, end to end, and write them into its sidecar.

    python scripts/fit_survival_offsets.py [--model FILE.onnx] [--data DIR] [--strength S] [--dry-run]

Every val photo of UTKFace, All-Age-Faces and FG-NET's val people goes through howold.Predictor (as
in benchmarks/bench_age_checks.py --split val, whose cache out/age_checks_*_val.npz it shares); the
offsets (howold.train.age_checks.fit_survival_offsets) make P(age >= t) match the share of those faces
at least t years old, for every age t. A sidecar that already has offsets gets the fitted ones added
(the photos were read with them). Test splits are never read. Then re-run bench_age_checks.py for
the test figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from howold.age_model import DEFAULT_MODEL_PATH, read_model_info, update_model_info
from howold.train.age_checks import DEFAULT_STRENGTH, SETS, cache_path, face_distributions, fit_survival_offsets

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="ONNX age model (default: shipped)")
    parser.add_argument("--data", help="the data sets' folder (default $HOWOLD_DATA, else ../shared/data)")
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="ridge penalty, in faces")
    parser.add_argument("--dry-run", action="store_true", help="print the offsets, leave the sidecar as it is")
    args = parser.parse_args(argv)
    root = Path(args.data or os.environ.get("HOWOLD_DATA") or ROOT.parent / "shared" / "data")
    if not all((root / kind / "labels.csv").is_file() for kind in SETS):
        print(
            f"fit_survival_offsets: {root} lacks {', '.join(SETS)} (each with labels.csv); give --data.",
            file=sys.stderr,
        )
        return 2
    path = cache_path(args.model, ROOT / "out", None, "val")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **face_distributions(args.model, root, None, "val"))
    with np.load(path) as stored:
        cache = dict(stored)
    info = read_model_info(args.model)
    fitted = fit_survival_offsets(cache["probs"], cache["age"], info.min_age, args.strength)
    previous = np.zeros_like(fitted) if info.survival_offsets is None else np.array(info.survival_offsets)
    offsets = tuple(round(float(v), 4) for v in previous + fitted)
    counts = {kind: int((cache["set"] == kind).sum()) for kind in SETS}
    print(f"fitted on {len(cache['age'])} val faces ({counts}); offsets at ages 1..30: {offsets[:30]}")
    if args.dry_run:
        return 0
    record = {
        "data": ",".join(SETS),
        "split": "val",
        "end_to_end": True,
        "n": len(cache["age"]),
        "strength": args.strength,
    }
    update_model_info(args.model, metrics={"survival_calibration": record}, survival_offsets=offsets)
    print(f"wrote the offsets into {args.model.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
