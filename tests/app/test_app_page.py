"""The page's logic under Streamlit's AppTest: the whole page, and photos rendered one by one.

AppTest cannot drive the file uploader, so photos go straight into `render_photo(name, bytes)`,
the function the uploader path calls; the real uploader is covered by test_app_browser.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from howold.app import main as app_main
from howold.io import IMAGE_SUFFIXES, encode_png
from howold.quality import WARNING_NOTES

pytest_plugins = ["app_fixtures"]  # fixtures: composite_jpeg, no_face_png, has_model, app_url

APP_SCRIPT = app_main.__file__

TIMEOUT = 60  # the first run loads the models


def photos_script(photos):
    from howold.app import main as app

    settings = app.sidebar()
    results = [app.render_photo(name, data, settings, key=str(i)) for i, (name, data) in enumerate(photos)]
    if results:
        app.downloads(results)


def run_photos(photos: list[tuple[str, bytes]]) -> AppTest:
    at = AppTest.from_function(photos_script, args=(photos,), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_rows(at: AppTest, index: int = 0) -> list[dict]:
    return at.dataframe[index].value.to_dict("records")


def gallery_numbers(at: AppTest) -> list[str]:
    """The face numbers of the gallery's cards, in the order shown ('#3 · 34' -> '3')."""
    return [b.label.split(" ")[0].lstrip("#") for b in at.button if b.label.startswith("#")]


def test_page_has_title_note_settings_and_about(has_model):
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value == "howold"
    assert "estimates" in at.caption[0].value and "children, the elderly and poor photos" in at.caption[0].value
    assert at.sidebar.slider[0].label == "Detection threshold" and at.sidebar.slider[0].value == 0.9
    assert at.sidebar.select_slider[0].label.startswith("Maximum image side")
    assert at.sidebar.checkbox[0].label == "Show landmarks"
    assert at.get("file_uploader"), "no file uploader on the page"
    assert at.expander[0].label == "About"
    about = " ".join(md.value for md in at.expander[0].markdown)
    if has_model:
        assert "**UTKFace test set, photo to age:** mean absolute error" in about
    else:
        assert at.info[0].value.startswith("No age model is installed")
    assert at.dataframe == [] and at.error == []
    assert "Yellow box" in about and "red box" in about
    for note in WARNING_NOTES.values():
        assert note in about, f"About does not explain: {note}"


def test_camera_is_offered(has_model):
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    at.run()
    at.toggle[0].set_value(True).run()
    assert at.get("camera_input"), "the camera toggle shows no camera input"


def test_photo_with_four_faces(composite_jpeg, has_model):
    at = run_photos([("group.jpg", composite_jpeg)])
    assert at.subheader[0].value == "group.jpg"
    assert at.caption[0].value.startswith("4 faces found · 896×896 pixels")
    rows = table_rows(at)
    assert sorted(row["Face"] for row in rows) == ["1", "2", "3", "4"]
    assert gallery_numbers(at) == [row["Face"] for row in rows]  # the gallery and the table agree
    assert all(float(row["Detection score"]) >= 0.9 for row in rows)
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download annotated image (PNG)", "Download CSV", "Download JSON"]
    assert not at.warning and not at.error
    if has_model:
        for row in rows:
            low, high = (int(v) for v in row["Range"].split("–"))
            assert 0 <= low <= int(row["Age"]) <= high <= 100
    else:
        assert {row["Age"] for row in rows} == {"?"}


