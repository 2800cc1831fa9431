"""A real `howold serve` sent hostile media: a playlist naming a photo on the server's disk, an SDP
file, a 4K clip at 1000 frames a second, frames above 8K and a progressive-JPEG scan bomb. Each is
refused or bounded with one sentence within a stated time, while normal photos keep succeeding."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
pytest.importorskip("av", reason="needs the [video] extra")
httpx = pytest.importorskip("httpx", reason="needs the [test] extra")

from corpus import SDP, blank_tail_jpeg, ffconcat, frame_copies, save, scan_bomb  # noqa: E402
from serve_process import free_port, howold_serve  # noqa: E402

from howold import VideoOptions  # noqa: E402

pytestmark = pytest.mark.slow

NORMAL_BOUND_S = 10  # a normal 640x320 photo, whatever else the server is doing (about 0.05 s when idle)
REFUSED_S = 3  # a refusal costs no decoding: before, the SDP upload held a worker 20 s and the scan bomb 43 s


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOWOLD_")}
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with howold_serve(env, log, free_port()) as base:
        yield base
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def pair_jpeg(face_images) -> bytes:
    import numpy as np

    return save(np.hstack([face_images["adult_20-29"], face_images["elderly_70plus"]]), "JPEG", quality=90)


def post(url: str, body: bytes, media_type: str, timeout: float = 120) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = httpx.post(f"{url}/v1/predict", content=body, headers={"content-type": media_type}, timeout=timeout)
    return response, time.perf_counter() - start


def refused(response: httpx.Response, seconds: float, words: str) -> str:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert words in detail and detail.endswith(".") and "\n" not in detail and seconds < REFUSED_S, (detail, seconds)
    return detail


def test_a_playlist_naming_a_photo_on_the_servers_disk_reads_nothing(url, face_paths):
    """Before, this upload returned the ages of the faces in the server's photo (named relative to
    its working folder, which it shares with the tests)."""
    for target in (os.path.relpath(face_paths[0]), face_paths[0], "/no/such/file.jpg", "/root/.bashrc"):
        response, seconds = post(url, ffconcat(str(target)), "video/mp4")
        detail = refused(response, seconds, "is not a video FFmpeg can read (not an MP4, MOV")
        assert "such file" not in detail and "permitted" not in detail  # nothing tells what is on disk
    response = httpx.post(f"{url}/v1/predict", files={"file": ("clip.mp4", ffconcat(str(face_paths[0])))}, timeout=30)
    assert response.status_code == 422 and "faces" not in response.text


def test_an_sdp_file_opens_no_socket_and_holds_no_worker(url):
    response, seconds = post(url, SDP, "video/mp4")
    refused(response, seconds, "is not a video FFmpeg can read")
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # the port SDP names is free
        sock.bind(("0.0.0.0", 5004))


def test_a_4k_clip_at_1000_fps_is_bounded_and_others_go_on(url, pair_jpeg):
    """336 KB of 4K at 1000 frames a second cost 121 s before; now the pixel budget stops it."""
    clip = frame_copies(3840, 2160, 1000, 10_000)
    with ThreadPoolExecutor(1) as pool:
        attack = pool.submit(post, url, clip, "video/mp4")
        normal = []
        while not attack.done() and len(normal) < 50:
            normal.append(post(url, pair_jpeg, "image/jpeg", timeout=NORMAL_BOUND_S * 2))
        response, seconds = attack.result()
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["frames_read"] == VideoOptions.SERVICE_MAX_PIXELS // (3840 * 2160) and result["stopped_at"] < 1
    assert len(result["notes"]) == 1 and result["notes"][0].endswith(" s were analysed (the limit on decoded pixels).")
    assert seconds < 60, seconds
    assert normal and all(r.status_code == 200 for r, _ in normal)
    assert max(s for _, s in normal) < NORMAL_BOUND_S


def test_frames_above_8k_are_refused(url):
    response, seconds = post(url, frame_copies(8192, 8192, 30, 30, rgb=False), "video/mp4")
    refused(response, seconds, "its frames are 8192x8192 pixels; the limit is 33,177,600 pixels a frame")


@pytest.mark.parametrize(("name", "make", "words"), [
    ("scan bomb", lambda: scan_bomb(8000, 1000), "the JPEG holds 1,009 scans"),
    ("blank tail", blank_tail_jpeg, "damaged or truncated"),
])  # fmt: skip
def test_jpegs_that_cost_minutes_or_lost_their_data_are_refused(url, name, make, words):
    response, seconds = post(url, make(), "image/jpeg")
    refused(response, seconds, words)
