"""Video fixtures: real clips encoded with PyAV from the fixture photos, and a Predictor with the
shipped age model (the tiny test model when the package has none)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest


def _video_extra_missing() -> str | None:
    for module in ("av", "trackers"):
        try:
            __import__(module)
        except ImportError:
            return f"needs the [video] extra ({module} is not installed): pip install -e '.[video]'"
    return None


MISSING = _video_extra_missing()
if MISSING:
    # a conftest that skips at import time ends the run with a traceback; instead each test file
    # here is collected as one skipped entry, so `pytest tests/video` without the extra just skips
    class _SkippedFile(pytest.File):
        def collect(self):
            raise pytest.skip.Exception(MISSING, _use_item_location=True)

    def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector:
        return _SkippedFile.from_parent(parent, path=module_path)


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from video_clips import background, camera, side_by_side, write_clip  # noqa: E402

FPS = 10  # clips are written at 10 frames/s and analysed at the default 5


@pytest.fixture(scope="session")
def video_predictor(tiny_model):
    from howold.age_model import DEFAULT_MODEL_PATH
    from howold.pipeline import Predictor

    return Predictor(DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else tiny_model).prepare()


@pytest.fixture(scope="session")
def two_people(face_images) -> np.ndarray:
    """A young man and an old man side by side, with room to pan (1984x640)."""
    return side_by_side([face_images["adult_20-29"], face_images["elderly_70plus"]], margin=400)


@pytest.fixture(scope="session")
def clips(tmp_path_factory, two_people) -> dict[str, Path]:
    """The clips the tests share: a pan with zoom and noise; the same with the old man gone from
    1.0 to 1.8 s; no face; one frame."""
    folder = tmp_path_factory.mktemp("clips")
    old_man = (400 + 96 + 448 + 96, 96, 400 + 96 + 448 + 96 + 448, 96 + 448)

    def gone(t: float):
        return [old_man] if 1.0 <= t < 1.8 else []

    return {
        "pan": write_clip(folder / "pan.mp4", camera(two_people, 3.0, FPS, (640, 360), pan=0.3, zoom=0.1, noise=4)),
        "leave": write_clip(folder / "leave.mp4", camera(two_people, 3.0, FPS, (640, 360), noise=2, hide=gone)),
        "empty": write_clip(folder / "empty.mkv", (background(320, 240) for _ in range(10)), container="matroska"),
        "still": write_clip(folder / "still.mp4", camera(two_people, 0.1, FPS, (640, 360))),
    }
