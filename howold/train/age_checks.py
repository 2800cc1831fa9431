"""Fit the survival offsets of a model's sidecar (`ModelInfo.survival_offsets`): per age t, the logit
shift that makes P(age >= t) match the share of validation faces at least t years old.

The fit is one number per age t, by maximum likelihood of the labels "at least t" under
sigmoid(logit(P(age >= t)) + offset), with a ridge penalty `strength` (in faces) that pulls it to 0
where few faces are on either side of t. A slope per age as well was tried and rejected: on the
1.0.0 model it narrowed children's ranges until FG-NET test coverage fell from 0.81 to 0.74, while
the offsets alone keep it at 0.77 (scripts/fit_survival_offsets.py, card section "Age checks").
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from howold.age_model import read_model_info, survival

# P(age >= t) is kept inside (SURVIVAL_EPS, 1 - SURVIVAL_EPS) for its logit
SURVIVAL_EPS = 1e-6

# the sets the age checks are fitted (val) and measured (test) on
SETS = ("utkface", "aaf", "fgnet")

# ridge penalty, in faces: 20 keeps ages with a handful of faces on one side near 0, and moves an age
# with a few hundred on each side by its fitted amount (1.0.0: 6 reliability bins out of +-0.05 on the
# test sets against 7 at strength 1)
DEFAULT_STRENGTH = 20.0


def fit_survival_offsets(
    probs: np.ndarray, ages: np.ndarray, min_age: int = 0, strength: float = DEFAULT_STRENGTH
) -> np.ndarray:
    """Return the offsets (one per age min_age + 1 .. min_age + ages - 1) for the distributions
    `probs` (N, ages) of validation faces whose true ages are `ages` (N,)."""
    probs, ages = np.asarray(probs, np.float64), np.asarray(ages, np.float64)
    if probs.ndim != 2 or ages.shape != (len(probs),):
        raise ValueError(f"expected probs (N, ages) and ages (N,), got {probs.shape} and {ages.shape}")
    if strength <= 0:
        raise ValueError(f"strength: expected a positive number, got {strength}")
    tail = np.clip(survival(probs)[:, 1:], SURVIVAL_EPS, 1 - SURVIVAL_EPS)
    logits = np.log(tail / (1 - tail))
    offsets = np.zeros(tail.shape[1])
    for column in range(tail.shape[1]):
        at_least = (ages >= min_age + column + 1).astype(np.float64)
        offsets[column] = _fit_offset(logits[:, column], at_least, strength)
    return offsets


def _fit_offset(logits: np.ndarray, labels: np.ndarray, strength: float) -> float:
    """Newton's method on the penalised log-likelihood of one offset (concave: converges in a few steps)."""
    offset = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(logits + offset)))
        step = (np.sum(p - labels) + strength * offset) / (np.sum(p * (1 - p)) + strength)
        offset -= step
        if abs(step) < 1e-9:
            break
    return float(offset)


def split_samples(root: Path, limit: int | None, split: str = "test") -> dict[str, list]:
    """Each set's photos of `split` (FG-NET: its test or val people), spread over the set with `limit`."""
    from howold.train.data import load_dataset, select_split

    out = {}
    for kind in SETS:
        samples = select_split(load_dataset(kind, root / kind), split)
        if limit:
            samples = samples[:: max(1, len(samples) // limit)][:limit]
        out[kind] = samples
    return out


def cache_path(model: Path, folder: Path, limit: int | None = None, split: str = "test") -> Path:
    """Where `face_distributions` of a model are cached: named by the model, the split and a digest of
    the sidecar's calibration (temperatures, survival offsets), so a new calibration is run again."""
    info = read_model_info(model)
    calibration = json.dumps([info.temperature, info.temperature_poor, info.survival_offsets])
    digest = hashlib.sha256(calibration.encode()).hexdigest()[:8]
    suffix = ("" if split == "test" else f"_{split}") + (f"_limit{limit}" if limit else "")
    return folder / f"age_checks_{info.name}-{info.version}-{digest}{suffix}.npz"


def face_distributions(model: Path, root: Path, limit: int | None = None, split: str = "test") -> dict[str, np.ndarray]:
    """Every photo of `split` through howold.Predictor, as a user's photo goes: per photo with a face,
    its set, true age and the largest face's calibrated distribution; per set the photos without a face."""
    import howold

    predictor = howold.Predictor(model).prepare()
    sets, ages, probs, missed = [], [], [], {}
    min_age = predictor.model_info.min_age
    for kind, samples in split_samples(root, limit, split).items():
        start, missed[kind] = time.perf_counter(), 0
        for sample in samples:
            result = predictor.analyse(sample.path)
            if not result.ok or not result.faces or result.faces[0].distribution is None:
                missed[kind] += 1
                continue
            sets.append(kind)
            ages.append(sample.low)
            probs.append(result.faces[0].distribution.probs)
        seconds = time.perf_counter() - start
        print(f"{kind} {split}: {len(samples)} photos, {missed[kind]} without a face, {seconds:.0f} s", file=sys.stderr)
    return {
        "set": np.array(sets),
        "age": np.array(ages, float),
        "probs": np.array(probs, np.float32),
        "min_age": np.array(min_age),
        "missed_sets": np.array(list(missed)),
        "missed": np.array(list(missed.values())),
    }
