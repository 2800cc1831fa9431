"""The annotator draws on a copy, never on the photo the models see, and its labels never hide a face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from howold.draw import (
    Label,
    annotate,
    candidates,
    face_thumbnail,
    font_sizes,
    inside,
    label_size,
    min_text_size,
    overlaps,
    place_labels,
)
from howold.pipeline import Face

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
GROUP_PHOTO = SHARED_DATA / "group-photos" / "Solvay_conference_1927.jpg"
# FairFace photos with 3 to 5 faces (every such photo of FairFace-540), and small FG-NET photos
# (300-400 px, where the old labels ran off the top); the geometry is checked on their detections.
FAIRFACE_CROWDED = [
    1, 29, 46, 147, 150, 162, 167, 168, 177, 228, 232, 236, 238, 260, 275, 283, 325,
    348, 350, 360, 361, 385, 392, 397, 398, 414, 433, 450, 452, 459, 480, 511, 530,
]  # fmt: skip
FGNET_SMALL = ["007A45", "009A22a", "012A12", "011A42", "011A11", "001A02", "024A30", "006A40"]
FGNET_SPREAD = ["004A40", "012A25", "020A30", "029A13", "037A08", "045A25", "053A15", "063A04", "072A14", "078A14"]


def _face(box, **kwargs) -> Face:
    return Face(box=box, score=0.99, landmarks=((box[0] + 5, box[1] + 5),) * 5, **kwargs)


def _texts(count: int) -> list[str]:
    return [f"#{n} · 34 (29-39)" for n in range(1, count + 1)]


def assert_clear(size, boxes, labels: tuple[Label, ...]) -> None:
    """Every placed label inside the image, clear of every other face's box and of every other label."""
    assert len(labels) == len(boxes)
    for label in labels:
        if label.box is None:
            continue
        assert inside(label.box, *size), f"label {label} leaves the {size} image"
        for j, box in enumerate(boxes):
            assert j == label.face or not overlaps(label.box, box), f"label {label} covers face {j}"
        for other in labels:
            assert other is label or other.box is None or not overlaps(label.box, other.box), f"{label} on {other}"


def test_annotate_draws_on_a_copy():
    image = np.full((300, 400, 3), 90, np.uint8)
    before = image.copy()
    out = annotate(image, [_face((100, 120, 200, 250), age=34.2, age_low=29, age_high=39.4)], landmarks=True)
    assert np.array_equal(image, before)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out[120:250, 100:200], image[120:250, 100:200])  # the box edge
    assert np.array_equal(out[200:240, 130:170], image[200:240, 130:170])  # inside the face: untouched


def test_labels_scale_with_the_photo():
    small = annotate(np.zeros((200, 200, 3), np.uint8), [_face((50, 80, 100, 140), age=5, age_low=3, age_high=8)])
    big = annotate(np.zeros((4000, 6000, 3), np.uint8), [_face((1000, 1600, 2000, 2800), age=5, age_low=3, age_high=8)])
    label_rows_small = (small[:80, 50:] > 0).any(axis=2).any(axis=1).sum()
    label_rows_big = (big[:1600, 1000:] > 0).any(axis=2).any(axis=1).sum()
    assert 10 <= label_rows_small < 60 and label_rows_big > 100


def test_no_faces_leaves_the_image_as_it_is():
    image = np.full((50, 60, 3), 7, np.uint8)
    assert np.array_equal(annotate(image, []), image)


@pytest.mark.parametrize(
    ("image_size", "display_side", "smallest"),
    [((448, 448), 1280, 11), ((2000, 1333), 1280, 17), ((6000, 4000), 1280, 52), ((2000, 1333), 640, 34)],
)
def test_the_smallest_type_reads_as_11_screen_pixels(image_size, display_side, smallest):
    assert min_text_size(image_size, display_side) == smallest
    sizes = font_sizes((0, 0, 900, 900), image_size, display_side)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == smallest and len(set(sizes)) == len(sizes)


def test_type_follows_the_face():
    assert font_sizes((0, 0, 40, 40), (448, 448))[0] == 11  # small face: the readable minimum
    assert font_sizes((0, 0, 150, 150), (448, 448))[0] == 30  # a fifth of the face
    assert font_sizes((0, 0, 400, 400), (448, 448))[0] == 33  # at most 3x the minimum


def test_candidates_lie_inside_the_image_best_first():
    spots = candidates((-20, -10, 60, 90), (70, 16), (100, 100))  # a face cut by the top-left corner
    assert spots and all(inside(spot, 100, 100) for spot in spots)
    assert spots[0] == (0, 0, 70, 16)  # "above" pushed down into the image
    assert candidates((0, 0, 10, 10), (120, 16), (100, 100)) == []  # wider than the image


def test_a_label_next_to_a_neighbour_moves_off_its_face():
    boxes = [(100, 40, 150, 100), (40, 20, 95, 80)]  # the neighbour sits where the first label would go
    labels = place_labels((300, 200), boxes, _texts(2))
    assert_clear((300, 200), boxes, labels)
    assert all(label.box is not None and not label.in_legend for label in labels)


def test_a_crowd_gets_numbers_and_a_legend_never_overlaps():
    """Forty 24-pixel faces 28 pixels apart: no room for '#n · 34 (29-39)', so numbers, then the legend."""
    boxes = [(8 + 28 * col, 8 + 28 * row, 32 + 28 * col, 32 + 28 * row) for row in range(5) for col in range(8)]
    labels = place_labels((240, 150), boxes, _texts(len(boxes)))
    assert_clear((240, 150), boxes, labels)
    assert any(label.in_legend for label in labels)
    assert all(label.text == f"#{label.face + 1}" for label in labels if label.in_legend)


