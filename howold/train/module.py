"""Lightning pieces: the crop dataset, the DataModule, and the age LightningModule.

Following lightning-hydra-template: the network is passed into the module, one shared
`model_step` serves train/val/test, hyperparameters are saved with the checkpoint.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import lightning as L
import numpy as np
import torch
import torchmetrics
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from torchvision.transforms import v2

from howold.errors import HowoldError
from howold.train.config import AugmentConfig, TrainConfig
from howold.train.crops import CropCache, CropSet
from howold.train.data import check_files, load_dataset, select_split
from howold.train.degrade import degradation_steps
from howold.train.losses import NUM_AGES, age_loss, expected_age
from howold.train.teacher import read_teacher_targets

log = logging.getLogger(__name__)


def build_transform(aug: AugmentConfig | None, mean, std) -> v2.Compose:
    """uint8 CHW crop → normalised float tensor; with `aug`, random train-time changes first."""
    steps = []
    if aug is not None:
        if aug.flip:
            steps.append(v2.RandomHorizontalFlip())
        steps.append(
            v2.RandomAffine(degrees=aug.degrees, translate=(aug.translate, aug.translate),
                            scale=tuple(aug.scale), interpolation=v2.InterpolationMode.BILINEAR)
        )
        if aug.jitter:
            steps.append(v2.ColorJitter(aug.jitter, aug.jitter, aug.jitter, 0.02))
        if aug.grayscale_p:
            steps.append(v2.RandomGrayscale(aug.grayscale_p))
        if aug.blur_p:
            steps.append(v2.RandomApply([v2.GaussianBlur(5, sigma=(0.3, 1.5))], p=aug.blur_p))
        steps += degradation_steps(aug)
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    if aug is not None and aug.erase_p:
        steps.append(v2.RandomErasing(aug.erase_p, scale=(0.02, 0.2)))
    return v2.Compose(steps)


class CropDataset(Dataset):
    """Cached crops (N, S, S, 3) uint8 with their age intervals; resized like inference does."""

    def __init__(self, crops: CropSet, input_size: int, transform, teacher=None) -> None:
        images = crops.images
        if images.shape[1] != input_size:  # same resize as howold.age_model.AgeModel.preprocess
            images = np.stack([cv2.resize(c, (input_size, input_size), interpolation=cv2.INTER_AREA)
                               for c in images])
        self.images = images
        self.low = torch.tensor([s.low for s in crops.samples], dtype=torch.long)
        self.high = torch.tensor([s.high for s in crops.samples], dtype=torch.long)
        self.transform = transform
        # (targets (N, ages), has_target (N,)) from howold.train.teacher, or None
        self.teacher = None if teacher is None else (torch.from_numpy(teacher[0]), torch.from_numpy(teacher[1]))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = torch.from_numpy(np.array(self.images[i])).permute(2, 0, 1)
        if self.teacher is None:
            return self.transform(image), self.low[i], self.high[i]
        return self.transform(image), self.low[i], self.high[i], self.teacher[0][i], self.teacher[1][i]


@dataclass(frozen=True)
class CropParts:
    """Which rows of a concatenated CropSet come from which data set: names[group[i]] is row i's."""

    names: list[str]
    group: np.ndarray
    weights: list[float | None]

    def sample_weights(self) -> np.ndarray | None:
        """Per-row sampling weights giving each set its `weight` share of an epoch (None: plain
        shuffling, when no set has a weight); sets without a weight take their size's share."""
        if all(w is None for w in self.weights):
            return None
        sizes = np.bincount(self.group, minlength=len(self.names)).astype(float)
        shares = np.array([sizes[i] / sizes.sum() if w is None else w for i, w in enumerate(self.weights)])
        if (shares < 0).any() or shares.sum() <= 0:
            raise HowoldError(f"data.train weights: expected shares >= 0 with a positive sum, got {self.weights}.")
        return (shares / shares.sum() / np.maximum(sizes, 1))[self.group]


def load_crops(cfg: TrainConfig, specs: list, name: str, fraction: float = 1.0) -> tuple[CropSet, CropParts] | None:
    """Load, check and crop the datasets of one stage (e.g. cfg.data.train); None if empty.
    `fraction` < 1 keeps that random share of each set (fixed by cfg.seed)."""
    cache = CropCache(cfg.data.cache_dir, cfg.data.crop_size, cfg.data.crop_margin,
                      workers=cfg.data.crop_workers)
    sets, names, weights = [], [], []
    for spec in specs:
        spec = dict(spec)
        kind, split, weight = spec.pop("kind"), spec.pop("split", None), spec.pop("weight", None)
        samples = select_split(load_dataset(kind, spec.pop("root", None), **spec), split)
        if cfg.data.limit:
            samples = samples[: cfg.data.limit]
        label = f"{kind}-{split or 'all'}" + (f"-first{cfg.data.limit}" if cfg.data.limit else "")
        samples, _ = check_files(samples, label)
        crops = cache.build(samples, label)
        if fraction < 1 and len(crops):
            crops = random_share(crops, fraction, cfg.seed)
        if len(crops):
            sets.append(crops)
            names.append(kind if kind not in names else label)
            weights.append(None if weight is None else float(weight))
    if not sets:
        return None
    group = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    parts = CropParts(names, group, weights)
    if len(sets) == 1:
        return sets[0], parts
    return CropSet(np.concatenate([np.asarray(s.images) for s in sets]),
                   [x for s in sets for x in s.samples],
                   [x for s in sets for x in s.no_face], [x for s in sets for x in s.broken]), parts


