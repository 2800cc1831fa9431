"""The age check through the API in process: query parameters, the answer's schema, one-sentence errors."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
pytest.importorskip("httpx", reason="TestClient needs httpx (the [test] extra)")

from howold import AgeCheck, Predictor  # noqa: E402
from howold.api.schemas import ErrorSchema, PhotoResultSchema  # noqa: E402

FACES = Path(__file__).parents[1] / "fixtures" / "faces"
JPEG = {"content-type": "image/jpeg"}


@pytest.fixture(scope="module")
def child() -> bytes:
    return (FACES / "child_3-9.jpg").read_bytes()


def test_over_and_challenge_answer_as_the_library_does(client, child):
    response = client.post(
        "/v1/predict", params={"over": "18", "challenge": "25", "distribution": "true"}, content=child, headers=JPEG
    )
    assert response.status_code == 200, response.text
    body = PhotoResultSchema.model_validate_json(response.text)
    assert body.faces[0].age_check.verdict == "check_id" and len(body.faces[0].distribution.probs) == 101
    expected = Predictor().analyse(child, name="upload").to_dict(AgeCheck(18, 25), distribution=True)
    assert response.json() == expected


def test_without_over_the_answer_has_no_check_and_no_distribution(client, child):
    face = client.post("/v1/predict", content=child, headers=JPEG).json()["faces"][0]
    assert "age_check" not in face and "distribution" not in face
    default = client.post("/v1/predict", params={"over": "16"}, content=child, headers=JPEG).json()["faces"][0]
    assert default["age_check"]["challenge"] == AgeCheck(16).challenge  # the measured default margin


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"over": "-1"}, "Query parameter over must be an age in years from 0 to 120, got '-1'."),
        ({"over": "121"}, "Query parameter over must be an age in years from 0 to 120, got '121'."),
        ({"over": "adult"}, "Query parameter over must be an age in years from 0 to 120, got 'adult'."),
        ({"over": "18", "challenge": "17"}, "Query parameter challenge must be at least the age checked (18), got 17."),
        ({"challenge": "25"}, "Query parameter challenge needs over (the age checked)."),
    ],
)
def test_bad_thresholds_get_one_sentence(client, child, params, message):
    response = client.post("/v1/predict", params=params, content=child, headers=JPEG)
    assert response.status_code == 422
    assert ErrorSchema.model_validate_json(response.text).detail == message


def test_the_openapi_document_describes_the_parameters(client):
    parameters = client.get("/openapi.json").json()["paths"]["/v1/predict"]["post"]["parameters"]
    names = {p["name"]: p for p in parameters}
    assert {"over", "challenge", "distribution"} <= set(names)
    assert "measured margin" in names["challenge"]["description"]