def test_a_face_hemmed_in_by_its_neighbours_is_served_first():
    """Served in order, #1 and #2 take the spots #3 needs and #3 gets its number only;
    the tightest-first layout gives all three their full label."""
    size, boxes = (220, 60), [(160, 10, 190, 40), (70, 20, 100, 50), (0, 10, 30, 40)]
    labels = place_labels(size, boxes, _texts(3), measure=lambda text, font_size: (6 * len(text), 12))
    assert_clear(size, boxes, labels)
    assert [label.text for label in labels] == _texts(3) and not any(label.in_legend for label in labels)


def test_no_room_at_all_leaves_the_label_to_the_legend():
    labels = place_labels((14, 10), [(0, 0, 14, 10)], ["#1 · 34 (29-39)"])  # shorter than the type
    assert labels == (Label(0, "#1", None, 11, in_legend=True),)


def test_the_legend_lists_the_ages_under_the_photo():
    boxes = [(8 + 28 * col, 8 + 28 * row, 32 + 28 * col, 32 + 28 * row) for row in range(5) for col in range(8)]
    faces = [_face(box, age=34, age_low=29, age_high=39) for box in boxes]
    image = np.full((150, 240, 3), 90, np.uint8)
    out = annotate(image, faces)
    assert out.shape[1] == 240 and out.shape[0] > 150  # the legend strip
    assert (out[150:] == 255).mean() > 0.5  # white, with dark text
    assert (out[150:] < 100).any()


def test_highlight_dims_the_rest_and_keeps_the_face():
    image = np.full((200, 300, 3), 200, np.uint8)
    faces = [
        _face((20, 60, 80, 140), age=30, age_low=25, age_high=35),
        _face((180, 60, 240, 140), age=50, age_low=40, age_high=60),
    ]
    out = annotate(image, faces, highlight=1)
    assert out.shape == image.shape
    assert (out[100, 200] == 200).all()  # inside the chosen face: untouched
    assert (out[190, 150] == 100).all()  # elsewhere: half as bright
    assert tuple(out[100, 181]) == (0, 170, 255)  # its box line in blue


def test_face_thumbnail_is_a_square_around_the_face():
    image = np.zeros((300, 300, 3), np.uint8)
    image[100:200, 100:200] = 255
    thumb = face_thumbnail(image, (100, 100, 200, 200), side=80)
    assert thumb.shape == (80, 80, 3)
    assert thumb[40, 40].min() == 255 and thumb[2, 2].max() == 0  # the face in the middle, margin around it


def test_label_size_grows_with_the_font():
    assert label_size("#1 · 34 (29-39)", 11)[0] < label_size("#1 · 34 (29-39)", 22)[0]


def _real_photos() -> list[Path]:
    photos = [GROUP_PHOTO]
    photos += [SHARED_DATA / "fairface" / "images" / f"fairface_{n:04d}.jpg" for n in FAIRFACE_CROWDED]
    photos += [SHARED_DATA / "fgnet" / "images" / f"{name}.JPG" for name in FGNET_SMALL + FGNET_SPREAD]
    return photos


@pytest.mark.data
@pytest.mark.skipif(not GROUP_PHOTO.is_file(), reason="needs ../shared/data (group photo, FairFace, FG-NET)")
def test_labels_on_real_photos_stay_inside_and_hide_no_face():
    from howold import Predictor

    predictor = Predictor().prepare()
    counts = {"faces": 0, "numbers only": 0}
    for path in _real_photos():
        result = predictor.analyse(path)
        assert result.ok, result.error
        size = (result.width, result.height)
        boxes = [face.box for face in result.faces]
        texts = [f"#{n} · {face.label}".replace("–", "-") for n, face in enumerate(result.faces, start=1)]
        labels = place_labels(size, boxes, texts)
        assert_clear(size, boxes, labels)
        assert all(label.box is not None for label in labels), f"{path.name}: a face without a label"
        counts["faces"] += len(labels)
        counts["numbers only"] += sum(label.in_legend for label in labels)
        if path == GROUP_PHOTO:
            assert len(labels) == 29
    assert counts["faces"] >= 29 + 33 * 3 + 18 and counts["numbers only"] <= counts["faces"] // 20, counts


@pytest.mark.data
@pytest.mark.skipif(not GROUP_PHOTO.is_file(), reason="needs ../shared/data (the group photo)")
def test_every_face_of_the_group_photo_gets_its_full_label_on_the_page():
    """The page shows the 2000 px group photo 820 px wide (type 27 px in the photo): every one of
    its 29 faces gets '#n · age (range)' beside it, none only its number (4 did, issue 29)."""
    from howold import Predictor

    result = Predictor().prepare().analyse(GROUP_PHOTO)
    size = (result.width, result.height)
    boxes = [face.box for face in result.faces]
    texts = [f"#{n} · {face.label}".replace("–", "-") for n, face in enumerate(result.faces, start=1)]
    labels = place_labels(size, boxes, texts, display_side=820)
    assert len(labels) == 29
    assert_clear(size, boxes, labels)
    assert [label.text for label in labels] == texts, [label.text for label in labels if label.in_legend]
