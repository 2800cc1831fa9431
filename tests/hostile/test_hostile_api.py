"""Hostile uploads and parameters through the API in process (TestClient)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
pytest.importorskip("httpx", reason="TestClient needs httpx (the [test] extra)")

from corpus import corpus  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from howold.api.app import create_app  # noqa: E402
from howold.api.schemas import ErrorSchema, PhotoResultSchema  # noqa: E402
from howold.api.settings import Settings  # noqa: E402
from howold.detect import DetectOptions  # noqa: E402
from howold.io import encode_png  # noqa: E402

CASES = corpus()


@pytest.fixture(scope="module")
def client(tiny_model):
    with TestClient(create_app(Settings(api_key=None, model=str(tiny_model))), raise_server_exceptions=False) as c:
        yield c


def sentence(response, status: int) -> str:
    assert response.status_code == status, response.text
    detail = ErrorSchema.model_validate_json(response.text).detail
    assert detail.endswith(".") and "\n" not in detail and "Traceback" not in detail
    return detail


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_corpus_upload_is_a_result_or_a_4xx_sentence(client, case):
    files = {"file": (case.name, case.data, "application/octet-stream")}
    response = client.post("/v1/predict", files=files)
    if case.error is None:
        assert response.status_code == 200, response.text
        PhotoResultSchema.model_validate_json(response.text)
    else:
        assert case.error in sentence(response, 422)


def test_a_bug_tripped_by_a_photo_is_a_generic_500(client, monkeypatch):
    def bug(*args, **kwargs):
        raise RuntimeError("internal detail /srv/secret")

    monkeypatch.setattr(client.app.state.howold.default, "analyse", bug)
    response = client.post("/v1/predict", content=b"x", headers={"content-type": "image/jpeg"})
    assert "logged" in sentence(response, 500) and "secret" not in response.text


@pytest.mark.parametrize(
    ("query", "name"),
    [(f"min_score={DetectOptions.SERVICE_MIN_SCORE / 2}", "min_score"), ("min_score=0", "min_score"),
     (f"max_side={DetectOptions.SERVICE_MAX_SIDE + 1}", "max_side"), ("max_side=8192", "max_side")],
)  # fmt: skip
def test_work_per_request_is_bounded(client, composite, query, name):
    response = client.post(f"/v1/predict?{query}", content=encode_png(composite), headers={"content-type": "image/png"})
    assert name in sentence(response, 422)


def test_the_bounds_are_accepted_and_faces_are_capped(client, composite):
    query = f"min_score={DetectOptions.SERVICE_MIN_SCORE}&max_side={DetectOptions.SERVICE_MAX_SIDE}"
    response = client.post(f"/v1/predict?{query}", content=encode_png(composite), headers={"content-type": "image/png"})
    result = PhotoResultSchema.model_validate_json(response.text)
    assert len(result.faces) + result.faces_dropped >= 4 and len(result.faces) <= DetectOptions.max_faces


def test_settings_cannot_lift_the_bounds():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="min_score"):
        Settings(min_score=0.0)
    with pytest.raises(ValidationError, match="max_side"):
        Settings(max_side=8192)


def test_swagger_page_needs_no_network(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: ?'([^']+)'", page.text)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_readyz_is_503_while_busy_and_200_otherwise(client):
    state = client.app.state.howold
    assert client.get("/readyz").status_code == 200
    state.in_flight = state.settings.max_in_flight
    try:
        busy = client.get("/readyz")
        assert "busy" in sentence(busy, 503) and busy.headers["retry-after"] == "1"
    finally:
        state.in_flight = 0
