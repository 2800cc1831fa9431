"""Batch fixtures: one local Ray (2 CPUs) for the whole session, and a folder of real photos,
generated no-face and broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="needs the [batch] extra: pip install -e '.[batch]'")


@pytest.fixture(scope="session")
def ray_address() -> str:
    """Start one quiet local Ray with 2 CPUs; in-process jobs reuse it, subprocesses connect to it."""
    import ray

    from howold.batch.job import start_ray

    if ray.is_initialized():
        ray.shutdown()
    start_ray(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory, face_paths, composite, no_face_image) -> Path:
    """The four fixture faces, a four-face composite, a gradient, a text file and an empty file."""
    from howold.io import encode_png

    folder = tmp_path_factory.mktemp("photos")
    for path in face_paths:
        shutil.copy(path, folder / path.name)
    (folder / "composite.png").write_bytes(encode_png(composite))
    (folder / "gradient.png").write_bytes(encode_png(no_face_image))
    (folder / "text.jpg").write_text("this is not a photo\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.md").write_text("not picked up from a folder: not an image suffix\n")
    return folder
