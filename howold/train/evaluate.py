"""`howold val`: measure an exported ONNX model on a labelled dataset, and calibrate it.

Runs the inference path itself (howold.age_model.AgeModel: preprocessing, flip TTA,
temperature, the one decoder) on cached crops, or with `end_to_end` on the photos
(`howold.Predictor`: load → detect → largest face → crop_face → model). Torch-free.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from howold.age_model import AgeModel, MetricKey, ModelInfo, update_model_info
from howold.errors import HowoldError
from howold.quality import WARNINGS
from howold.train import DEFAULT_CACHE_DIR
from howold.train.crops import CropCache, CropSet
from howold.train.data import (
    TEST_ONLY,
    TEST_SPLIT_DEFAULT,
    FileReport,
    Sample,
    _normalise_split,
    check_files,
    load_dataset,
    select_split,
)

log = logging.getLogger(__name__)

AGE_BANDS = ((0, 12), (13, 19), (20, 39), (40, 59), (60, 200))


def band_name(low: int, high: int) -> str:
    return f"{low}+" if high >= 200 else f"{low}-{high}"


@dataclass(frozen=True)
class EvalData:
    """The photos an evaluation reads: `data`, a dataset kind or the path of a generic CSV (where a
    function pools several, separated by commas: `utkface,aaf`); its `split` (train, val, test or
    all; None: the dataset's default); `root`, its folder (None: ../shared/data/<name>); `cache_dir`,
    where its face crops are cached; `limit`, only its first N photos."""

    data: str
    split: str | None
    root: str | None = None
    cache_dir: str = DEFAULT_CACHE_DIR
    limit: int | None = None

    def sets(self) -> list[EvalData]:
        """One EvalData per dataset in `data` (the same split, root, cache and limit)."""
        return [dataclasses.replace(self, data=d) for d in self.data.split(",")]


def load_eval_samples(data: EvalData) -> tuple[str, list[Sample], str, FileReport]:
    """(kind, samples, split used, file report) of one dataset."""
    split, limit = data.split, data.limit
    kind = "csv" if data.data.endswith(".csv") else data.data.replace("-", "_").lower()
    root = data.data if kind == "csv" else data.root
    samples = load_dataset(kind, root)
    if kind in TEST_ONLY:
        if split not in (None, "all"):
            log.info("%s is a test-only dataset for howold: using all its images", kind)
        split = "all"
    elif kind in TEST_SPLIT_DEFAULT and split in (None, "all"):
        log.info("%s: reporting its test people only (its train and val people are trained on)", kind)
        split = "test"
    samples = select_split(samples, split)
    if limit:
        samples = samples[:limit]
    samples, report = check_files(samples, f"{kind}-{split or 'all'}")
    return kind, samples, split or "all", report


class EndToEnd(NamedTuple):
    """Photos read as a user's photo is read: the samples with a face, the largest face's age, low
    and high ends of its range and its warnings (one entry per such sample), and the photos with no
    face or that could not be read."""

    kept: list[Sample]
    age: np.ndarray
    low: np.ndarray
    high: np.ndarray
    no_face: list[str]
    broken: list[str]
    warnings: list[tuple[str, ...]]


def end_to_end_predictions(samples: list[Sample], model_path: str | Path) -> EndToEnd:
    """Each photo through `howold.Predictor` as a user's photo goes (its default detection options,
    the age of the largest face with its warnings' range)."""
    import howold

    predictor = howold.Predictor(model_path)
    kept, ages, warnings, no_face, broken = [], [], [], [], []
    for s in samples:
        result = predictor.analyse(s.path)
        if not result.ok:
            broken.append(s.path)
        elif not result.faces:
            no_face.append(s.path)
        else:
            face = result.faces[0]  # largest first
            kept.append(s)
            ages.append((face.age, face.age_low, face.age_high))
            warnings.append(face.warnings)
    age, low, high = np.array(ages, dtype=float).reshape(-1, 3).T
    return EndToEnd(kept, age, low, high, no_face, broken, warnings)


def warning_metrics(samples: list[Sample], age, low, high, warnings: list[tuple[str, ...]]) -> dict:
    """exact_metrics of the faces carrying each warning, and of those with none (end to end only:
    the warnings come from the photo)."""
    exact, true = true_ages(samples)
    groups = {name: np.array([name in w for w in warnings], dtype=bool) for name in sorted(WARNINGS)}
    groups["none"] = np.array([not w for w in warnings], dtype=bool)
    return {
        name: exact_metrics(age[sel], low[sel], high[sel], true[sel])
        for name, member in groups.items()
        for sel in [exact & member]
        if sel.any()
    }


def exact_metrics(age, low, high, true) -> dict:
    if len(true) == 0:
        return {"n": 0}
    err = np.abs(age - true)
    return {
        "n": int(len(true)),
        "mae": round(float(err.mean()), 3),
        "cs5": round(float((err <= 5).mean()), 4),
        "coverage": round(float(((true >= low) & (true <= high)).mean()), 4),
        "mean_range_width": round(float((high - low).mean()), 2),
        "bias": round(float((age - true).mean()), 3),
    }


def bin_metrics(age, low, high, bin_low, bin_high) -> dict:
    if len(bin_low) == 0:
        return {"n": 0}
    point = np.rint(age)
    hit = (point >= bin_low) & (point <= bin_high)
    distance = np.maximum(0, np.maximum(bin_low - age, age - bin_high))
    overlap = (high >= bin_low - 0.5) & (low <= bin_high + 0.5)
    return {
        "n": int(len(bin_low)),
        "bin_hit_rate": round(float(hit.mean()), 4),
        "mean_distance_to_bin": round(float(distance.mean()), 3),
        "range_overlaps_bin": round(float(overlap.mean()), 4),
    }


def true_ages(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Return which samples have an exact age (N,) bool, and each sample's age (N,) float (exact where known)."""
    exact = np.array([s.exact for s in samples], dtype=bool)
    return exact, np.array([s.attrs.get("age", s.low) for s in samples], dtype=float)


def compute_metrics(samples: list[Sample], age, low, high) -> dict:
    """All figures for one dataset: overall, per age band, per gender/race; bins separately."""
    exact, true = true_ages(samples)
    out: dict = {}
    if exact.any():
        e = exact
        out["overall"] = exact_metrics(age[e], low[e], high[e], true[e])
        out["by_age_band"] = {}
        for lo, hi in AGE_BANDS:
            sel = e & (true >= lo) & (true <= hi)
            out["by_age_band"][band_name(lo, hi)] = exact_metrics(age[sel], low[sel], high[sel], true[sel])
        for attr in ("gender", "race"):
            values = sorted({s.attrs[attr] for s, x in zip(samples, e) if x and attr in s.attrs})
            if values:
                out[f"by_{attr}"] = {}
                for v in values:
                    sel = e & np.array([s.attrs.get(attr) == v for s in samples])
                    out[f"by_{attr}"][v] = exact_metrics(age[sel], low[sel], high[sel], true[sel])
    if (~exact).any():
        b = ~exact
        bl = np.array([s.low for s in samples], dtype=float)
        bh = np.array([s.high for s in samples], dtype=float)
        out["bins"] = bin_metrics(age[b], low[b], high[b], bl[b], bh[b])
        names = sorted({(s.low, s.attrs.get("age_bin", f"{s.low}-{s.high}")) for s in samples if not s.exact})
        out["bins_by_bin"] = {}
        for lo_, name in names:
            sel = b & (bl == lo_)
            out["bins_by_bin"][name] = bin_metrics(age[sel], low[sel], high[sel], bl[sel], bh[sel])
        for attr in ("gender", "race"):
            values = sorted({s.attrs[attr] for s in samples if not s.exact and attr in s.attrs})
            if values:
                out[f"bins_by_{attr}"] = {
                    v: bin_metrics(*(a[sel] for a in (age, low, high, bl, bh)))
                    for v in values
                    for sel in [b & np.array([s.attrs.get(attr) == v for s in samples])]
                }
    return out


def evaluate(
    model_path: str | Path,
    data: EvalData,
    *,
    end_to_end: bool = False,
    temperature: float | None = None,
    degraded: bool = False,
    tta_flip: bool | None = None,
) -> dict:
    """Measure the model on one dataset; returns the JSON-ready result dict. `end_to_end`: on the
    photos through `howold.Predictor`, not on cached crops. `degraded`: on a fixed degraded copy of
    the crops (howold.train.degrade.degraded_copy), every face counted as poor for its range.
    `temperature`, `tta_flip`: replace the sidecar's for this measurement (on cached crops)."""
    model = AgeModel(model_path).prepare()
    if temperature is not None:
        model.info = dataclasses.replace(model.info, temperature=temperature)
    if tta_flip is not None:
        if end_to_end:
            raise HowoldError("a flip override applies to cached crops, not to an end-to-end run.")
        model.info = dataclasses.replace(model.info, tta_flip=tta_flip)
    kind, samples, split, report = load_eval_samples(data)
    if end_to_end:
        kept, age, low, high, no_face, broken, warnings = end_to_end_predictions(samples, model_path)
    else:
        crops = _crops(data, kind, split, samples, model.info)
        images = np.asarray(crops.images)
        if degraded:
            from howold.train.degrade import degraded_copy

            images = degraded_copy(images)
        est = model.predict(images, poor=np.full(len(images), degraded))
        kept, age, low, high, no_face, broken = crops.samples, est.age, est.low, est.high, crops.no_face, crops.broken
        warnings = None  # a cached crop has no photo to warn about
    result = {
        "model": str(model_path),
        "data": kind,
        "split": split,
        "end_to_end": end_to_end,
        "degraded": degraded,
        "temperature": model.info.temperature,
        "interval": model.info.interval,
        "tta_flip": model.info.tta_flip,
        "images": report.total,
        "missing_files": len(report.missing),
        "unreadable": len(broken),
        "no_face": len(no_face),
        "no_face_first": [Path(p).name for p in no_face[:5]],
        "evaluated": len(kept),
    }
    result.update(compute_metrics(kept, age, low, high))
    if warnings is not None and kept:
        result["by_warning"] = warning_metrics(kept, age, low, high, warnings)
    return result


def _crops(data: EvalData, kind: str, split: str, samples: list[Sample], info: ModelInfo) -> CropSet:
    """The crops of `samples` (of dataset `kind`, split `split` used, from `data`) in its crop cache."""
    name = f"{kind}-{split}" + (f"-first{data.limit}" if data.limit else "")
    return CropCache(data.cache_dir, info.crop_size, info.crop_margin, workers=2).build(samples, name)


def cached_crops(data: EvalData, info: ModelInfo, sample: int | None = None) -> CropSet:
    """Return one dataset's cached crops, cut as the model `info` expects, with their samples.

    `sample`: take that many photos at random (seed 0) instead of all of them."""
    kind, samples, split, _ = load_eval_samples(data)
    if sample:
        samples = [samples[i] for i in np.random.default_rng(0).choice(len(samples), sample, replace=False)]
    return _crops(data, kind, split, samples, info)


def labelled_crops(data: EvalData, info: ModelInfo, sample: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the cached crops of one dataset's faces with an exact age, (N, H, W, 3), and those ages (N,).

    `sample`: take that many photos at random (seed 0) instead of all of them."""
    crops = cached_crops(data, info, sample)
    exact, ages = true_ages(crops.samples)
    return np.asarray(crops.images)[exact], ages[exact]


def validation_sets(data: EvalData, what: str) -> list[str]:
    """The dataset kinds of `data.data` (one, or several separated by commas), refusing test data:
    `what` (a choice written into the sidecar) is made on a validation split only."""
    kinds = ["csv" if d.endswith(".csv") else d.replace("-", "_").lower() for d in data.data.split(",")]
    if data.split in ("test", "all", None) or any(kind in TEST_ONLY for kind in kinds):
        raise HowoldError(f"{what} on a validation split (e.g. --data utkface --split val), never on test data.")
    return kinds


def calibrate(model_path: str | Path, data: EvalData, *, write: bool = True, degraded: bool = False) -> dict:
    """Fit the temperature so the share of true ages inside the range matches `interval` on a
    validation split (never test), and write it into the sidecar. `data.data`: one set, or several
    separated by commas (`utkface,aaf`), pooled. `degraded`: fit `temperature_poor` instead, on a
    fixed degraded copy of the crops (the faces the pipeline marks as poor take it)."""
    kinds = validation_sets(data, "calibrate")
    model = AgeModel(model_path).prepare()
    target = model.info.interval
    pieces = [labelled_crops(one, model.info) for one in data.sets()]
    images, true = np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])
    kind = ",".join(kinds)
    if degraded:
        from howold.train.degrade import degraded_copy

        images = degraded_copy(images)

    logits = model.logits(images)  # the network runs once; only the temperature changes

    def coverage(t: float) -> float:
        est = model.estimates_from_logits(logits, temperature=t)
        return float(((true >= est.low) & (true <= est.high)).mean())

    before = coverage(1.0)
    lo, hi = math.log(0.2), math.log(5.0)  # coverage rises with temperature
    for _ in range(14):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if coverage(math.exp(mid)) < target else (lo, mid)
    t = round(math.exp((lo + hi) / 2), 4)
    after = coverage(t)
    key = "temperature_poor" if degraded else "temperature"
    result = {
        key: t,
        "data": kind,
        "split": data.split,
        "degraded": degraded,
        "n": int(len(true)),
        "coverage_before": round(before, 4),
        "coverage_after": round(after, 4),
        "target": target,
    }
    if write:
        update_model_info(model_path, metrics={"calibration_poor" if degraded else "calibration": result}, **{key: t})
    return result


def choose_flip(model_path: str | Path, data: EvalData, *, min_gain: float = 0.1, write: bool = True) -> dict:
    """Decide whether the model averages each face with its mirror image (flip TTA, twice the age
    model's cost): only if that lowers the MAE, pooled over the validation sets of `data` (never
    test), by at least `min_gain` years. Writes `tta_flip` and metrics.flip_choice into the sidecar."""
    sets = data.sets()
    validation_sets(data, "choose the flip")
    if min_gain < 0:
        raise HowoldError(f"--min-flip-gain must be 0 or more years, got {min_gain}.")
    mae = {}
    for kind, flip in (("flip", True), ("noflip", False)):
        runs = [evaluate(model_path, one, tta_flip=flip) for one in sets]
        mae[kind] = pooled_mae([r.get("overall", {"n": 0}) for r in runs])
    keep = mae["noflip"] - mae["flip"] >= min_gain
    result = {
        "val_sets": [one.data for one in sets],
        "val_mae_flip": mae["flip"],
        "val_mae_noflip": mae["noflip"],
        "min_gain": min_gain,
        "tta_flip": keep,
    }
    if write:
        update_model_info(model_path, tta_flip=keep, metrics={"flip_choice": result})
    return result


def pooled_mae(overalls: list[dict]) -> float:
    """The MAE over several sets' faces together, from each set's `overall` figures (n and mae)."""
    n = sum(o["n"] for o in overalls)
    if n == 0:
        raise HowoldError("no faces with an exact age to measure on.")
    return round(sum(o["mae"] * o["n"] for o in overalls if o["n"]) / n, 3)


def record(model_path: str | Path, result: dict) -> None:
    """Store an evaluation's headline figures in the sidecar's metrics, under its MetricKey."""
    key = MetricKey(
        result["data"],
        _normalise_split(result["split"]),
        end_to_end=bool(result["end_to_end"]),
        degraded=bool(result.get("degraded")),
    ).key
    keep = {
        k: result[k]
        for k in ("overall", "by_age_band", "bins", "bins_by_bin", "no_face", "evaluated", "temperature")
        if k in result
    }
    update_model_info(model_path, metrics={key: keep})


def format_result(result: dict) -> str:
    """A short human-readable summary."""
    lines = [
        f"{result['data']} {result['split']}: {result['evaluated']} evaluated of {result['images']} "
        f"({result['no_face']} no face, {result['unreadable']} unreadable, "
        f"{result['missing_files']} missing); temperature {result['temperature']}"
    ]
    if "overall" in result:
        o = result["overall"]
        lines.append(
            f"  MAE {o['mae']:.2f}  CS@5 {o['cs5']:.3f}  {result['interval']:.0%} range coverage "
            f"{o['coverage']:.3f}  mean width {o['mean_range_width']:.1f} y  bias {o['bias']:+.2f}"
        )
        for name, m in result["by_age_band"].items():
            if m["n"]:
                lines.append(f"    ages {name:>6}: n={m['n']:5d}  MAE {m['mae']:6.2f}  coverage {m['coverage']:.3f}")
        for attr in ("gender", "race"):
            for name, m in result.get(f"by_{attr}", {}).items():
                lines.append(f"    {attr} {name:>8}: n={m['n']:5d}  MAE {m['mae']:6.2f}")
        for name, m in result.get("by_warning", {}).items():
            lines.append(f"    warning {name:>14}: n={m['n']:5d}  MAE {m['mae']:6.2f}  coverage {m['coverage']:.3f}")
    if "bins" in result:
        b = result["bins"]
        lines.append(
            f"  bin hit rate {b['bin_hit_rate']:.3f}  mean distance to bin {b['mean_distance_to_bin']:.2f} y  "
            f"range overlaps bin {b['range_overlaps_bin']:.3f}"
        )
        for name, m in result["bins_by_bin"].items():
            lines.append(f"    bin {name:>12}: n={m['n']:4d}  hit {m['bin_hit_rate']:.3f}")
    return "\n".join(lines)
