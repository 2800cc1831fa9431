"""API fixtures: encoded photos, an in-process TestClient and a real `howold serve` process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_helpers import API_KEY, encode, two_faces
from serve_process import free_port, howold_serve


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
    with howold_serve(env, log, port) as url:
        yield Server(url, port, log)
