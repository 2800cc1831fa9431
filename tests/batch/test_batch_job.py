"""The batch job: inputs, rows, committed parts, and runs on a local Ray that match `howold predict`."""

from __future__ import annotations

import json
import os
import resource
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from howold import HowoldError, Predictor
from howold.batch.job import SCHEMA, PartsOutput, result_rows, run_batch
from howold.cli import main as howold_main
from howold.inputs import find_inputs
from howold.pipeline import PhotoResult
from howold.report import CSV_COLUMNS

BAD = {"text.jpg": "not an image", "empty.png": "empty", "missing.jpg": "no such file"}


# ------------------------------------------------------------------------------------ rows


def test_rows_have_the_csv_columns_first():
    assert SCHEMA.names[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)


@pytest.mark.parametrize(
    ("result", "status", "error"),
    [
        (PhotoResult("x.jpg", error="x.jpg: no such file."), "error", "x.jpg: no such file."),
        (PhotoResult("y.png", 320, 240), "no_face", None),
    ],
)
def test_photo_without_faces_gives_one_row(result, status, error):
    (row,) = result_rows(result)
    assert (row["source"], row["status"], row["error"], row["landmarks"]) == (result.source, status, error, None)


def test_face_rows_carry_landmarks_and_size(face_paths):
    result = Predictor(model=None).analyse(face_paths[0])
    (row,) = result_rows(result)
    assert row["status"] == "ok" and row["face"] == 1 and (row["width"], row["height"]) == (448, 448)
    assert row["landmarks"] == result.faces[0].to_dict()["landmarks"]


# ----------------------------------------------------------------------------------- parts


def _rows(*sources: str) -> list[dict]:
    return [row for source in sources for row in result_rows(PhotoResult(source, 10, 10))]


def test_leftover_parts_need_resume(tmp_path):
    out = tmp_path / "out.parquet"
    PartsOutput(out).open(resume=False)
    with pytest.raises(HowoldError, match="--resume"):
        PartsOutput(out).open(resume=False)


def test_resume_reads_parts_and_ignores_cut_short_ones(tmp_path):
    out = tmp_path / "out.parquet"
    first = PartsOutput(out)
    first.open(resume=False)
    first.write(_rows("a", "b"))
    (first.parts / ".part-000001.parquet.tmp").write_bytes(b"cut short by a kill")
    second = PartsOutput(out)
    assert second.open(resume=True) == {os.path.realpath("a"), os.path.realpath("b")}  # identities: absolute
    assert second.write(_rows("c")).name == "part-000001.parquet"
    second.merge(resume=True)
    assert pq.read_table(out).column("source").to_pylist() == ["a", "b", "c"]
    assert not first.parts.exists()


def test_merge_cut_short_after_replacing_out_copies_nothing_twice(tmp_path):
    out = tmp_path / "out.parquet"
    output = PartsOutput(out)
    output.open(resume=False)
    output.write(_rows("a", "b"))
    output.merge(resume=False)
    output.open(resume=True)
    output.write(_rows("b", "c"))  # as if `out` was replaced but the parts not yet removed
    output.merge(resume=True)
    assert sorted(pq.read_table(out).column("source").to_pylist()) == ["a", "b", "c"]


def test_out_must_not_be_a_folder(tmp_path):
    with pytest.raises(HowoldError, match="is a folder"):
        PartsOutput(tmp_path).open(resume=False)


# ------------------------------------------------------------------------------ runs on Ray


def _predict_json(photos: list[str], model, tmp_path: Path) -> dict[str, dict]:
    target = tmp_path / "predict.json"
    howold_main(["predict", *photos, "--json", str(target), "-q", *(["--model", str(model)] if model else [])])
    return {r["source"]: r for r in json.loads(target.read_text())["results"]}


def _by_source(table) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        grouped.setdefault(row["source"], []).append(row)
    return grouped


