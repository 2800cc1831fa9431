"""The training data pieces: random shares of the photos and the augmentation pipeline."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from howold.train.config import AugmentConfig  # noqa: E402
from howold.train.data import Sample  # noqa: E402
from howold.train.datamodule import build_transform, random_share  # noqa: E402


def samples(n: int) -> list[Sample]:
    return [Sample(path=f"{i}.jpg", low=i, high=i, split="train") for i in range(n)]


def test_random_share_is_a_fixed_subset_in_order():
    every = samples(100)
    half = random_share(every, 0.5, seed=42)
    assert len(half) == 50 and half == sorted(half, key=lambda s: s.low)
    assert half == random_share(every, 0.5, seed=42) and half != random_share(every, 0.5, seed=7)
    assert random_share(every, 1.0, seed=0) == every and len(random_share(every, 0.001, seed=0)) == 1


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_random_share_refuses_a_share_outside_0_1(fraction):
    with pytest.raises(ValueError, match="train_fraction"):
        random_share(samples(10), fraction, seed=0)


def test_a_train_fraction_crops_only_the_photos_of_its_share(tmp_path, face_paths):
    """data.train_fraction picks its photos before they are cropped: a share of 0.5 of 8 photos runs the
    detector on 4 and caches 4, where it had cut all 8 and then dropped half."""
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    from PIL import Image, ImageOps

    from howold.train.config import load_config
    from howold.train.datamodule import load_crops

    rows = []
    for number, path in enumerate(face_paths * 2):  # each face as it is and mirrored: 8 different files
        copy = tmp_path / f"face{number}.jpg"
        image = Image.open(path).convert("RGB")
        (ImageOps.mirror(image) if number >= len(face_paths) else image).save(copy, quality=95)
        rows.append(f"{copy},30,train")
    table = tmp_path / "faces.csv"
    table.write_text("path,age,split\n" + "\n".join(rows) + "\n")
    cache = tmp_path / "cache"
    cfg = load_config(None, [f"data.cache_dir={cache}", "data.crop_size=64", "data.crop_workers=1"])
    crops, _ = load_crops(cfg, [{"kind": "csv", "root": str(table), "split": "train"}], "train", 0.5)
    indexes = [json.loads(index.read_text()) for index in cache.rglob("*.json")]
    assert len(indexes) == 1 and len(crops) == 4  # the fixture faces all hold a face
    assert sum(len(indexes[0][key]) for key in ("rows", "noface", "broken")) == 4
    assert {s.path for s in crops.samples} < {row.split(",")[0] for row in rows}


def test_random_erasing_occludes_a_patch_only_when_asked():
    image = torch.full((3, 64, 64), 200, dtype=torch.uint8)
    mean, std = [0.5] * 3, [0.25] * 3
    plain = AugmentConfig(flip=False, degrees=0, translate=0, scale=(1, 1), blur_p=0, jitter=0, grayscale_p=0)
    assert torch.allclose(build_transform(plain, mean, std)(image), build_transform(None, mean, std)(image))
    erased = build_transform(AugmentConfig(**{**plain.__dict__, "erase_p": 1.0}), mean, std)(image)
    assert (erased == 0).any() and (erased != 0).any()
