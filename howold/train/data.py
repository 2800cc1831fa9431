"""Dataset label loaders: each returns `Sample`s (image path, age label, split, extra fields).

Torch-free. An age label is an inclusive integer interval [low, high]: an exact age has
low == high; a FairFace bin such as `20-29` has low=20, high=29. Loaders check that every file
exists (decoding is checked once, when crops are cut) and report what is missing.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from howold.errors import HowoldError

log = logging.getLogger(__name__)

MIN_AGE, MAX_AGE = 0, 100
SPLITS = ("train", "val", "test")

FAIRFACE_BINS: dict[str, tuple[int, int]] = {
    "0-2": (0, 2),
    "3-9": (3, 9),
    "10-19": (10, 19),
    "20-29": (20, 29),
    "30-39": (30, 39),
    "40-49": (40, 49),
    "50-59": (50, 59),
    "60-69": (60, 69),
    "more than 70": (70, MAX_AGE),
}

# APPA-REAL official split by file number (ChaLearn LAP 2016): 4,113 / 1,500 / 1,999 numbers.
APPA_SPLIT_BOUNDS = ((0, 4112, "train"), (4113, 5612, "val"), (5613, 7612, "test"))
UTK_RACES = ("White", "Black", "Asian", "Indian", "Others")
UTK_GENDERS = ("male", "female")


@dataclass(frozen=True)
class Sample:
    """One labelled image. `low`/`high`: inclusive age interval (equal for an exact age)."""

    path: str
    low: int
    high: int
    split: str
    attrs: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"age interval: expected 0 <= low <= high, got [{self.low}, {self.high}]")
        if self.split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {self.split!r}")

    @property
    def exact(self) -> bool:
        return self.low == self.high


def exact_sample(path: str, age: float, split: str, **attrs) -> Sample:
    """An exact-age sample; ages above MAX_AGE are clipped (the model's last bin is 100+)."""
    a = int(round(min(max(float(age), MIN_AGE), MAX_AGE)))
    return Sample(str(path), a, a, split, dict(attrs, age=float(age)))


def hash_split(file_name: str) -> str:
    """The UTKFace split rule, also used for CSVs without a split: sha1 of the name, 80/10/10."""
    s = int(hashlib.sha1(file_name.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if s < 80 else "val" if s < 90 else "test"


def appa_split(file_name: str) -> str:
    """APPA-REAL official split from the 6-digit file number (000000-004112 train, ...)."""
    match = re.match(r"(\d+)", Path(file_name).name)
    if not match:
        raise HowoldError(f"APPA-REAL: cannot read a file number from {file_name!r}.")
    number = int(match.group(1))
    for low, high, split in APPA_SPLIT_BOUNDS:
        if low <= number <= high:
            return split
    raise HowoldError(f"APPA-REAL: file number {number} is outside the official 0-7612 range.")


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise HowoldError(f"label file {path} not found.")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _normalise_split(split: str) -> str:
    split = split.strip().lower()
    return {"valid": "val", "validation": "val"}.get(split, split)


def load_utkface(root: str | os.PathLike) -> list[Sample]:
    """UTKFace `labels.csv` (path, age, gender, race, split) with its fixed split."""
    root = Path(root)
    out = []
    for row in _read_csv(root / "labels.csv"):
        out.append(
            exact_sample(
                root / row["path"],
                int(row["age"]),
                _normalise_split(row["split"]),
                gender=UTK_GENDERS[int(row["gender"])],
                race=UTK_RACES[int(row["race"])],
            )
        )
    return out


def load_aaf(root: str | os.PathLike) -> list[Sample]:
    """All-Age-Faces chips: `labels.csv` (path, age, gender F/M, split, face_found), fixed split."""
    root = Path(root)
    return [
        exact_sample(
            root / r["path"],
            int(r["age"]),
            _normalise_split(r["split"]),
            gender={"F": "female", "M": "male"}.get(r["gender"], r["gender"]),
        )
        for r in _read_csv(root / "labels.csv")
    ]


def load_fairface(root: str | os.PathLike) -> list[Sample]:
    """FairFace `labels.csv` (path, age_bin, gender, race, split): age bins as intervals."""
    root = Path(root)
    out = []
    for row in _read_csv(root / "labels.csv"):
        if row["age_bin"] not in FAIRFACE_BINS:
            raise HowoldError(f"FairFace: unknown age bin {row['age_bin']!r} for {row['path']}.")
        low, high = FAIRFACE_BINS[row["age_bin"]]
        attrs = {"age_bin": row["age_bin"], "gender": row["gender"].lower(), "race": row["race"]}
        out.append(Sample(str(root / row["path"]), low, high, _normalise_split(row["split"]), attrs))
    return out


def load_fgnet(root: str | os.PathLike) -> list[Sample]:
    """FG-NET `labels.csv` (path, age, subject, split): split by person (train 37 people, val 6, test 39),
    so its train and val people may be trained and chosen on and its test people are never seen."""
    root = Path(root)
    return [
        exact_sample(root / r["path"], int(r["age"]), _normalise_split(r["split"]), subject=r["subject"])
        for r in _read_csv(root / "labels.csv")
    ]


def load_appa_real(root: str | os.PathLike, target: str = "real_age", prefer_face_crops: bool = True) -> list[Sample]:
    """APPA-REAL in either layout, split by file number.

    Kaggle: `labels.csv` (file_name, real_age) + `final_files/<file_name>`.
    ChaLearn: `gt_avg_{train,valid,test}.csv` (file_name, apparent_age_avg, real_age, ...) +
    `{train,valid,test}/<file_name>_face.jpg` (used when present and prefer_face_crops) or
    `<file_name>`. `target`: `real_age` or `apparent_age_avg` (ChaLearn only).
    """
    if target not in ("real_age", "apparent_age_avg"):
        raise HowoldError(f"APPA-REAL target: expected real_age or apparent_age_avg, got {target!r}.")
    root = Path(root)
    out = []
    chalearn = [root / f"gt_avg_{s}.csv" for s in ("train", "valid", "test")]
    if any(p.is_file() for p in chalearn):
        for csv_path, folder in zip(chalearn, ("train", "valid", "test")):
            if not csv_path.is_file():
                log.warning("APPA-REAL: %s is missing; that split is left out.", csv_path)
                continue
            for row in _read_csv(csv_path):
                name = row["file_name"]
                image = root / folder / name
                face = root / folder / f"{name}_face.jpg"
                path = face if prefer_face_crops and (face.exists() or not image.exists()) else image
                out.append(exact_sample(path, float(row[target]), appa_split(name), file_name=name))
    elif (root / "labels.csv").is_file():
        if target != "real_age":
            raise HowoldError("APPA-REAL Kaggle layout has only real_age; use target=real_age.")
        for row in _read_csv(root / "labels.csv"):
            name = row["file_name"]
            out.append(
                exact_sample(root / "final_files" / name, float(row["real_age"]), appa_split(name), file_name=name)
            )
    else:
        raise HowoldError(f"APPA-REAL: neither labels.csv nor gt_avg_*.csv found in {root}.")
    return out


def load_csv(path: str | os.PathLike) -> list[Sample]:
    """Generic CSV: `path` (relative to the CSV's folder or absolute), `age`, optional `split`.

    Without a split column, the UTKFace hash rule on the file name assigns one.
    """
    path = Path(path)
    out = []
    for row in _read_csv(path):
        image = Path(row["path"])
        if not image.is_absolute():
            image = path.parent / image
        split = _normalise_split(row["split"]) if row.get("split") else hash_split(image.name)
        out.append(exact_sample(image, float(row["age"]), split))
    return out


LOADERS = {
    "utkface": load_utkface,
    "aaf": load_aaf,
    "fairface": load_fairface,
    "fgnet": load_fgnet,
    "appa_real": load_appa_real,
    "csv": load_csv,
}
# Datasets that howold never trains or tunes on: all their images form one test set.
TEST_ONLY = frozenset({"fairface"})
# Datasets whose figures are reported on their test split alone, whatever split is asked for by
# default: FG-NET's train and val people are trained on since its person-disjoint split (2026-12-01).
TEST_SPLIT_DEFAULT = frozenset({"fgnet"})


def check_training_split(kind: str, split: str | None) -> None:
    """Refuse a training or validation entry that would let test photos in: a test-only set, a test
    split, or all of a set whose test split is held out (FG-NET's test people)."""
    kind = kind.replace("-", "_").lower()
    if kind in TEST_ONLY:
        raise HowoldError(f"{kind} is a test-only dataset for howold; it cannot be trained or chosen on.")
    if split is not None and _normalise_split(split) == "test":
        raise HowoldError(f"{kind} split test is for measuring only; train on train, choose on val.")
    if kind in TEST_SPLIT_DEFAULT and split in (None, "all"):
        raise HowoldError(f"{kind}: name its split (train or val); its test people are never trained on.")


def default_data_root() -> Path:
    """`$HOWOLD_DATA`, else `../shared/data` next to the repository, else `./shared/data`."""
    if os.environ.get("HOWOLD_DATA"):
        return Path(os.environ["HOWOLD_DATA"])
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo.parent / "shared" / "data", repo / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data"


def load_dataset(kind: str, root: str | os.PathLike | None = None, **options) -> list[Sample]:
    """Load a dataset by kind; `root` defaults to `<data root>/<kind folder>` (for csv: the file)."""
    kind = kind.replace("-", "_").lower()
    if kind not in LOADERS:
        raise HowoldError(f"unknown dataset {kind!r}; expected one of {sorted(LOADERS)}.")
    if root is None:
        if kind == "csv":
            raise HowoldError("dataset csv needs a root: the path of the CSV file.")
        root = default_data_root() / kind.replace("_", "-")
    return LOADERS[kind](root, **options)


def select_split(samples: list[Sample], split: str | None) -> list[Sample]:
    """Samples of one split (`None` or `all`: every sample)."""
    if split in (None, "all"):
        return list(samples)
    split = _normalise_split(split)
    return [s for s in samples if s.split == split]


@dataclass
class FileReport:
    """What a check of image files found."""

    total: int
    missing: list[str]

    def summary(self, label: str) -> str:
        if not self.missing:
            return f"{label}: all {self.total} image files present"
        first = ", ".join(Path(p).name for p in self.missing[:5])
        return f"{label}: {len(self.missing)} of {self.total} image files missing (first: {first})"


def check_files(samples: list[Sample], label: str = "dataset") -> tuple[list[Sample], FileReport]:
    """Keep the samples whose file exists and is non-empty; log what is missing and go on."""
    kept, missing = [], []
    for s in samples:
        try:
            ok = os.path.getsize(s.path) > 0
        except OSError:
            ok = False
        (kept if ok else missing).append(s if ok else s.path)
    report = FileReport(len(samples), missing)
    (log.warning if missing else log.info)(report.summary(label))
    return kept, report
