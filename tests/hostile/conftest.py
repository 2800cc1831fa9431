"""Hostile-input fixtures: the corpus written to a folder, and the group photo when it is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import corpus

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # as in tests/conftest.py
GROUP_PHOTO = SHARED_DATA / "group-photos" / "Solvay_conference_1927.jpg"


@pytest.fixture(scope="session")
def corpus_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for case in corpus():
        (folder / case.name).write_bytes(case.data)
    return folder


@pytest.fixture(scope="session")
def group_photo() -> Path:
    if not GROUP_PHOTO.is_file():
        pytest.skip(f"needs {GROUP_PHOTO} (../shared/data)")
    return GROUP_PHOTO
