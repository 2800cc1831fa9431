"""scripts/video_coverage.py (the measurement behind persons.SHARED) on fixture faces: its clips show
one person per clip, the figures it reports are coverage and width per rho, and rho is picked as
documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from repo_scripts import load_script


@pytest.fixture(scope="module")
def coverage():
    return load_script("scripts/video_coverage.py")


@pytest.fixture(scope="module")
def chips(tmp_path_factory, face_images) -> dict[str, Path]:
    """The fixture faces as 200x200 chips, the size of the UTKFace photos the script reads."""
    folder = tmp_path_factory.mktemp("chips")
    paths = {}
    for name, image in face_images.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(image).resize((200, 200), Image.LANCZOS).save(paths[name])
    return paths


def test_frames_show_the_photo_moving_with_noise(coverage, face_images):
    photo = np.array(Image.fromarray(face_images["adult_20-29"]).resize((200, 200)))
    frames = coverage.clip_frames([photo], 4, np.random.default_rng(0))
    assert len(frames) == 4 and all(f.shape == (240, 320, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[-1])


def test_each_clip_gives_one_person_and_figures_per_rho(coverage, chips, video_predictor):
    clips = [(25, [str(chips["adult_20-29"])]), (75, [str(chips["elderly_70plus"])] * 2)]
    figures = coverage.measure(video_predictor, clips, frames=4, rng=np.random.default_rng(0))
    assert figures["clips"] == 2 and figures["persons"] == 2 and figures["no_face"] == 0
    assert figures["split_tracks"] == 0 and 3 < figures["mean_looks"] <= 4  # effective looks: sharpness-weighted
    rows = figures["per_rho"]
    assert set(rows) == {f"{rho:.1f}" for rho in coverage.RHOS}
    # a larger shared error keeps the person's range wider: never narrower as rho grows
    widths = [rows[f"{rho:.1f}"]["width"] for rho in coverage.RHOS]
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_rho_closest_to_the_target_and_the_wider_on_a_tie(coverage):
    figures = {
        "per_rho": {
            "0.5": {"coverage": 0.70},
            "0.8": {"coverage": 0.79},
            "0.9": {"coverage": 0.81},
            "1.0": {"coverage": 0.90},
        }
    }
    assert coverage.closest(figures) == 0.9
    figures["per_rho"]["0.9"]["coverage"] = 0.83
    assert coverage.closest(figures) == 0.8
