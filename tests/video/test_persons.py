"""The combination rule: one age and range per person from many looks (howold.video.persons)."""

from __future__ import annotations

import numpy as np
import pytest

from howold.age_model import decode_distribution
from howold.video.persons import SHARED, combine, effective_looks, look_weight, narrowing


def gaussian(mean: float, sd: float, ages: int = 101) -> np.ndarray:
    grid = np.arange(ages)
    p = np.exp(-0.5 * ((grid - mean) / sd) ** 2)
    return p / p.sum()


def test_one_look_gives_that_looks_own_range():
    p = gaussian(34, 5)
    age, low, high, n_eff = combine([34.0], p[None], [0.7])
    _, ref_low, ref_high = decode_distribution(p)
    assert age == 34.0 and n_eff == pytest.approx(1.0)
    assert low == pytest.approx(ref_low[0], abs=0.1) and high == pytest.approx(ref_high[0], abs=0.1)


@pytest.mark.parametrize("n", [2, 5, 20, 200])
def test_agreeing_looks_narrow_the_range_as_the_rule_says(n):
    p = gaussian(34, 5)
    single = np.subtract(*decode_distribution(p)[2:0:-1])[0]
    age, low, high, n_eff = combine([34.0] * n, np.tile(p, (n, 1)), [1.0] * n)
    assert n_eff == pytest.approx(n)
    assert high - low == pytest.approx(single * narrowing(n), rel=0.03)
    assert high - low < single and high - low >= single * np.sqrt(SHARED) * 0.97


def test_disagreeing_looks_keep_the_range_wide():
    looks = [gaussian(m, 4) for m in (25, 45) * 5]
    age, low, high, _ = combine([25.0, 45.0] * 5, np.stack(looks), [1.0] * 10)
    single = np.subtract(*decode_distribution(looks[0])[2:0:-1])[0]
    assert age == pytest.approx(35.0)
    assert high - low > 1.5 * single and low < 27 and high > 43


def test_age_lies_within_the_looks_and_leans_to_the_better_ones():
    ages = [30.0, 40.0]
    probs = np.stack([gaussian(30, 5), gaussian(40, 5)])
    even, *_ = combine(ages, probs, [1.0, 1.0])
    leaning, *_ = combine(ages, probs, [1.0, 0.2])
    assert even == pytest.approx(35.0) and 30 < leaning < 35


def test_weights_follow_score_size_and_sharpness():
    full = look_weight(0.99, 120, 300.0)
    assert look_weight(0.99, 40, 300.0) < full and look_weight(0.99, 120, 10.0) < full
    assert look_weight(0.5, 120, 300.0) < full and look_weight(0.9, 1, 0.0) > 0
    assert effective_looks([1, 1, 1, 1]) == pytest.approx(4) and effective_looks([1, 0.01]) < 1.1


def test_no_look_is_an_error():
    with pytest.raises(ValueError, match="at least one look"):
        combine([], np.zeros((0, 101)), [])
