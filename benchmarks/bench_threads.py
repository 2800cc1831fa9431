"""Wall and CPU ms of one onnxruntime run on one intra-op thread against onnxruntime's default pool
(one thread per core, spinning off), the least of `--runs`, for the detector at several input sizes and the age model at
several batch sizes: where a second thread starts to pay, which `howold.runtime.SizedSession` follows.

    python benchmarks/bench_threads.py [--runs 100]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_ms

from howold.age_model import AgeModel
from howold.detect import bgr_blob
from howold.runtime import create_session

SIDES = (192, 200, 224, 256, 288, 320, 448, 1280)
BATCHES = (1, 2, 3, 4, 8)


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
        times = [best_ms(lambda s=session, f=feeds: s.run(None, f), runs) for session in sessions]
        elements = sum(value.size for value in feeds.values())
        columns = " | ".join(f"{t['wall']:.2f} / {t['cpu']:.2f}" for t in times)
        print(f"| {network} | {shape} | {elements:,} | {columns} |", flush=True)


if __name__ == "__main__":
    main()
