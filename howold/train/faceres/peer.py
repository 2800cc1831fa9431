"""FaceRes-deep in use (the benchmark peer and the train-time teacher) on onnxruntime.

`FaceRes` cuts the detector box (plus a margin), resizes to 224, turns RGB into BGR, subtracts
the ImageNet-caffe mean [103.939, 116.779, 123.68] (no scaling) and runs the ONNX model of
`convert_faceres`.

Checks (2026-11-29): on UTKFace val and AAF val (howold's boxes) BGR minus the mean beats RGB minus
the mean, BGR 0-255 and RGB 0-1; bin k reads as age k + 1 (offset 1 beats 0 on both val sets);
margin 0.2 x the box's longer side beat 0, 0.1 and 0.3 on 300 photos of each val set
(scripts/faceres_teacher.py sweep).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from howold.train.faceres.tfjs import INPUT_SIZE

BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
# Age of the model's bin k (k = 0..99): k + AGE_OFFSET. Chosen on UTKFace val and AAF val.
AGE_OFFSET = 1
# Margin added on every side of the detector box, as a fraction of the box's longer side.
DEFAULT_MARGIN = 0.2


def age_from_probs(probs: np.ndarray, offset: int = AGE_OFFSET) -> np.ndarray:
    """The upstream rule: offset + the probability-weighted mean of the two most likely bins."""
    probs = np.asarray(probs, np.float64)
    top = np.argsort(-probs, axis=1)[:, :2]
    p = np.take_along_axis(probs, top, axis=1)
    return offset + (p * top).sum(axis=1) / p.sum(axis=1)


def to_age_distribution(probs: np.ndarray, offset: int = AGE_OFFSET, num_ages: int = 101) -> np.ndarray:
    """(N, 100) bin probabilities -> (N, num_ages) over ages 0..num_ages-1 (bin k is age k + offset)."""
    probs = np.asarray(probs, np.float64)
    out = np.zeros((len(probs), num_ages))
    for k in range(probs.shape[1]):
        out[:, min(max(k + offset, 0), num_ages - 1)] += probs[:, k]
    return out / out.sum(axis=1, keepdims=True)


def cut_box(image_rgb: np.ndarray, box, margin: float = DEFAULT_MARGIN, size: int = INPUT_SIZE) -> np.ndarray:
    """The detector box grown by `margin` x its longer side on every side, resized to size x size (RGB).

    Parts outside the photo are black (TF's crop_and_resize extrapolation value is 0 as well).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    pad = margin * max(x2 - x1, y2 - y1)
    x1, y1, x2, y2 = x1 - pad, y1 - pad, x2 + pad, y2 + pad
    sx, sy = size / (x2 - x1), size / (y2 - y1)
    matrix = np.array([[sx, 0, -x1 * sx], [0, sy, -y1 * sy]], np.float64)
    if min(sx, sy) < 0.5:  # shrinking a lot: area-average first so the crop does not alias
        f = max(1, int(1 / min(sx, sy)))
        small = cv2.resize(
            image_rgb, (max(1, image_rgb.shape[1] // f), max(1, image_rgb.shape[0] // f)), interpolation=cv2.INTER_AREA
        )
        rx, ry = small.shape[1] / image_rgb.shape[1], small.shape[0] / image_rgb.shape[0]
        matrix = matrix @ np.array([[1 / rx, 0, 0], [0, 1 / ry, 0], [0, 0, 1]])
        image_rgb = small
    return cv2.warpAffine(
        image_rgb,
        matrix[:2],
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


class FaceRes:
    """FaceRes-deep on onnxruntime: crops from detector boxes -> 100-bin age softmax, age, gender."""

    def __init__(
        self, onnx_path: str | os.PathLike, threads: int = 1, margin: float = DEFAULT_MARGIN, offset: int = AGE_OFFSET
    ) -> None:
        from howold.runtime import create_session

        self.session = create_session(str(onnx_path), threads, label="FaceRes-deep")
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.margin, self.offset = margin, offset

    def preprocess(self, image_rgb: np.ndarray, box, margin: float | None = None) -> np.ndarray:
        """(224, 224, 3) float32 network input: cut box + margin, resize, RGB->BGR, minus the mean."""
        crop = cut_box(image_rgb, box, self.margin if margin is None else margin)
        return crop[:, :, ::-1].astype(np.float32) - BGR_MEAN

    def run(self, batch: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Outputs (age, gender, feature as present) for a (N, 224, 224, 3) preprocessed batch."""
        parts = [
            self.session.run(None, {"input": np.ascontiguousarray(batch[i : i + batch_size], np.float32)})
            for i in range(0, len(batch), batch_size)
        ]
        return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(self.outputs)}

    def age_bins(self, batch: np.ndarray, flip: bool = False) -> np.ndarray:
        """(N, 100) age softmax; with `flip`, averaged with the mirrored input."""
        probs = self.run(batch)["age"]
        if flip:
            probs = (probs + self.run(batch[:, :, ::-1])["age"]) / 2
        return probs

    def age_distribution(self, batch: np.ndarray, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """((N, 101) distribution over ages 0..100, (N,) age by the upstream top-2 rule)."""
        probs = self.age_bins(batch, flip)
        return to_age_distribution(probs, self.offset), age_from_probs(probs, self.offset)


def largest_face(detector, image_rgb: np.ndarray):
    """The largest detection's box (x1, y1, x2, y2), or None."""
    faces = detector.detect(image_rgb)
    if not faces:
        return None
    return max(faces, key=lambda f: f.width * f.height).box