@pytest.mark.parametrize("model", ["shipped", "tiny"])
def test_batch_equals_predict_json(ray_address, photo_folder, tiny_model, tmp_path, model):
    model_path = tiny_model if model == "tiny" else None
    photos = find_inputs([str(photo_folder), str(photo_folder / "missing.jpg")])
    summary = run_batch(photos, tmp_path / "out.parquet", actors=2, batch_size=3, model=model_path)
    expected = _predict_json(photos, model_path, tmp_path)
    rows = _by_source(pq.read_table(tmp_path / "out.parquet"))

    assert sorted(rows) == sorted(expected) == sorted(photos)
    assert (summary.photos, summary.skipped, summary.errors) == (len(photos), 0, len(BAD))
    for source, result in expected.items():
        got = sorted(rows[source], key=lambda r: r["face"] or 0)
        if result["error"]:
            assert [(r["status"], r["error"]) for r in got] == [("error", result["error"])]
        elif not result["faces"]:
            assert [(r["status"], r["width"], r["height"]) for r in got] == [
                ("no_face", result["width"], result["height"])
            ]
        else:
            assert [r["face"] for r in got] == list(range(1, len(result["faces"]) + 1))
            for row, face in zip(got, result["faces"]):
                assert [row[k] for k in ("x1", "y1", "x2", "y2")] == face["box"]
                assert row["landmarks"] == face["landmarks"] and row["score"] == face["score"]
                assert row["warnings"] == ";".join(face["warnings"])
                for key in ("age", "age_low", "age_high"):
                    assert row[key] == pytest.approx(face[key], abs=0.1) if face[key] is not None else row[key] is None
    assert len(rows[str(photo_folder / "composite.png")]) == 4
    for name, words in BAD.items():
        assert words in rows[str(photo_folder / name)][0]["error"]
    if model == "tiny" or Predictor().model_info is not None:
        assert all(
            r["age"] is not None for r in pq.read_table(tmp_path / "out.parquet").to_pylist() if r["status"] == "ok"
        )


def test_resume_skips_photos_written_before(ray_address, photo_folder, tmp_path):
    photos = find_inputs([str(photo_folder)])
    out = tmp_path / "out.parquet"
    first = run_batch(photos[:3], out, actors=1, batch_size=2)
    again = run_batch(photos, out, resume=True, actors=1, batch_size=2)
    assert (first.photos, again.photos, again.skipped) == (3, len(photos) - 3, 3)
    rows = _by_source(pq.read_table(out))
    assert sorted(rows) == sorted(photos)
    assert len(rows[str(photo_folder / "composite.png")]) == 4  # each photo's rows once


def test_nothing_left_to_do_only_merges(photo_folder, tmp_path):
    out = tmp_path / "out.parquet"
    output = PartsOutput(out)
    output.open(resume=False)
    output.write(_rows(str(photo_folder / "gradient.png")))  # a killed run's only part
    summary = run_batch([str(photo_folder / "gradient.png")], out, resume=True)
    assert (summary.photos, summary.skipped) == (0, 1)
    assert pq.read_table(out).num_rows == 1 and not output.parts.exists()


def test_resumed_with_the_folder_spelled_otherwise_each_photo_once(ray_address, photo_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(photo_folder.parent)
    out = tmp_path / "out.parquet"
    first = run_batch(find_inputs([photo_folder.name])[:3], out, actors=1, batch_size=2)  # `in`
    spelled = f"{photo_folder}/../{photo_folder.name}/."  # `$PWD/in/../in/.`
    again = run_batch(find_inputs([spelled]), out, resume=True, actors=1, batch_size=2)
    photos = sorted(str(p) for p in photo_folder.iterdir() if p.suffix in (".jpg", ".png"))
    assert (first.photos, again.skipped, again.photos) == (3, 3, len(photos) - 3)
    rows = _by_source(pq.read_table(out))
    assert sorted(rows) == photos and len(rows[str(photo_folder / "composite.png")]) == 4


def test_a_merge_that_fails_leaves_no_half_written_copy(tmp_path):
    out = tmp_path / "out.parquet"
    output = PartsOutput(out)
    output.open(resume=False)
    for part in range(4):
        output.write(_rows(*(f"photo-{part}-{n:05d}.jpg" for n in range(3000))))
    parts = sorted(output.parts.iterdir())
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(p.stat().st_size for p in parts) + 4096, limit[1]))
    try:  # what a disk that fills during the merge does: the parts fit, the merged file does not
        with pytest.raises(OSError, match="File too large"):
            output.merge(resume=False)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
    assert sorted(output.parts.iterdir()) == parts and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [output.parts.name]  # no .out.parquet.tmp
