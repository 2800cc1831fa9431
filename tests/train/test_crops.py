"""The crop cache: the shared detect + crop, cut once, reused without re-detection."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_image

from howold.crop import crop_face
from howold.io import load_image
from howold.train.crops import CropCache
from howold.train.data import exact_sample


class CountingFinder:
    """Finds one face in the middle of images wider than 40 px, none in narrower ones."""

    def __init__(self) -> None:
        self.calls = 0

    def largest_face_crop(self, path, size, margin):
        self.calls += 1
        image = load_image(path)
        h, w = image.shape[:2]
        if w <= 40:
            return None
        marks = np.array([[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.7], [0.62, 0.7]]) * [w, h]
        return crop_face(image, marks.astype(np.float32), size=size, margin=margin)


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
    first = CountingFinder()
    cache = CropCache(tmp_path / "cache", size=32, margin=0.5, finder=first, detector_id="fake-1")
    crops = cache.build(samples, "set-a")
    assert first.calls == 7  # 5 faces, 1 with no face, 1 unreadable (the same image twice is cut once)
    assert crops.images.shape == (6, 32, 32, 3) and crops.images.dtype == np.uint8
    assert [s.low for s in crops.samples] == [20, 21, 22, 23, 24, 27]
    assert np.array_equal(crops.images[0], crops.images[5])
    assert [p.rsplit("/", 1)[1] for p in crops.no_face] == ["tiny.jpg"]
    assert [p.rsplit("/", 1)[1] for p in crops.broken] == ["broken.jpg"]
    assert "1 no face detected" in crops.summary("a") and "1 unreadable" in crops.summary("a")

    second = CountingFinder()  # a new run: same images, same crop parameters
    again = CropCache(tmp_path / "cache", size=32, margin=0.5, finder=second, detector_id="fake-1")
    assert np.array_equal(again.build(samples, "set-a").images, crops.images)
    assert np.array_equal(again.build(samples[2:4], "set-b").images, crops.images[2:4])
    assert second.calls == 0


@pytest.mark.parametrize("change", [{"size": 24}, {"margin": 0.3}, {"detector_id": "fake-2"}])
def test_changed_crop_parameters_cut_again(tmp_path, samples, change):
    CropCache(tmp_path / "cache", size=32, margin=0.5, finder=CountingFinder(), detector_id="fake-1").build(
        samples, "a"
    )
    counting = CountingFinder()
    params = {"size": 32, "margin": 0.5, "detector_id": "fake-1"} | change
    CropCache(tmp_path / "cache", finder=counting, **params).build(samples, "a")
    assert counting.calls == 7


def test_real_detector_crops_fixture_faces(tmp_path, face_paths):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    samples = [exact_sample(p, 30, "val") for p in face_paths]
    crops = CropCache(tmp_path / "cache", size=64).build(samples, "faces")
    assert len(crops) == len(face_paths) and crops.images.shape[1:] == (64, 64, 3)
