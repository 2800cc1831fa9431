"""One-batch training runs on the real fixture faces, then ONNX export parity and `howold val`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
pytest.importorskip("timm")

from tiny_models import computed_pads  # noqa: E402

import howold  # noqa: E402
from howold.cli import main  # noqa: E402
from howold.train.config import load_config  # noqa: E402
from howold.train.export import PARITY_TOLERANCE, export  # noqa: E402
from howold.train.run import train  # noqa: E402

pytestmark = pytest.mark.slow


def one_batch_config(overrides: list[str], backbone: str, pretrained: str):
    return load_config(
        None,
        [
            *overrides,
            f"name={backbone}",
            f"model.backbone={backbone}",
            f"model.pretrained={pretrained}",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
        ],
    )


@pytest.mark.parametrize("backbone, pretrained", [("tf_efficientnet_lite0", "bundled"), ("tiny_vit_5m_224", "none")])
def test_one_batch_run_then_export_parity(tmp_path, faces_csv, face_paths, backbone, pretrained, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), backbone, pretrained)
    summary = train(cfg)
    assert summary["train_crops"] == len(face_paths) and summary["best_checkpoint"]
    run_dir = cfg.run_dir
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "curves.png").is_file() and (run_dir / "error_by_age.png").is_file()

    out = tmp_path / "model.onnx"
    sidecar = export(summary["best_checkpoint"], out)
    assert sidecar["training"]["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert computed_pads(out) == []  # lite0's TF-"same" pads frozen for its input size
    assert (sidecar["input_size"], sidecar["crop_size"], sidecar["backbone"]) == (64, 64, backbone)
    written = json.loads(out.with_suffix(".json").read_text())
    assert set(written) >= {
        "format",
        "format_version",
        "name",
        "version",
        "backbone",
        "input_size",
        "crop_size",
        "crop_margin",
        "mean",
        "std",
        "output",
        "min_age",
        "max_age",
        "temperature",
        "interval",
        "tta_flip",
        "metrics",
        "training",
    }

    from howold.age_model import AgeModel

    batch = AgeModel(out).prepare().predict(np.zeros((2, 64, 64, 3), np.uint8))
    assert batch.probs.shape == (2, 101)


def test_resume_continues_from_last_checkpoint(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "bundled")
    train(cfg)
    cfg.trainer.max_epochs = 2
    summary = train(cfg, resume=True)
    assert summary["resumed_from"].endswith("last.ckpt") and summary["epochs_done"] == 2


def test_val_and_calibrate_cli(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "bundled")
    summary = train(cfg)
    model = tmp_path / "m.onnx"
    assert (
        main(["export", summary["best_checkpoint"], "--out", str(model), "--name", "released", "--version", "9.8.7"])
        == 0
    )
    assert json.loads(model.with_suffix(".json").read_text())["version"] == "9.8.7"
    teacher = tmp_path / "noflip.onnx"
    assert main(["export", summary["best_checkpoint"], "--out", str(teacher), "--no-flip", "--no-check"]) == 0
    assert json.loads(teacher.with_suffix(".json").read_text())["tta_flip"] is False
    assert json.loads(model.with_suffix(".json").read_text())["tta_flip"] is True  # the config's default
    assert teacher.read_bytes() == model.read_bytes()  # the same network

    def val(*flags: str) -> int:
        return main(["val", "--model", str(model), "--data", str(faces_csv), "--split", "val", *flags])

    out = tmp_path / "val.json"
    assert val("--cache-dir", str(tmp_path / "cache"), "--json", str(out), "--calibrate", "--record") == 0
    result = json.loads(out.read_text())
    assert result["evaluated"] == len(face_paths) and result["no_face"] == 0
    assert set(result["overall"]) >= {"mae", "cs5", "coverage", "mean_range_width"}
    assert set(result["by_age_band"]) == {"0-12", "13-19", "20-39", "40-59", "60+"}
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["temperature"] == result["temperature"] != 1.0
    assert sidecar["metrics"]["calibration"]["split"] == "val"
    assert "csv_val" in sidecar["metrics"]

    degraded = tmp_path / "degraded.json"
    assert val("--cache-dir", str(tmp_path / "cache"), "--degraded", "--calibrate", "--json", str(degraded)) == 0
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["temperature_poor"] == sidecar["metrics"]["calibration_poor"]["temperature_poor"] > 0
    assert sidecar["temperature"] == result["temperature"]  # the plain temperature stays
    assert json.loads(degraded.read_text())["degraded"] is True

    e2e = tmp_path / "e2e.json"
    assert val("--end-to-end", "--json", str(e2e)) == 0
    # end to end is what a person gets from howold.Predictor (small faces read from several framings)
    predictor = howold.Predictor(model)
    rows = [r for r in csv.DictReader(faces_csv.open()) if r["split"] == "val"]
    faces = [predictor.predict(r["path"])[0] for r in rows]
    expected = np.mean([abs(face.age - float(r["age"])) for face, r in zip(faces, rows)])
    e2e_result = json.loads(e2e.read_text())
    assert e2e_result["overall"]["mae"] == pytest.approx(expected, abs=1e-3)
    # coverage per warning: each warning's faces, and those with none, as the predictor warns them
    counts = {name: sum(name in f.warnings for f in faces) for name in howold.WARNINGS}
    counts["none"] = sum(not f.warnings for f in faces)
    assert {k: m["n"] for k, m in e2e_result["by_warning"].items()} == {k: n for k, n in counts.items() if n}


def test_calibration_refuses_test_data(tmp_path):
    from howold.errors import HowoldError
    from howold.train.evaluate import EvalData, calibrate

    with pytest.raises(HowoldError, match="never on test"):
        calibrate(tmp_path / "m.onnx", EvalData("utkface", "test"))
    with pytest.raises(HowoldError, match="never on test"):
        calibrate(tmp_path / "m.onnx", EvalData("fairface", "val"))


def test_fine_tune_starts_from_a_finished_run(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    import torch

    first = train(one_batch_config(tiny_run(tmp_path / "a"), "tf_efficientnet_lite0", "bundled"))
    cfg = one_batch_config(tiny_run(tmp_path / "b"), "tf_efficientnet_lite0", "none")
    cfg.model.init_from = first["best_checkpoint"]
    cfg.optim.lr = 0.0  # no step changes the weights, so they must equal the first run's
    second = train(cfg)
    before = torch.load(first["best_checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    after = torch.load(second["best_checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    head = next(k for k in before if k.startswith("net.classifier.weight"))
    assert torch.equal(before[head], after[head])


def test_fine_tune_from_a_wrong_file_is_one_sentence(tmp_path, faces_csv, tiny_run):
    from howold.errors import HowoldError

    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "none")
    cfg.model.init_from = str(faces_csv)
    with pytest.raises(HowoldError, match="not a howold training checkpoint"):
        train(cfg)


def test_ema_checkpoint_holds_the_averaged_weights_and_exports(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "bundled")
    cfg.optim.ema_decay = 0.5
    cfg.optim.lr = 0.05
    cfg.data.batch_size, cfg.trainer.limit_train_batches = 2, 2  # the first step only starts the average
    summary = train(cfg)
    checkpoint = torch.load(summary["best_checkpoint"], map_location="cpu", weights_only=False)
    head = next(k for k in checkpoint["state_dict"] if k.startswith("net.classifier.weight"))
    averaged, current = checkpoint["state_dict"][head], checkpoint["current_model_state"][head]
    assert not torch.equal(averaged, current)  # the step moved the weights; the average lags behind
    sidecar = export(summary["best_checkpoint"], tmp_path / "ema.onnx")
    assert sidecar["training"]["parity_max_abs_diff"] <= PARITY_TOLERANCE
    cfg.trainer.max_epochs = 2
    assert train(cfg, resume=True)["epochs_done"] == 2


def test_ema_that_starts_later_leaves_the_weights_alone_until_then(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "bundled")
    cfg.optim.ema_decay, cfg.optim.ema_start_epoch = 0.5, 1.0
    cfg.optim.lr = 0.05
    cfg.data.batch_size, cfg.trainer.limit_train_batches = 2, 2
    checkpoint = torch.load(train(cfg)["best_checkpoint"], map_location="cpu", weights_only=False)
    head = next(k for k in checkpoint["state_dict"] if k.startswith("net.classifier.weight"))
    # epoch 0 is before the start: what was validated and saved are the trained weights themselves
    assert torch.equal(checkpoint["state_dict"][head], checkpoint["current_model_state"][head])
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 0
    cfg.trainer.max_epochs = 2
    train(cfg, resume=True)
    last = torch.load(cfg.run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert int(last["averaging_state"]["n_averaged"]) == 2  # both steps of epoch 1 were averaged
    assert not torch.equal(last["state_dict"][head], last["current_model_state"][head])


def test_last_checkpoint_is_written_every_epoch_even_without_improvement(tmp_path, faces_csv, face_paths, tiny_run):
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    cfg = one_batch_config(tiny_run(), "tf_efficientnet_lite0", "bundled")
    cfg.optim.ema_decay = 1.0  # validation sees the starting weights, so val MAE never improves
    cfg.trainer.max_epochs = 3
    train(cfg)
    checkpoints = cfg.run_dir / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["epoch"] == 2  # the third epoch, counted from 0
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best-00.ckpt", "last.ckpt"]


def test_distillation_from_an_exported_teacher(tmp_path, faces_csv, face_paths, tiny_run):
    """howold teach writes one distribution per training photo; a run with loss.teacher trains on them."""
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    from howold.errors import HowoldError
    from howold.train.datamodule import AgeDataModule
    from howold.train.teacher import write_teacher_targets

    first = train(one_batch_config(tiny_run(tmp_path / "a"), "tf_efficientnet_lite0", "bundled"))
    teacher = tmp_path / "teacher.onnx"
    assert main(["export", first["best_checkpoint"], "--out", str(teacher)]) == 0
    targets = tmp_path / "teacher.npz"
    assert (
        main(
            [
                "teach",
                "--model",
                str(teacher),
                "--model",
                str(teacher),
                "--data",
                str(faces_csv),
                "--cache-dir",
                str(tmp_path / "a" / "cache"),
                "--out",
                str(targets),
            ]
        )
        == 0
    )
    with np.load(targets) as f:
        assert sorted(f["paths"]) == sorted(str(p) for p in face_paths)
        assert f["probs"].shape == (len(face_paths), 101)
        np.testing.assert_allclose(f["probs"].astype(np.float64).sum(axis=1), 1.0, atol=1e-2)
    with pytest.raises(HowoldError, match="training data"):
        write_teacher_targets([str(teacher)], tmp_path / "val.npz", str(faces_csv), "val")

    cfg = one_batch_config(tiny_run(tmp_path / "b"), "tf_efficientnet_lite0", "bundled")
    cfg.loss.teacher, cfg.loss.teacher_weight = str(targets), 0.5
    data = AgeDataModule(cfg, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    data.setup()
    _, _, _, target, has_target = data.train_set[0]
    assert has_target and target.sum().item() == pytest.approx(1.0, abs=1e-3)
    assert len(data.val_set[0]) == 3  # validation scores against the labels alone
    summary = train(cfg)
    assert summary["best_val_mae"] is not None and np.isfinite(summary["best_val_mae"])
