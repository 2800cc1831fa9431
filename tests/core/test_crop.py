"""The shared crop: deterministic, eye-levelled, the same face whatever the photo's rotation or size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from howold.crop import DEFAULT_CROP_SIZE, crop_face, crop_matrix, reframed_landmarks


def _crop(detector, image, size=DEFAULT_CROP_SIZE):
    (face,) = detector.detect(image)
    return crop_face(image, face.landmarks, size)


def _diff(a, b) -> float:
    """Mean absolute difference after a light blur, so a pixel or two of landmark jitter is forgiven."""
    a, b = (cv2.GaussianBlur(x, (0, 0), 2).astype(int) for x in (a, b))
    return float(np.abs(a - b).mean())


def test_crop_shape_and_determinism(detector, face_images):
    image = face_images["adult_40-49"]
    first, second = _crop(detector, image), _crop(detector, image)
    assert first.shape == (DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)


@pytest.mark.parametrize("angle", [-25, 15, 30])
def test_rotated_face_gives_the_same_eye_level_crop(detector, face_images, angle):
    image = face_images["elderly_70plus"]
    upright = _crop(detector, image)
    rotation = cv2.getRotationMatrix2D((224, 224), angle, 1.0)
    rotated = cv2.warpAffine(image, rotation, (448, 448), borderMode=cv2.BORDER_REFLECT)
    turned = _crop(detector, rotated)
    other_person = _crop(detector, face_images["child_3-9"])
    assert _diff(turned, upright) < 20  # other people's crops differ by 38 to 83
    assert _diff(turned, upright) < _diff(other_person, upright) / 2


def test_crop_of_a_bigger_copy_matches(detector, face_images):
    image = face_images["adult_20-29"]
    small = _crop(detector, image)
    big = _crop(detector, cv2.resize(image, (2240, 2240), interpolation=cv2.INTER_CUBIC))
    assert _diff(small, big) < 20


def test_crop_levels_the_eyes():
    landmarks = np.array([[40, 60], [80, 100], [55, 95], [40, 120], [70, 140]], np.float32)
    matrix = crop_matrix(landmarks, 128)
    eyes = np.c_[landmarks[:2], np.ones(2)] @ matrix.T
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-6
    assert eyes[0, 0] < eyes[1, 0]


def test_face_at_the_border_is_padded_by_repeating_edges(detector, face_images):
    image = face_images["adult_40-49"][120:, 150:]  # the face now touches the top-left corner
    (face,) = detector.detect(image)
    crop = crop_face(image, face.landmarks, 64)
    assert crop.shape == (64, 64, 3)
    assert (crop == 0).all(axis=2).mean() < 0.01  # no black padding


def test_reframed_landmarks_move_and_scale_the_crop_by_the_asked_share():
    landmarks = np.array([[40, 60], [80, 60], [60, 80], [45, 100], [75, 100]], np.float64)  # span 40
    framings = [(0, 0, 1), (0.05, 0, 1), (0, -0.05, 1), (0, 0, 1.1), (0, 0, 0.9)]
    views = reframed_landmarks(landmarks, framings)
    assert views.shape == (5, 5, 2)
    np.testing.assert_allclose(views[0], landmarks)
    np.testing.assert_allclose(views[1] - landmarks, [[2, 0]] * 5)  # 5% of the 40 px span
    np.testing.assert_allclose(views[2] - landmarks, [[0, -2]] * 5)
    centre = np.array([60.0, 80.0])  # halfway between the eyes' and the mouth's centres
    np.testing.assert_allclose(views[3] - centre, (landmarks - centre) * 1.1)
    np.testing.assert_allclose(views[4] - centre, (landmarks - centre) * 0.9)
    # grown landmarks give a crop 10% wider around the same centre
    grown, plain = crop_matrix(views[3], 128), crop_matrix(landmarks, 128)
    np.testing.assert_allclose(grown[:, :2] * 1.1, plain[:, :2])
    np.testing.assert_allclose(np.c_[centre[None], [1]] @ grown.T, [[64, 64]])
