"""Knowledge distillation: soft age targets from exported teacher models, written once, read in training.

`howold teach --model a.onnx --model b.onnx --out cache/teacher/train.npz` runs each teacher (ONNX,
torch-free) on the cached training crops, with and without a horizontal flip, and stores the averaged
age distribution of every photo, keyed by its path. A training config then points `loss.teacher`
at that file; `loss.teacher_weight` mixes it with the Gaussian label target (Hinton et al. 2015).
The crops are the un-augmented ones: the train-time changes (small shifts, flips, colour) leave the
age alone, so one target per photo serves every augmented view.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from howold.errors import HowoldError
from howold.train import DEFAULT_CACHE_DIR

log = logging.getLogger(__name__)


def write_teacher_targets(
    models: list[str],
    out: str | Path,
    data: str = "utkface",
    split: str = "train",
    root: str | None = None,
    cache_dir: str = DEFAULT_CACHE_DIR,
    flip: bool = True,
    limit: int | None = None,
) -> dict:
    """Average the teachers' distributions over a split's cached crops; write `out` (.npz); return a summary."""
    from howold.age_model import AgeModel, decode_distribution, softmax
    from howold.train.data import TEST_ONLY
    from howold.train.evaluate import EvalData, cached_crops, true_ages

    if split in ("val", "test") or data.replace("-", "_").lower() in TEST_ONLY:
        raise HowoldError(f"teacher targets are for training data; got {data} split {split!r}.")
    teachers = [AgeModel(path).prepare() for path in models]
    first = teachers[0].info
    for model in teachers[1:]:
        info = model.info
        if (info.crop_size, info.crop_margin, info.min_age, info.max_age) != (
            first.crop_size,
            first.crop_margin,
            first.min_age,
            first.max_age,
        ):
            raise HowoldError(
                f"{model.path}: crop or age range differs from {teachers[0].path}; teachers must share them."
            )
    crops = cached_crops(EvalData(data, split, root, cache_dir, limit), first)
    images = np.asarray(crops.images)
    views = []
    for model in teachers:
        for view in [images, images[:, :, ::-1]] if flip else [images]:
            views.append(softmax(model.logits(np.ascontiguousarray(view))[0]))
    probs = np.mean(views, axis=0)
    out = Path(out)
    save_teacher_targets(out, [s.path for s in crops.samples], probs, first.min_age, [str(m) for m in models])
    exact, ages = true_ages(crops.samples)
    age, _, _ = decode_distribution(probs, min_age=first.min_age)
    summary = {
        "out": str(out),
        "crops": len(images),
        "views": len(views),
        "teacher_mae_on_this_split": round(float(np.abs(age - ages)[exact].mean()), 3),
    }
    log.info("teacher targets: %s", summary)
    return summary


def save_teacher_targets(out: str | Path, paths: list[str], probs: np.ndarray, min_age: int, models: list[str]) -> None:
    """The teacher-targets file `read_teacher_targets` reads: each photo's path and age distribution."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out, paths=np.array(paths), probs=np.asarray(probs).astype(np.float16), min_age=min_age, models=np.array(models)
    )


def read_teacher_targets(path: str | Path, samples: list, num_ages: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, num_ages) float32 targets aligned with `samples`, and which samples have one (N,) bool."""
    try:
        with np.load(path) as f:
            paths, probs = list(f["paths"]), f["probs"].astype(np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise HowoldError(f"loss.teacher: cannot read teacher targets {path}: {exc}") from exc
    if probs.shape[1] != num_ages:
        raise HowoldError(f"loss.teacher: {path} has {probs.shape[1]} ages per target, the network {num_ages}.")
    row = {p: i for i, p in enumerate(paths)}
    targets = np.zeros((len(samples), num_ages), np.float32)
    found = np.zeros(len(samples), bool)
    for i, s in enumerate(samples):
        j = row.get(s.path)
        if j is not None:
            targets[i], found[i] = probs[j] / probs[j].sum(), True
    if not found.any():
        raise HowoldError(f"loss.teacher: {path} has no target for any training photo (other data or paths?).")
    log.info("teacher targets for %d of %d training crops", found.sum(), len(samples))
    return targets, found
