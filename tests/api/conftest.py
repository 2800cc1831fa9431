"""API fixtures: encoded photos, an in-process TestClient and a real `howold serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import API_KEY, encode, two_faces


@pytest.fixture(scope="session")
def two_faces_jpeg(face_images) -> bytes:
    return encode(two_faces(face_images))


@pytest.fixture(scope="session")
def no_face_png(no_face_image) -> bytes:
    return encode(no_face_image, "PNG")


@pytest.fixture(scope="session")
def client():
    """The app in process with its default settings, lifespan run (models loaded)."""
    from fastapi.testclient import TestClient

    from howold.api.app import create_app
    from howold.api.settings import Settings

    with TestClient(create_app(Settings(api_key=None))) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    log: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real `howold serve` on a free loopback port, with an API key and 2 requests in flight."""
    import httpx

    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **os.environ,
        "HOWOLD_API_KEY": API_KEY,
        "HOWOLD_MAX_IN_FLIGHT": "2",
        "HOWOLD_CONCURRENCY": "1",
    }
    for name in ("HOWOLD_MODEL", "HOWOLD_MAX_UPLOAD_MB", "HOWOLD_MIN_SCORE", "HOWOLD_MAX_SIDE"):
        env.pop(name, None)
    log = folder / "server.log"
    command = [sys.executable, "-m", "howold.cli", "serve", "--port", str(port), "--log-level", "warning"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"howold serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"howold serve did not become ready in 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Server(url, port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
