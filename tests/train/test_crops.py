"""The crop cache: the shared detect + crop, cut once, reused without re-detection."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_image

from howold.detect import Detection
from howold.train.crops import CropCache, cut_crop
from howold.train.data import exact_sample


class CountingDetector:
    """Finds one face in the middle of images wider than 40 px, none in narrower ones."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        h, w = image.shape[:2]
        if w <= 40:
            return []
        small = Detection((0, 0, 10, 10), 0.99, np.array([[1, 1], [3, 1], [2, 2], [1, 3], [3, 3]], np.float32))
        marks = np.array([[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.7], [0.62, 0.7]]) * [w, h]
        big = Detection((w * 0.2, h * 0.2, w * 0.8, h * 0.9), 0.95, marks)
        return [small, big]


@pytest.fixture
def samples(tmp_path):
    paths = [write_image(tmp_path / f"img{i}.jpg", seed=i, size=64) for i in range(5)]
    paths.append(write_image(tmp_path / "tiny.jpg", size=32))  # detector finds no face
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    paths.append(broken)
    paths.append(paths[0])  # same image listed twice
    return [exact_sample(p, 20 + i, "train") for i, p in enumerate(paths)]


def test_cache_cuts_once_and_reuses_without_detection(tmp_path, samples):
    first = CountingDetector()
    cache = CropCache(tmp_path / "cache", size=32, margin=0.5, detector=first, detector_id="fake-1")
    crops = cache.build(samples, "set-a")
    assert first.calls == 6  # 5 faces + 1 no-face; the broken file never reaches the detector
    assert crops.images.shape == (6, 32, 32, 3) and crops.images.dtype == np.uint8
    assert [s.low for s in crops.samples] == [20, 21, 22, 23, 24, 27]
    assert np.array_equal(crops.images[0], crops.images[5])
    assert [p.rsplit("/", 1)[1] for p in crops.no_face] == ["tiny.jpg"]
    assert [p.rsplit("/", 1)[1] for p in crops.broken] == ["broken.jpg"]
    assert "1 no face detected" in crops.summary("a") and "1 unreadable" in crops.summary("a")

    second = CountingDetector()  # a new run: same images, same crop parameters
    again = CropCache(tmp_path / "cache", size=32, margin=0.5, detector=second, detector_id="fake-1")
    assert np.array_equal(again.build(samples, "set-a").images, crops.images)
    assert np.array_equal(again.build(samples[2:4], "set-b").images, crops.images[2:4])
    assert second.calls == 0


@pytest.mark.parametrize("change", [{"size": 24}, {"margin": 0.3}, {"detector_id": "fake-2"}])
def test_changed_crop_parameters_cut_again(tmp_path, samples, change):
    CropCache(tmp_path / "cache", size=32, margin=0.5, detector=CountingDetector(),
              detector_id="fake-1").build(samples, "a")
    counting = CountingDetector()
    params = {"size": 32, "margin": 0.5, "detector_id": "fake-1"} | change
    CropCache(tmp_path / "cache", detector=counting, **params).build(samples, "a")
    assert counting.calls == 6


def test_cut_crop_takes_the_largest_face():
    image = np.zeros((100, 100, 3), np.uint8)
    image[40:60, 30:70] = 255  # bright band between eyes and mouth of the big face
    crop = cut_crop(image, CountingDetector(), size=32, margin=0.5)
    assert crop.shape == (32, 32, 3) and crop.mean() > 40


def test_real_detector_crops_fixture_faces(tmp_path, face_paths):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    samples = [exact_sample(p, 30, "val") for p in face_paths]
    crops = CropCache(tmp_path / "cache", size=64).build(samples, "faces")
    assert len(crops) == len(face_paths) and crops.images.shape[1:] == (64, 64, 3)
