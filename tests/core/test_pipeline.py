"""Photo to faces with ages: the Predictor and the predict() function."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import howold
from howold.pipeline import WARNINGS, Face, PhotoResult, Predictor


def test_public_api_is_small_and_explicit():
    assert {"predict", "Predictor", "Face", "load_image", "HowoldError"} <= set(howold.__all__)


def test_every_face_gets_an_age_and_a_range(predictor, composite):
    faces = predictor.predict(composite)
    assert len(faces) == 4
    for face in faces:
        assert isinstance(face, Face)
        assert 0 <= face.age_low <= face.age <= face.age_high <= 100
        assert set(face.warnings) <= set(WARNINGS)
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_faces_serialise_to_json(predictor, composite):
    data = json.loads(json.dumps([face.to_dict() for face in predictor.predict(composite)]))
    assert set(data[0]) == {"box", "score", "landmarks", "age", "age_low", "age_high", "warnings"}
    assert len(data[0]["box"]) == 4 and len(data[0]["landmarks"]) == 5


def test_without_an_age_model_faces_are_still_found(composite):
    faces = Predictor(model=None).predict(composite)
    assert len(faces) == 4 and all(face.age is None and face.label == "?" for face in faces)


def test_largest_face_crop_is_the_crop_the_age_model_is_shown(composite, no_face_image):
    """Training crops (howold.train.crops) are cut by this: the largest face, refined and cropped as
    analyse() crops it, so a model learns on the crops it will be shown."""
    from howold.crop import crop_face

    finder = Predictor(model=None)
    largest = finder.predict(composite)[0]
    crop = finder.largest_face_crop(composite, 128, 0.5)
    expected = crop_face(composite, np.array(largest.landmarks, np.float32), size=128, margin=0.5)
    assert crop.shape == (128, 128, 3) and np.abs(crop.astype(int) - expected).max() <= 1
    assert finder.largest_face_crop(no_face_image, 128, 0.5) is None


def test_no_face_is_an_empty_list(predictor, no_face_image):
    assert predictor.predict(no_face_image) == []


def test_analyse_reports_bad_files_without_raising(predictor, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    result = predictor.analyse(bad)
    assert not result.ok and result.faces == () and "not an image" in result.error
    assert result.to_dict()["error"] == result.error


def test_analyse_gives_the_size_and_model(predictor, face_paths):
    result = predictor.analyse(face_paths[0].read_bytes(), name="upload.jpg")
    assert isinstance(result, PhotoResult) and result.ok
    assert (result.width, result.height, result.source) == (448, 448, "upload.jpg")
    assert result.model == "tiny 0.0.1" and len(result.faces) == 1


def test_exif_rotated_photo_gives_boxes_in_the_displayed_frame(predictor, face_images):
    upright = face_images["adult_20-29"][:, 74:374]  # 448 tall, 300 wide
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.fromarray(np.rot90(upright, k=1)).save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    (rotated,) = predictor.predict(buffer.getvalue())
    (reference,) = predictor.predict(upright)
    assert np.allclose(rotated.box, reference.box, atol=8)


def test_face_label_and_validation():
    face = Face(box=(0, 0, 10, 10), score=0.99, landmarks=((1, 1),) * 5, age=34.2, age_low=28.6, age_high=39.4)
    assert face.label == "34 (29–39)"
    with pytest.raises(ValueError, match="unknown"):
        Face(box=(0, 0, 1, 1), score=1, landmarks=((0, 0),) * 5, warnings=("grumpy",))


def test_warnings_flag_small_and_blurry_faces(predictor, face_images):
    small = np.array(Image.fromarray(face_images["adult_40-49"]).resize((120, 120)))
    canvas = np.full((400, 400, 3), 255, np.uint8)
    canvas[100:220, 100:220] = small
    faces = predictor.predict(canvas)
    assert len(faces) == 1 and "small_face" in faces[0].warnings
    blurry = np.array(Image.fromarray(face_images["adult_40-49"]).resize((56, 56)).resize((448, 448)))
    faces = predictor.predict(blurry)
    assert faces and "blurry" in faces[0].warnings


def test_burnt_white_and_lost_in_black_faces_are_flagged_poor_light(predictor, face_images):
    from howold.quality import CLIPPED_SHARE, clipped_share

    photo = face_images["adult_40-49"]
    (face,) = predictor.predict(photo)
    assert "poor_light" not in face.warnings
    for gain, offset in ((3.0, 40), (0.3, -20)):  # a hard flash (27% of the crop burnt), a dark room (74%)
        exposed = np.clip(photo.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
        (face,) = predictor.predict(exposed)
        assert "poor_light" in face.warnings, (gain, offset)
        assert clipped_share(predictor.largest_face_crop(exposed, 128, 0.5)) > CLIPPED_SHARE


def test_predict_function_with_a_model_file(tiny_model, face_paths):
    faces = howold.predict(face_paths[0], model=tiny_model)
    assert len(faces) == 1 and faces[0].age is not None


def test_blur_variance_is_measured_at_one_scale(face_images):
    from howold.quality import BLUR_VARIANCE, blur_variance

    sharp = np.array(Image.fromarray(face_images["adult_40-49"]).resize((128, 128), Image.LANCZOS))
    larger = np.array(Image.fromarray(sharp).resize((256, 256), Image.BILINEAR))
    smeared = cv2.GaussianBlur(sharp, (0, 0), 2.5)
    smeared_small = cv2.resize(smeared, (64, 64), interpolation=cv2.INTER_AREA)  # raw variance ×4 or more
    assert blur_variance(sharp) > BLUR_VARIANCE and blur_variance(larger) > BLUR_VARIANCE
    assert blur_variance(smeared) < BLUR_VARIANCE and blur_variance(smeared_small) < BLUR_VARIANCE


@pytest.mark.parametrize(
    ("score", "low", "high", "flagged"),
    [(1.0, 20.0, 50.0, True), (1.0, 30.0, 50.0, False), (0.91, 30.0, 40.0, False), (0.91, 10.0, 60.0, True)],
)
def test_low_confidence_is_about_the_age_range_only(score, low, high, flagged):
    from howold.detect import Detection
    from howold.pipeline import _face

    detection = Detection((0.0, 0.0, 100.0, 100.0), score, np.zeros((5, 2)))
    face = _face(detection, None, (low + high) / 2, low, high)
    assert ("low_confidence" in face.warnings) is flagged


@pytest.mark.parametrize(
    ("age", "low", "high", "expected"),
    [(8.0, 5.0, 12.0, ["child"]), (12.99, 10.0, 16.0, ["child"]), (13.0, 10.0, 16.0, []),
     (70.0, 60.0, 80.0, ["elderly"]), (75.0, 55.0, 85.0, ["elderly", "low_confidence"]),
     (30.0, 20.0, 45.0, []), (None, None, None, [])],
)  # fmt: skip
def test_age_warnings_say_what_the_estimate_says_of_itself(age, low, high, expected):
    from howold.quality import age_warnings

    assert age_warnings(age, low, high) == expected


def test_every_warning_has_a_label_and_one_plain_sentence_in_the_readme():
    from howold.quality import WARNING_LABELS, WARNING_NOTES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert set(WARNING_LABELS) == set(WARNING_NOTES) == set(WARNINGS)
    for name, note in WARNING_NOTES.items():
        assert note.endswith(".") and note.count(". ") == 0, note
        assert f"| `{name}` | {note} |" in readme, f"README.md does not explain {name} in the words of WARNING_NOTES"


def test_small_faces_are_read_from_several_framings_and_large_ones_from_one(predictor, composite):
    """A small face's landmarks move by a pixel between detector scales, and its age with them: in a
    photo its age is the average over SMALL_FACE_FRAMINGS (scripts/small_face_views.py). A video frame
    (`estimate`) reads every face from one crop: a person's frames are averaged anyway."""
    from howold.crop import crop_face, reframed_landmarks
    from howold.pipeline import SMALL_FACE_FRAMINGS
    from howold.quality import QUALITY_WARNINGS

    big = cv2.resize(composite, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    photo = np.zeros((big.shape[0], big.shape[1] + composite.shape[1], 3), np.uint8)
    photo[:, : big.shape[1]], photo[: composite.shape[0], big.shape[1] :] = big, composite
    faces, frame = predictor.predict(photo), predictor.estimate(photo)
    model, info = predictor.age_model, predictor.model_info
    sizes = [min(f.box[2] - f.box[0], f.box[3] - f.box[1]) for f in faces]
    small = [s < predictor.detector.refine_below for s in sizes]
    assert any(small) and not all(small), sizes
    for face, in_frame, is_small in zip(faces, frame, small):
        points = np.array(face.landmarks)
        poor = np.array([bool(set(face.warnings) & set(QUALITY_WARNINGS))])
        framings = reframed_landmarks(points, SMALL_FACE_FRAMINGS) if is_small else points[None]
        views = np.stack([crop_face(photo, p, info.crop_size, info.crop_margin) for p in framings])[:, None]
        expected = model.predict_views(views, poor=poor)
        assert (face.age, face.age_low, face.age_high) == pytest.approx(
            (expected.age[0], expected.low[0], expected.high[0]), abs=1e-4
        )
        one_crop = model.predict_views(views[:1], poor=poor)
        assert np.allclose(in_frame.probs, one_crop.probs[0], atol=1e-5)
        assert in_frame.face.age == pytest.approx(one_crop.age[0], abs=1e-4)


def test_the_range_reads_as_people_write_it_and_the_label_holds_it():
    face = Face(
        box=(0.0, 0.0, 10.0, 10.0), score=1.0, landmarks=((0.0, 0.0),) * 5, age=33.6, age_low=28.6, age_high=39.4
    )
    assert (face.range_label, face.label) == ("29–39", "34 (29–39)")
    unknown = Face(box=(0.0, 0.0, 10.0, 10.0), score=1.0, landmarks=((0.0, 0.0),) * 5)
    assert (unknown.range_label, unknown.label) == ("—", "?")
