"""A real `howold serve` against connection and memory attacks (issue 26, round two): sockets that
send no or half a request head, bodies that would hold gigabytes, a form of a hundred thousand
fields, a client that leaves mid-video, and a damaged model at start. Each attack runs beside
normal requests that must keep succeeding."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the [api] extra")
httpx = pytest.importorskip("httpx", reason="needs the [test] extra")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from corpus import save  # noqa: E402
from serve_process import free_port, howold_serve_process  # noqa: E402

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 1.5  # HOWOLD_HEADER_TIMEOUT_S of the servers under test
NORMAL_BOUND_S = 5  # a normal 640x320 request, whatever else is going on (about 0.03 s when idle)
OPEN_FILES = 256  # the server's `ulimit -n` in the slow-head test
SLOW_SOCKETS = 300  # more than the server could hold open at that limit


@contextlib.contextmanager
def serve(tmp_path: Path, open_files: int | None = None, **settings: str):
    """`howold serve` with HOWOLD_* `settings` (and at most `open_files` descriptors); yields (url, process)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOWOLD_")}
    env.update({f"HOWOLD_{key.upper()}": value for key, value in settings.items()})
    prefix = ("prlimit", f"--nofile={open_files}:{open_files}") if open_files else ()
    log = tmp_path / "server.log"
    with howold_serve_process(env, log, ready_s=90, prefix=prefix) as served:
        yield served
    text = log.read_text()
    assert "Traceback" not in text and "Too many open files" not in text, text[-3000:]


@pytest.fixture(scope="module")
def pair_jpeg(face_images) -> bytes:
    return save(np.hstack([face_images["adult_20-29"], face_images["elderly_70plus"]]), "JPEG", quality=90)


def predict(url: str, body: bytes, timeout: float = NORMAL_BOUND_S * 2) -> tuple[int, float]:
    start = time.perf_counter()
    response = httpx.post(f"{url}/v1/predict", content=body, headers={"content-type": "image/jpeg"}, timeout=timeout)
    return response.status_code, time.perf_counter() - start


def answer(sock: socket.socket, wait: float) -> bytes:
    """What the server sends before it closes the socket, within `wait` seconds (b"" if nothing)."""
    sock.settimeout(wait)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not Path("/usr/bin/prlimit").exists() and not Path("/bin/prlimit").exists(),
                    reason="needs prlimit (util-linux)")  # fmt: skip
def test_slow_request_heads_are_closed_and_never_lock_others_out(tmp_path, pair_jpeg):
    with serve(tmp_path, OPEN_FILES, header_timeout_s=str(HEADER_TIMEOUT_S)) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        socks = []
        for number in range(SLOW_SOCKETS):  # before: each stayed open 75 s and more, and 1,100 took every descriptor
            sock = socket.create_connection(("127.0.0.1", port))
            if number % 2:
                sock.sendall(b"POST /v1/pre")  # half a request line
            socks.append(sock)
        opened = time.monotonic()
        normal = [predict(url, pair_jpeg) for _ in range(3)]  # the newest slow sockets are still open
        answers = [answer(sock, HEADER_TIMEOUT_S + 5) for sock in socks]
        closed_after = time.monotonic() - opened
        for sock in socks:
            sock.close()
        after = predict(url, pair_jpeg)
    assert normal and all(code == 200 and seconds < NORMAL_BOUND_S for code, seconds in [*normal, after]), normal
    assert closed_after < HEADER_TIMEOUT_S + 6  # every slow socket was closed by the server (recv saw the end)
    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    pushed_out = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    assert len(timed_out) + len(pushed_out) == SLOW_SOCKETS, {a[:40] for a in answers}
    assert b"did not arrive within 1.5 s." in timed_out[0]


def test_at_the_cap_the_connection_waiting_longest_makes_room(tmp_path, pair_jpeg):
    # the listen queue of 8 lets sockets opened one after another in at about 9 a second, so the cap is
    # set low here to be reached within the header timeout
    with serve(tmp_path, header_timeout_s="20", max_connections="10") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        socks = []
        for _ in range(14):
            socks.append(socket.create_connection(("127.0.0.1", port)))
            time.sleep(0.05)  # each in its own accept, so the order they wait in is the order they came
        oldest, newest = [answer(s, 2) for s in socks[:4]], [answer(s, 0.3) for s in socks[4:]]
        normal = predict(url, pair_jpeg)  # a real client gets in at the cap: the longest waiting makes room
        pushed = answer(socks[4], 2)
        for sock in socks:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 503") and b"to make room" in a for a in oldest), oldest
    assert newest == [b""] * 10  # still open, waiting for their request heads
    assert normal[0] == 200 and pushed.startswith(b"HTTP/1.1 503")


