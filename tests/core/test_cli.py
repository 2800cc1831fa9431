"""The howold command line, run for real in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def howold(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "howold.cli", *map(str, args)],
        capture_output=True, text=True, timeout=180, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory, face_paths, composite, no_face_image):
    folder = tmp_path_factory.mktemp("photos")
    for path in face_paths[:2]:
        shutil.copy(path, folder / path.name)
    Image.fromarray(composite).save(folder / "group.png")
    Image.fromarray(no_face_image).save(folder / "gradient.png")
    (folder / "notes.txt").write_text("not picked up: not an image suffix")
    return folder


def test_version_names_the_shipped_model():
    from howold import DEFAULT_MODEL_PATH, __version__, read_model_info

    info = read_model_info(DEFAULT_MODEL_PATH)
    version = howold("--version")
    assert version.returncode == 0
    assert version.stdout == f"howold {__version__}, age model {info.name} {info.version}\n"


def test_python_m_howold_is_the_command():
    run = subprocess.run(
        [sys.executable, "-m", "howold", "predict", "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and run.stdout.startswith("usage: howold predict")


def test_help_loads_no_image_or_model_library():
    code = (
        "import sys; from howold.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('numpy', 'cv2', 'PIL', 'onnxruntime') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip().endswith("[]"), run.stderr


def test_version_and_help():
    help_text = howold("predict", "--help")
    assert help_text.returncode == 0
    for option in ("--recursive", "--json", "--csv", "--annotate", "--min-score", "--max-side", "--model"):
        assert option in help_text.stdout


def test_table_for_one_photo_with_a_model(tiny_model, face_paths):
    run = howold("predict", face_paths[0], "--model", tiny_model)
    assert run.returncode == 0, run.stderr
    table, _, notes = run.stdout.partition("\n\nWarnings:\n")
    lines = table.strip().splitlines()
    assert lines[0].split()[:3] == ["face", "age", "score"]
    assert len(lines) == 2 and "(" in lines[1] and "–" in lines[1]
    assert "Traceback" not in run.stderr
    from howold.quality import WARNING_NOTES

    shown = [name for name in WARNING_NOTES if name in lines[1]]  # each warning, once, in plain words
    assert notes.splitlines() == [f"  {name}: {WARNING_NOTES[name]}" for name in shown]


def test_folder_with_json_csv_and_annotations(tiny_model, photos, tmp_path):
    out_json, out_csv, out_dir = tmp_path / "out.json", tmp_path / "out.csv", tmp_path / "annotated"
    run = howold("predict", photos, "--model", tiny_model, "--json", out_json, "--csv", out_csv, "--annotate", out_dir)
    assert run.returncode == 0, run.stderr
    assert "No face found." in run.stdout
    results = {Path(r["source"]).name: r for r in json.loads(out_json.read_text())["results"]}
    assert set(results) == {"adult_20-29.jpg", "adult_40-49.jpg", "group.png", "gradient.png"}
    assert len(results["group.png"]["faces"]) == 4 and results["gradient.png"]["faces"] == []
    assert results["group.png"]["width"] == 896 and results["group.png"]["model"] == "tiny 0.0.1"
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 1 + 1 + 4 + 1
    assert {row["status"] for row in rows} == {"ok", "no_face"}
    annotated = sorted(p.name for p in out_dir.iterdir())
    assert annotated == ["adult_20-29.jpg", "adult_40-49.jpg", "gradient.png", "group.png"]
    drawn = np.asarray(Image.open(out_dir / "group.png"))
    assert drawn.shape == (896, 896, 3) and not np.array_equal(drawn, np.asarray(Image.open(photos / "group.png")))


def test_batch_goes_on_past_bad_files_and_exits_1(tiny_model, face_paths, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(face_paths[0].read_bytes()[:500])
    out_json = tmp_path / "out.json"
    run = howold("predict", bad, face_paths[1], tmp_path / "missing.png", "--model", tiny_model, "--json", out_json)
    assert run.returncode == 1
    assert "2 of 3 file(s) failed" in run.stderr
    assert "broken.jpg: the image data is damaged or truncated" in run.stderr
    assert "missing.png: no such file." in run.stderr
    assert "Traceback" not in run.stderr
    results = json.loads(out_json.read_text())["results"]
    assert [r["error"] is None for r in results] == [False, True, False]


def test_without_a_model_says_so_and_lists_faces(face_paths, tmp_path):
    missing = tmp_path / "nothing.onnx"
    run = howold("predict", face_paths[0], "--model", missing)
    assert run.returncode == 1 and "no such model file" in run.stderr and "Traceback" not in run.stderr


def test_recursive(tiny_model, photos, tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(photos / "group.png", nested / "group.png")
    flat = howold("predict", tmp_path / "a", "--model", tiny_model)
    assert flat.returncode == 1 and "no image or video files found" in flat.stderr and "add -r" in flat.stderr
    deep = howold("predict", tmp_path / "a", "--recursive", "--model", tiny_model, "-q", "--json", tmp_path / "r.json")
    assert deep.returncode == 0
    assert len(json.loads((tmp_path / "r.json").read_text())["results"][0]["faces"]) == 4


def test_dash_reads_stdin_and_writes_stdout(tiny_model, face_paths, tmp_path):
    photo = face_paths[0].read_bytes()
    for flag in ("--json", "--csv"):
        run = subprocess.run(
            [sys.executable, "-m", "howold", "predict", "-", "--model", str(tiny_model), flag, "-",
             "--annotate", str(tmp_path / "drawn")],
            input=photo, capture_output=True, timeout=180,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        if flag == "--json":
            (result,) = json.loads(run.stdout)["results"]  # stdout holds the JSON only; the table went to stderr
            assert result["source"] == "stdin" and len(result["faces"]) == 1
            assert b"face  age" in run.stderr
        else:
            rows = list(csv.DictReader(run.stdout.decode().splitlines()))
            assert [(row["source"], row["status"]) for row in rows] == [("stdin", "ok")]
    assert [p.name for p in (tmp_path / "drawn").iterdir()] == ["stdin.png"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-", "--json", "-", "--csv", "-"], "--json - and --csv - would both write to stdout"),
        (["-", "-"], "- .stdin. can be read once"),
    ],
)
def test_stdio_mistakes_get_one_sentence(args, message):
    run = howold("predict", *args)
    assert run.returncode == 1
    assert re.fullmatch(f"howold: {message}[^\n]*\n", run.stderr), run.stderr


def test_bad_option_values_get_one_sentence(face_paths):
    run = howold("predict", face_paths[0], "--min-score", "3")
    assert run.returncode == 1 and "--min-score must be between 0 and 1" in run.stderr


def test_results_json_is_the_document_json_dumps_writes(tiny_model, photos):
    from howold import Predictor, __version__, failed, results_json

    predictor = Predictor(model=tiny_model)
    results = [predictor.analyse(path) for path in sorted(photos.glob("*.*g"))] + [failed('x\n"é', ValueError("a\nb"))]
    for some in ([], results):
        whole = {"howold_version": __version__, "results": [r.to_dict() for r in some]}
        assert results_json(some) == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"


def test_an_unwritable_results_file_fails_before_any_work(tiny_model, photos, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder should be")
    run = howold("predict", photos, "--model", tiny_model, "--csv", tmp_path / "r.csv", "--json", blocker / "r.json")
    assert run.returncode == 1 and run.stdout == ""  # no photo was analysed: its table would be on stdout
    assert run.stderr == f"howold: {blocker / 'r.json'}: cannot write the results (File exists).\n"
    assert list(tmp_path.iterdir()) == [blocker]  # nor is the CSV begun


def test_json_and_csv_to_one_file_is_refused(face_paths, tmp_path):
    run = howold("predict", face_paths[0], "--json", tmp_path / "r.out", "--csv", tmp_path / "." / "r.out")
    message = f"howold: --json and --csv both name {tmp_path / 'r.out'}; give each its own file.\n"
    assert run.returncode == 1 and run.stderr == message


def test_ctrl_c_keeps_the_results_finished(tiny_model, face_paths, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(3000):
        shutil.copy(face_paths[number % len(face_paths)], folder / f"p{number:03d}.jpg")
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    partial = tmp_path / ".r.json.partial"
    run = subprocess.Popen(
        [sys.executable, "-m", "howold.cli", "predict", str(folder), "--model", str(tiny_model), "-q",
         "--json", str(out_json), "--csv", str(out_csv)], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        # a shell's background job (CI started with `&`) ignores SIGINT, and Python keeps an ignored
        # SIGINT ignored: the run went on past Ctrl-C in two fresh-clone runs started that way
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline and _written(partial) < 3:
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before it could be interrupted"
        written = _written(partial)
        run.send_signal(signal.SIGINT)
        try:
            stderr = run.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:  # keep where it was stuck
            run.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            pytest.fail(f"no exit 60 s after Ctrl-C ({written} results written): {run.communicate(timeout=30)[1]}")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    results = json.loads(out_json.read_text())["results"]  # a whole document, with what was done
    assert run.returncode == 130 and 3 <= len(results) < 3000 and not partial.exists()
    assert stderr == f"howold: interrupted; the {len(results)} result(s) finished are in {out_json}, {out_csv}.\n"
    assert [r["source"] for r in results] == [str(folder / f"p{n:03d}.jpg") for n in range(len(results))]
    assert [row["source"] for row in csv.DictReader(out_csv.open())] == [r["source"] for r in results]


def _written(partial: Path) -> int:
    """How many results a results file being written holds so far."""
    return partial.read_text().count('"source"') if partial.exists() else 0


def test_a_text_file_is_read_as_a_list_and_one_naming_no_file_is_refused(tiny_model, face_paths, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hi\n")
    refused = howold("predict", notes, "--model", tiny_model)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (f"howold: {notes} is read as a list of paths, one per line, but none of its "
                              "1 line(s) names an existing file or folder.\n")  # fmt: skip
    listed = tmp_path / "photos.txt"
    listed.write_text(f"{face_paths[0]}\n# a comment\n{face_paths[1]}\n")
    run = howold("predict", listed, "--model", tiny_model)
    assert run.returncode == 0 and f"howold: {listed}: read as a list of 2 path(s), one per line." in run.stderr


def test_help_names_every_video_type():
    from howold import VIDEO_SUFFIXES

    help_text = " ".join(howold("predict", "--help").stdout.split())
    assert all(suffix in help_text for suffix in VIDEO_SUFFIXES)


def test_a_photo_given_as_the_model_is_not_an_age_model(face_paths):
    run = howold("predict", face_paths[0], "--model", face_paths[1])
    assert run.returncode == 1
    assert (
        run.stderr == f"howold: {face_paths[1]}: is not an age model (an ONNX file, .onnx, with its .json "
        "sidecar beside it).\n"
    )


def test_a_greyscale_photo_gets_one_note_not_one_per_face(tiny_model, composite, tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.repeat(composite.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)).save(grey)
    run = howold("predict", grey, "--model", tiny_model, "--json", tmp_path / "r.json")
    assert run.returncode == 0, run.stderr
    table, notes = run.stdout.split("\nWarnings:\n")
    assert table.count("greyscale") == 1 and table.splitlines()[-1] == "the photo: greyscale (every face)"
    assert "  greyscale: The photo has no colour" in notes
    faces = json.loads((tmp_path / "r.json").read_text())["results"][0]["faces"]
    assert len(faces) == 4 and all("greyscale" in face["warnings"] for face in faces)  # programs keep it per face


def test_workers_give_the_same_results_in_the_same_order(tiny_model, face_paths, tmp_path):
    """--workers 2 analyses photos in two processes; every result, a bad photo's error included,
    comes back in the order given and equal to one process's."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for number in range(10):
        shutil.copy(face_paths[number % len(face_paths)], folder / f"p{number:02d}.jpg")
    (folder / "p05.jpg").write_bytes(b"not a photo")
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.json"
        run = howold("predict", folder, "--model", tiny_model, "-q", "--json", out, "--workers", workers)
        assert run.returncode == 1 and "1 of 10 file(s) failed" in run.stderr  # the bad photo, named
        runs[workers] = json.loads(out.read_text())["results"]
    assert [r["source"] for r in runs["2"]] == [str(folder / f"p{n:02d}.jpg") for n in range(10)]
    assert runs["2"] == runs["1"] and "error" in runs["2"][5] and runs["2"][0]["faces"]


