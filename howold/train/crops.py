"""Training crops: every image goes through the SAME detect → crop code as inference, once.

Each crop is `howold.Predictor.largest_face_crop`: the largest face found, refined and cut exactly as
`analyse` cuts crops for the age model. Crops are cached on disk, keyed by (sha1 of the image bytes,
crop size, margin, detector id and crop rule):
`<cache_dir>/<detector id>_<crop rule>_s<size>_m<margin>/<name>.npy` holds an (N, S, S, 3) uint8 array
(opened as a memmap: far faster than decoding JPEGs each epoch) and `<name>.json` its index
(sha1 per row, and the sha1s found to have no face or to be unreadable). A later build with the
same images performs no detection at all; crops already cut under another name are reused.
Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from howold.errors import ImageError
from howold.train.data import Sample

log = logging.getLogger(__name__)

NO_FACE, BROKEN = "noface", "broken"
# v2: crops through Predictor.largest_face_crop, small faces refined as at inference (v1, the bare
# detector's landmarks, is what every model up to 0.3.0 and runs 14-16 trained on)
CROP_RULE = "v2"


def file_sha1(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


@dataclass
class CropSet:
    """Crops of the samples that have a face: images[i] belongs to samples[i]."""

    images: np.ndarray
    samples: list[Sample]
    no_face: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def summary(self, label: str) -> str:
        parts = [f"{label}: {len(self.samples)} crops"]
        for what, paths in (("no face detected", self.no_face), ("unreadable", self.broken)):
            if paths:
                first = ", ".join(Path(p).name for p in paths[:5])
                parts.append(f"{len(paths)} {what} (left out; first: {first})")
        return "; ".join(parts)


# Worker-process state for parallel cutting (one detector per process).
_worker: dict = {}


def _face_finder(threads: int | None = None):
    from howold import Predictor

    return Predictor(model=None, threads=threads)


def _init_worker(size: int, margin: float, threads: int) -> None:
    _worker.update(finder=_face_finder(threads), size=size, margin=margin)


def _cut_path(path: str) -> tuple[str, np.ndarray | None]:
    return _cut_file(path, _worker["finder"], _worker["size"], _worker["margin"])


def _cut_file(path: str, finder, size: int, margin: float) -> tuple[str, np.ndarray | None]:
    try:
        crop = finder.largest_face_crop(path, size, margin)
    except ImageError:
        return BROKEN, None
    return (NO_FACE, None) if crop is None else ("ok", crop)


class CropCache:
    """Cut and cache crops for lists of samples.

    `finder`: an object with `.largest_face_crop(path, size, margin) -> crop | None`; default: a
    detection-only `howold.Predictor` with default settings (its DETECTOR_ID keys the cache).
    `workers` > 1 cuts in that many processes, each with its own single-threaded Predictor
    (default finder only).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        size: int | None = None,
        margin: float | None = None,
        finder=None,
        detector_id: str | None = None,
        workers: int = 1,
    ) -> None:
        import howold.crop
        import howold.detect

        self.size = int(size or howold.crop.DEFAULT_CROP_SIZE)
        self.margin = float(howold.crop.DEFAULT_MARGIN if margin is None else margin)
        self.finder = finder
        self.detector_id = detector_id or howold.detect.DETECTOR_ID
        self.workers = workers if finder is None else 1
        self.detections = 0  # images run through the detector by this object
        key = f"{self.detector_id}_{CROP_RULE}_s{self.size}_m{self.margin:g}"
        self.dir = Path(cache_dir) / key

    def _finder(self):
        if self.finder is None:
            self.finder = _face_finder()
        return self.finder

    def _index(self, name: str) -> dict | None:
        path = self.dir / f"{name}.json"
        if not path.is_file() or not (self.dir / f"{name}.npy").is_file():
            return None
        return json.loads(path.read_text())

    def build(self, samples: list[Sample], name: str) -> CropSet:
        """Crops for `samples` (cut what is not cached yet), stored under `name`."""
        t0 = time.perf_counter()
        hashes = [file_sha1(s.path) for s in samples]
        needed = list(dict.fromkeys(hashes))
        index = self._index(name)
        if index is None or not set(needed) <= _known(index):
            index = self._rebuild(name, needed, {h: s.path for h, s in zip(hashes, samples)})
        images = np.load(self.dir / f"{name}.npy", mmap_mode="r")
        row = {h: i for i, h in enumerate(index["rows"])}
        status = {h: NO_FACE for h in index["noface"]} | {h: BROKEN for h in index["broken"]}
        keep, kept, no_face, broken = [], [], [], []
        for h, s in zip(hashes, samples):
            if h in row:
                keep.append(row[h])
                kept.append(s)
            else:
                (no_face if status[h] == NO_FACE else broken).append(s.path)
        rows = np.asarray(keep, dtype=np.int64)
        contiguous = len(rows) == len(images) and np.array_equal(rows, np.arange(len(rows)))
        crops = CropSet(images if contiguous else images[rows], kept, no_face, broken)
        log.info("%s (%.1f s)", crops.summary(name), time.perf_counter() - t0)
        return crops

    def _known_elsewhere(self) -> tuple[dict, dict]:
        """sha1 → (shard name, row) and sha1 → status, over every shard in this cache dir."""
        rows, status = {}, {}
        for path in sorted(self.dir.glob("*.json")):
            index = self._index(path.stem)
            if index is None:
                continue
            rows.update({h: (path.stem, i) for i, h in enumerate(index["rows"])})
            status.update({h: NO_FACE for h in index["noface"]})
            status.update({h: BROKEN for h in index["broken"]})
        return rows, status

    def _rebuild(self, name: str, needed: list[str], paths: dict[str, str]) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        known_rows, known_status = self._known_elsewhere()
        todo = [h for h in needed if h not in known_rows and h not in known_status]
        log.info("%s: %d images to detect and crop, %d cached", name, len(todo), len(needed) - len(todo))
        cut = dict(self._cut_many([paths[h] for h in todo], todo))
        shards: dict[str, np.ndarray] = {}
        rows, crops, no_face, broken = [], [], [], []
        for h in needed:
            if h in known_rows:
                shard, i = known_rows[h]
                if shard not in shards:
                    shards[shard] = np.load(self.dir / f"{shard}.npy", mmap_mode="r")
                rows.append(h)
                crops.append(np.asarray(shards[shard][i]))
                continue
            result = cut[h] if h in cut else (known_status[h], None)
            if result[0] == "ok":
                rows.append(h)
                crops.append(result[1])
            else:
                (no_face if result[0] == NO_FACE else broken).append(h)
        array = np.stack(crops) if crops else np.zeros((0, self.size, self.size, 3), np.uint8)
        tmp = self.dir / f".{name}.{os.getpid()}.npy"
        np.save(tmp, array)
        os.replace(tmp, self.dir / f"{name}.npy")
        index = {
            "rows": rows,
            "noface": no_face,
            "broken": broken,
            "size": self.size,
            "margin": self.margin,
            "detector_id": self.detector_id,
        }
        tmp = self.dir / f".{name}.{os.getpid()}.json"
        tmp.write_text(json.dumps(index))
        os.replace(tmp, self.dir / f"{name}.json")
        return index

    def _cut_many(self, paths: list[str], hashes: list[str]):
        if not paths:
            return
        from tqdm import tqdm

        self.detections += len(paths)
        bar = tqdm(total=len(paths), desc="detect+crop", unit="img", mininterval=5)
        if self.workers > 1 and len(paths) > 50:
            with ProcessPoolExecutor(
                self.workers, initializer=_init_worker, initargs=(self.size, self.margin, 1)
            ) as pool:
                for h, result in zip(hashes, pool.map(_cut_path, paths, chunksize=16)):
                    bar.update()
                    yield h, result
        else:
            finder = self._finder()
            for h, path in zip(hashes, paths):
                bar.update()
                yield h, _cut_file(path, finder, self.size, self.margin)
        bar.close()


def _known(index: dict) -> set[str]:
    return set(index["rows"]) | set(index["noface"]) | set(index["broken"])
