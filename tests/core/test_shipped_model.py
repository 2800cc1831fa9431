"""The model shipped in the package: present, small, and giving plausible ages on real faces."""

from __future__ import annotations

import pytest
from tiny_models import computed_pads

from howold.age_model import DEFAULT_MODEL_PATH, read_model_info, sidecar_path
from howold.pipeline import Predictor

# fixture -> (lowest, highest) plausible point age; FairFace labels the photos by age bin
PLAUSIBLE = {
    "child_3-9": (1, 16),
    "adult_20-29": (14, 42),
    "adult_40-49": (28, 65),
    "elderly_70plus": (50, 100),
}


@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor().prepare()


def test_the_model_ships_with_its_sidecar_and_stays_small():
    assert DEFAULT_MODEL_PATH.is_file() and sidecar_path(DEFAULT_MODEL_PATH).is_file()
    size = DEFAULT_MODEL_PATH.stat().st_size + sidecar_path(DEFAULT_MODEL_PATH).stat().st_size
    assert size <= 30_000_000
    info = read_model_info(DEFAULT_MODEL_PATH)
    assert info.temperature != 1.0  # calibrated on validation data
    assert "utkface_test" in info.metrics and "calibration" in info.metrics


def test_the_shipped_graph_pads_by_constants_not_by_shape_arithmetic():
    # frozen by scripts/freeze_pads.py: 3.17 -> 2.37 ms a crop on one thread, logits bit-identical
    assert computed_pads(DEFAULT_MODEL_PATH) == []


@pytest.mark.parametrize("name", sorted(PLAUSIBLE))
def test_plausible_ages_with_ranges_around_them(shipped, face_images, name):
    (face,) = shipped.predict(face_images[name])
    low, high = PLAUSIBLE[name]
    assert low <= face.age <= high, f"{name}: {face.label}"
    assert face.age_low < face.age < face.age_high


def test_a_child_looks_younger_than_an_elderly_man(shipped, face_images):
    (child,) = shipped.predict(face_images["child_3-9"])
    (elder,) = shipped.predict(face_images["elderly_70plus"])
    assert child.age + 20 < elder.age
    assert "child" in child.warnings or child.age >= 13
