"""The annotator draws on a copy, never on the photo the models see."""

from __future__ import annotations

import numpy as np

from howold.annotate import annotate
from howold.pipeline import Face


def _face(box, **kwargs) -> Face:
    return Face(box=box, score=0.99, landmarks=((box[0] + 5, box[1] + 5),) * 5, **kwargs)


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
