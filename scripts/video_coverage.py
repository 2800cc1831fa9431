#!/usr/bin/env python
"""Coverage of the per-person 80% range on clips built from labelled UTKFace photos, per value of
`persons.SHARED` (rho, the share of one look's error that every look at a person shares).

Each clip is a short camera shot of labelled photos on a plain background: the camera pans and
zooms a little, every frame gets Gaussian noise and its own JPEG compression, and the frames go
through `howold.VideoSession` like a webcam's. Two kinds of clip:

- `one`: every frame shows the same photo. Its looks share almost all their error (one face, one
  light, one expression), so this measures an upper bound on the frames' correlation: the rho it
  picks is the cautious one.
- `mixed`: 2-4 different photos of people of the same age, one after another, at one place (the
  tracker keeps one person). Their looks share only the age, a lower bound on the correlation.

For each split, kind and rho: coverage (share of persons whose labelled age lies in their range) and
mean width; plus the same for a single frame's range. rho is chosen on val (coverage of `one` clips
closest to 0.80); test is reported.

Usage: nice -n 10 python scripts/video_coverage.py [--clips 200] [--mixed 100] [--frames 8] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from howold import Predictor, VideoSession
from howold.io import load_image

RHOS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
FRAME = (320, 240)  # width, height of each frame; a 200x200 UTKFace photo's face is ~120 px across
FPS = 5.0  # frames are fed at the video default's sampling rate


def clip_frames(photos: list[np.ndarray], count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` frames of a camera looking at the photos (one after another, each for an equal run of
    frames) pasted at the centre of a grey gradient: a random pan of up to 30 px and zoom of up to 15 %
    over the clip, Gaussian noise of 2-5 grey levels, and each frame JPEG-compressed at quality 50-90."""
    width, height = FRAME
    y, x = np.mgrid[0:height, 0:width]
    scene = np.stack([x * 120 // width + 60, y * 120 // height + 60, np.full_like(x, 110)], axis=2).astype(np.uint8)
    start, end = rng.uniform(-15, 15, 2), rng.uniform(-15, 15, 2)
    zoom, noise = rng.uniform(0, 0.15), rng.uniform(2, 5)
    frames = []
    for i in range(count):
        photo = photos[min(i * len(photos) // count, len(photos) - 1)]
        shown = scene.copy()
        top, left = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
        shown[top : top + photo.shape[0], left : left + photo.shape[1]] = photo
        progress = i / max(count - 1, 1)
        scale = 1 + zoom * progress
        dx, dy = start + (end - start) * progress
        centre = np.array([width / 2, height / 2])
        matrix = np.array(
            [[scale, 0, (1 - scale) * centre[0] + dx], [0, scale, (1 - scale) * centre[1] + dy]], np.float32
        )
        frame = cv2.warpAffine(shown, matrix, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 91))])
        frames.append(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])
    return frames


def pick_clips(samples, kind: str, count: int, rng: np.random.Generator) -> list[tuple[int, list[str]]]:
    """(labelled age, photo paths) per clip: one photo each, or 2-4 photos of one exact age."""
    samples = [s for s in samples if s.low == s.high]
    if kind == "one":
        chosen = rng.choice(len(samples), size=min(count, len(samples)), replace=False)
        return [(samples[i].low, [samples[i].path]) for i in chosen]
    by_age = defaultdict(list)
    for s in samples:
        by_age[s.low].append(s.path)
    clips = []
    population = [s.low for s in samples]  # ages drawn as often as the split has them
    while len(clips) < count:
        age = population[rng.integers(len(population))]
        n = int(rng.integers(2, 5))
        if len(by_age[age]) >= n:
            clips.append((age, [by_age[age][i] for i in rng.choice(len(by_age[age]), size=n, replace=False)]))
    return clips


def measure(predictor: Predictor, clips, frames: int, rng: np.random.Generator) -> dict:
    """Run each clip through a VideoSession; per rho: covered and widths of the clip's main person."""
    covered = {rho: [] for rho in RHOS}
    widths = {rho: [] for rho in RHOS}
    single_covered, single_widths, looks, missed, split_tracks = [], [], [], 0, 0
    for age, paths in clips:
        session = VideoSession(predictor, FPS)
        for i, frame in enumerate(clip_frames([load_image(p) for p in paths], frames, rng)):
            for face in session.add(frame, i / FPS):
                if face.face.age is not None:
                    single_covered.append(face.face.age_low <= age <= face.face.age_high)
                    single_widths.append(face.face.age_high - face.face.age_low)
        persons = session.finish()
        if not persons:
            missed += 1
            continue
        split_tracks += len(persons) > 1
        main = max(persons, key=lambda p: p.frames)
        looks.append(main.looks)
        for rho in RHOS:
            person = session.person(main.person, shared=rho)
            covered[rho].append(person.age_low <= age <= person.age_high)
            widths[rho].append(person.age_high - person.age_low)
    return {
        "clips": len(clips), "persons": len(looks), "no_face": missed, "split_tracks": split_tracks,
        "mean_looks": round(float(np.mean(looks)), 2) if looks else None,
        "single_frame": {"coverage": round(float(np.mean(single_covered)), 3),
                         "width": round(float(np.mean(single_widths)), 2)},
        "per_rho": {f"{rho:.1f}": {"coverage": round(float(np.mean(covered[rho])), 3),
                                  "width": round(float(np.mean(widths[rho])), 2)} for rho in RHOS},
    }  # fmt: skip


def closest(figures: dict, target: float = 0.8) -> float:
    """The rho whose coverage is closest to the target (the larger rho on a tie: the wider range)."""
    rows = figures["per_rho"]
    return float(min(rows, key=lambda rho: (round(abs(rows[rho]["coverage"] - target), 3), -float(rho))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200, help="one-photo clips per split")
    parser.add_argument("--mixed", type=int, default=100, help="clips of 2-4 photos per split (0: none)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="age model .onnx (default: the shipped one)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    from howold.train.data import default_data_root, load_dataset, select_split

    labels = default_data_root() / "utkface" / "labels.csv"
    if not labels.is_file():
        print(
            f"video_coverage: no UTKFace labels at {labels} (set HOWOLD_DATA to the folder holding utkface/).",
            file=sys.stderr,
        )
        return 1
    samples = load_dataset("utkface")
    predictor = Predictor(args.model).prepare() if args.model else Predictor().prepare()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    result = {"frames": args.frames, "fps": FPS, "seed": args.seed, "splits": {}}
    for split in ("val", "test"):
        pool = select_split(samples, split)
        result["splits"][split] = {}
        for kind, count in (("one", args.clips), ("mixed", args.mixed)):
            if count:
                figures = measure(predictor, pick_clips(pool, kind, count, rng), args.frames, rng)
                result["splits"][split][kind] = figures
                print(split, kind, json.dumps(figures), flush=True)
    result["chosen_rho"] = closest(result["splits"]["val"]["one"])
    result["test_at_chosen"] = {kind: {**figures["per_rho"][f"{result['chosen_rho']:.1f}"],
                                       "single_frame": figures["single_frame"]}
                                for kind, figures in result["splits"]["test"].items()}  # fmt: skip
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({k: result[k] for k in ("chosen_rho", "test_at_chosen", "seconds")}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
