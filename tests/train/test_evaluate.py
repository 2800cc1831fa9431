"""`howold val` without training: the metric tables, and measuring, calibrating, choosing the flip
and recording on a tiny real ONNX model over the fixture faces (torch-free, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import write_tiny_age_model

from howold.age_model import read_model_info
from howold.errors import HowoldError
from howold.train.data import Sample
from howold.train.evaluate import (
    EvalData,
    bin_metrics,
    calibrate,
    choose_flip,
    compute_metrics,
    evaluate,
    exact_metrics,
    pooled_mae,
    record,
    validation_sets,
)


@pytest.mark.parametrize(
    ("age", "low", "high", "true", "expected"),
    [
        (
            [30],
            [25],
            [35],
            [30],
            {"n": 1, "mae": 0.0, "cs5": 1.0, "coverage": 1.0, "mean_range_width": 10.0, "bias": 0.0},
        ),
        (
            [30, 50],
            [28, 40],
            [32, 60],
            [40, 40],
            {"n": 2, "mae": 10.0, "cs5": 0.0, "coverage": 0.5, "mean_range_width": 12.0, "bias": 0.0},
        ),
        (
            [20, 23],
            [10, 10],
            [30, 30],
            [24, 24],
            {"n": 2, "mae": 2.5, "cs5": 1.0, "coverage": 1.0, "mean_range_width": 20.0, "bias": -2.5},
        ),
        ([], [], [], [], {"n": 0}),
    ],
)
def test_exact_metrics(age, low, high, true, expected):
    assert exact_metrics(*(np.array(v, float) for v in (age, low, high, true))) == expected


@pytest.mark.parametrize(
    ("age", "low", "high", "bin_low", "bin_high", "expected"),
    [
        (
            [25.4],
            [20],
            [30],
            [20],
            [29],
            {"n": 1, "bin_hit_rate": 1.0, "mean_distance_to_bin": 0.0, "range_overlaps_bin": 1.0},
        ),
        (
            [33.0],
            [31],
            [35],
            [20],
            [29],
            {"n": 1, "bin_hit_rate": 0.0, "mean_distance_to_bin": 4.0, "range_overlaps_bin": 0.0},
        ),
        (
            [29.6],
            [29],
            [31],
            [20],
            [29],
            {"n": 1, "bin_hit_rate": 0.0, "mean_distance_to_bin": 0.6, "range_overlaps_bin": 1.0},
        ),
        ([], [], [], [], [], {"n": 0}),
    ],
)
def test_bin_metrics(age, low, high, bin_low, bin_high, expected):
    assert bin_metrics(*(np.array(v, float) for v in (age, low, high, bin_low, bin_high))) == expected


def test_compute_metrics_splits_exact_ages_from_bins_and_by_band():
    samples = [
        Sample("a.jpg", 5, 5, "test", {"gender": "f"}),
        Sample("b.jpg", 45, 45, "test", {"gender": "m"}),
        Sample("c.jpg", 20, 29, "test", {"age_bin": "20-29"}),
    ]
    age, low, high = np.array([7.0, 41.0, 25.0]), np.array([4.0, 35.0, 20.0]), np.array([10.0, 50.0, 30.0])
    out = compute_metrics(samples, age, low, high)
    assert out["overall"]["n"] == 2 and out["overall"]["mae"] == 3.0
    assert {band: m["n"] for band, m in out["by_age_band"].items()} == {
        "0-12": 1,
        "13-19": 0,
        "20-39": 0,
        "40-59": 1,
        "60+": 0,
    }
    assert out["by_gender"]["f"]["mae"] == 2.0 and out["by_gender"]["m"]["mae"] == 4.0
    assert out["bins"] == {"n": 1, "bin_hit_rate": 1.0, "mean_distance_to_bin": 0.0, "range_overlaps_bin": 1.0}
    assert list(out["bins_by_bin"]) == ["20-29"]


@pytest.mark.parametrize(
    ("overalls", "expected"),
    [
        ([{"n": 10, "mae": 4.0}], 4.0),
        ([{"n": 30, "mae": 4.0}, {"n": 10, "mae": 8.0}], 5.0),
        ([{"n": 3, "mae": 4.0}, {"n": 0}], 4.0),
    ],
)
def test_pooled_mae_weights_each_set_by_its_faces(overalls, expected):
    assert pooled_mae(overalls) == expected


def test_pooled_mae_of_nothing_is_an_error():
    with pytest.raises(HowoldError, match="no faces with an exact age"):
        pooled_mae([{"n": 0}])


@pytest.mark.parametrize(
    ("data", "split", "refused"),
    [
        ("utkface", "val", False),
        ("utkface,aaf", "val", False),
        ("faces.csv", "train", False),
        ("utkface", "test", True),
        ("utkface", "all", True),
        ("utkface,aaf,fgnet", "val", False),
        ("utkface,fgnet", "test", True),
        ("fairface", "val", True),
    ],
)
def test_choices_are_made_on_validation_data_only(data, split, refused):
    if refused:
        with pytest.raises(HowoldError, match="choose X on a validation split .* never on test data"):
            validation_sets(EvalData(data, split), "choose X")
    else:
        assert len(validation_sets(EvalData(data, split), "choose X")) == data.count(",") + 1


@pytest.fixture
def model(tmp_path):
    return write_tiny_age_model(tmp_path, name="m")


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def test_evaluate_measures_every_fixture_face(model, faces_csv, face_paths, cache):
    result = evaluate(model, EvalData(str(faces_csv), "val", cache_dir=cache))
    assert (result["images"], result["evaluated"], result["no_face"]) == (len(face_paths), len(face_paths), 0)
    assert result["overall"]["n"] == len(face_paths) and result["tta_flip"] is False
    assert evaluate(model, EvalData(str(faces_csv), "val", cache_dir=cache), tta_flip=True)["tta_flip"] is True


def test_a_flip_override_is_refused_end_to_end(model, faces_csv, cache):
    with pytest.raises(HowoldError, match="flip override applies to cached crops"):
        evaluate(model, EvalData(str(faces_csv), "val", cache_dir=cache), end_to_end=True, tta_flip=True)


@pytest.mark.parametrize(("min_gain", "kept"), [(0.0, True), (0.1, False)])
def test_choose_flip_keeps_it_only_for_the_gain(model, faces_csv, cache, min_gain, kept):
    # the tiny network averages each channel over the crop, so its mirror image gives the same ages: no gain
    result = choose_flip(model, EvalData(str(faces_csv), "val", cache_dir=cache), min_gain=min_gain)
    assert result["val_mae_flip"] == result["val_mae_noflip"] and result["tta_flip"] is kept
    info = read_model_info(model)
    assert info.tta_flip is kept and info.metrics["flip_choice"] == {**result, "min_gain": min_gain}
    assert info.metrics["utkface_test"]["overall"]["mae"] == 9.9  # the other figures stay


def test_calibrate_then_record_write_through_the_sidecar_writer(model, faces_csv, cache):
    result = calibrate(model, EvalData(str(faces_csv), "val", cache_dir=cache))
    info = read_model_info(model)
    assert info.temperature == result["temperature"] != 1.0
    assert info.metrics["calibration"]["coverage_after"] == result["coverage_after"]
    record(model, evaluate(model, EvalData(str(faces_csv), "val", cache_dir=cache)))
    info = read_model_info(model)
    assert info.metrics["csv_val"]["temperature"] == result["temperature"]
    assert set(info.metrics) == {"utkface_test", "calibration", "csv_val"}


def test_val_choose_flip_on_the_command_line(model, faces_csv, cache, tmp_path):
    from howold.cli import main

    out = tmp_path / "flip.json"
    args = [
        "val",
        "--model",
        str(model),
        "--data",
        f"{faces_csv},{faces_csv}",
        "--split",
        "val",
        "--cache-dir",
        cache,
        "--choose-flip",
        "--min-flip-gain",
        "0",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text())["val_sets"] == [str(faces_csv)] * 2
    assert read_model_info(model).tta_flip is True
    assert main([*args[:-4], "--choose-flip", "--min-flip-gain", "-1"]) == 1
