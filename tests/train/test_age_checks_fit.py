"""The survival offsets' fit (howold.train.age_checks): on faces whose model reads them too young, the
fitted offsets make P(age >= t) match the share of faces at least t years old."""

from __future__ import annotations

import numpy as np
import pytest

from howold.age_model import calibrate_survival, probability_at_least
from howold.train.age_checks import fit_survival_offsets


def gaussians(centres: np.ndarray, spread: float = 4.0, classes: int = 101) -> np.ndarray:
    probs = np.exp(-0.5 * ((np.arange(classes)[None] - centres[:, None]) / spread) ** 2)
    return probs / probs.sum(axis=1, keepdims=True)


def faces_read_too_young(count: int, seed: int):
    """Faces whose true age is drawn from the model's distribution, then 3 years older: the model is
    calibrated in shape but reads everyone 3 years too young."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(5, 60, count)
    probs = gaussians(centres)
    drawn = np.array([rng.choice(101, p=row) for row in probs])
    return probs, np.minimum(drawn + 3, 100)


def miscalibration(probs: np.ndarray, ages: np.ndarray, threshold: int) -> float:
    """|mean predicted - observed| share over the threshold among the faces with P in 0.3..0.7."""
    p = probability_at_least(probs, threshold)
    middle = (p > 0.3) & (p < 0.7)
    return abs(p[middle].mean() - (ages[middle] >= threshold).mean())


def test_fitted_offsets_calibrate_faces_it_has_not_seen():
    probs, ages = faces_read_too_young(6000, seed=1)
    offsets = fit_survival_offsets(probs, ages)
    unseen_probs, unseen_ages = faces_read_too_young(6000, seed=2)
    calibrated = calibrate_survival(unseen_probs, offsets)
    for threshold in (13, 18, 25):
        before = miscalibration(unseen_probs, unseen_ages, threshold)
        after = miscalibration(calibrated, unseen_ages, threshold)
        assert before > 0.15 and after < 0.04, (threshold, before, after)
    assert np.all(offsets[10:55] > 0)  # read too young: every age in the data is pushed up


def test_a_calibrated_model_gets_offsets_near_zero():
    rng = np.random.default_rng(3)
    probs = gaussians(rng.uniform(5, 60, 6000))
    ages = np.array([rng.choice(101, p=row) for row in probs])
    assert np.abs(fit_survival_offsets(probs, ages)[10:55]).max() < 0.25


def test_ages_without_faces_on_both_sides_keep_offset_zero():
    probs, ages = faces_read_too_young(500, seed=4)
    assert np.abs(fit_survival_offsets(probs, ages)[90:]).max() < 0.05


@pytest.mark.parametrize(
    ("probs", "ages", "strength", "message"),
    [
        (np.ones((3, 101)) / 101, np.ones(2), 20.0, "expected probs"),
        (np.ones((3, 101)) / 101, np.ones(3), 0.0, "strength: expected a positive number, got 0.0"),
    ],
)
def test_bad_inputs_are_refused(probs, ages, strength, message):
    with pytest.raises(ValueError, match=message):
        fit_survival_offsets(probs, ages, strength=strength)
