"""Train-time changes that reproduce what real photos do to a face, beyond UTKFace's clean chips.

Each is a callable on a uint8 CHW tensor (the crop before normalisation), applied with its own
probability from `AugmentConfig`:

- old print: grey, sepia or a faded colour cast, with lowered contrast (scanned family photos;
  FG-NET has 175 greyscale scans among 1,002);
- low resolution: down-sampled to a 12-48 px face side and back up, as a small face in a group
  photo reaches the age model (a 2000 px group photo at `max_side` 1280 gives faces of ~40 px);
- JPEG artefacts at quality 10-60;
- grain: Gaussian noise of σ 3-15 grey levels;
- hard light: gamma 0.5-2.0 (over- and under-exposure).
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

SEPIA = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def _to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float()


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    return image.round().clamp(0, 255).to(torch.uint8)


def old_print(image: torch.Tensor) -> torch.Tensor:
    """Grey, sepia or a faded colour cast, with contrast lowered towards the mean."""
    x = _to_float(image)
    kind = random.random()
    if kind < 0.4:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).expand(3, -1, -1)
    elif kind < 0.7:
        x = torch.einsum("ij,jhw->ihw", SEPIA, x)
    else:
        cast = torch.tensor([random.uniform(0.8, 1.15) for _ in range(3)])[:, None, None]
        x = x * cast
    contrast = random.uniform(0.6, 1.0)
    x = x.mean() + contrast * (x - x.mean()) + random.uniform(-10, 25)
    return _to_uint8(x)


def low_resolution(image: torch.Tensor, min_side: int = 12, max_side: int = 48) -> torch.Tensor:
    """Down-sample so the crop's side is `min_side`..`max_side` px, then back up (bilinear)."""
    size = image.shape[-1]
    side = random.randint(min_side, min(max_side, size))
    small = F.interpolate(_to_float(image)[None], size=(side, side), mode="area")
    return _to_uint8(F.interpolate(small, size=image.shape[-2:], mode="bilinear", align_corners=False)[0])


def grain(image: torch.Tensor) -> torch.Tensor:
    return _to_uint8(_to_float(image) + torch.randn(image.shape) * random.uniform(3, 15))


def hard_light(image: torch.Tensor) -> torch.Tensor:
    gamma = 2 ** random.uniform(-1, 1)
    return _to_uint8(255 * (_to_float(image) / 255) ** gamma)


class RandomApplyFn:
    """Apply `fn` to the image with probability `p`."""

    def __init__(self, fn, p: float) -> None:
        self.fn, self.p = fn, p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.fn(image) if random.random() < self.p else image


def degradation_steps(aug) -> list:
    """The steps for an AugmentConfig, in the order a photo meets them (light, print, size, file)."""
    steps = []
    if aug.light_p:
        steps.append(RandomApplyFn(hard_light, aug.light_p))
    if aug.old_print_p:
        steps.append(RandomApplyFn(old_print, aug.old_print_p))
    if aug.lowres_p:
        steps.append(RandomApplyFn(low_resolution, aug.lowres_p))
    if aug.grain_p:
        steps.append(RandomApplyFn(grain, aug.grain_p))
    if aug.jpeg_p:
        steps.append(v2.RandomApply([v2.JPEG((10, 60))], p=aug.jpeg_p))
    return steps


def degraded_copy(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """A fixed degraded copy of crops (N, H, W, 3) uint8 for measuring and calibrating on poor photos:
    each crop gets one of low resolution, old print, grain with JPEG, hard light or blur (in turn, by
    row), with the randomness fixed by `seed`."""
    random.seed(seed)
    torch.manual_seed(seed)
    jpeg = v2.JPEG((10, 40))
    blur = v2.GaussianBlur(7, sigma=(1.5, 2.5))
    steps = [lambda x: low_resolution(x, 12, 32), old_print, lambda x: jpeg(grain(x)), hard_light, blur]
    out = np.empty_like(images)
    for i, image in enumerate(images):
        tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1)
        out[i] = steps[i % len(steps)](tensor).permute(1, 2, 0).numpy()
    return out
