"""`howold predict` on videos, run for real in a subprocess."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys


def howold(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "howold.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_predict_videos_and_photos_together(clips, face_paths, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("pan", "empty"):
        shutil.copy(clips[name], folder / clips[name].name)
    shutil.copy(face_paths[0], folder / face_paths[0].name)
    (folder / "broken.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(64))
    out = tmp_path / "out"
    run = howold(
        "predict", folder, "--annotate", out, "--json", tmp_path / "r.json", "--csv", tmp_path / "r.csv", "--per-frame"
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr  # the broken clip fails, the rest go on
    assert "broken.mov: is not a video FFmpeg can read" in run.stderr
    assert "No face found in the clip." in run.stdout
    assert "pan.mp4: 3.0 s, 640x360, 15 of 30 frames analysed" in run.stdout
    assert sorted(p.name for p in out.iterdir()) == [face_paths[0].name, "empty.mp4", "pan.mp4"]
    results = {r["source"].rsplit("/", 1)[-1]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    pan = results["pan.mp4"]
    assert pan["kind"] == "video" and [p["person"] for p in pan["persons"]] == [1, 2] and len(pan["frames"]) == 15
    assert results["empty.mkv"]["persons"] == [] and results["broken.mov"]["error"]
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    frame_rows = [r for r in rows if r["source"].endswith("pan.mp4")]
    assert len(frame_rows) == 30 and {r["person"] for r in frame_rows} == {"1", "2"} and frame_rows[-1]["time"] == "2.8"


def test_per_person_csv_and_quiet(clips, tmp_path):
    run = howold("predict", clips["leave"], "-q", "--csv", tmp_path / "p.csv", "--fps", "2.5")
    assert run.returncode == 0 and run.stdout == ""
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["person"] for r in rows] == ["1", "2"] and all(r["first_seen"] == "0.0" for r in rows)
    assert all(float(r["age_low"]) <= float(r["age"]) <= float(r["age_high"]) for r in rows)


def test_bad_fps_is_one_sentence(clips):
    run = howold("predict", clips["pan"], "--fps", "500")
    assert run.returncode == 1 and run.stderr.strip() == "howold: --fps must be above 0 and at most 60, got 500.0."


def test_a_greyscale_clip_is_named_once_not_on_every_person(two_people, tmp_path):
    from video_clips import camera, write_clip

    grey = two_people.mean(axis=2, keepdims=True).astype("uint8").repeat(3, axis=2)
    clip = write_clip(tmp_path / "grey.mp4", camera(grey, 1.0, 10, (640, 360)))
    run = howold("predict", clip, "--json", tmp_path / "r.json")
    assert run.returncode == 0, run.stderr
    table = run.stdout.split("\nWarnings:\n")[0].split("\n", 1)[1]  # below the line naming the clip
    assert table.count("greyscale") == 1 and table.splitlines()[-1] == "  the clip: greyscale (every person)"
    persons = json.loads((tmp_path / "r.json").read_text())["results"][0]["persons"]
    assert len(persons) == 2 and all("greyscale" in p["warnings"] for p in persons)  # JSON keeps it per person
