"""The one face crop: the square, eye-levelled, margin-padded patch the age model sees.

Training cuts its crops with `crop_face` too, so what the model learns on and what it sees
in use can never drift apart.

Geometry: the crop is centred halfway between the eye centre and the mouth centre, rotated so
the eyes lie level, and its side is ``(1 + 2 * margin)`` times the eye-to-mouth distance. With
the default margin of 0.5 the side is twice the eye-to-mouth distance, which spans from the
lower forehead to just under the chin. That choice keeps the crop inside the image for 99% of
the 200x200 UTKFace chips (measured on 400 of them: the nearest border lies 1.02x the
eye-to-mouth distance from the centre at the 1st percentile) and for all FairFace crops, so the
model rarely learns from padded borders that real photos do not have. Where a crop does cross
the border, the edge pixels are repeated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

DEFAULT_CROP_SIZE = 128
DEFAULT_MARGIN = 0.5


def crop_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int = DEFAULT_CROP_SIZE,
    margin: float = DEFAULT_MARGIN,
) -> np.ndarray:
    """Return the (size, size, 3) uint8 crop of the face with these 5 landmarks."""
    matrix = crop_matrix(landmarks, size, margin)
    scale = math.hypot(matrix[0, 0], matrix[0, 1])
    if scale < 0.5:  # shrinking a lot: pre-shrink with area averaging so the crop does not alias
        image, matrix = _preshrink(image, matrix, size, scale)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_matrix(landmarks: np.ndarray, size: int, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """Return the 2x3 similarity transform from image pixels to crop pixels."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_left, eye_right = points[0], points[1]
    eyes = (eye_left + eye_right) / 2
    mouth = (points[3] + points[4]) / 2
    centre = (eyes + mouth) / 2
    span = max(float(np.linalg.norm(mouth - eyes)), 1.0)
    angle = math.atan2(eye_right[1] - eye_left[1], eye_right[0] - eye_left[0])
    scale = size / ((1.0 + 2.0 * margin) * span)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # rotate by -angle and scale about the centre, then move the centre to the crop's middle
    matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    matrix[:, 2] = np.array([size / 2, size / 2]) - matrix[:, :2] @ centre
    return matrix


def crop_box(
    landmarks: np.ndarray, shape: tuple[int, int], size: int = DEFAULT_CROP_SIZE, margin: float = DEFAULT_MARGIN
) -> tuple[int, int, int, int]:
    """Return (x0, y0, x1, y1): the pixels of a (height, width) = `shape` photo that the crop reads.

    `crop_face` on just this part of the photo (with the landmarks moved by (x0, y0)) gives the
    same crop as on the whole photo, so a photo need never be held whole as an RGB array.
    """
    matrix = crop_matrix(landmarks, size, margin)
    x0, y0, x1, y1 = _source_bounds(matrix, size, pad=4)
    height, width = shape
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    return x0, y0, max(min(x1, width), x0 + 1), max(min(y1, height), y0 + 1)


def _source_bounds(matrix: np.ndarray, size: int, pad: int) -> tuple[int, int, int, int]:
    """The integer box around the photo pixels that map into the crop, widened by `pad`."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    source = corners @ cv2.invertAffineTransform(matrix).T
    x0, y0 = np.floor(source.min(0)).astype(int) - pad
    x1, y1 = np.ceil(source.max(0)).astype(int) + pad
    return int(x0), int(y0), int(x1), int(y1)


def _preshrink(image: np.ndarray, matrix: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Area-shrink the part of the image under the crop; return it and the adjusted transform."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = _source_bounds(matrix, size, pad=2)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, matrix
    factor = scale * 2.0  # leave the final warp a 2x reduction, which bilinear handles cleanly
    region = image[y0:y1, x0:x1]
    new_size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
    region = cv2.resize(region, new_size, interpolation=cv2.INTER_AREA)
    fx, fy = new_size[0] / (x1 - x0), new_size[1] / (y1 - y0)
    to_region = np.array([[fx, 0, -x0 * fx], [0, fy, -y0 * fy], [0, 0, 1]])
    adjusted = np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_region)
    return region, adjusted[:2]


def reframed_landmarks(landmarks: np.ndarray, framings: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """Return (len(framings), 5, 2): for each (dx, dy, scale) of `framings`, the landmarks moved by
    dx, dy eye-to-mouth spans and grown by `scale` about the crop's centre. The crop of each is the
    same face framed a little differently: moved the other way, or `scale` times as wide."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = (points[0] + points[1]) / 2, (points[3] + points[4]) / 2
    centre = (eyes + mouth) / 2
    span = max(float(np.linalg.norm(mouth - eyes)), 1.0)
    return np.stack([(points - centre) * scale + centre + np.array([dx, dy]) * span for dx, dy, scale in framings])
