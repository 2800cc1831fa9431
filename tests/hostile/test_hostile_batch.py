"""`howold batch` when the disk fails it or it is told to stop: one sentence, a prompt exit, and
no Ray process left behind. Each run starts its own local Ray in a fresh temporary folder, so its
processes can be told from any other Ray's by their command lines."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="needs the [batch] extra: pip install -e '.[batch]'")
pytest.importorskip("ray.data", reason="needs the [batch] extra: pip install -e '.[batch]'")

pytestmark = pytest.mark.slow

EXIT_BOUND_S = 180  # start-up of a local Ray included: 25 to 75 s on a 2-core machine shared with training

FULL_DISK = """
import errno, sys
from howold.batch import job

def full(self, rows):  # what a full disk does to the first part written
    raise OSError(errno.ENOSPC, "No space left on device")

job.PartsOutput.write = full
from howold.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture()
def ray_tmp():
    """A short folder of its own for this run's Ray (its socket paths must stay short)."""
    folder = tempfile.mkdtemp(prefix="hw-ray-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def photos(tmp_path, face_paths) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for number in range(24):
        shutil.copy(face_paths[number % len(face_paths)], folder / f"p{number:02d}.jpg")
    return folder


def ray_processes(marker: str) -> list[str]:
    """Command lines of the live processes that belong to the Ray started under `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if marker in line:
                found.append(line[:200])
    return found


def assert_no_ray_left(marker: str) -> None:
    deadline = time.monotonic() + 10  # the processes Ray stops may take a moment to go
    while ray_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray_processes(marker) == []


def batch_env(ray_tmp: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    return {**env, "RAY_TMPDIR": ray_tmp}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_write_error_is_one_sentence_exit_1_and_no_ray_left(photos, tmp_path, ray_tmp):
    out = tmp_path / "results.parquet"
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "batch", str(photos), "--out", str(out), "--actors", "1", "-q"],
        capture_output=True, text=True, timeout=EXIT_BOUND_S, env=batch_env(ray_tmp),
    )  # fmt: skip
    assert run.returncode == 1 and time.monotonic() - start < EXIT_BOUND_S
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("howold: ") and "No space left on device" in last and "--resume" in last
    assert not out.exists()
    assert_no_ray_left(ray_tmp)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_like_ctrl_c(photos, tmp_path, ray_tmp):
    out = tmp_path / "results.parquet"
    parts = tmp_path / "results.parquet.parts"
    command = [sys.executable, "-m", "howold.cli", "batch", str(photos), "--out", str(out), "--actors", "1",
               "--batch-size", "1", "-q"]  # fmt: skip
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=batch_env(ray_tmp))
    try:
        deadline = time.monotonic() + EXIT_BOUND_S
        while not list(parts.glob("part-*.parquet")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before it could be stopped"
        run.send_signal(signal.SIGTERM)
        stderr = run.communicate(timeout=60)[1]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130 and stderr.strip().splitlines()[-1] == "howold: interrupted."
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr
    assert list(parts.glob("part-*.parquet")) and not out.exists()  # kept for --resume
    assert_no_ray_left(ray_tmp)


@pytest.mark.parametrize("out", ["photos/p00.jpg", "results.parquet"])
def test_out_onto_an_input_is_refused_before_ray_starts(photos, tmp_path, out):
    target = tmp_path / out
    if target.suffix == ".parquet":
        target.symlink_to(photos / "p01.jpg")  # an output name that leads to a photo
    before = {path.name: path.read_bytes() for path in photos.iterdir()}
    run = subprocess.run([sys.executable, "-m", "howold.cli", "batch", str(photos), "--out", str(target), "-q"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert re.fullmatch(rf"howold: --out {re.escape(str(target))} is the input .*p0[01]\.jpg; writing there would "
                        r"destroy it, so name another file\.\n", run.stderr)  # fmt: skip
    assert {path.name: path.read_bytes() for path in photos.iterdir()} == before
    assert not list(tmp_path.glob("*.parts"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_fifos_and_devices_are_error_rows_and_quiet_is_quiet(photos, tmp_path, ray_tmp):
    os.mkfifo(photos / "x.jpg")
    os.mkfifo(tmp_path / "y.mp4")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    (tmp_path / "list.txt").write_text(f"{photos / 'x.jpg'}\ny.mp4\nzero.png\n")
    out = tmp_path / "results.parquet"
    run = subprocess.run(
        [sys.executable, "-m", "howold.cli", "batch", str(photos), str(tmp_path / "list.txt"), "--out", str(out),
         "--actors", "1", "-q"], capture_output=True, text=True, timeout=EXIT_BOUND_S, env=batch_env(ray_tmp),
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == "" and run.stdout == ""  # -q: not even Ray's core_worker.cc line
    rows = pq.read_table(out).to_pylist()
    errors = {Path(row["source"]).name: row["error"] for row in rows if row["status"] == "error"}
    assert errors == {
        "x.jpg": f"{photos / 'x.jpg'}: is a FIFO (named pipe), not a regular file; only regular files are read.",
        "y.mp4": f"{tmp_path / 'y.mp4'}: is a FIFO (named pipe), not a regular file; only regular files are read.",
        "zero.png": f"{tmp_path / 'zero.png'}: is a character device, not a regular file; only regular files are read.",
    }  # fmt: skip
    assert len(rows) == 24 + 3  # the folder skips the FIFO in it; the list names it
