"""One pydantic model for the JSON of `howold predict --json`, the API and batch jobs."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("pydantic", reason="needs the [api] extra")

from pydantic import ValidationError  # noqa: E402

from howold.api.schemas import PhotoResultSchema, ResultsSchema  # noqa: E402
from howold.cli import main  # noqa: E402
from howold.pipeline import Face, PhotoResult  # noqa: E402


def test_the_cli_json_validates_against_the_api_model(tmp_path, face_paths, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a photo")
    out = tmp_path / "results.json"
    assert main(["predict", *map(str, face_paths), str(broken), "--json", str(out), "-q"]) == 1
    document = ResultsSchema.model_validate_json(out.read_text(encoding="utf-8"))
    assert [len(r.faces) for r in document.results] == [1, 1, 1, 1, 0]
    assert document.results[-1].error and "broken.jpg" in document.results[-1].error
    assert all(r.width == r.height == 448 for r in document.results[:4])


FACE = Face(box=(1.0, 2.0, 30.0, 40.0), score=0.99, landmarks=((5.0, 6.0),) * 5)
AGED = replace(FACE, age=34.0, age_low=29.0, age_high=39.0, warnings=("blurry",))


@pytest.mark.parametrize(
    "result",
    [
        PhotoResult("a.jpg", 640, 320, (FACE,), None),
        PhotoResult("b.jpg", 64, 64, (AGED, FACE), "resnet 1.2"),
        PhotoResult("c.jpg", error="c.jpg: not an image, or a format howold cannot read."),
    ],
    ids=["no-model", "aged", "error"],
)
def test_every_photo_result_dict_round_trips(result):
    data = result.to_dict()
    assert PhotoResultSchema.model_validate(data).model_dump(mode="json") == data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"extra": 1}, "Extra inputs"),
        ({"faces": [{**FACE.to_dict(), "warnings": ["sunburn"]}]}, "warnings"),
        ({"faces": [{**FACE.to_dict(), "landmarks": [[1, 2]]}]}, "landmarks"),
        ({"width": -1}, "width"),
    ],
    ids=["unknown-key", "unknown-warning", "four-landmarks", "negative-size"],
)
def test_the_model_rejects_what_howold_never_writes(change, words):
    data = PhotoResult("a.jpg", 10, 10, (FACE,)).to_dict() | change
    with pytest.raises(ValidationError, match=words):
        PhotoResultSchema.model_validate(data)
