"""Wall and CPU ms of one onnxruntime run on one intra-op thread against onnxruntime's default pool
(one thread per core, spinning off), for the detector at several input sizes and the age model at
several batch sizes: where a second thread starts to pay, which `howold.runtime.SizedSession` follows.

    python benchmarks/bench_threads.py [--runs 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from howold.age_model import AgeModel
from howold.detect import bgr_blob
from howold.runtime import create_session

SIDES = (192, 200, 224, 256, 288, 320, 448, 1280)
BATCHES = (1, 2, 3, 4, 8)


def timed(session, feeds: dict, runs: int) -> tuple[float, float]:
    """(wall, CPU) ms of one run, averaged over `runs` after a warm-up run."""
    session.run(None, feeds)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(runs):
        session.run(None, feeds)
    return (time.perf_counter() - wall) * 1000 / runs, (time.process_time() - cpu) * 1000 / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    from retinaface.weights import WEIGHTS

    # plain sessions (no one_thread_up_to): exactly one thread, and onnxruntime's default pool
    detectors = [create_session(WEIGHTS, threads) for threads in (1, None)]
    model = AgeModel()
    ages = [create_session(model.path, threads) for threads in (1, None)]
    name, size = ages[0].get_inputs()[0].name, model.info.input_size
    rng = np.random.default_rng(0)
    rows = [("detector", f"{side}x{side}", detectors, {"input": bgr_blob(np.full((side, side, 3), 100, np.uint8))})
            for side in SIDES]  # fmt: skip
    rows += [("age model", f"{n} crop(s)", ages, {name: rng.random((n, 3, size, size), np.float32)}) for n in BATCHES]
    print("| network | input | elements | 1 thread wall / CPU ms | default pool wall / CPU ms |")
    print("|---|---|---:|---:|---:|")
    for network, shape, sessions, feeds in rows:
        runs = max(5, args.runs // 10) if shape == "1280x1280" else args.runs
        one, many = (timed(session, feeds, runs) for session in sessions)
        elements = sum(value.size for value in feeds.values())
        print(f"| {network} | {shape} | {elements:,} | {one[0]:.2f} / {one[1]:.2f} | {many[0]:.2f} / {many[1]:.2f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
