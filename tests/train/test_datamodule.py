"""The training data pieces: random shares of the crops and the augmentation pipeline."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from howold.train.config import AugmentConfig  # noqa: E402
from howold.train.crops import CropSet  # noqa: E402
from howold.train.data import Sample  # noqa: E402
from howold.train.datamodule import build_transform, random_share  # noqa: E402


def crop_set(n: int) -> CropSet:
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 8, 8, 3), np.uint8)
    return CropSet(images, [Sample(path=f"{i}.jpg", low=i, high=i, split="train") for i in range(n)])


def test_random_share_is_a_fixed_subset_with_images_matching_samples():
    crops = crop_set(100)
    half = random_share(crops, 0.5, seed=42)
    assert len(half) == 50
    assert [s.path for s in half.samples] == [s.path for s in random_share(crops, 0.5, seed=42).samples]
    assert [s.path for s in half.samples] != [s.path for s in random_share(crops, 0.5, seed=7).samples]
    for image, sample in zip(half.images, half.samples):
        assert int(image[0, 0, 0]) == sample.low
    assert len(random_share(crops, 1.0, seed=0)) == 100


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_random_share_refuses_a_share_outside_0_1(fraction):
    with pytest.raises(ValueError, match="train_fraction"):
        random_share(crop_set(10), fraction, seed=0)


def test_random_erasing_occludes_a_patch_only_when_asked():
    image = torch.full((3, 64, 64), 200, dtype=torch.uint8)
    mean, std = [0.5] * 3, [0.25] * 3
    plain = AugmentConfig(flip=False, degrees=0, translate=0, scale=(1, 1), blur_p=0, jitter=0, grayscale_p=0)
    assert torch.allclose(build_transform(plain, mean, std)(image), build_transform(None, mean, std)(image))
    erased = build_transform(AugmentConfig(**{**plain.__dict__, "erase_p": 1.0}), mean, std)(image)
    assert (erased == 0).any() and (erased != 0).any()