def test_no_face_gives_a_message(no_face_png):
    at = run_photos([("gradient.png", no_face_png)])
    assert at.warning[0].value.startswith("No face found in this photo.")
    assert "rotate it upright" in at.warning[0].value  # an upside-down photo finds no face: say what to do
    assert at.dataframe == [] and at.error == []
    assert at.get("image"), "the photo itself is still shown"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.jpg", b"this is not a photo", "notes.jpg: not an image"),
        ("empty.png", b"", "empty.png: the file is empty"),
        ("cut.jpg", None, "cut.jpg: the image data is damaged or truncated"),
    ],
)
def test_bad_file_gives_one_error_and_other_photos_still_show(name, data, message, composite_jpeg):
    data = composite_jpeg[: len(composite_jpeg) // 3] if data is None else data
    at = run_photos([(name, data), ("group.jpg", composite_jpeg)])
    assert len(at.error) == 1
    error = at.error[0].value
    assert error.startswith(message) and "Traceback" not in error and "\n" not in error
    assert [s.value for s in at.subheader] == [name, "group.jpg", "All results"]
    assert len(table_rows(at)) == 4


def test_a_given_model_shows_ages_and_its_mae(tiny_model, composite_jpeg, monkeypatch):
    monkeypatch.setenv("HOWOLD_MODEL", str(tiny_model))
    at = run_photos([("group.jpg", composite_jpeg)])
    rows = table_rows(at)
    assert len(rows) == 4
    for row in rows:
        low, high = (int(v) for v in row["Range"].split("–"))
        assert low <= int(row["Age"]) <= high
    page = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    page.run()
    about = " ".join(md.value for md in page.expander[0].markdown)
    assert "tiny 0.0.1 (tiny-test-net)" in about
    assert (
        "**UTKFace test set, face crops:** mean absolute error 9.90 years over 25 faces; "
        "the 80% range holds the true age for 80%." in about
    )
    assert "val_mae" not in about
    assert page.info == []


def test_maximum_image_side_reaches_the_detector(face_images):
    """A 96-pixel face on a 2400-pixel canvas is lost at the default 1280 and found at full size."""
    face = np.asarray(Image.fromarray(face_images["adult_40-49"]).resize((96, 96)))
    canvas = np.full((1200, 2400, 3), 200, np.uint8)
    canvas[500:596, 1100:1196] = face
    at = run_photos([("far.png", encode_png(canvas))])
    assert at.warning[0].value.startswith("No face found")
    at.sidebar.select_slider[0].set_value(0)
    at.sidebar.checkbox[0].check()  # landmarks: drawn, not detected again
    at.run()
    assert not at.exception and not at.warning
    assert len(table_rows(at)) == 1


def test_the_uploader_takes_every_format_the_cli_reads():
    assert {f".{kind}" for kind in app_main.UPLOAD_TYPES} == set(IMAGE_SUFFIXES)


@pytest.mark.parametrize("kind", ["BMP", "TIFF", "GIF", "WEBP"])
def test_bmp_tiff_gif_and_webp_photos_show_their_faces(composite, kind):
    buffer = io.BytesIO()
    Image.fromarray(composite).save(buffer, format=kind)
    at = run_photos([(f"group.{kind.lower()}", buffer.getvalue())])
    assert not at.error and len(table_rows(at)) == 4


def test_the_same_photo_twice_is_shown_once(composite_jpeg, no_face_png):
    photos = [("a.jpg", composite_jpeg), ("b.png", no_face_png), ("a copy.jpg", composite_jpeg)]
    unique, repeated = app_main.unique_photos(photos)
    assert [name for name, _ in unique] == ["a.jpg", "b.png"]
    assert repeated == [("a copy.jpg", "a.jpg")]


def test_gallery_and_table_sort_by_position_or_age(tiny_model, composite_jpeg, monkeypatch):
    monkeypatch.setenv("HOWOLD_MODEL", str(tiny_model))
    at = run_photos([("group.jpg", composite_jpeg)])
    by_position = [row["Face"] for row in table_rows(at)]
    assert gallery_numbers(at) == by_position
    at.button_group[0].set_value("age").run()
    rows = table_rows(at)
    assert [int(row["Age"]) for row in rows] == sorted(int(row["Age"]) for row in rows)
    assert gallery_numbers(at) == [row["Face"] for row in rows] and sorted(by_position) == sorted(gallery_numbers(at))


def test_choosing_a_face_highlights_it_and_selects_its_row(composite_jpeg):
    at = run_photos([("group.jpg", composite_jpeg)])
    photo = at.get("image")[0].proto.imgs[0]
    assert photo.caption.startswith("Choose a face below")
    second = at.button[1]
    number = second.label.split(" ")[0]
    second.click().run()
    chosen = at.get("image")[0].proto.imgs[0]
    assert chosen.caption.startswith(f"Face {number}:") and chosen.caption.endswith("highlighted.")
    assert chosen.url != photo.url  # the photo is drawn again, with that face in blue
    assert at.button[1].proto.type == "primary"
    table = json.loads(at.dataframe[0].proto.selection_default)
    assert table["selection"]["rows"] == [1]  # the same face's row is selected in the table
    at.button[1].click().run()  # choosing it again clears the highlight
    assert at.get("image")[0].proto.imgs[0].caption.startswith("Choose a face below")


def test_warnings_are_explained_in_plain_sentences(tiny_model, composite_jpeg, monkeypatch):
    monkeypatch.setenv("HOWOLD_MODEL", str(tiny_model))  # its ranges are wide: every face is low_confidence
    at = run_photos([("group.jpg", composite_jpeg)])
    assert {row["Warnings"].split(", ")[-1] for row in table_rows(at)} == {"low confidence"}
    text = " ".join(md.value for md in at.markdown)
    assert WARNING_NOTES["low_confidence"] in text and "Yellow box" in text


def test_a_greyscale_photo_is_named_once_not_on_every_face(composite, has_model):
    grey = np.repeat(composite.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    at = run_photos([("grey.png", encode_png(grey))])
    assert at.caption[0].value.endswith("· the photo: greyscale (every face)")
    rows = table_rows(at)
    assert len(rows) == 4 and not any("greyscale" in row["Warnings"] for row in rows)
    gallery_text = " ".join(md.value for md in at.markdown)
    assert "greyscale" not in gallery_text.replace(f"**greyscale:** {WARNING_NOTES['greyscale']}", "")
    assert WARNING_NOTES["greyscale"] in gallery_text  # its sentence, once
    result = app_main.analyse(encode_png(grey), "grey.png", app_main.DetectOptions(), None)
    assert app_main.results_csv([result]).count("greyscale") == 4  # programs still get it on each face


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"val_mae_torch": 4.63, "utkface_val": {"overall": {"n": 9, "mae": 4.6}}}, []),  # no test figure
        (
            {"utkface_test_end_to_end": {"overall": {"n": 2325, "mae": 4.753, "coverage": 0.7927}}},
            [
                "**UTKFace test set, photo to age:** mean absolute error 4.75 years over 2325 faces; "
                "the 80% range holds the true age for 79%."
            ],
        ),
        (
            {"fgnet_all": {"overall": {"n": 1001, "mae": 6.128}}},
            ["**FG-NET, face crops:** mean absolute error 6.13 years over 1001 faces."],
        ),
        (
            {"fairface_all": {"bins": {"n": 540, "bin_hit_rate": 0.4204}}},
            ["**FairFace, face crops:** the rounded age falls in the labelled age bin for 42% of 540 faces."],
        ),
        ({"utkface_test": {"overall": {"n": 0}}, "calibration": {"n": 9}, "flip_choice": {}}, []),
    ],
)
def test_the_about_box_reports_test_figures_only(metrics, expected):
    assert app_main.measured_figures(metrics) == expected