def random_share(crops: CropSet, fraction: float, seed: int) -> CropSet:
    """Return a random `fraction` of the crops, the same for the same seed."""
    if not 0 < fraction <= 1:
        raise ValueError(f"data.train_fraction: expected a share in (0, 1], got {fraction}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(crops))[: max(1, round(fraction * len(crops)))])
    return CropSet(np.asarray(crops.images)[keep], [crops.samples[i] for i in keep], crops.no_face, crops.broken)


class AgeDataModule(L.LightningDataModule):
    def __init__(self, cfg: TrainConfig, mean, std) -> None:
        super().__init__()
        self.cfg, self.mean, self.std = cfg, mean, std
        self.train_set = self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        d = self.cfg.data
        loaded_train = load_crops(self.cfg, d.train, "train", d.train_fraction)
        loaded_val = load_crops(self.cfg, d.val, "val")
        if loaded_train is None or loaded_val is None:
            raise RuntimeError("no training or validation crops: check data.train / data.val.")
        (train, self.train_parts), (val, self.val_parts) = loaded_train, loaded_val
        teacher = None
        if self.cfg.loss.teacher:
            teacher = read_teacher_targets(self.cfg.loss.teacher, train.samples, NUM_AGES)
        self.train_set = CropDataset(train, d.input_size, build_transform(self.cfg.augment, self.mean, self.std),
                                     teacher)
        self.val_set = CropDataset(val, d.input_size, build_transform(None, self.mean, self.std))
        log.info("train %d crops, val %d crops", len(self.train_set), len(self.val_set))

    def _loader(self, dataset, shuffle: bool, sampler=None) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(dataset, batch_size=self.cfg.data.batch_size, shuffle=shuffle and sampler is None,
                          sampler=sampler, num_workers=workers, persistent_workers=workers > 0,
                          drop_last=shuffle and len(dataset) > self.cfg.data.batch_size)

    def train_dataloader(self) -> DataLoader:
        weights = self.train_parts.sample_weights()
        sampler = None
        if weights is not None:
            generator = torch.Generator().manual_seed(self.cfg.seed)
            sampler = WeightedRandomSampler(torch.from_numpy(weights), len(weights), replacement=True,
                                            generator=generator)
        return self._loader(self.train_set, True, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)


class AgeModule(L.LightningModule):
    """Age distribution learner. `cfg` is the TrainConfig as a dict (saved in the checkpoint)."""

    def __init__(self, net: torch.nn.Module, cfg: dict, mean: list, std: list) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        if cfg["model"].get("freeze_bn", False):
            # frozen layers, not eval mode: Lightning restores each layer's mode after validation
            from timm.layers import freeze_batch_norm_2d

            self.net = freeze_batch_norm_2d(self.net)
        if cfg["model"].get("channels_last", True):
            self.net = self.net.to(memory_format=torch.channels_last)
        self.sigma = float(cfg["loss"]["sigma"])
        self.l1_weight = float(cfg["loss"].get("l1_weight", 0.0))
        self.teacher_weight = float(cfg["loss"].get("teacher_weight", 0.0))
        self.val_mae = torchmetrics.MeanAbsoluteError()
        self.val_cs5 = torchmetrics.MeanMetric()
        self.val_loss = torchmetrics.MeanMetric()
        self.train_mae = torchmetrics.MeanAbsoluteError()
        self.val_mae_best = torchmetrics.MinMetric()
        self._val_errors: list[torch.Tensor] = []  # |error| per val row (NaN for age bins), in order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.cfg["model"].get("channels_last", True):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def model_step(self, batch):
        x, low, high, *teacher = batch  # + (targets, has_target) when distilling (train set only)
        logits = self(x)
        loss = age_loss(logits, low, high, self.sigma, self.l1_weight, *teacher,
                        teacher_weight=self.teacher_weight if teacher else 0.0)
        return loss, expected_age(logits).detach(), low, high

    def training_step(self, batch, batch_idx):
        loss, pred, low, high = self.model_step(batch)
        exact = low == high
        if exact.any():
            self.train_mae(pred[exact], low[exact].float())
            self.log("train/mae", self.train_mae, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, pred, low, high = self.model_step(batch)
        self.val_loss(loss)
        exact = low == high
        self._val_errors.append(torch.where(exact, (pred - low.float()).abs(), torch.nan))
        if exact.any():
            err = (pred[exact] - low[exact].float()).abs()
            self.val_mae(pred[exact], low[exact].float())
            self.val_cs5((err <= 5).float())
        self.log("val/loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val/mae", self.val_mae, on_epoch=True, prog_bar=True)
        self.log("val/cs5", self.val_cs5, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        self.val_mae_best(self.val_mae.compute())
        self.log("val/mae_best", self.val_mae_best.compute(), prog_bar=False)
        self._log_val_per_set()

    def _log_val_per_set(self) -> None:
        """val/mae_<set> for each val set of several (single process: rows arrive in order)."""
        errors, self._val_errors = torch.cat(self._val_errors) if self._val_errors else None, []
        parts = getattr(getattr(self.trainer, "datamodule", None), "val_parts", None)
        if errors is None or parts is None or len(parts.names) < 2 or len(errors) != len(parts.group):
            return
        group = torch.from_numpy(parts.group).to(errors.device)  # errors are on the GPU when training there
        for i, name in enumerate(parts.names):
            mine = errors[(group == i) & ~errors.isnan()]
            if len(mine):
                self.log(f"val/mae_{name}", mine.mean())

    def configure_optimizers(self):
        o = self.hparams.cfg["optim"]
        decay, no_decay = [], []
        for name, p in self.net.named_parameters():
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
            lr=o["lr"],
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = min(total - 1, int(o["warmup_epochs"] * total / epochs))
        floor = o["min_lr_ratio"]

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            t = (step - warmup) / max(1, total - warmup)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