# enough photos for a run to be still going when its workers are killed (the first kill came after 16
# results in a trial), few enough to finish in seconds
PHOTOS = 600


def test_a_worker_killed_mid_run_costs_nothing_its_photos_are_read_again(tiny_model, face_paths, tmp_path):
    """A worker that dies (the kernel's OOM killer, say) once: the photos it held are read again and
    the run ends as if nothing happened, every result there and in order."""
    run, folder, out_json = _start_many_in_workers(tiny_model, face_paths, tmp_path)
    stderr = _kill_workers(run, kills=1)
    results = json.loads(out_json.read_text())["results"]
    assert run.returncode == 0, stderr
    assert [r["source"] for r in results] == [str(folder / f"p{n:04d}.jpg") for n in range(PHOTOS)]
    assert all(r["error"] is None and r["faces"] for r in results)


def test_a_photo_whose_worker_dies_again_alone_gets_its_error_and_the_run_goes_on(tiny_model, face_paths, tmp_path):
    """After a worker dies, the photos it may have held are read one at a time in a process of their own:
    the one whose process dies again is named, with its error, and the others are analysed."""
    run, folder, out_json = _start_many_in_workers(tiny_model, face_paths, tmp_path)
    stderr = _kill_workers(run, kills=2)  # the pool's worker, then the lone process reading again
    results = json.loads(out_json.read_text())["results"]
    errors = [r for r in results if r["error"]]
    assert run.returncode == 1 and f"1 of {PHOTOS} file(s) failed" in stderr
    assert [r["source"] for r in results] == [str(folder / f"p{n:04d}.jpg") for n in range(PHOTOS)]
    assert len(errors) == 1 and errors[0]["error"] == (
        f"{errors[0]['source']}: analysing it stopped its worker process (killed, or out of memory)."
    )


