"""The API in process through FastAPI's TestClient: results, every error code, probes, the key."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
pytest.importorskip("httpx", reason="TestClient needs httpx (the [test] extra)")

from api_helpers import encode  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from howold.api.app import create_app  # noqa: E402
from howold.api.schemas import ErrorSchema, PhotoResultSchema  # noqa: E402
from howold.api.settings import Settings  # noqa: E402
from howold.options import DetectOptions  # noqa: E402
from howold.pipeline import Predictor  # noqa: E402

FACES = sorted((Path(__file__).parents[1] / "fixtures" / "faces").glob("*.jpg"))
JPEG = {"content-type": "image/jpeg"}


@pytest.fixture(scope="module")
def shipped_predictor() -> Predictor:
    return Predictor().prepare()


def assert_one_sentence(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = ErrorSchema.model_validate_json(response.text).detail
    assert detail.endswith(".") and "\n" not in detail and "Traceback" not in detail
    return detail


@pytest.mark.parametrize("path", FACES, ids=lambda p: p.stem)
def test_raw_body_gives_the_same_result_as_the_library(client, shipped_predictor, path):
    data = path.read_bytes()
    response = client.post("/v1/predict", content=data, headers=JPEG)
    assert response.status_code == 200, response.text
    body = PhotoResultSchema.model_validate_json(response.text).model_dump()
    assert response.json() == shipped_predictor.analyse(data, name="upload").to_dict()
    assert (body["width"], body["height"]) == (448, 448)
    assert len(body["faces"]) == 1 and body["faces"][0]["score"] > 0.99


def test_multipart_upload_finds_both_faces_of_a_pair(client, two_faces_jpeg):
    files = {"file": ("holiday/pair.jpg", two_faces_jpeg, "image/jpeg")}
    response = client.post("/v1/predict", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source"], body["width"], body["height"]) == ("pair.jpg", 640, 320)
    centres = sorted((f["box"][0] + f["box"][2]) / 2 for f in body["faces"])
    assert len(centres) == 2 and centres[0] < 320 < centres[1]


def test_ages_come_with_a_model_and_are_null_without(client, shipped_predictor, two_faces_jpeg):
    body = client.post("/v1/predict", content=two_faces_jpeg, headers=JPEG).json()
    if shipped_predictor.model_info is None:
        assert body["model"] is None
        assert all(f["age"] is None and f["age_low"] is None for f in body["faces"])
    else:
        assert body["model"] == f"{shipped_predictor.model_info.name} {shipped_predictor.model_info.version}"
        assert all(f["age_low"] <= f["age"] <= f["age_high"] for f in body["faces"])


def test_a_photo_without_faces_gives_an_empty_list(client, no_face_png):
    response = client.post("/v1/predict", content=no_face_png, headers={"content-type": "image/png"})
    assert response.status_code == 200 and response.json()["faces"] == []


def test_query_parameters_reach_the_detector(client, two_faces_jpeg):
    response = client.post("/v1/predict?min_score=0.5&max_side=320", content=two_faces_jpeg)
    expected = Predictor(options=DetectOptions(min_score=0.5, max_side=320)).analyse(two_faces_jpeg, name="upload")
    assert response.status_code == 200 and response.json() == expected.to_dict()


def _form(field: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    body = (
        (
            f'--b0undary\r\nContent-Disposition: form-data; name="{field}"; filename="x.jpg"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + b"\r\n--b0undary--\r\n"
    )
    return body, "multipart/form-data; boundary=b0undary"


JPEG_START = FACES[0].read_bytes()[:2000]

BAD_REQUESTS = [  # (id, query, body, content type, status, words in the message)
    ("text", "", b"hello", "text/plain", 415, "not accepted"),
    ("json", "", b"{}", "application/json", 415, "not accepted"),
    ("form-urlencoded", "", b"a=1", "application/x-www-form-urlencoded", 415, "multipart form"),
    ("not-an-image", "", b"hello", "image/jpeg", 422, "not an image"),
    ("truncated", "", JPEG_START, "image/jpeg", 422, "truncated"),
    ("empty", "", b"", "image/jpeg", 422, "empty"),
    ("form-without-file", "", *_form("photo", b"x", "image/jpeg"), 422, "no field named 'file'"),
    ("form-part-text", "", *_form("file", b"x", "text/plain"), 415, "not an image"),
    ("form-no-boundary", "", b"--x--", "multipart/form-data", 422, "boundary"),
    ("form-broken-image", "", *_form("file", b"\x89PNG\r\n", "image/png"), 422, "x.jpg"),
    ("min-score-high", "?min_score=2", b"x", "image/jpeg", 422, "min_score"),
    ("min-score-text", "?min_score=old", b"x", "image/jpeg", 422, "min_score"),
    ("max-side-small", "?max_side=8", b"x", "image/jpeg", 422, "max_side"),
]


@pytest.mark.parametrize(
    ("query", "body", "content_type", "status", "words"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_gives_4xx_with_one_sentence(client, query, body, content_type, status, words):
    response = client.post(f"/v1/predict{query}", content=body, headers={"content-type": content_type})
    assert words in assert_one_sentence(response, status)


def test_uploads_over_the_limit_give_413(two_faces_jpeg):
    app = create_app(Settings(api_key=None, max_upload_mb=0.01))  # 10 KiB
    with TestClient(app) as small:
        declared = small.post("/v1/predict", content=two_faces_jpeg, headers=JPEG)
        chunked = small.post("/v1/predict", content=iter([two_faces_jpeg[:8000]] * 2), headers=JPEG)
        form = small.post("/v1/predict", files={"file": ("a.jpg", two_faces_jpeg, "image/jpeg")})
    assert "10.2 KiB" in assert_one_sentence(declared, 413)
    assert "chunked" in chunked.request.headers.get("transfer-encoding", "")
    for response in (chunked, form):
        assert_one_sentence(response, 413)


def test_uploads_are_never_written_to_disk(client):
    """An audit hook sees every file the process opens for writing and every temporary file."""
    noise = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    files = {"file": ("noise.png", encode(noise, "PNG"), "image/png")}  # 3 MB: would spool
    writes, watching = [], [True]

    def hook(event: str, args: tuple) -> None:
        if not watching[0]:
            return
        if event.startswith("tempfile."):
            writes.append((event, args))
        elif event == "open":
            _, mode, flags = args
            if any(c in (mode or "") for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR):
                writes.append((event, args))

    sys.addaudithook(hook)  # hooks cannot be removed; this one goes quiet after the request
    try:
        response = client.post("/v1/predict", files=files)
    finally:
        watching[0] = False
    assert response.status_code == 200 and response.json()["width"] == 1000
    assert writes == []


def test_probes_and_model_endpoint(client, shipped_predictor):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["in_flight"] == 0
    response = client.get("/v1/model")
    if shipped_predictor.model_info is None:
        assert "No age model" in assert_one_sentence(response, 404)
        assert ready.json()["model_missing_reason"] == shipped_predictor.missing_model_reason
    else:
        assert response.json()["name"] == shipped_predictor.model_info.name


def test_a_given_model_is_served_with_its_sidecar(tiny_model, two_faces_jpeg):
    with TestClient(create_app(Settings(api_key=None, model=str(tiny_model)))) as tiny:
        info = tiny.get("/v1/model").json()
        ready = tiny.get("/readyz").json()
        result = tiny.post("/v1/predict", content=two_faces_jpeg, headers=JPEG).json()
    assert (info["name"], info["version"], info["metrics"]) == (
        "tiny",
        "0.0.1",
        {"utkface_test": {"overall": {"n": 25, "mae": 9.9, "coverage": 0.8}}},
    )
    assert ready["model"] == result["model"] == "tiny 0.0.1"
    assert len(result["faces"]) == 2
    assert all(f["age_low"] <= f["age"] <= f["age_high"] for f in result["faces"])


def test_not_ready_before_the_models_load():
    unstarted = TestClient(create_app(Settings(api_key=None)))  # no `with`: lifespan not run
    assert unstarted.get("/healthz").status_code == 200
    assert_one_sentence(unstarted.get("/readyz"), 503)
    response = unstarted.post("/v1/predict", content=b"x", headers=JPEG)
    assert "loading" in assert_one_sentence(response, 503) and response.headers["retry-after"]


def test_api_key_guards_v1_but_not_health(two_faces_jpeg):
    with TestClient(create_app(Settings(api_key="s3cret"))) as keyed:
        assert keyed.get("/healthz").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            response = keyed.post("/v1/predict", content=two_faces_jpeg, headers={**JPEG, **headers})
            assert "API key" in assert_one_sentence(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
            assert keyed.get("/v1/model", headers=headers).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert keyed.post("/v1/predict", content=two_faces_jpeg, headers={**JPEG, **good}).status_code == 200
        assert keyed.get("/v1/model", headers=good).status_code in (200, 404)
        assert "HTTPBearer" in keyed.get("/openapi.json").json()["components"]["securitySchemes"]


def test_an_unexpected_error_gives_a_one_sentence_500_without_details():
    app = create_app(Settings(api_key=None))

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals /etc/passwd")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert "logged" in assert_one_sentence(response, 500)
    assert "secret" not in response.text


def test_unknown_paths_and_methods_answer_in_a_sentence(client):
    assert "/nowhere" in assert_one_sentence(client.get("/nowhere"), 404)
    assert "GET" in assert_one_sentence(client.get("/v1/predict"), 405)


def test_openapi_describes_the_upload_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/readyz", "/v1/model", "/v1/predict"} <= set(spec["paths"])
    predict = spec["paths"]["/v1/predict"]["post"]
    assert {"multipart/form-data", "image/jpeg", "application/octet-stream"} <= set(predict["requestBody"]["content"])
    assert {"200", "413", "415", "422", "503"} <= set(predict["responses"])
    assert "PhotoResultSchema" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_docs_show_a_box_of_numbers_and_say_which_version_is_which(client):
    spec = client.get("/openapi.json").json()
    face = spec["components"]["schemas"]["FaceSchema"]["properties"]
    assert all(isinstance(v, float) for v in face["box"]["examples"][0])  # not [null, null, null, null]
    assert all(isinstance(v, float) for point in face["landmarks"]["examples"][0] for v in point)
    from howold import __version__

    assert f"howold's ({__version__})" in spec["info"]["description"] and "GET /v1/model" in spec["info"]["description"]
