"""Fixtures for the training tests: stand-in datasets written into tmp folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def write_image(path: Path, seed: int = 0, size: int = 48) -> Path:
    """A small random RGB JPEG standing in for a dataset image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def faces_csv(tmp_path, face_paths) -> Path:
    """Generic CSV over the 4 real fixture faces: each in train and in val, ages from their names."""
    ages = {"adult_20-29": 25, "adult_40-49": 44, "child_3-9": 6, "elderly_70plus": 75}
    rows = [[str(p), ages.get(p.stem, 30), split] for split in ("train", "val") for p in face_paths]
    return write_csv(tmp_path / "faces.csv", ["path", "age", "split"], rows)


@pytest.fixture
def tiny_run(tmp_path, faces_csv):
    """`tiny_run(root=tmp_path)`: overrides for a tiny CPU run on `faces_csv` (64-pixel crops,
    batches of 4, one thread, no worker processes), its runs and crop cache under `root`. Tests add
    their backbone, epochs and names."""

    def overrides(root: Path = tmp_path) -> list[str]:
        return _tiny_run(root, faces_csv)

    return overrides


def _tiny_run(root: Path, faces_csv: Path) -> list[str]:
    return [
        f"out_dir={root / 'runs'}",
        f"data.cache_dir={root / 'cache'}",
        f"data.train=[{{kind: csv, root: '{faces_csv}', split: train}}]",
        f"data.val=[{{kind: csv, root: '{faces_csv}', split: val}}]",
        "data.crop_size=64",
        "data.input_size=64",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.crop_workers=1",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        "trainer.accelerator=cpu",
    ]
