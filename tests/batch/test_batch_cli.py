"""`howold batch` as people run it: a real subprocess, killed part-way, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from howold.io import save_image

HOWOLD = [sys.executable, "-m", "howold.cli"]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_the_hook_does_not_import_ray():
    done = _python("import sys, howold.cli; howold.cli.build_parser(); print('ray' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr


def test_help_lists_the_options():
    done = subprocess.run([*HOWOLD, "batch", "--help"], capture_output=True, text=True, timeout=60)
    for option in ("--out", "--resume", "--ray-address", "--actors", "--batch-size"):
        assert option in done.stdout


def test_without_the_extra_says_what_to_install(tmp_path):
    done = _python(
        "import sys; sys.modules['ray'] = None; from howold.cli import main; "
        f"sys.exit(main(['batch', 'x.jpg', '--out', {str(tmp_path / 'o.parquet')!r}]))"
    )
    assert done.returncode == 1 and "pip install -e '.[batch]'" in done.stderr


def test_bad_option_is_one_sentence(tmp_path):
    done = subprocess.run(
        [*HOWOLD, "batch", "x.jpg", "--out", str(tmp_path / "o.parquet"), "--min-score", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("howold: --min-score must be between 0 and 1")


def small_faces(face_images, count: int) -> list[np.ndarray]:
    """`count` small (224 px) face photos cycling through the fixtures, each a little different."""
    import cv2

    tiles = [cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA) for image in face_images.values()]
    return [np.roll(tiles[i % len(tiles)], i // len(tiles), axis=1) for i in range(count)]


@pytest.fixture()
def forty_photos(tmp_path, face_images) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for number, image in enumerate(small_faces(face_images, 38)):
        save_image(image, folder / f"face_{number:02d}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "blank.png").write_bytes(b"")
    return folder


def test_killed_run_resumes_with_every_photo_once(ray_address, forty_photos, tmp_path):
    out = tmp_path / "results.parquet"
    parts = tmp_path / "results.parquet.parts"
    command = [*HOWOLD, "batch", str(forty_photos), "--out", str(out), "--batch-size", "1", "--actors", "1"]
    run = subprocess.Popen(
        [*command, "--ray-address", ray_address, "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while len(list(parts.glob("part-*.parquet"))) < 2 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(run.pid, signal.SIGKILL)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
        run.stderr.close()
    assert not out.exists(), "the run finished before it could be killed"
    committed = pq.read_table(parts, columns=["source"]).column("source").to_pylist()
    assert 2 <= len(committed) < 40

    resumed = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "RAY_ADDRESS": ray_address},
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(set(committed))} skipped" in resumed.stderr
    sources = pq.read_table(out).column("source").to_pylist()
    expected = sorted(str(p) for p in forty_photos.iterdir())
    assert sorted(sources) == expected  # one row per photo here: one face each, or an error
    assert not parts.exists()
    statuses = dict(zip(sources, pq.read_table(out).column("status").to_pylist()))
    assert statuses[str(forty_photos / "broken.jpg")] == statuses[str(forty_photos / "blank.png")] == "error"
