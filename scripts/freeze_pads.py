"""Freeze the padding of an exported age model for its input size (`howold.train.export.freeze_pads`),
in place, after checking that the rewritten graph gives bit-identical logits and timing both.

    python scripts/freeze_pads.py howold/models/age_model.onnx

Models exported since `howold export` froze their pads already; this brings an older export (the
shipped 1.0.0) to the same graph without re-exporting its checkpoint. The check: the logits of random
batches of 1, 3 and 8 inputs, and of the crops of the test fixtures' faces, must be equal bit for bit;
otherwise the file is left as it was.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from howold.age_model import read_model_info
from howold.runtime import create_session
from howold.train.export import freeze_pads

ROOT = Path(__file__).resolve().parents[1]


def inputs(size: int) -> list[np.ndarray]:
    """Random batches, and the fixture faces resized to the input (real pixel statistics)."""
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((n, 3, size, size)).astype(np.float32) for n in (1, 3, 8)]
    import cv2

    faces = sorted((ROOT / "tests" / "fixtures" / "faces").glob("*.jpg"))
    if faces:
        images = [cv2.resize(cv2.imread(str(p))[:, :, ::-1], (size, size)) for p in faces[:16]]
        batches.append((np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0).copy())
    return batches


def ms_per_crop(session, name: str, batch: np.ndarray, runs: int = 200) -> float:
    session.run(None, {name: batch})
    start = time.process_time()
    for _ in range(runs):
        session.run(None, {name: batch})
    return (time.process_time() - start) / runs * 1000 / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    args = parser.parse_args()
    size = read_model_info(args.model).input_size
    with tempfile.TemporaryDirectory() as tmp:
        frozen = Path(tmp) / args.model.name
        shutil.copyfile(args.model, frozen)
        changed = freeze_pads(frozen, size)
        if not changed:
            print(f"{args.model}: every Pad is constant already; left as it is.")
            return
        before, after = create_session(args.model, threads=1), create_session(frozen, threads=1)
        name = before.get_inputs()[0].name
        for batch in inputs(size):
            a, b = before.run(None, {name: batch})[0], after.run(None, {name: batch})[0]
            if not np.array_equal(a, b):
                most = np.abs(a - b).max()
                sys.exit(f"{args.model}: the frozen graph's logits differ by up to {most:.3g}; left as it was.")
        one = inputs(size)[0]
        times = [ms_per_crop(session, name, one) for session in (before, after, before, after)]
        print(f"{args.model}: {changed} Pads frozen for {size}x{size} inputs; logits bit-identical on "
              f"{sum(len(b) for b in inputs(size))} inputs; one thread, ms a crop (alternating): "
              f"before {times[0]:.2f} / {times[2]:.2f}, after {times[1]:.2f} / {times[3]:.2f}")  # fmt: skip
        shutil.move(frozen, args.model)


if __name__ == "__main__":
    main()
