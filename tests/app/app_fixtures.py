"""Fixtures of the app tests: photos as the bytes a browser uploads, and a running app server.

A module the tests import rather than a conftest.py: tests/core imports `conftest` by name,
and a second conftest.py here would shadow the top-level one.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from app_server import start_app, stop_app
from PIL import Image

from howold.io import encode_png

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def composite_jpeg(composite) -> bytes:
    """The 2x2 grid of the four fixture photos as a JPEG: four faces."""
    buffer = io.BytesIO()
    Image.fromarray(composite).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def no_face_png(no_face_image) -> bytes:
    return encode_png(no_face_image)


@pytest.fixture(scope="session")
def has_model() -> bool:
    from howold import Predictor

    return Predictor().model_info is not None


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The URL of `howold app` served for this test module; stopped afterwards."""
    process, url = start_app(tmp_path_factory.mktemp("app") / "server.log")
    yield url
    stop_app(process)
