"""POST /v1/predict with a short video: one settled age per person; limits stated and enforced."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
pytest.importorskip("av", reason="needs the [video] extra")
pytest.importorskip("trackers", reason="needs the [video] extra")
httpx = pytest.importorskip("httpx", reason="needs the [test] extra")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api_helpers import two_faces  # noqa: E402
from video_clips import background, camera, write_clip  # noqa: E402

from howold.api.schemas import VideoResultSchema  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_images) -> bytes:
    path = tmp_path_factory.mktemp("api_video") / "pair.mp4"
    return write_clip(path, camera(two_faces(face_images), 1.2, 10, (640, 320), zoom=0.1, noise=2)).read_bytes()


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> bytes:
    frames = (background(64, 64) for _ in range(4))
    return write_clip(tmp_path_factory.mktemp("long") / "long.webm", frames, fps=Fraction(1, 30),
                      codec="libvpx-vp9", container="webm").read_bytes()  # fmt: skip


def test_a_video_upload_returns_persons(client, clip):
    response = client.post("/v1/predict", files={"file": ("pair.mp4", clip, "video/mp4")})
    assert response.status_code == 200, response.text
    body = VideoResultSchema.model_validate(response.json())
    assert body.source == "pair.mp4" and body.frames_analysed == 6 and [p.person for p in body.persons] == [1, 2]
    assert all(p.age_low <= p.age <= p.age_high for p in body.persons)


def test_a_raw_video_body_is_recognised_by_its_bytes(client, clip):
    response = client.post("/v1/predict?fps=2", content=clip, headers={"content-type": "application/octet-stream"})
    assert response.status_code == 200 and response.json()["kind"] == "video"
    assert response.json()["frames_analysed"] == 3


@pytest.mark.parametrize(
    ("query", "status", "match"),
    [("fps=11", 422, "Query parameter fps: Input should be less than or equal to 10."), ("", 413, "the limit is 60 s")],
)
def test_limits_are_one_sentence(client, long_clip, query, status, match):
    response = client.post(f"/v1/predict?{query}", files={"file": ("long.webm", long_clip, "video/webm")})
    assert response.status_code == status and match in response.json()["detail"]


def test_a_broken_video_is_422(client):
    broken = b"\x00\x00\x00\x18ftypisom" + bytes(40)
    response = client.post("/v1/predict", files={"file": ("bad.mp4", broken, "video/mp4")})
    assert response.status_code == 422 and response.json()["detail"].startswith("bad.mp4: is not a video")


@pytest.mark.slow
def test_the_real_server_takes_a_video(server, clip):
    headers = {**server.auth, "content-type": "video/mp4"}
    response = httpx.post(f"{server.url}/v1/predict", content=clip, headers=headers, timeout=60)
    assert response.status_code == 200 and len(response.json()["persons"]) == 2
