"""`howold batch` on videos: one Parquet row per person, as `howold predict clip.mp4 --csv` gives."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("av", reason="needs the [video] extra")
pytest.importorskip("trackers", reason="needs the [video] extra")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from video_clips import camera, side_by_side, write_clip  # noqa: E402

from howold.batch.job import run_batch  # noqa: E402
from howold.inputs import find_inputs  # noqa: E402


def test_videos_give_one_row_per_person(ray_address, face_images, face_paths, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    scene = side_by_side([face_images["adult_20-29"], face_images["elderly_70plus"]], margin=100)
    write_clip(folder / "pair.mp4", camera(scene, 1.0, 10, (640, 360), zoom=0.05))
    (folder / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really")
    shutil.copy(face_paths[0], folder / face_paths[0].name)
    summary = run_batch(find_inputs([folder]), tmp_path / "out.parquet", actors=1, batch_size=2)
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    pair = [r for r in rows if r["source"].endswith("pair.mp4")]
    assert sorted(r["person"] for r in pair) == [1, 2] and all(r["frames"] == 5 for r in pair)
    assert all(r["age_low"] <= r["age"] <= r["age_high"] and r["width"] == 640 for r in pair)
    broken = [r for r in rows if r["source"].endswith("broken.webm")]
    assert broken[0]["status"] == "error" and "is not a video" in broken[0]["error"]
    assert summary.errors == 1 and summary.photos == 3
