"""Hostile files through `Predictor.analyse()` and the loader: one sentence each, never a raise,
never an external program, and bounded work and memory."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np
import pytest
from corpus import EPS_LOOP, corpus, float_tiff, save
from PIL import Image

from howold.crop import crop_box, crop_face
from howold.detect import DetectOptions, FaceDetector
from howold.errors import ImageError, OptionError
from howold.io import SUPPORTED_FORMATS, load_image, open_photo, raw_box
from howold.pipeline import PhotoResult, Predictor

CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_corpus_file_is_a_result_with_one_sentence(predictor, case):
    result = predictor.analyse(case.data, name=case.name)
    assert isinstance(result, PhotoResult)
    if case.error is None:
        assert result.ok, result.error
        return
    assert not result.ok and case.error in result.error
    assert result.error.startswith(f"{case.name}: ") and result.error.endswith(".") and "\n" not in result.error


def test_eps_is_refused_at_once_and_ghostscript_never_runs(predictor, monkeypatch):
    def no_programs(*args, **kwargs):
        raise AssertionError(f"an external program was started: {args[0]!r}")

    monkeypatch.setattr(subprocess, "Popen", no_programs)
    monkeypatch.setattr(subprocess, "check_call", no_programs)
    start = time.perf_counter()
    for _ in range(2):
        result = predictor.analyse(EPS_LOOP, name="loop.eps")
        assert "not a supported image" in result.error
    assert time.perf_counter() - start < 1.0
    assert "EPS" not in SUPPORTED_FORMATS


def test_float_tiff_is_scaled_not_black(face_images):
    pixels = face_images["adult_20-29"]
    loaded = load_image(float_tiff(pixels))
    expected = pixels.astype(np.float32).mean(axis=2)
    assert loaded.shape == pixels.shape and abs(float(loaded[:, :, 0].mean()) - float(expected.mean())) < 1.0


def test_float_tiff_face_is_found(predictor, face_images):
    assert len(predictor.analyse(float_tiff(face_images["adult_20-29"]), name="f.tif").faces) == 1


@pytest.mark.parametrize(
    ("options", "option"),
    [({"max_side": 10}, "max_side"), ({"max_side": -5}, "max_side"), ({"min_score": -0.1}, "min_score"),
     ({"min_face_size": -1}, "min_face_size"), ({"max_faces": 0}, "max_faces")],
)  # fmt: skip
def test_options_out_of_range_are_option_errors(options, option):
    with pytest.raises(OptionError, match=f"^{option} must be") as info:
        Predictor(model=None, options=DetectOptions(**options))
    assert info.value.option == option and isinstance(info.value, ValueError)


def test_faces_beyond_the_cap_are_dropped_smallest_first_and_counted(composite, tiny_model):
    predictor = Predictor(model=tiny_model, options=DetectOptions(max_faces=2))
    result = predictor.analyse(composite, name="four.png")
    assert len(result.faces) == 2 and result.faces_dropped == 2
    everyone = Predictor(model=tiny_model).analyse(composite, name="four.png")
    assert [f.box for f in result.faces] == [f.box for f in everyone.faces[:2]]
    assert result.to_dict()["faces_dropped"] == 2 and everyone.faces_dropped == 0


def test_min_score_zero_is_bounded(composite, tiny_model):
    """Every prior above 0: at most DetectOptions.max_faces faces get an age, in bounded time."""
    start = time.perf_counter()
    result = Predictor(model=tiny_model).analyse(composite, name="four.png", options=DetectOptions(min_score=0.0))
    seconds = time.perf_counter() - start
    # the largest max_faces get an age; a few of them merge when refined onto one face
    assert DetectOptions.max_faces - 32 <= len(result.faces) <= DetectOptions.max_faces
    assert result.faces_dropped > 0
    assert seconds < 20, f"min_score=0 took {seconds:.1f} s"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_raw_box_maps_upright_regions_for_every_exif_orientation(orientation):
    raw = np.random.default_rng(orientation).integers(0, 255, (30, 40, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = save(raw, "PNG", exif=exif.tobytes())
    upright = load_image(data)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        method = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}.get(orientation)
        method = None if method is None else Image.Transpose(method)
        box = (3, 5, 17, 19)
        piece = image.crop(raw_box(box, method, image.size))
        piece = np.asarray(piece.transpose(method) if method is not None else piece)
    assert np.array_equal(piece, upright[5:19, 3:17])


@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_jpeg_regions_and_small_copy_match_the_whole_decoded_photo(face_images, orientation):
    pixels = np.asarray(Image.fromarray(face_images["adult_40-49"]).resize((2000, 1500)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = save(pixels, "JPEG", quality=92, exif=exif.tobytes())
    whole = load_image(data)
    photo = open_photo(data)
    assert photo.shape == whole.shape[:2]
    assert np.array_equal(photo.region((100, 200, 400, 260)), whole[200:260, 100:400])
    small, scale = photo.shrunk(500)
    assert max(small.shape[:2]) == 500 and scale == 500 / max(whole.shape[:2])
    reference = np.asarray(Image.fromarray(whole).resize(small.shape[1::-1], Image.Resampling.BOX))
    assert np.abs(small.astype(int) - reference).mean() < 3


def test_a_crop_from_its_region_equals_the_crop_from_the_whole_photo(composite):
    detection = FaceDetector().detect(composite)[0]
    x0, y0, x1, y1 = crop_box(detection.landmarks, composite.shape[:2], 128)
    from_region = crop_face(composite[y0:y1, x0:x1], detection.landmarks - np.array([x0, y0]), 128)
    whole = crop_face(composite, detection.landmarks, 128)
    assert np.abs(from_region.astype(int) - whole).max() <= 2  # sub-pixel rounding of the moved landmarks


def test_predicting_a_file_and_its_pixels_agree(predictor, tmp_path, composite):
    big = np.asarray(Image.fromarray(composite).resize((3000, 3000)))
    path = tmp_path / "big.jpg"
    path.write_bytes(save(big, "JPEG", quality=95))
    from_file = predictor.predict(path)
    from_pixels = predictor.predict(load_image(path))
    assert len(from_file) == len(from_pixels) == 4
    for a, b in zip(from_file, from_pixels):
        assert np.allclose(a.box, b.box, atol=6) and abs(a.age - b.age) < 1.5


PEAK_RSS = """
import sys
from howold.pipeline import Predictor