def test_workers_that_keep_dying_stop_the_run_with_one_sentence_and_keep_the_results_finished(
    tiny_model, face_paths, tmp_path
):
    run, folder, out_json = _start_many_in_workers(tiny_model, face_paths, tmp_path)
    stderr = _kill_workers(run, kills=3)  # the pool's worker, then two lone processes in a row
    results = json.loads(out_json.read_text())["results"]
    assert run.returncode == 1 and 3 <= len(results) < PHOTOS
    assert stderr == (
        "howold: worker processes keep stopping (killed, or out of memory); "
        f"the {len(results)} result(s) finished are in {out_json}.\n"
    )
    assert [r["source"] for r in results] == [str(folder / f"p{n:04d}.jpg") for n in range(len(results))]
    assert [bool(r["error"]) for r in results[-1:]] == [True]  # the first photo read alone


def _start_many_in_workers(tiny_model, face_paths, tmp_path):
    """`howold predict` of PHOTOS photos in 2 worker processes, once it has written its first results."""
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(PHOTOS):
        shutil.copy(face_paths[number % len(face_paths)], folder / f"p{number:04d}.jpg")
    out_json, partial = tmp_path / "r.json", tmp_path / ".r.json.partial"
    command = [sys.executable, "-m", "howold.cli", "predict", str(folder), "--model", str(tiny_model), "-q",
               "--json", str(out_json), "--workers", "2"]  # fmt: skip
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline and _written(partial) < 3:
        time.sleep(0.05)
    return run, folder, out_json


