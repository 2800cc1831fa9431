"""A real `howold serve` under attack: an EPS that loops forever, min_score=0 on a crowd, and 16
clients that stall mid-upload, while normal requests keep succeeding within stated bounds."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
httpx = pytest.importorskip("httpx", reason="needs the [test] extra")

from corpus import EPS_LOOP, save  # noqa: E402
from serve_process import free_port, howold_serve  # noqa: E402

from howold.detect import DetectOptions  # noqa: E402

pytestmark = pytest.mark.slow

BODY_TIMEOUT_S = 2  # HOWOLD_BODY_TIMEOUT_S of the server under test
NORMAL_BOUND_S = 5  # a normal 640x320 request, whatever else is going on (about 0.03 s when idle)
STALLED = 16  # as many as HOWOLD_MAX_IN_FLIGHT: before, they took every place and all else got 503


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOWOLD_")}
    env.update(HOWOLD_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S), HOWOLD_CONCURRENCY="1", HOWOLD_MAX_IN_FLIGHT=str(STALLED))
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with howold_serve(env, log, port) as base:
        yield base
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def pair_jpeg(face_images) -> bytes:
    import numpy as np

    return save(np.hstack([face_images["adult_20-29"], face_images["elderly_70plus"]]), "JPEG", quality=90)


def predict(url: str, body: bytes, query: str = "", timeout: float = 60) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = httpx.post(f"{url}/v1/predict{query}", content=body, headers={"content-type": "image/jpeg"},
                          timeout=timeout)  # fmt: skip
    return response, time.perf_counter() - start


def test_eps_loop_is_refused_at_once_and_the_server_stays_ready(url, pair_jpeg):
    for _ in range(2):
        response, seconds = predict(url, EPS_LOOP)
        assert response.status_code == 422 and "not a supported image" in response.json()["detail"]
        assert seconds < 2
    assert httpx.get(f"{url}/readyz").status_code == 200
    response, seconds = predict(url, pair_jpeg)
    assert response.status_code == 200 and len(response.json()["faces"]) == 2 and seconds < NORMAL_BOUND_S


@pytest.mark.data
def test_min_score_zero_on_the_group_photo_is_bounded(url, group_photo, pair_jpeg):
    body = group_photo.read_bytes()
    response, seconds = predict(url, body, "?min_score=0")
    assert response.status_code == 422 and "min_score" in response.json()["detail"] and seconds < 2
    floor = f"?min_score={DetectOptions.SERVICE_MIN_SCORE}&max_side={DetectOptions.SERVICE_MAX_SIDE}"
    with ThreadPoolExecutor(1) as pool:
        heavy = pool.submit(predict, url, body, floor)
        normal = [predict(url, pair_jpeg) for _ in range(3)]
        response, seconds = heavy.result()
    assert response.status_code == 200 and seconds < 30, seconds
    result = response.json()
    assert 20 <= len(result["faces"]) <= DetectOptions.max_faces
    assert all(r.status_code == 200 for r, _ in normal)


def test_stalled_uploads_get_408_and_never_block_others(url, pair_jpeg):
    port = int(url.rsplit(":", 1)[1])
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/jpeg\r\n"
            "Content-Length: 100000\r\n\r\n0123456789")  # fmt: skip
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_S + 10) for _ in range(STALLED)]
    opened = time.monotonic()
    try:
        for sock in stalled:
            sock.sendall(head.encode())
        normal = []
        while time.monotonic() - opened < BODY_TIMEOUT_S * 0.8:  # all while every stalled socket is open
            normal.append(predict(url, pair_jpeg, timeout=NORMAL_BOUND_S * 2))
        codes = [_status(sock) for sock in stalled]
        waited = time.monotonic() - opened
    finally:
        for sock in stalled:
            sock.close()
    assert len(normal) >= 3 and all(r.status_code == 200 for r, _ in normal), [r.status_code for r, _ in normal]
    assert max(seconds for _, seconds in normal) < NORMAL_BOUND_S
    assert codes == [408] * STALLED and waited < BODY_TIMEOUT_S + 5


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data and (chunk := sock.recv(4096)):
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0
