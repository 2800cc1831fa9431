"""The page's video upload in a real browser (Debian's Chromium driven by Playwright): a clip built
from the fixture photos goes in through the page's own file input; the per-person table comes back."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

import pytest
from app_fixtures import CHROMIUM, TIMEOUT_MS
from test_app_browser import download, face_rows

pytest.importorskip("av", reason="needs the [video] extra")
pytest.importorskip("trackers", reason="needs the [video] extra")
pytest_plugins = ["app_fixtures"]  # fixtures: has_model, app_url, browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from video_clips import camera, side_by_side, write_clip  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason="Chromium is not installed at /usr/bin/chromium"),
]


def test_video_upload_gives_one_row_per_person(browser, app_url, face_images, has_model, tmp_path):
    scene = side_by_side([face_images["adult_20-29"], face_images["elderly_70plus"]], margin=100)
    clip = write_clip(tmp_path / "pair.mp4", camera(scene, 1.5, 10, (640, 360), zoom=0.05, noise=2))
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_role("heading", name="Video").wait_for()
    uploaders = page.locator('[data-testid="stFileUploader"]')
    uploaders.nth(1).locator('input[type="file"]').set_input_files(clip)

    try:
        page.get_by_text("2 persons found").wait_for(timeout=60_000)
    except Exception:
        print(page.inner_text("body"))
        raise
    rows = face_rows(page)
    assert [row["Person"] for row in rows] == ["1", "2"] and {row["Frames"] for row in rows} == {"8"}
    if has_model:
        ages = sorted(int(row["Age"]) for row in rows)
        assert ages[0] < 45 and ages[1] > 55, ages
        for row in rows:
            low, high = (int(v) for v in re.split("[–-]", row["Range"]))
            assert low <= int(row["Age"]) <= high
    assert page.locator('[data-testid="stVideo"]').count() == 1
    mp4 = download(page, "Download annotated video (MP4)")
    assert mp4[4:8] == b"ftyp" and len(mp4) > 10_000
    persons = json.loads(download(page, "Download JSON"))["results"][0]["persons"]  # the clip's results as files too
    assert [p["person"] for p in persons] == [1, 2] and {p["frames"] for p in persons} == {8}
    csv_rows = list(csv.DictReader(io.StringIO(download(page, "Download CSV").decode("utf-8"))))
    assert len(csv_rows) == 2 and {row["source"] for row in csv_rows} == {"pair.mp4"}
    page.get_by_text(re.compile("live camera|Live camera")).first.wait_for()
    page.close()
