"""bench_against.py: two checkouts side by side in one run; against itself every output is identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_against_itself_gives_the_same_faces_on_every_photo(tmp_path):
    from howold.train.data import default_data_root

    if not (default_data_root() / "utkface" / "labels.csv").is_file():
        pytest.skip("needs ../shared/data (or $HOWOLD_DATA) with UTKFace")
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_against.py",
            str(ROOT),
            "--utk",
            "3",
            "--fairface",
            "1",
            "--no-group",
            "--repeats",
            "1",
            "--outputs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "| UTKFace test chips (3) |" in done.stdout and "| FairFace (1) |" in done.stdout
    assert "photos whose faces differ between the two checkouts: 0 of 4" in done.stdout


def test_an_older_checkout_must_be_a_howold_checkout(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_against.py", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode != 0
    assert "is not a howold checkout" in done.stderr or "is missing" in done.stderr
