"""bench_age_checks.py's figures on a cache built here: error rates, the chosen margin, intervals, reliability."""

from __future__ import annotations

import numpy as np
import pytest
from repo_scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_age_checks.py")


def point_masses(ages) -> np.ndarray:
    probs = np.full((len(ages), 101), 1e-9)
    probs[np.arange(len(ages)), np.asarray(ages, int)] = 1.0
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def cache(true, read, sets=None):
    true = np.asarray(true, float)
    return {
        "set": np.array(sets or ["utkface"] * len(true)),
        "age": true,
        "probs": point_masses(read),
        "min_age": np.array(0),
        "missed_sets": np.array(["utkface"]),
        "missed": np.array([2]),
    }


def test_minors_read_three_years_older_need_a_margin_of_three(bench):
    true = [10, 14, 15, 16, 17, 18, 19, 30, 40]
    figures = bench.measure(cache(true, [t + 3 for t in true]))
    over_18 = figures["thresholds"][18]
    none = over_18["margins"][0]["pooled"]
    assert (none["minors_passed"]["count"], none["minors_passed"]["n"]) == (3, 5)  # 15, 16, 17 read as 18-20
    assert none["minors_passed_by_band"]["13–17"]["count"] == 3 and none["minors_passed_by_band"]["0–12"]["n"] == 1
    assert over_18["default_margin"] == 3
    three = over_18["margins"][3]["pooled"]
    assert three["minors_passed"]["count"] == 0 and three["adults_refused"]["count"] == 0  # 18 read as 21: passes
    assert over_18["margins"][4]["pooled"]["adults_refused_by_band"]["18–24"]["count"] == 1
    assert figures["no_face"] == {"utkface": 2} and figures["faces"]["pooled"] == len(true)


def test_no_margin_is_said_when_none_keeps_minors_out(bench):
    figures = bench.measure(cache([12] * 5, [60] * 5))
    assert figures["thresholds"][13]["default_margin"] is None
    assert "none up to +25" in bench.markdown(figures, "test 1", "python benchmarks/bench_age_checks.py")


def test_wilson_interval(bench):
    low, high = bench.wilson(0, 50)
    assert low == 0 and high == pytest.approx(0.0713, abs=1e-4)
    low, high = bench.wilson(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_reliability_compares_the_predicted_and_observed_share(bench):
    true = np.array([20.0] * 60 + [10.0] * 60)
    p = np.array([0.96] * 60 + [0.04] * 60)
    table = bench.reliability(true, p, 18)
    assert table["within"] and table["bins_judged"] == 2 and table["worst_gap"] == pytest.approx(0.04)
    table = bench.reliability(true, np.full(120, 0.62), 18)  # half of them are 18 or older
    assert not table["within"] and table["bins_judged"] == 1 and table["worst_gap"] == pytest.approx(0.12)
