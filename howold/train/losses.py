"""Losses over the age distribution (integer ages MIN_AGE..MAX_AGE, one logit each).

Exact ages: KL divergence from a discretised Gaussian target (sigma in years) centred on the
age, plus optionally `l1_weight` x |mean age - true age| (DLDL-v2, Gao et al. 2018), which aims
the distribution's mean, our point estimate, at the label. Age bins [low, high]: -log of the
probability mass inside the bin.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from howold.train.data import MAX_AGE, MIN_AGE

NUM_AGES = MAX_AGE - MIN_AGE + 1


def ages_tensor(device=None) -> torch.Tensor:
    return torch.arange(MIN_AGE, MAX_AGE + 1, dtype=torch.float32, device=device)


def gaussian_targets(age: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, NUM_AGES) rows summing to 1: Gaussian mass of each integer-age bin [k-.5, k+.5]."""
    ages = ages_tensor(age.device)
    edges = torch.cat([ages - 0.5, ages[-1:] + 0.5])
    z = (edges[None, :] - age.float()[:, None]) / (sigma * 2**0.5)
    mass = (torch.erf(z[:, 1:]) - torch.erf(z[:, :-1])).clamp_min(0) / 2
    mass = mass + 1e-12
    return mass / mass.sum(dim=1, keepdim=True)


def bin_mask(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    ages = ages_tensor(low.device)
    return (ages[None, :] >= low[:, None]) & (ages[None, :] <= high[:, None])


def bin_nll(logits: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Per sample -log P(low <= age <= high)."""
    inside = logits.masked_fill(~bin_mask(low, high), float("-inf"))
    return torch.logsumexp(logits, dim=1) - torch.logsumexp(inside, dim=1)


def kl_to(target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per sample KL(target || softmax(logits)); target rows sum to 1."""
    target = target.clamp_min(1e-12)
    return (target * (target.log() - F.log_softmax(logits, dim=1))).sum(dim=1)


def gaussian_kl(logits: torch.Tensor, age: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per sample KL(target || softmax(logits))."""
    return kl_to(gaussian_targets(age, sigma), logits)


def age_loss(
    logits: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    sigma: float,
    l1_weight: float = 0.0,
    teacher: torch.Tensor | None = None,
    has_teacher: torch.Tensor | None = None,
    teacher_weight: float = 0.0,
) -> torch.Tensor:
    """Mean loss over a batch mixing exact ages (low == high) and bins.

    With `teacher` (N, NUM_AGES) distributions, an exact age's target is `teacher_weight` x the
    teacher's distribution + the rest x the Gaussian, where `has_teacher` says a row is set."""
    exact = low == high
    target = gaussian_targets(low, sigma)
    if teacher is not None and teacher_weight:
        mix = teacher_weight * has_teacher.to(target.dtype)[:, None]
        target = mix * teacher + (1 - mix) * target
    exact_loss = kl_to(target, logits)
    if l1_weight:
        exact_loss = exact_loss + l1_weight * (expected_age(logits) - low.float()).abs()
    per_sample = torch.where(exact, exact_loss, bin_nll(logits, low, high))
    return per_sample.mean()


def expected_age(logits: torch.Tensor) -> torch.Tensor:
    """The point estimate used in training metrics: the mean of softmax(logits)."""
    return F.softmax(logits, dim=1) @ ages_tensor(logits.device)
