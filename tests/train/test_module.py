"""The age LightningModule with its typed config, and reading it back from a checkpoint (no training run)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
pytest.importorskip("timm")

from howold.errors import HowoldError  # noqa: E402
from howold.train.checkpoints import load_module, load_training_checkpoint  # noqa: E402
from howold.train.config import TrainConfig, load_config  # noqa: E402
from howold.train.losses import NUM_AGES, age_loss  # noqa: E402
from howold.train.model import build_network  # noqa: E402
from howold.train.module import AgeModule  # noqa: E402

MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def small_config(*overrides: str) -> TrainConfig:
    return load_config(None, ["model.backbone=tf_efficientnet_lite0", "model.pretrained=none", *overrides])


def small_module(cfg: TrainConfig) -> AgeModule:
    torch.manual_seed(0)
    return AgeModule(build_network(cfg.model, init_weights=False), cfg, MEAN, STD).eval()


def batch(teacher: bool):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 64)
    low, high = torch.tensor([30, 20]), torch.tensor([30, 29])
    if not teacher:
        return x, low, high
    target = torch.softmax(torch.randn(2, NUM_AGES), dim=1)
    return x, low, high, target, torch.tensor([True, True])


def test_the_module_takes_a_typed_config_and_saves_it_as_a_dict():
    cfg = small_config()
    module = small_module(cfg)
    assert module.cfg is cfg and module.hparams["cfg"] == cfg.to_dict()
    with pytest.raises(TypeError, match="cfg: expected a TrainConfig, got dict"):
        AgeModule(module.net, cfg.to_dict(), MEAN, STD)


@pytest.mark.parametrize(
    ("overrides", "teacher", "teacher_weight"),
    [
        ([], False, 0.0),  # no teacher targets in the batch: the label alone
        ([], True, 0.5),  # the config's default share, not a fallback of its own
        (["loss.teacher_weight=0.2"], True, 0.2),
        (["loss.l1_weight=0.1", "loss.sigma=3"], True, 0.5),
    ],
)
def test_model_step_uses_the_configs_loss_settings(overrides, teacher, teacher_weight):
    cfg = small_config(*overrides)
    module = small_module(cfg)
    data = batch(teacher)
    with torch.no_grad():
        loss, _, _, _ = module.model_step(data)
        logits = module(data[0])
    expected = age_loss(
        logits, data[1], data[2], cfg.loss.sigma, cfg.loss.l1_weight, *data[3:], teacher_weight=teacher_weight
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_checkpoint_reads_back_into_the_same_module(tmp_path):
    cfg = small_config("data.input_size=64", "loss.teacher_weight=0.3")
    module = small_module(cfg)
    path = tmp_path / "run.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, path)
    back = load_module(path)
    assert back.cfg == cfg and not back.training
    x = batch(False)[0]
    with torch.no_grad():
        torch.testing.assert_close(back(x), module(x))


def test_a_checkpoint_from_before_a_config_field_loads_with_its_default(tmp_path):
    module = small_module(small_config())
    hparams = dict(module.hparams)
    del hparams["cfg"]["loss"]["teacher_weight"]
    path = tmp_path / "old.ckpt"
    torch.save({"hyper_parameters": hparams, "state_dict": module.state_dict()}, path)
    assert load_module(path).cfg.loss.teacher_weight == TrainConfig().loss.teacher_weight


def test_starting_from_a_checkpoint_that_is_not_one_is_one_sentence(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(HowoldError, match="bad.ckpt: not a howold training checkpoint"):
        load_training_checkpoint(small_module(small_config()).net, str(bad))
