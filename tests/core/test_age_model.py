"""The ONNX age model: sidecar parsing, batching, the mean and quantile maths, and clear errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from tiny_models import break_sidecar, write_tiny_age_model

from howold.age_model import (
    DEFAULT_MODEL_PATH,
    AgeModel,
    MetricKey,
    ModelInfo,
    decode_distribution,
    probability_at_least,
    read_model_info,
    softmax,
    update_model_info,
    write_model_info,
)
from howold.errors import HowoldError, ModelError


def test_decode_point_mass_gives_the_age_and_a_tight_symmetric_range():
    probs = np.zeros(101)
    probs[34] = 1
    age, low, high = decode_distribution(probs)
    assert age[0] == pytest.approx(34)
    assert low[0] == pytest.approx(33.6) and high[0] == pytest.approx(34.4)


def test_decode_uniform_distribution():
    age, low, high = decode_distribution(np.ones((2, 101)))
    assert age == pytest.approx([50, 50])
    assert low == pytest.approx([-0.5 + 0.1 * 101] * 2) and high == pytest.approx([-0.5 + 0.9 * 101] * 2)


def test_decode_gaussian_matches_its_quantiles():
    ages = np.arange(101)
    probs = np.exp(-0.5 * ((ages - 40) / 5.0) ** 2)
    age, low, high = decode_distribution(probs, interval=0.8)
    assert age[0] == pytest.approx(40, abs=1e-6)
    assert low[0] == pytest.approx(40 - 1.2816 * 5, abs=0.15) and high[0] == pytest.approx(40 + 1.2816 * 5, abs=0.15)


def test_softmax_temperature_flattens():
    logits = np.array([[0.0, 1.0, 3.0]])
    assert softmax(logits).sum() == pytest.approx(1)
    assert softmax(logits, 2.0).max() < softmax(logits).max()


def test_constant_model_gives_the_expected_ages(tmp_path, face_images):
    target = np.exp(-0.5 * ((np.arange(101) - 62) / 4.0) ** 2)
    path = write_tiny_age_model(
        tmp_path, weights=np.zeros((3, 101), np.float32), bias=np.log(target / target.sum()).astype(np.float32)
    )
    model = AgeModel(path)
    crops = np.stack([face_images[name][:64, :64] for name in sorted(face_images)])
    estimates = model.predict(crops)
    expected_age, expected_low, expected_high = decode_distribution(target)
    assert estimates.age == pytest.approx([expected_age[0]] * 4, abs=1e-4)
    assert estimates.low == pytest.approx([expected_low[0]] * 4, abs=1e-3)
    assert estimates.high == pytest.approx([expected_high[0]] * 4, abs=1e-3)
    assert estimates.probs.shape == (4, 101)


def test_batches_of_any_size_agree(tiny_model, face_images):
    crops = np.stack([np.roll(face_images[name][:64, :64], shift, 0) for name in face_images for shift in (0, 7)])
    model = AgeModel(tiny_model)
    whole = model.predict(crops)
    pieces = model.predict(crops, batch_size=3)
    assert np.allclose(whole.probs, pieces.probs, atol=1e-6)
    assert len(set(np.round(whole.age, 3))) > 1  # the net does depend on the input
    assert np.all((whole.low <= whole.age) & (whole.age <= whole.high))


def test_crops_are_resized_to_the_input_size(tiny_model, face_images):
    model = AgeModel(tiny_model)
    batch = model.preprocess(np.stack([face_images["child_3-9"][:100, :100]]))
    assert batch.shape == (1, 3, 32, 32) and batch.dtype == np.float32


def test_preprocess_normalises_with_the_sidecars_mean_and_std(tiny_model):
    model = AgeModel(tiny_model)  # sidecar: mean 0.5, std 0.25; input 32 px
    crops = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    expected = ((crops / 255.0 - 0.5) / 0.25).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(model.preprocess(crops), expected, atol=1e-5)


def test_temperature_widens_the_range_but_keeps_the_point(tmp_path, face_images):
    crops = np.stack([face_images["adult_40-49"][:64, :64]])
    sharp = AgeModel(write_tiny_age_model(tmp_path, name="sharp")).predict(crops)
    soft = AgeModel(write_tiny_age_model(tmp_path, name="soft", sidecar={"temperature": 3.0})).predict(crops)
    assert soft.high[0] - soft.low[0] > sharp.high[0] - sharp.low[0]
    assert soft.age[0] == pytest.approx(sharp.age[0])


def test_poor_faces_take_the_poor_temperature_and_others_keep_theirs(tmp_path, face_images):
    crops = np.stack([face_images["adult_40-49"][:64, :64]] * 2)
    model = AgeModel(write_tiny_age_model(tmp_path, sidecar={"temperature_poor": 3.0}))
    plain = model.predict(crops)
    marked = model.predict(crops, poor=np.array([False, True]))
    assert (marked.low[0], marked.high[0]) == (plain.low[0], plain.high[0])
    assert marked.high[1] - marked.low[1] > plain.high[1] - plain.low[1]
    assert marked.age[1] == pytest.approx(plain.age[1])


def test_survival_offsets_move_the_range_and_p_over_but_not_the_point(tmp_path, face_images):
    crops = np.stack([face_images["adult_40-49"][:64, :64]])
    plain = AgeModel(write_tiny_age_model(tmp_path, name="plain")).predict(crops)
    older = AgeModel(write_tiny_age_model(tmp_path, name="older", sidecar={"survival_offsets": [1.0] * 100}))
    shifted = older.predict(crops)
    assert shifted.age[0] == pytest.approx(plain.age[0])
    assert shifted.low[0] > plain.low[0] and shifted.high[0] > plain.high[0]
    assert probability_at_least(shifted.probs, 30)[0] > probability_at_least(plain.probs, 30)[0]
    assert shifted.probs.sum() == pytest.approx(1) and shifted.probs.min() >= 0
    assert read_model_info(older.path).survival_offsets == (1.0,) * 100  # read back as numbers


def test_flip_averaging_of_a_flip_invariant_net_changes_nothing(tmp_path, face_images):
    crops = np.stack([face_images["adult_40-49"][:64, :64]])
    plain = AgeModel(write_tiny_age_model(tmp_path, name="plain")).predict(crops)
    flipped = AgeModel(write_tiny_age_model(tmp_path, name="flip", sidecar={"tta_flip": True})).predict(crops)
    assert np.allclose(plain.probs, flipped.probs, atol=1e-6)


def test_empty_batch(tiny_model):
    estimates = AgeModel(tiny_model).predict(np.zeros((0, 64, 64, 3), np.uint8))
    assert estimates.age.shape == (0,) and estimates.probs.shape == (0, 101)


def test_sidecar_round_trip(tiny_model):
    info = read_model_info(tiny_model)
    assert info.name == "tiny" and info.input_size == 32 and info.mean == (0.5, 0.5, 0.5)
    assert ModelInfo.from_dict(info.to_dict()) == info


def test_written_sidecar_reads_back_equal(tmp_path, tiny_model):
    info = replace(read_model_info(tiny_model), temperature=np.float64(1.25), metrics={"mae": np.float32(4.5)})
    written = write_model_info(tmp_path / "copy.onnx", info)
    assert written == tmp_path / "copy.json" and not list(tmp_path.glob(".*partial"))
    back = read_model_info(tmp_path / "copy.onnx")
    assert back == replace(info, temperature=1.25, metrics={"mae": 4.5})
    assert list(json.loads(written.read_text()))[:2] == ["format", "format_version"]


def test_writer_takes_only_a_model_info(tmp_path, tiny_model):
    with pytest.raises(TypeError, match="expected a ModelInfo, got dict"):
        write_model_info(tmp_path / "m.onnx", read_model_info(tiny_model).to_dict())


def test_update_merges_metrics_and_checks_the_change(tmp_path):
    model = write_tiny_age_model(tmp_path)  # its own: the session's tiny model is shared
    info = update_model_info(model, tta_flip=True, metrics={"flip_choice": {"tta_flip": True}})
    assert read_model_info(model) == info
    assert info.tta_flip and set(info.metrics) == {"utkface_test", "flip_choice"}
    with pytest.raises(ModelError, match="does not fit a howold age model .temperature must be positive"):
        update_model_info(model, temperature=0.0)
    assert read_model_info(model) == info  # a refused change writes nothing


def test_every_measurement_in_the_shipped_sidecar_has_a_metric_key_that_writes_it_back():
    metrics = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text(encoding="utf-8"))["metrics"]
    measured = {key: MetricKey.parse(key) for key in metrics}
    for key, parsed in measured.items():
        assert parsed is None or parsed.key == key, key
    assert measured["utkface_test_end_to_end"] == MetricKey("utkface", "test", end_to_end=True)
    assert measured["aaf_val_degraded"] == MetricKey("aaf", "val", degraded=True)
    assert measured["fairface_all"] == MetricKey("fairface", "all")
    assert {key for key, parsed in measured.items() if parsed is None} == {
        "val_mae_torch",
        "flip_choice",
        "calibration",
        "calibration_poor",
        "survival_calibration",
    }


@pytest.mark.parametrize(
    "key",
    ["val_mae_torch", "flip_choice", "calibration", "calibration_poor", "utkface", "utkface_test_extra", "_test"],
)
def test_a_key_that_names_no_measurement_parses_to_none(key):
    assert MetricKey.parse(key) is None


@pytest.mark.parametrize(
    "measured",
    [
        MetricKey("appa_real", "test"),
        MetricKey("csv", "val", end_to_end=True, degraded=True),
        MetricKey("utkface", "train", degraded=True),
    ],
)
def test_metric_keys_round_trip(measured):
    assert MetricKey.parse(measured.key) == measured


@pytest.mark.parametrize(("data", "split"), [("utkface", "validation"), ("", "test"), ("a-b", "test")])
def test_a_metric_key_refuses_an_unknown_split_or_data_name(data, split):
    with pytest.raises(ValueError, match="expected"):
        MetricKey(data, split)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        AgeModel(tmp_path / "absent.onnx")


def test_missing_sidecar(tmp_path, tiny_model):
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(tiny_model.read_bytes())
    with pytest.raises(ModelError, match="sidecar lonely.json is missing"):
        AgeModel(lonely)


def test_corrupt_model_file(tmp_path, tiny_model):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(tiny_model.read_bytes()[:200])
    broken.with_suffix(".json").write_text(tiny_model.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        AgeModel(broken).prepare()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "does not describe a howold age model"),
        ({"output": "age_regression"}, "does not describe a howold age model"),
        ({"std": [0, 1, 1]}, "does not describe a howold age model"),
        ({"format_version": 99}, "upgrade howold"),
        ({"temperature_poor": 0}, "temperature_poor: expected a positive number"),
        ({"survival_offsets": [0.1, 0.2, 0.3]}, r"survival_offsets: expected 100 numbers \(ages 1..100\), got 3"),
        ({"survival_offsets": [float("nan")] * 100}, "survival_offsets: expected finite numbers"),
    ],
)
def test_bad_sidecars(tmp_path, change, message):
    path = write_tiny_age_model(tmp_path)
    break_sidecar(path, change)
    with pytest.raises(ModelError, match=message):
        AgeModel(path)


def test_sidecar_not_json(tmp_path):
    path = write_tiny_age_model(tmp_path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        AgeModel(path)


def test_output_size_must_match_the_sidecar(tmp_path):
    path = write_tiny_age_model(tmp_path, classes=50)
    break_sidecar(path, {"max_age": 100})
    with pytest.raises(ModelError, match="outputs 50 ages but the sidecar says 101"):
        AgeModel(path).prepare()
    assert issubclass(ModelError, HowoldError)


def test_logits_then_estimates_equal_predict(tmp_path, face_images):
    model = AgeModel(write_tiny_age_model(tmp_path, name="views", sidecar={"tta_flip": True}))
    crops = np.stack([face_images[name][:64, :64] for name in sorted(face_images)])
    logits = model.logits(crops, batch_size=3)
    assert logits.shape == (2, 4, 101)
    direct = model.predict(crops)
    assert np.allclose(model.estimates_from_logits(logits).age, direct.age)
    hotter = model.estimates_from_logits(logits, temperature=4.0)
    assert np.all(hotter.high - hotter.low > direct.high - direct.low)


def test_views_of_a_face_are_averaged_into_one_estimate(tmp_path, face_images):
    model = AgeModel(write_tiny_age_model(tmp_path, name="views", sidecar={"tta_flip": True}))
    crops = np.stack([face_images[name][:64, :64] for name in sorted(face_images)])  # 4 faces
    shifted = np.roll(crops, 9, axis=1)
    one = model.predict_views(crops[None])
    assert np.allclose(one.probs, model.predict(crops).probs)
    both = model.predict_views(np.stack([crops, shifted]), batch_size=3)
    expected = (model.predict(crops).probs + model.predict(shifted).probs) / 2
    assert both.probs.shape == (4, 101) and np.allclose(both.probs, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"expected shape \(K, N, H, W, 3\)"):
        model.predict_views(crops)


def test_the_model_label_is_name_and_version(tiny_model):
    info = read_model_info(tiny_model)
    assert info.label == f"{info.name} {info.version}" and " " in info.label
