"""Shared fixtures: real face photos, a composite built from them, a tiny real ONNX age model, and the
real detector and a predictor on that model (prepared once for the whole run; both hold no state
between calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import write_tiny_age_model

FIXTURES = Path(__file__).parent / "fixtures"
FACES = sorted((FIXTURES / "faces").glob("*.jpg"))
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def face_paths() -> list[Path]:
    return FACES


@pytest.fixture(scope="session")
def face_images() -> dict[str, np.ndarray]:
    from howold.io import load_image

    return {path.stem: load_image(path) for path in FACES}


@pytest.fixture(scope="session")
def composite(face_images) -> np.ndarray:
    """A 2x2 grid of the four fixture photos (896x896): four faces, one per tile."""
    tiles = [face_images[name] for name in sorted(face_images)]
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


@pytest.fixture(scope="session")
def no_face_image() -> np.ndarray:
    """A smooth colour gradient: nothing a detector could call a face."""
    y, x = np.mgrid[0:240, 0:320]
    return np.stack([x * 255 // 320, y * 255 // 240, np.full_like(x, 128)], axis=2).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return write_tiny_age_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def predictor(tiny_model):
    """The shipped detector with the tiny age model."""
    from howold import Predictor

    return Predictor(model=tiny_model).prepare()


@pytest.fixture(scope="session")
def detector():
    from howold import FaceDetector

    return FaceDetector().prepare()
