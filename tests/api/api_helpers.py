"""Helpers shared by the API tests (a module of its own so test files can import them)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

API_KEY = "test-key-7c1e"


def encode(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def two_faces(face_images: dict[str, np.ndarray]) -> np.ndarray:
    """Two fixture photos side by side, scaled to 640x320: two faces, one per half."""
    pair = np.hstack([face_images["adult_20-29"], face_images["elderly_70plus"]])
    return np.asarray(Image.fromarray(pair).resize((640, 320), Image.Resampling.LANCZOS))
