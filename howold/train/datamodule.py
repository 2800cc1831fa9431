"""The data side of training: cached crops as a torch Dataset, the train-time transforms, several
data sets in one epoch (CropParts, sampling weights), and the LightningDataModule over them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from torchvision.transforms import v2

from howold.errors import HowoldError
from howold.train.config import AugmentConfig, TrainConfig
from howold.train.crops import CropCache, CropSet
from howold.train.data import Sample, check_files, check_training_split, load_dataset, select_split
from howold.train.degrade import degradation_steps
from howold.train.losses import NUM_AGES
from howold.train.teacher import read_teacher_targets

log = logging.getLogger(__name__)


def build_transform(aug: AugmentConfig | None, mean, std) -> v2.Compose:
    """uint8 CHW crop → normalised float tensor; with `aug`, random train-time changes first."""
    steps = []
    if aug is not None:
        if aug.flip:
            steps.append(v2.RandomHorizontalFlip())
        steps.append(
            v2.RandomAffine(
                degrees=aug.degrees,
                translate=(aug.translate, aug.translate),
                scale=tuple(aug.scale),
                interpolation=v2.InterpolationMode.BILINEAR,
            )
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
            images = np.stack([cv2.resize(c, (input_size, input_size), interpolation=cv2.INTER_AREA) for c in images])
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
    `fraction` < 1 keeps that random share of each set's photos (fixed by cfg.seed), and crops only those."""
    cache = CropCache(cfg.data.cache_dir, cfg.data.crop_size, cfg.data.crop_margin, workers=cfg.data.crop_workers)
    sets, names, weights = [], [], []
    for spec in specs:
        spec = dict(spec)
        kind, split, weight = spec.pop("kind"), spec.pop("split", None), spec.pop("weight", None)
        check_training_split(kind, split)
        samples = select_split(load_dataset(kind, spec.pop("root", None), **spec), split)
        if cfg.data.limit:
            samples = samples[: cfg.data.limit]
        label = f"{kind}-{split or 'all'}" + (f"-first{cfg.data.limit}" if cfg.data.limit else "")
        if fraction < 1 and samples:  # before cropping: a 2% run once cut all 18,657 UTKFace photos (186 s)
            samples = random_share(samples, fraction, cfg.seed)
            label += f"-share{fraction:g}-seed{cfg.seed}"
        samples, _ = check_files(samples, label)
        crops = cache.build(samples, label)
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
    return CropSet(
        np.concatenate([np.asarray(s.images) for s in sets]),
        [x for s in sets for x in s.samples],
        [x for s in sets for x in s.no_face],
        [x for s in sets for x in s.broken],
    ), parts


def random_share(samples: list[Sample], fraction: float, seed: int) -> list[Sample]:
    """Return a random `fraction` of the samples (at least one), in their order, the same for the same seed."""
    if not 0 < fraction <= 1:
        raise ValueError(f"data.train_fraction: expected a share in (0, 1], got {fraction}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(samples))[: max(1, round(fraction * len(samples)))])
    return [samples[i] for i in keep]


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
        self.train_set = CropDataset(
            train, d.input_size, build_transform(self.cfg.augment, self.mean, self.std), teacher
        )
        self.val_set = CropDataset(val, d.input_size, build_transform(None, self.mean, self.std))
        log.info("train %d crops, val %d crops", len(self.train_set), len(self.val_set))

    def _loader(self, dataset, shuffle: bool, sampler=None) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_size=self.cfg.data.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            drop_last=shuffle and len(dataset) > self.cfg.data.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        weights = self.train_parts.sample_weights()
        sampler = None
        if weights is not None:
            generator = torch.Generator().manual_seed(self.cfg.seed)
            sampler = WeightedRandomSampler(
                torch.from_numpy(weights), len(weights), replacement=True, generator=generator
            )
        return self._loader(self.train_set, True, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False)
