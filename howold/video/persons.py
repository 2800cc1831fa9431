"""One age per person from many looks at their face: the combination rule, pure numpy.

Each look (a sampled frame where the person's face was found) gives the age model's point age
`a_t` and its calibrated distribution `p_t` over the integer ages. The rule:

1. **Weight** each look by how much it shows: `w_t = score_t * size_t * sharp_t`, where `score_t`
   is the detector's score, `size_t = min(1, side_t / FULL_SIZE_PX)` (the face box's short side)
   and `sharp_t = min(1, sharpness_t / FULL_SHARPNESS)` (variance of the Laplacian of the crop),
   each factor at least `MIN_FACTOR`. A small, blurry or half-seen face counts for less.
2. **Age**: the weighted mean of the looks' point ages, `sum(w_t a_t) / sum(w_t)`: it always lies
   within the per-frame spread.
3. **Evidence**: `n_eff = (sum w_t)^2 / sum(w_t^2)`, the number of equally good looks the
   weights are worth (Kish's effective sample size): n for n equal looks, near 1 when one look
   dominates.
4. **Range**: the 10 % and 90 % quantiles of the weighted mixture of the looks' distributions,
   each first narrowed around its own mean by `s = sqrt(SHARED + (1 - SHARED) / n_eff)`.
   `SHARED` is the share of a single look's error that every look at one person shares (the
   same face, light and camera fool the model the same way in every frame), so no number of
   frames narrows the range below `sqrt(SHARED)` of one look's. Looks that agree give a range
   about `s` times one look's; looks that disagree keep the mixture wide, because their means
   stay where they are. One look gives exactly that look's range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FULL_SIZE_PX = 96.0  # faces at least this many pixels across (short side) get full weight
FULL_SHARPNESS = 72.0  # four times quality.BLUR_VARIANCE: sharper crops get full weight
MIN_FACTOR = 0.05
# Share of one look's error variance that all looks at a person share, chosen on UTKFace val clips by
# `nice -n 10 python scripts/video_coverage.py --json coverage.json` (seed 0; 8 frames at 5/s, each clip
# one photo panned and zoomed, with noise and JPEG per frame): the rho whose 80% range covers closest to 80%.
# val, 200 clips: 0.815 covered, mean width 13.5 years (a single frame's range: 0.809, 13.6; 0.5 covered 0.705).
# test, 200 clips: 0.790, 14.4 (a single frame: 0.788, 14.6). Such clips share almost all of each frame's
# error, so 0.9 is an upper bound of the frames' correlation, the cautious end: on clips of 2-4 different
# photos of one age (errors shared only through the age) it over-covers, test 0.97 at 17.7 years, where
# 0.0 would give 0.81 at 12.1. A real clip of one person lies between; its face fools every frame alike.
SHARED = 0.9


def look_weight(score: float, side: float, sharpness: float | None) -> float:
    """The weight of one look at a face (rule step 1)."""
    size = min(1.0, max(MIN_FACTOR, side / FULL_SIZE_PX))
    sharp = 1.0 if sharpness is None else min(1.0, max(MIN_FACTOR, sharpness / FULL_SHARPNESS))
    return float(max(MIN_FACTOR, score) * size * sharp)


def effective_looks(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's effective sample size of the weights (rule step 3)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) and (w**2).sum() > 0 else 0.0


def narrowing(n_eff: float, shared: float = SHARED) -> float:
    """How much each look's distribution is narrowed with `n_eff` looks' worth of evidence (step 4)."""
    return math.sqrt(shared + (1.0 - shared) / max(n_eff, 1.0))


def combine(
    ages: Sequence[float],
    probs: np.ndarray,
    weights: Sequence[float],
    interval: float = 0.8,
    min_age: int = 0,
    shared: float = SHARED,
) -> tuple[float, float, float, float]:
    """Return (age, low, high, n_eff) for one person from their looks: point ages (n,), calibrated
    distributions (n, ages) over min_age.., and weights (n,)."""
    age_array = np.asarray(ages, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if len(age_array) == 0 or w.sum() <= 0:
        raise ValueError("combine: expected at least one look with a positive weight")
    probs = np.asarray(probs, dtype=np.float64).reshape(len(age_array), -1)
    share = w / w.sum()
    age = float(share @ age_array)
    n_eff = effective_looks(w)
    s = narrowing(n_eff, shared)
    probs = probs / probs.sum(axis=1, keepdims=True)
    edges = np.arange(probs.shape[1] + 1) + min_age - 0.5  # age k covers [k - 0.5, k + 0.5]
    cdfs = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=1)], axis=1)
    means = probs @ (np.arange(probs.shape[1]) + min_age)
    # narrowing p_t around its mean m by s: F'(x) = F(m + (x - m) / s), on a fine grid of ages
    grid = np.linspace(edges[0], edges[-1], 8 * len(edges))
    mixture = np.zeros_like(grid)
    for cdf, mean, weight in zip(cdfs, means, share):
        mixture += weight * np.interp(mean + (grid - mean) / s, edges, cdf, left=0.0, right=1.0)
    mixture += np.arange(len(grid)) * 1e-12  # strictly increasing for the inverse
    low = float(np.interp((1 - interval) / 2 * mixture[-1], mixture, grid))
    high = float(np.interp((1 + interval) / 2 * mixture[-1], mixture, grid))
    return age, min(low, age), max(high, age), n_eff
