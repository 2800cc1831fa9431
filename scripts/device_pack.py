#!/usr/bin/env python
"""Pack the cached training crops for a lent GPU machine, where ../shared/data does not travel.

The device tool carries at most 64 MiB, so the crops travel as WebP (train at quality 70, val at 85:
1.1 and 1.7 KB a crop, PSNR 37 and 40 dB against the cached uint8 crops) with the cache's own index,
each image's sha1 (the cache key), the label files, the teacher distributions quantised to uint8, and
the exported model the runs start from (`--init-from`, 14 MB).
scripts/device_job.py unpacks it there into the same cache layout, so `howold train` and `howold tune`
run unchanged.

    python scripts/device_pack.py --out .devpack      # ~54 MB; .devpack is git-ignored locally
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SETS = {"utkface": ("train", "val"), "aaf": ("train", "val")}
QUALITY = {"train": 70, "val": 85}


def encode(args) -> bytes:
    crop, quality = args
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, "WEBP", quality=quality, method=6)
    return buffer.getvalue()


def pack_shard(cache_dir: Path, name: str, quality: int, out: Path, workers: int) -> int:
    crops = np.load(cache_dir / f"{name}.npy", mmap_mode="r")
    with ProcessPoolExecutor(workers) as pool:
        blobs = list(pool.map(encode, ((np.array(c), quality) for c in crops), chunksize=64))
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    np.savez(out / f"{name}.npz", blob=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets)
    (out / f"{name}.json.gz").write_bytes(gzip.compress((cache_dir / f"{name}.json").read_bytes()))
    return int(offsets[-1])


def quantise_teacher(path: Path, root: Path, out: Path) -> None:
    """Distributions as uint8 relative to each row's peak; paths relative to the data root."""
    with np.load(path) as f:
        paths, probs, min_age = f["paths"], f["probs"].astype(np.float32), f["min_age"]
    q = np.round(probs / probs.max(axis=1, keepdims=True) * 255).astype(np.uint8)
    rel = np.array([str(Path(p).relative_to(root)) for p in paths])
    np.savez_compressed(out, paths=rel, probs_q=q, min_age=min_age)


def main() -> None:
    from howold.age_model import sidecar_path
    from howold.train.crops import CropCache, file_sha1
    from howold.train.data import default_data_root, load_dataset, select_split

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=".devpack")
    parser.add_argument("--cache-dir", default="cache/crops")
    parser.add_argument("--teacher", action="append", default=[], help="NAME=PATH.npz (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--init-from",
        default="out/m030/age_model.onnx",
        help="the exported model (with its sidecar) the runs start from: model.init_from there",
    )
    args = parser.parse_args()
    root = default_data_root()
    out = Path(args.out)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    cache_dir = CropCache(args.cache_dir).dir  # the crops `howold train` reads, under their cache key
    sha1 = {}
    for kind, splits in SETS.items():
        (out / "data" / kind).mkdir(parents=True, exist_ok=True)
        labels = (root / kind / "labels.csv").read_bytes()
        (out / "data" / kind / "labels.csv.gz").write_bytes(gzip.compress(labels))
        for split in splits:
            for s in select_split(load_dataset(kind), split):
                sha1[str(Path(s.path).relative_to(root))] = file_sha1(s.path)
            size = pack_shard(cache_dir, f"{kind}-{split}", QUALITY[split], out / "crops", args.workers)
            print(f"{kind}-{split}: {size / 2**20:.1f} MiB")
    (out / "sha1.json.gz").write_bytes(gzip.compress(json.dumps(sha1).encode()))
    (out / "teacher").mkdir(exist_ok=True)
    for item in args.teacher:
        name, path = item.split("=", 1)
        quantise_teacher(Path(path), root, out / "teacher" / f"{name}.npz")
    (out / "init").mkdir(exist_ok=True)
    shutil.copyfile(args.init_from, out / "init" / "age_model.onnx")
    shutil.copyfile(sidecar_path(Path(args.init_from)), sidecar_path(out / "init" / "age_model.onnx"))
    (out / "cache_key.txt").write_text(cache_dir.name)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"packed {len(sha1)} images, {total / 2**20:.1f} MiB in {out}")


if __name__ == "__main__":
    main()
