"""Hostile files and options through `howold predict`, run for real in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import corpus

CASES = {case.name: case for case in corpus()}


def howold(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "howold.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_every_corpus_file_is_a_sentence_and_the_json_is_written(corpus_folder, face_paths, tiny_model, tmp_path):
    out = tmp_path / "m.json"
    photos = sorted(corpus_folder.iterdir())
    run = howold("predict", face_paths[0], *photos, face_paths[1], "--model", tiny_model, "--json", out, "-q")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    results = {Path(r["source"]).name: r for r in json.loads(out.read_text())["results"]}
    assert len(results) == len(photos) + 2
    assert results[face_paths[0].name]["error"] is None and results[face_paths[1].name]["error"] is None
    for name, case in CASES.items():
        error = results[name]["error"]
        assert (error is None) if case.error is None else (case.error in error), (name, error)
        if error:
            assert f"  {error}" in run.stderr.splitlines()


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--max-side", 10, "--max-side must be at least 32 pixels, got 10."),
     ("--max-side", -5, "--max-side must be at least 32 pixels, got -5."),
     ("--min-score", -1, "--min-score must be between 0 and 1, got -1.0."),
     ("--min-face", -3, "--min-face must be 0 or more pixels, got -3.0.")],
)  # fmt: skip
def test_options_out_of_range_are_one_sentence(face_paths, option, value, words):
    run = howold("predict", face_paths[0], option, value)
    assert run.returncode == 1 and run.stderr == f"howold: {words}\n" and run.stdout == ""


def test_annotate_into_an_unwritable_folder_still_writes_the_results(face_paths, tiny_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the folder should go")
    out = tmp_path / "r.json"
    run = howold("predict", *face_paths[:2], "--model", tiny_model, "--annotate", blocker / "sub", "--json", out)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.count("cannot write the annotated copy") == 1 and "the results still are" in run.stderr
    assert [r["error"] for r in json.loads(out.read_text())["results"]] == [None, None]


def test_annotate_refuses_to_write_over_the_photos(face_paths, tiny_model, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(face_paths[0], folder / face_paths[0].name)
    before = (folder / face_paths[0].name).read_bytes()
    run = howold("predict", folder, "--model", tiny_model, "--annotate", folder)
    assert run.returncode == 1 and "would write over the photo" in run.stderr and "Traceback" not in run.stderr
    assert (folder / face_paths[0].name).read_bytes() == before and run.stdout == ""


def test_annotate_keeps_relative_paths_and_refuses_two_copies_to_one_file(face_paths, tiny_model, tmp_path):
    root = tmp_path / "trip"
    for day in ("mon", "tue"):
        (root / day).mkdir(parents=True)
        shutil.copy(face_paths[0], root / day / "IMG_0001.jpg")
    out = tmp_path / "annotated"
    run = howold("predict", root, "-r", "--model", tiny_model, "--annotate", out, "-q")
    assert run.returncode == 0, run.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg")) == ["mon/IMG_0001.jpg", "tue/IMG_0001.jpg"]
    clash = howold("predict", root / "mon" / "IMG_0001.jpg", root / "tue" / "IMG_0001.jpg", "--model", tiny_model,
                   "--annotate", tmp_path / "flat")  # fmt: skip
    assert clash.returncode == 1 and "would both be written to" in clash.stderr and "Traceback" not in clash.stderr
    assert not (tmp_path / "flat").exists()


needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")


@needs_fifos
def test_fifos_and_devices_are_refused_at_once_named_or_listed(face_paths, tiny_model, tmp_path):
    os.mkfifo(tmp_path / "x.jpg")  # nobody writes to it: reading it would wait forever
    os.mkfifo(tmp_path / "y.mp4")
    (tmp_path / "zero.png").symlink_to("/dev/zero")  # endless bytes
    (tmp_path / "list.txt").write_text("x.jpg\nzero.png\n")
    out = tmp_path / "r.json"
    run = howold("predict", tmp_path / "x.jpg", tmp_path / "y.mp4", tmp_path / "list.txt", face_paths[0],
                 "--model", tiny_model, "--json", out, "-q", timeout=60)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = {Path(r["source"]).name: r["error"] for r in json.loads(out.read_text())["results"]}
    assert errors == {
        "x.jpg": f"{tmp_path / 'x.jpg'}: is a FIFO (named pipe), not a regular file; only regular files are read.",
        "y.mp4": f"{tmp_path / 'y.mp4'}: is a FIFO (named pipe), not a regular file; only regular files are read.",
        "zero.png": f"{tmp_path / 'zero.png'}: is a character device, not a regular file; only regular files are read.",
        face_paths[0].name: None,
    }  # fmt: skip


@needs_fifos
def test_endless_stdin_stops_at_the_cap_with_a_sentence(tiny_model):
    from howold.files import MAX_READ_BYTES

    with open("/dev/zero", "rb") as zero:
        run = subprocess.run([sys.executable, "-m", "howold.cli", "predict", "-", "--model", str(tiny_model)],
                             stdin=zero, capture_output=True, text=True, timeout=60)  # fmt: skip
    limit = MAX_READ_BYTES // 2**20
    assert run.returncode == 1
    assert run.stderr == f"howold: stdin: is larger than {limit} MiB, more than howold reads from one file.\n"


def test_json_handed_a_photo_by_the_shell_leaves_it_alone(face_paths, tiny_model, tmp_path):
    for path in face_paths[:2]:
        shutil.copy(path, tmp_path / path.name)
    first, second = sorted(tmp_path.glob("*.jpg"))  # what `howold predict -q --json *.jpg` passes
    before = first.read_bytes()
    run = howold("predict", "-q", "--json", first, second, "--model", tiny_model)
    assert run.returncode == 1 and first.read_bytes() == before and run.stdout == ""
    assert run.stderr.startswith(f"howold: --json {first}: a results file must not be named like a photo")
    linked = tmp_path / "results.csv"
    linked.hardlink_to(second)  # the same file under a results name
    run = howold("predict", "-q", second, "--csv", linked, "--model", tiny_model)
    assert run.returncode == 1 and second.read_bytes() == face_paths[1].read_bytes()
    assert run.stderr == f"howold: --csv {linked} is the input {second}; writing there would destroy it, so name " \
                         "another file.\n"  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX permissions")
def test_an_unreadable_folder_under_r_is_said(face_paths, tiny_model, tmp_path):
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    shutil.copy(face_paths[0], tmp_path / "open" / "a.jpg")
    shutil.copy(face_paths[1], tmp_path / "closed" / "b.jpg")
    (tmp_path / "closed").chmod(0)
    try:
        run = subprocess.run(
            [
                *_without_root_reads(),
                sys.executable,
                "-m",
                "howold.cli",
                "predict",
                str(tmp_path),
                "-r",
                "-q",
                "--model",
                str(tiny_model),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        (tmp_path / "closed").chmod(0o755)
    assert run.returncode == 1, run.stderr  # one folder was not analysed
    closed = tmp_path / "closed"
    assert run.stderr == f"howold: skipped 1 folder(s) that cannot be read: {closed} (Permission denied).\n"


def _without_root_reads() -> list[str]:
    """A command prefix that takes away root's power to read any folder whatever its permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("runs as root without setpriv (util-linux) to drop CAP_DAC_READ_SEARCH")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
