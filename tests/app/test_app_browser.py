"""End to end in a real browser: Debian's Chromium, driven by Playwright, uploads through the
page's own file input to `howold app` and reads the faces and ages back from the page.

Set HOWOLD_SCREENSHOT=docs/screenshot.png to also save the README's screenshot.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["app_fixtures"]  # fixtures: composite_jpeg, no_face_png, has_model, app_url


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_role("heading", name="howold").wait_for()
    yield page
    page.close()


def face_rows(page) -> list[dict[str, str]]:
    table = page.locator('[data-testid="stTable"] table').first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, (c.strip() for c in row.locator("td").all_inner_texts()), strict=True))
        for row in table.locator("tbody tr").all()
    ]


def download(page, label: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=label).click()
    return Path(info.value.path()).read_bytes()


def test_upload_shows_every_face_with_its_age(page, composite_jpeg, has_model, tmp_path):
    photo = tmp_path / "group.jpg"
    photo.write_bytes(composite_jpeg)
    uploader = page.locator('[data-testid="stFileUploader"]')
    uploader.get_by_text("25MB per file").wait_for()  # the app's own upload limit is in force
    uploader.locator('input[type="file"]').set_input_files(photo)

    page.get_by_text("4 faces found").wait_for()
    page.locator('[data-testid="stTable"]').wait_for()
    rows = face_rows(page)
    assert [row["Face"] for row in rows] == ["1", "2", "3", "4"]
    assert all(float(row["Detection score"]) >= 0.9 for row in rows)
    if has_model:
        ages = sorted(int(row["Age"]) for row in rows)
        assert 1 <= ages[0] <= 20 and ages[-1] >= 45, f"implausible ages for a child, two adults and an elder: {ages}"
        for row in rows:
            low, high = (int(v) for v in re.split("[–-]", row["Range"]))
            assert low <= int(row["Age"]) <= high
    else:
        assert {row["Age"] for row in rows} == {"?"}
        page.get_by_test_id("stAlertContentInfo").get_by_text("No age model is installed").wait_for()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    assert image.evaluate("img => img.complete && img.naturalWidth") > 0
    png = download(page, "Download annotated image (PNG)")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    csv_rows = download(page, "Download CSV").decode().splitlines()
    assert csv_rows[0].startswith("source,status,face,age") and len(csv_rows) == 5
    assert json.loads(download(page, "Download JSON"))["results"][0]["source"] == "group.jpg"

    page.wait_for_timeout(300)  # let the image settle before the picture
    page.screenshot(path=tmp_path / "app.png")
    if os.environ.get("HOWOLD_SCREENSHOT"):  # tall enough for the whole photo and its table
        page.set_viewport_size({"width": 1280, "height": 1400})
        page.wait_for_timeout(500)
        page.screenshot(path=os.environ["HOWOLD_SCREENSHOT"])
        page.set_viewport_size({"width": 1280, "height": 1000})

    # A bad file next to the good one: one sentence of error, the good photo still shown.
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    uploader.locator('input[type="file"]').set_input_files([photo, bad])
    alert = page.locator('[data-testid="stAlertContentError"]').first
    alert.wait_for()
    assert alert.inner_text().strip().startswith("notes.jpg: not an image")
    assert "Traceback" not in page.content()
    assert len(face_rows(page)) == 4