def test_bodies_beyond_the_budget_are_refused_before_they_are_read(tmp_path):
    declared, sent, clients = 40 * 2**20, 39 * 2**20, 8  # before: 8 x 39 MiB held, 40 x 48 MiB took 2.2 GB
    with serve(tmp_path, max_bodies_mb="50", body_timeout_s="20") as (url, process):
        port = int(url.rsplit(":", 1)[1])
        before = rss_mib(process.pid)
        head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {declared}\r\n\r\n").encode()  # fmt: skip
        socks, refused = [], []
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head)
            early = answer(sock, 1.0)
            if early:
                refused.append(early)
                sock.close()
                continue
            sock.sendall(bytes(sent))  # all but the last MiB, then silence
            socks.append(sock)
        time.sleep(0.5)
        held = rss_mib(process.pid) - before
        status = httpx.get(f"{url}/healthz", timeout=2).status_code
        for sock in socks:
            sock.close()
    assert len(socks) == 1 and len(refused) == clients - 1
    assert all(r.startswith(b"HTTP/1.1 503") and b"as many uploads as it may (50 MiB)" in r for r in refused)
    assert held < 50 + 40 and status == 200, held  # one body of 39 MiB (and one copy in flight at most)


def test_a_form_of_many_fields_is_refused_and_the_server_keeps_answering(tmp_path):
    boundary = "b0undary"
    fields = 100_000  # before: 828k of them held /healthz for 14-19 s and added 555 MiB
    form = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n' for i in range(fields))
    body = f"{form}--{boundary}--\r\n".encode()
    with serve(tmp_path) as (url, _):
        done: dict = {}

        def post() -> None:
            start = time.perf_counter()
            form_type = {"content-type": f"multipart/form-data; boundary={boundary}"}
            done["response"] = httpx.post(f"{url}/v1/predict", content=body, headers=form_type, timeout=60)
            done["seconds"] = time.perf_counter() - start

        sender = threading.Thread(target=post)
        sender.start()
        health = []
        while sender.is_alive():
            start = time.perf_counter()
            health.append((httpx.get(f"{url}/healthz", timeout=10).status_code, time.perf_counter() - start))
        sender.join()
    response = done["response"]
    assert response.status_code == 413 and response.json()["detail"] == (
        "The multipart form has more than 16 parts; send the file alone."
    )
    assert done["seconds"] < 10 and all(code == 200 and seconds < 1 for code, seconds in health), health


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, face_images) -> bytes:
    pytest.importorskip("av", reason="needs the [video] extra")
    from video_clips import camera, write_clip

    scene = np.hstack([face_images["adult_20-29"], face_images["elderly_70plus"]])
    path = tmp_path_factory.mktemp("clip") / "long.mp4"
    return write_clip(path, camera(scene, 30, 10, (640, 320), zoom=0.1, noise=2)).read_bytes()  # 300 frames


def test_a_video_stops_when_its_client_leaves(tmp_path, long_clip, pair_jpeg):
    pytest.importorskip("trackers", reason="needs the [video] extra")
    with serve(tmp_path, concurrency="1") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"POST /v1/predict?fps=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: video/mp4\r\n"
                         f"Content-Length: {len(long_clip)}\r\n\r\n".encode() + long_clip)  # fmt: skip
            time.sleep(2)  # the analysis has started
        left = time.monotonic()
        while httpx.get(f"{url}/readyz", timeout=5).json().get("in_flight") and time.monotonic() - left < 30:
            time.sleep(0.1)
        freed = time.monotonic() - left
        code, seconds = predict(url, pair_jpeg)
    log = (tmp_path / "server.log").read_text()
    stopped = [line for line in log.splitlines() if "video analysis stopped after" in line]
    assert stopped and freed < 5, (freed, log[-2000:])
    frames = int(stopped[0].split("after ")[1].split()[0])
    assert frames < 300 and code == 200 and seconds < NORMAL_BOUND_S


def test_a_damaged_model_at_start_is_one_sentence(tmp_path, tiny_model):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(tiny_model.read_bytes()[:200])  # its sidecar is whole, its network cut short
    sidecar = tiny_model.with_suffix(".json")
    damaged.with_suffix(".json").write_bytes(sidecar.read_bytes())
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOWOLD_")}
    command = [sys.executable, "-m", "howold.cli", "serve", "--port", str(free_port())]
    result = subprocess.run(command, env={**env, "HOWOLD_MODEL": str(damaged)}, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]  # before: a 55-line traceback
    assert "not a valid ONNX model" in result.stderr and result.stderr.count("\n") == 1, result.stderr