def _kill_workers(run: subprocess.Popen, kills: int) -> str:
    """SIGKILL one of the run's two pool workers, then each of the next `kills - 1` worker processes it
    starts as soon as it appears; return the run's stderr once it has ended."""
    try:
        workers = _spawned_workers(run.pid)
        assert run.poll() is None and len(workers) == 2, "the run ended, or has no workers, before a kill"
        os.kill(workers[0], signal.SIGKILL)
        seen, deadline = set(workers), time.monotonic() + 60
        for _ in range(kills - 1):
            while run.poll() is None and time.monotonic() < deadline:
                new = [pid for pid in _spawned_workers(run.pid) if pid not in seen]
                if new:
                    seen.update(new)
                    os.kill(new[0], signal.SIGKILL)
                    break
                time.sleep(0.005)
        return run.communicate(timeout=120)[1]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def _spawned_workers(pid: int) -> list[int]:
    """The pids of the multiprocessing workers a process started (not its resource tracker)."""
    workers = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(int(child))
        except OSError:  # it ended meanwhile
            pass
    return workers


def test_workers_out_of_range_are_one_sentence_before_any_work(tiny_model, face_paths, tmp_path):
    out = tmp_path / "r.json"
    run = howold("predict", face_paths[0], "--model", tiny_model, "--workers", "0", "--json", out)
    assert run.returncode == 1 and not out.exists()
    assert re.fullmatch(r"howold: --workers must be between 1 and \d+ \(8 per CPU here\), got 0\.\n", run.stderr)


def test_runs_of_many_photos_use_a_process_per_cpu_unless_told():
    from howold import default_workers
    from howold.parallel import AUTO_MAX_WORKERS, AUTO_MIN_PHOTOS

    assert default_workers(AUTO_MIN_PHOTOS - 1) == 1
    assert default_workers(AUTO_MIN_PHOTOS) == max(1, min(os.cpu_count() or 1, AUTO_MAX_WORKERS))
