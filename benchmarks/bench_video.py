"""Video throughput: frames analysed per second for 720p and 1080p clips with 1 and 10 faces, at
the default sampling (5 frames a second), with the time split into decode, detect, age and track.

    python benchmarks/bench_video.py [--seconds 3] [--threads N]

Clips are built from the test fixtures (a slow camera pan over a row or a 5x2 grid of faces,
30 frames a second, H.264) and analysed with the shipped model, like `howold predict clip.mp4`.
`decode` is one pass over every frame of the clip (PyAV, to RGB); `detect` is RetinaFace on each
analysed frame (with the refinement of small faces); `age` is the rest of `Predictor.estimate`
(crops, the age model, quality checks); `track` is ByteTrack plus the bookkeeping of persons.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from video_clips import camera, write_clip  # noqa: E402

from howold import Predictor, VideoOptions, VideoSession  # noqa: E402
from howold.io import load_image  # noqa: E402
from howold.video.io import VideoReader  # noqa: E402

FACES = sorted((ROOT / "tests" / "fixtures" / "faces").glob("*.jpg"))
FPS = 30


def scene(faces: int) -> np.ndarray:
    """One face in the middle of a wide background, or ten in a 5x2 grid (the 4 fixtures repeated)."""
    tiles = [load_image(p) for p in FACES]
    if faces == 1:
        canvas = np.full((900, 1800, 3), 120, np.uint8)
        canvas[226:674, 676:1124] = tiles[0]
        return canvas
    rows = [np.hstack([tiles[(r * 5 + c) % 4] for c in range(5)]) for r in range(2)]
    grid = np.vstack(rows)  # 896 x 2240
    canvas = np.full((grid.shape[0] + 200, grid.shape[1] + 400, 3), 120, np.uint8)
    canvas[100:-100, 200:-200] = grid
    return canvas


def bench(path: Path, predictor: Predictor, options: VideoOptions) -> dict[str, float]:
    started = time.perf_counter()
    with VideoReader(path) as reader:
        count = sum(1 for _ in reader.frames())
    decode = time.perf_counter() - started
    detect = 0.0
    with VideoReader(path) as reader:
        info = reader.info
        session = VideoSession(predictor, min(options.fps, info.fps), options)
        step, next_time, analysed = 1 / options.fps, 0.0, 0
        for frame in reader.frames():
            if frame.time + 1e-6 < next_time:
                continue
            next_time += step
            analysed += 1
            t0 = time.perf_counter()
            predictor.detector.detect(frame.image)
            detect += time.perf_counter() - t0
            session.add(frame.image, frame.time)
    age = session.timings["detect_age"] - detect
    track = session.timings["track"]
    total = decode + session.timings["detect_age"] + track
    persons = len(session.finish())
    return {
        "frames": count,
        "analysed": analysed,
        "persons": persons,
        "decode": decode,
        "detect": detect,
        "age": age,
        "track": track,
        "total": total,
        "seconds": count / info.fps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: all cores)")
    args = parser.parse_args()
    predictor = Predictor(threads=args.threads).prepare()
    options = VideoOptions()
    print(
        "| clip | faces | persons | frames analysed | analysed frames/s | clip s per s | decode | detect | age "
        "| track |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory() as folder:
        for width, height in ((1280, 720), (1920, 1080)):
            for faces in (1, 10):
                path = write_clip(
                    Path(folder) / f"{height}p_{faces}.mp4",
                    camera(scene(faces), args.seconds, FPS, (width, height), pan=0.3),
                    fps=FPS,
                )
                r = bench(path, predictor, options)
                split = " | ".join(f"{100 * r[k] / r['total']:.0f}%" for k in ("decode", "detect", "age", "track"))
                print(
                    f"| {height}p | {faces} | {r['persons']} | {r['analysed']} | {r['analysed'] / r['total']:.1f} "
                    f"| {r['seconds'] / r['total']:.2f} | {split} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
