"""The page's live camera in a real browser: Debian's Chromium with its fake camera, which plays a
Y4M clip built from a fixture photo, sends the picture over WebRTC to the page's server on
localhost (no STUN server, no internet), and the picture that comes back has the person boxed and
labelled with their settling age."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from app_fixtures import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

from howold.draw import BOX_COLOUR

pytest.importorskip("av", reason="needs the [video] extra")
pytest.importorskip("trackers", reason="needs the [video] extra")
pytest.importorskip("streamlit_webrtc", reason="needs the [webcam] extra")
pytest_plugins = ["app_fixtures"]  # fixtures: has_model, app_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="Chromium is not installed at /usr/bin/chromium"),
]

# Rows of the returned picture with at least this many pixels of the box colour: a filled label
# ('#1 · 27 (23-31)') spans dozens of such rows, a bare box outline only its top and bottom edges.
LABEL_PIXELS_PER_ROW = 60
LABEL_ROWS = 20
COUNT_LABEL_ROWS = """(video, [r, g, b, least]) => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    if (!canvas.width) return 0;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let rows = 0;
    for (let y = 0; y < canvas.height; y++) {
        let count = 0;
        for (let x = 0; x < canvas.width; x++) {
            const i = (y * canvas.width + x) * 4;
            if (Math.abs(data[i] - r) < 45 && Math.abs(data[i + 1] - g) < 45 && Math.abs(data[i + 2] - b) < 70) count++;
        }
        if (count >= least) rows++;
    }
    return rows;
}"""


def write_y4m(path: Path, image: np.ndarray, frames: int = 20, fps: int = 10) -> Path:
    """A raw YUV 4:2:0 clip (what Chromium's fake camera reads) of `frames` copies of an RGB image."""
    height, width = image.shape[:2]
    picture = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + picture)
    return path


@pytest.fixture(scope="module")
def camera_view(face_images) -> np.ndarray:
    """What the fake camera sees: the young man's photo, 400 px tall, on grey (640x480)."""
    face = face_images["adult_20-29"]
    face = cv2.resize(face, (face.shape[1] * 400 // face.shape[0], 400), interpolation=cv2.INTER_AREA)
    view = np.full((480, 640, 3), 90, np.uint8)
    left = (640 - face.shape[1]) // 2
    view[40:440, left : left + face.shape[1]] = face
    return view


@pytest.fixture(scope="module")
def camera_browser(camera_view, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", camera_view)
    fake_camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + fake_camera
        )
        yield browser
        browser.close()


def label_rows(image: np.ndarray) -> int:
    """The same count as COUNT_LABEL_ROWS, for a picture here."""
    near = (np.abs(image.astype(int) - BOX_COLOUR) < (45, 45, 70)).all(axis=2)
    return int((near.sum(axis=1) >= LABEL_PIXELS_PER_ROW).sum())


def test_live_camera_boxes_and_labels_the_person(camera_browser, camera_view, app_url, tmp_path):
    assert label_rows(camera_view) == 0  # the box colour is nowhere in what the camera sees
    context = camera_browser.new_context(viewport={"width": 1280, "height": 1400})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_role("heading", name="Live camera").wait_for()
    page.get_by_text("Use the live camera").click()
    page.get_by_text("their age settles as frames add up").wait_for(timeout=60_000)
    component = page.frame_locator('iframe[src*="webrtc_streamer"]')
    component.get_by_role("button", name="START").click()
    component.get_by_role("button", name="STOP").wait_for(timeout=60_000)  # WebRTC connected
    video = component.locator("video").first
    video.wait_for(state="attached")
    rows, deadline = 0, time.monotonic() + 60
    while rows < LABEL_ROWS and time.monotonic() < deadline:
        rows = video.evaluate(COUNT_LABEL_ROWS, [*BOX_COLOUR, LABEL_PIXELS_PER_ROW])
        time.sleep(0.5)
    if rows < LABEL_ROWS:
        page.screenshot(path=str(tmp_path / "webcam.png"), full_page=True)
    assert rows >= LABEL_ROWS, f"the returned picture shows no labelled box ({rows} label rows; see {tmp_path})"
    component.get_by_role("button", name="STOP").click()
    component.get_by_role("button", name="START").wait_for()
    context.close()
