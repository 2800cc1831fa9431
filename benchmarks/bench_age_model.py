"""Age-model latency per face on CPU: median ms for batches of 1 and 8 crops.

python benchmarks/bench_age_model.py [--model FILE.onnx] [--threads 1] [--repeats 50]
"""

from __future__ import annotations

import argparse
import functools
import os

import numpy as np
from _timing import median_ms

from howold.age_model import DEFAULT_MODEL_PATH, AgeModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    model = AgeModel(args.model, threads=args.threads).prepare()
    info = model.info
    size_mb = (os.path.getsize(args.model) + os.path.getsize(args.model[:-5] + ".json")) / 1e6
    print(f"{info.name} {info.version}: input {info.input_size}px, tta_flip={info.tta_flip}, "
          f"model+sidecar {size_mb:.1f} MB, onnxruntime threads={args.threads}\n")  # fmt: skip
    print("| batch | median ms per batch | median ms per face |")
    print("|---|---|---|")
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        crops = rng.integers(0, 256, (batch, info.crop_size, info.crop_size, 3), dtype=np.uint8)
        ms = median_ms(functools.partial(model.predict, crops), args.repeats)
        print(f"| {batch} | {ms:.1f} | {ms / batch:.1f} |")


if __name__ == "__main__":
    main()
