"""Hostile files and options through `howold predict`, run for real in a subprocess."""

from __future__ import annotations

import json
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
