"""Training config: YAML files in configs/ (and configs/history/) and dotted command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from howold.errors import HowoldError
from howold.train.config import load_config

# tune_*.yaml are search spaces for howold tune (tests/train/test_tune.py), not training configs
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.yaml") if not p.name.startswith("tune_"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.relative_to(CONFIG_DIR).as_posix() for p in CONFIGS])
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.data.input_size >= 32 and cfg.model.backbone


def test_overrides_parse_values_as_yaml():
    cfg = load_config(
        None, ["trainer.max_epochs=3", "optim.lr=1e-3", "data.train=[{kind: csv, root: a.csv}]", "augment.flip=false"]
    )
    assert cfg.trainer.max_epochs == 3 and cfg.optim.lr == pytest.approx(1e-3)
    assert cfg.data.train == [{"kind": "csv", "root": "a.csv"}] and cfg.augment.flip is False


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.max_epoch=3", "unknown key"),
        ("max_epochs", "expected key=value"),
        ("data.crop_size.x=1", "not a section"),
    ],
)
def test_bad_overrides_are_explained(override, message):
    with pytest.raises(HowoldError, match=message):
        load_config(None, [override])
