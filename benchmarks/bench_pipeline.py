"""Median CPU time of face detection per photo and of the age model per face, then of the whole
photo through `howold.Predictor.predict` with faces under 160 px read from 3 framings (as shipped)
and from one crop.

    python benchmarks/bench_pipeline.py [--model FILE.onnx] [--repeats 15] [--threads N] [--grid]

Photos: a ~12 MP group photo (the 1927 Solvay conference photo from ../shared/data, upscaled
to 4240x2826, 29 faces) and a 640 px photo with two faces built from the test fixtures. Without
../shared the script stops and says so; `--grid` measures a 4x4 grid of the test fixtures at 12 MP
instead, named as such in the table (16 large faces: not comparable with the README's figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from _timing import median_ms

import howold.pipeline
from howold.age_model import DEFAULT_MODEL_PATH, AgeModel
from howold.crop import crop_face
from howold.detect import FaceDetector
from howold.io import load_image
from howold.options import DetectOptions

ROOT = Path(__file__).resolve().parents[1]
SOLVAY = ROOT.parent / "shared" / "data" / "group-photos" / "Solvay_conference_1927.jpg"
FACES = sorted((ROOT / "tests" / "fixtures" / "faces").glob("*.jpg"))


def photos(grid: bool = False) -> dict[str, np.ndarray]:
    """The photos to time, by the name the table gives them; `grid`: the fixture grid in place of the
    Solvay photo."""
    fixtures = [load_image(p) for p in FACES]
    two = cv2.resize(np.hstack(fixtures[:2]), (640, 320), interpolation=cv2.INTER_AREA)
    if grid:
        big = cv2.resize(np.vstack([np.hstack(fixtures)] * 4), (4000, 3000), interpolation=cv2.INTER_CUBIC)
        name = "fixture grid"
    else:
        big = cv2.resize(load_image(SOLVAY), (4240, 2826), interpolation=cv2.INTER_CUBIC)
        name = "Solvay 1927"
    return {f"{name} {big.shape[1]}x{big.shape[0]} ({big.shape[0] * big.shape[1] / 1e6:.1f} MP)": big,
            "640x320 (2 faces)": two}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    parser.add_argument(
        "--grid",
        action="store_true",
        help="time a 12 MP grid of the test fixtures instead of the Solvay photo (not comparable)",
    )
    args = parser.parse_args()
    if not args.grid and not SOLVAY.is_file():
        sys.exit(
            f"bench_pipeline: {SOLVAY} is missing, and the README's figures are measured on it; "
            "pass --grid to time a 12 MP grid of the test fixtures instead (not comparable)."
        )
    model = AgeModel(args.model, threads=args.threads).prepare() if Path(args.model).is_file() else None
    print(f"age model: {model.info.name + ' ' + model.info.version if model else 'none installed'}; "
          f"threads: {args.threads or 'all'}; median of {args.repeats} runs\n")  # fmt: skip
    print("| photo | max_side | faces | detection ms | age model ms/face (batch) |")
    print("|---|---|---|---|---|")
    for name, image in photos(args.grid).items():
        for max_side in (1280, None):
            detector = FaceDetector(DetectOptions(max_side=max_side), threads=args.threads).prepare()
            faces = detector.detect(image)
            detect_ms = median_ms(lambda: detector.detect(image), args.repeats)
            age_ms = "n/a"
            if model and faces:
                info = model.info
                crops = np.stack([crop_face(image, f.landmarks, info.crop_size, info.crop_margin) for f in faces])
                age_ms = f"{median_ms(lambda: model.predict(crops), args.repeats) / len(faces):.1f}"
            print(f"| {name} | {max_side or 'full'} | {len(faces)} | {detect_ms:.0f} | {age_ms} |")
    if model:
        print_predictor_table(args)


def print_predictor_table(args: argparse.Namespace) -> None:
    """The whole photo through Predictor.predict at the default max_side, with the small-face framings
    as shipped and with one crop per face (what the framings cost)."""
    predictor = howold.pipeline.Predictor(args.model, threads=args.threads).prepare()
    print("\n| photo | faces | Predictor.predict ms | from one crop per face |")
    print("|---|---|---|---|")
    for name, image in photos(args.grid).items():
        faces = predictor.predict(image)
        framed = median_ms(lambda: predictor.predict(image), args.repeats)
        with mock.patch.object(howold.pipeline, "SMALL_FACE_FRAMINGS", ((0.0, 0.0, 1.0),)):
            one_crop = median_ms(lambda: predictor.predict(image), args.repeats)
        print(f"| {name} | {len(faces)} | {framed:.0f} | {one_crop:.0f} |")


if __name__ == "__main__":
    main()