def peak_kib():  # VmHWM starts afresh with the process image (ru_maxrss would carry the parent's)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))

predictor = Predictor(model={model!r}).prepare()
before = peak_kib()
result = predictor.analyse(sys.argv[1])
assert result.ok, result.error
print(before, peak_kib(), len(result.faces))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_9000_pixel_jpeg_costs_at_most_4_bytes_a_pixel(tmp_path, composite, tiny_model):
    """81 megapixels: the JPEG path holds the decoded file (4 bytes a pixel in Pillow) and the
    detector's working memory (under 150 MiB at 1280 px), never a full RGB copy besides (+3)."""
    path = tmp_path / "huge.jpg"
    Image.fromarray(composite).resize((9000, 9000)).save(path, quality=80)
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS.format(model=str(tiny_model)), str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    before, after, faces = (int(v) for v in run.stdout.split())
    grown_mib = (after - before) / 1024
    assert faces == 4 and grown_mib < 9000 * 9000 * 4 / 2**20 + 150, f"grew {grown_mib:.0f} MiB"


def test_a_photo_with_no_pixels_is_an_image_error():
    with pytest.raises(ImageError, match="expected an image array"):
        load_image(np.zeros((0,), np.uint8))


def test_faces_dropped_reaches_every_csv_and_parquet_row(composite, tiny_model):
    from howold.report import csv_rows

    result = Predictor(model=tiny_model, options=DetectOptions(max_faces=2)).analyse(composite, name="four.png")
    assert [row["faces_dropped"] for row in csv_rows([result])] == [2, 2]
    pytest.importorskip("pyarrow")
    from howold.batch.job import result_rows, rows_table

    assert rows_table(result_rows(result)).column("faces_dropped").to_pylist() == [2, 2]
