"""scripts/small_face_views.py (the measurement behind pipeline.SMALL_FACE_FRAMINGS) on fixture faces:
its reads move only with landmark noise, every view set is reported, and test data is refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from repo_scripts import ROOT, load_script

from howold.age_model import AgeModel
from howold.pipeline import SMALL_FACE_FRAMINGS
from howold.train.data import exact_sample


@pytest.fixture(scope="module")
def views():
    return load_script("scripts/small_face_views.py")


@pytest.fixture(scope="module")
def samples(tmp_path_factory, face_images):
    """The fixture faces as 200x200 chips, the size of the UTKFace photos the script shrinks."""
    folder = tmp_path_factory.mktemp("chips")
    out = []
    for name, image in face_images.items():
        path = folder / f"{name}.png"
        Image.fromarray(image).resize((200, 200), Image.LANCZOS).save(path)
        out.append(exact_sample(path, 30, "val"))
    return out


def test_the_shipped_framings_are_one_of_the_measured_sets(views):
    assert views.VIEW_SETS["shipped"] == list(SMALL_FACE_FRAMINGS)
    assert all(sets[0] == (0.0, 0.0, 1.0) for sets in views.VIEW_SETS.values())  # each starts from the crop as cut


def test_ages_move_with_landmark_noise_only(views, samples, tiny_model):
    model = AgeModel(tiny_model).prepare()
    still = views.measure(model, samples, 0.5, 0.0, np.random.default_rng(0))
    assert still["photos"] == len(samples) and set(still["views"]) == set(views.VIEW_SETS)
    assert all(row["move"] == 0 for row in still["views"].values())
    shaken = views.measure(model, samples, 0.5, 2.0, np.random.default_rng(0))
    assert shaken["views"]["one crop"]["move"] > 0
    assert shaken["views"]["one crop"]["mae"] == pytest.approx(still["views"]["one crop"]["mae"], abs=5)


def test_test_data_is_refused():
    run = subprocess.run(
        [sys.executable, "scripts/small_face_views.py", "--data", "fairface"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "never on test data" in run.stderr
    assert "Traceback" not in run.stderr
