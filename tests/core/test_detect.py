"""RetinaFace detection: every face found, boxes on the faces, landmarks inside, downscaling safe."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from howold.detect import Detection, DetectOptions, FaceDetector, box_iou, downscale
from howold.errors import ImageError


def test_each_fixture_has_one_confident_face(detector, face_images):
    for name, image in face_images.items():
        faces = detector.detect(image)
        assert len(faces) == 1, name
        face = faces[0]
        assert face.score > 0.99
        # the face sits in the middle third of these FairFace photos
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert 448 / 4 < cx < 448 * 3 / 4 and 448 / 5 < cy < 448 * 3 / 4, name
        assert 100 < face.width < 260 and 120 < face.height < 300, name


def test_composite_every_face_found_in_its_tile(detector, composite):
    faces = detector.detect(composite)
    assert len(faces) == 4
    tiles = sorted(((f.box[1] + f.box[3]) // 2 // 448, (f.box[0] + f.box[2]) // 2 // 448) for f in faces)
    assert tiles == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert np.all((face.landmarks[:, 0] > x1) & (face.landmarks[:, 0] < x2))
        assert np.all((face.landmarks[:, 1] > y1) & (face.landmarks[:, 1] < y2))
        left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_downscaled_detection_finds_the_same_faces(detector, composite):
    big = cv2.resize(composite, (3584, 3584), interpolation=cv2.INTER_CUBIC)  # ~12.8 MP, 4x
    reference = [np.array(f.box) * 4 for f in detector.detect(composite)]
    faces = FaceDetector(DetectOptions(max_side=1280)).detect(big)
    assert len(faces) == 4
    for face in faces:  # boxes come back in full-resolution pixels
        assert max(box_iou(face.box, box) for box in reference) > 0.85


def test_full_size_detection_of_small_faces(composite):
    """Faces the size of a fixture's in a large canvas are found without downscaling too."""
    canvas = np.zeros((1800, 2400, 3), np.uint8)
    canvas[:896, :896] = composite
    assert len(FaceDetector(DetectOptions(max_side=None)).detect(canvas)) == 4
    assert len(FaceDetector(DetectOptions(max_side=2400)).detect(canvas)) == 4


def test_threshold_and_min_face_size_filter(composite):
    assert FaceDetector(DetectOptions(min_score=1.0)).detect(composite) == []
    assert FaceDetector(DetectOptions(min_face_size=1000)).detect(composite) == []
    assert len(FaceDetector(DetectOptions(min_face_size=50)).detect(composite)) == 4


def test_no_face_gives_empty_list(detector, no_face_image):
    assert detector.detect(no_face_image) == []


def test_tiny_image_gives_empty_list(detector):
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_wrong_array_is_an_image_error(detector):
    with pytest.raises(ImageError, match="expected an RGB uint8 image"):
        detector.detect(np.zeros((10, 10), np.uint8))


def test_downscale_keeps_small_images():
    image = np.zeros((100, 50, 3), np.uint8)
    assert downscale(image, 1280) == (image, 1.0)
    small, scale = downscale(np.zeros((2000, 1000, 3), np.uint8), 1000)
    assert small.shape == (1000, 500, 3) and scale == 0.5


def test_detection_is_validated():
    with pytest.raises(ValueError, match="landmarks"):
        Detection(box=(0, 0, 1, 1), score=1.0, landmarks=np.zeros((4, 2)))


def test_per_call_settings_override_without_changing_the_detector(detector, composite):
    canvas = np.zeros((2400, 2400, 3), np.uint8)
    canvas[:448, :448] = cv2.resize(composite, (448, 448), interpolation=cv2.INTER_AREA)  # 4 faces ~ 60 px
    assert len(detector.detect(canvas, replace(detector.options, max_side=None))) == 4
    assert detector.detect(canvas, replace(detector.options, min_score=1.0)) == []
    assert detector.options == DetectOptions()
    with pytest.raises(ValueError, match="min_score must be between 0 and 1"):
        detector.detect(canvas, replace(detector.options, min_score=2))


def test_detector_batch_is_bgr_minus_the_mean_in_planes():
    from howold.detect import _BGR_MEAN, bgr_blob

    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    expected = (image[:, :, ::-1].astype(np.float32) - _BGR_MEAN).transpose(2, 0, 1)[None]
    np.testing.assert_array_equal(bgr_blob(image), expected)


def small_faces_photo(face_images) -> np.ndarray:
    """A 2400x1600 canvas with the four fixture photos shrunk so each face is ~55 px wide."""
    canvas = np.full((1600, 2400, 3), 128, np.uint8)
    for i, image in enumerate(face_images.values()):
        tile = cv2.resize(image, (160, 160), interpolation=cv2.INTER_AREA)
        y, x = 300 + 500 * (i // 2), 400 + 1200 * (i % 2)
        canvas[y : y + 160, x : x + 160] = tile
    return canvas


@pytest.mark.parametrize("refine", [False, True])
def test_small_faces_landmarks_hardly_move_with_the_search_scale_once_refined(face_images, refine):
    photo = small_faces_photo(face_images)
    detector = FaceDetector(refine_below=160 if refine else 0).prepare()
    full = sorted(detector.detect(photo, DetectOptions(max_side=None)), key=lambda f: f.box)
    shrunk = sorted(detector.detect(photo, DetectOptions(max_side=1280)), key=lambda f: f.box)
    assert len(full) == len(shrunk) == 4
    moves = [np.abs(a.landmarks - b.landmarks).max() for a, b in zip(full, shrunk)]
    if refine:  # measured: 1.1 px at most refined, 5.0 px with the search's landmarks
        assert max(moves) < 1.5
    else:
        assert max(moves) > 2.5


def test_refinement_keeps_boxes_inside_the_photo(face_images):
    image = next(iter(face_images.values()))
    corner = np.ascontiguousarray(cv2.resize(image, (112, 112))[:70, :70])  # a face cut by the border
    detector = FaceDetector(DetectOptions(min_score=0.5))
    for face in detector.detect(corner):
        assert 0 <= face.box[0] <= face.box[2] <= 70 and 0 <= face.box[1] <= face.box[3] <= 70


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),
    ],
)
def test_box_iou(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)