def test_the_age_check_adds_its_columns_and_its_warning(composite_jpeg, has_model):
    if not has_model:
        pytest.skip("needs the shipped age model")
    at = run_photos([("group.jpg", composite_jpeg)])
    assert "P(≥18)" not in table_rows(at)[0]
    at.sidebar.checkbox(key="age-check").check().run()
    assert at.sidebar.number_input(key="age-check-over").value == 18
    at.sidebar.number_input(key="age-check-challenge").set_value(25).run()
    assert not at.exception and not at.error
    rows = table_rows(at)
    by_age = sorted(rows, key=lambda row: int(row["Age"]))
    assert by_age[0]["Age check"] == "check ID" and float(by_age[0]["P(≥18)"]) < 0.5  # the child of 3-9
    assert by_age[-1]["Age check"] == "over 18" and float(by_age[-1]["P(≥18)"]) > 0.9  # the person of 70+
    assert any("not proof of age" in caption.value for caption in at.caption)


def test_labels_are_sized_for_the_column_or_for_a_phone():
    assert app_main.label_side(2000, 1333) == 820  # fills the laptop's column, 820 px wide
    assert app_main.label_side(820, 600) == 820
    assert app_main.label_side(448, 448) == 358  # shown at its size on a laptop, 358 px wide on a phone
    assert app_main.label_side(300, 400) == 400  # narrower than a phone: shown at its own size


FAIRFACE_0001 = Path(__file__).resolve().parents[3] / "shared" / "data" / "fairface" / "images" / "fairface_0001.jpg"


@pytest.mark.data
@pytest.mark.skipif(not FAIRFACE_0001.is_file(), reason="needs ../shared/data/fairface")
def test_a_small_photos_labels_read_at_11_px_on_a_phone():
    """fairface_0001 (448 px, three faces): the small face #3's label had 12 px type, 9.6 px on a
    phone (7 px digits); now every label has at least 14 px type, 11 px on the phone, or its number only."""
    from howold import Predictor
    from howold.draw import place_labels

    result = Predictor().prepare().analyse(FAIRFACE_0001)
    size = (result.width, result.height)
    texts = [f"#{n} · {face.label}".replace("–", "-") for n, face in enumerate(result.faces, start=1)]
    side = app_main.label_side(*size)
    labels = place_labels(size, [face.box for face in result.faces], texts, display_side=side)
    assert len(labels) == 3 and all(label.box is not None for label in labels)
    assert min(label.size for label in labels) * app_main.PHONE_WIDTH_PX / 448 >= 11
