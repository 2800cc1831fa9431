"""End to end in a real browser: Debian's Chromium, driven by Playwright, uploads through the
page's own file input to `howold app` and reads the faces and ages back from the page.

Set HOWOLD_SCREENSHOT=docs/screenshot.png to also save the README's screenshots: the group photo
at laptop width there, and at phone width (390 px) next to it as screenshot_phone.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from app_fixtures import CHROMIUM, TIMEOUT_MS

pytest_plugins = ["app_fixtures"]  # fixtures: composite_jpeg, no_face_png, has_model, app_url, browser

GROUP_PHOTO = Path(__file__).resolve().parents[3] / "shared" / "data" / "group-photos" / "Solvay_conference_1927.jpg"
LAPTOP = {"width": 1280, "height": 1000}

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)"
)


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.get_by_role("heading", name="howold").wait_for()
    yield page
    page.close()


def face_table(page):
    """The face table's grid (Streamlit's data frame keeps an accessible copy of its visible rows)."""
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]').first
    grid.wait_for(state="attached")
    return grid


def face_rows(page) -> list[dict[str, str]]:
    """The table's rows that the browser has drawn (the first ten or so), as {column: text}."""
    table = face_table(page)
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, (c.strip() for c in row.locator("td").all_inner_texts()), strict=True))
        for row in table.locator("tbody tr").all()
    ]


def gallery_numbers(page) -> list[str]:
    """The face numbers on the gallery's cards, in the order shown ('#3 · 34' -> '3')."""
    buttons = page.get_by_role("button", name=re.compile(r"^#\d+ · "))
    return [text.strip().split(" ")[0].lstrip("#") for text in buttons.all_inner_texts()]


def photo_caption(page) -> str:
    return page.locator('[data-testid="stImage"]').first.locator('[data-testid="stImageCaption"]').inner_text()


def download(page, label: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=label).click()
    return Path(info.value.path()).read_bytes()


def photo_uploader(page):
    """The photos' uploader (the page also has one for a video clip below it)."""
    return page.locator('[data-testid="stFileUploader"]').filter(has=page.get_by_role("region", name="Photos"))


def test_upload_shows_every_face_with_its_age(page, composite_jpeg, has_model, tmp_path):
    photo = tmp_path / "group.jpg"
    photo.write_bytes(composite_jpeg)
    uploader = photo_uploader(page)
    uploader.get_by_text("25MB per file").wait_for()  # the app's own upload limit is in force
    # the button as docs/app.md names it (its inner text starts with the icon's ligature name)
    labels = [text.split()[-1] for text in uploader.get_by_role("button").all_inner_texts() if text.strip()]
    assert labels == ["Upload"], labels
    uploader.locator('input[type="file"]').set_input_files(photo)

    page.get_by_text("4 faces found").wait_for()
    page.locator('[data-testid="stDownloadButton"]').first.wait_for()  # the photo's last element
    face_table(page)
    rows = face_rows(page)
    assert sorted(row["Face"] for row in rows) == ["1", "2", "3", "4"]
    assert gallery_numbers(page) == [row["Face"] for row in rows]
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

    # A bad file next to the good one: one sentence of error, the good photo still shown.
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    uploader.locator('input[type="file"]').set_input_files([photo, bad])
    alert = page.locator('[data-testid="stAlertContentError"]').first
    alert.wait_for()
    assert alert.inner_text().strip().startswith("notes.jpg: not an image")
    assert "Traceback" not in page.content()
    assert len(face_rows(page)) == 4


@pytest.mark.data
@pytest.mark.skipif(not GROUP_PHOTO.is_file(), reason="needs ../shared/data/group-photos")
def test_group_photo_shows_every_face_and_highlights_the_chosen_one(page, has_model, tmp_path):
    photo_uploader(page).locator('input[type="file"]').set_input_files(GROUP_PHOTO)
    page.get_by_text("29 faces found").wait_for(timeout=60_000)
    page.locator('[data-testid="stDownloadButton"]').first.wait_for()  # the photo's last element
    numbers = gallery_numbers(page)
    assert sorted(numbers, key=int) == [str(n) for n in range(1, 30)]  # every face once in the gallery
    table = face_table(page)
    assert table.get_attribute("aria-rowcount") == "30"  # a header and 29 faces
    rows = face_rows(page)
    assert [row["Face"] for row in rows] == numbers[: len(rows)]  # the same order as the gallery
    assert photo_caption(page).startswith("Choose a face below")
    assert page.locator('[data-testid="stDataFrame"]').first.bounding_box()["height"] >= 35 * 30  # no inner scroll
    page.get_by_text("the photo: greyscale (every face)").wait_for()  # said once for the photo
    assert not any("greyscale" in row["Warnings"] for row in rows)
    # every face's age beside it: no legend strip under the photo for faces given only their number
    width, height = page.locator('[data-testid="stImage"] img').first.evaluate(
        "img => [img.naturalWidth, img.naturalHeight]"
    )  # Streamlit may serve it smaller: its shape is the photo's, 2000x1333
    assert abs(height * 2000 / width - 1333) < 3, (width, height)

    card = page.get_by_role("button", name=re.compile(rf"^#{numbers[4]} · "))
    card.click()  # a gallery card
    page.get_by_text(f"Face #{numbers[4]}:").wait_for()
    assert photo_caption(page).endswith("highlighted.")
    expect = pytest.importorskip("playwright.sync_api").expect
    chosen = page.locator('[data-testid="stBaseButton-primary"]')
    expect(chosen).to_have_count(1)
    expect(chosen).to_contain_text(f"#{numbers[4]} · ")  # its card is marked
    row = face_table(page).locator('tbody tr[aria-selected="true"]')
    row.wait_for(state="attached")
    assert row.locator("td").first.inner_text().strip() == numbers[4]  # its table row is selected too

    frame = page.locator('[data-testid="stDataFrame"]').first
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * 2.5)  # the table's second row (its rows are 35 px)
    page.get_by_text(f"Face #{numbers[1]}:").wait_for()
    expect(chosen).to_have_count(1)
    expect(chosen).to_contain_text(f"#{numbers[1]} · ")
    if has_model:
        page.locator("text=low confidence >> visible=true").first.wait_for()  # the warning's name, in words
    page.wait_for_timeout(500)
    if os.environ.get("HOWOLD_SCREENSHOT"):
        save_screenshots(page, Path(os.environ["HOWOLD_SCREENSHOT"]))
    page.screenshot(path=tmp_path / "group.png")


def save_screenshots(page, laptop: Path) -> None:
    """The photo with its first gallery rows at laptop width, and at phone width next to it."""
    for viewport, path, height in ((LAPTOP, laptop, 1160), (PHONE, laptop.with_name(f"{laptop.stem}_phone.png"), 1500)):
        page.set_viewport_size({**viewport, "height": height})
        page.wait_for_timeout(1000)
        # the camera switch just above the photo's heading goes under the page's top bar
        page.get_by_test_id("stCheckbox").filter(has_text="Use the camera").first.evaluate(
            "e => e.scrollIntoView({block: 'start'})"
        )
        page.wait_for_timeout(800)
        page.screenshot(path=path)
    page.set_viewport_size(LAPTOP)
