"""Age checks ("is this person at least 18?") measured end to end: how often minors pass as adults and
adults are asked for ID, per threshold and challenge margin, and how well `Face.p_over` is calibrated.

    python benchmarks/bench_age_checks.py [--model FILE.onnx] [--data DIR] [--limit N] [--refresh]
                                          [--json FILE] [--markdown FILE]

Photos, from DIR (default $HOWOLD_DATA, else ../shared/data): the UTKFace test split, the All-Age-Faces
test split and FG-NET's test people (`split == test` in its labels.csv), each through
`howold.Predictor` as a user's photo goes; the largest face's calibrated age distribution
(`Face.distribution`) is kept, a photo with no face is counted apart. The distributions are cached
in out/age_checks_<model name>-<version>-<calibration>[_val][_limitN].npz, so the tables are recomputed in seconds;
--refresh runs the photos again.

Policy (howold.options.AgeCheck): for a threshold T and a margin m the answer is "over T" when
P(age >= T + m) >= AgeCheck.PASS_PROBABILITY, else "check ID". For each T in THRESHOLDS and m in
MARGINS: the share of minors (true age < T) passed as over, and of adults (true age >= T) asked for
ID, overall and per age band (the 5 years under T, and the 7 years from T), with counts and 95 %
Wilson intervals, on each set and pooled. The default margin of a threshold is the smallest that
passes under 1 % of the pooled minors. Reliability: for P(age >= T) in tenths, the mean predicted
probability against the observed share at least T, per set; a bin of 50 faces or more is within
tolerance when the two differ by at most 0.05.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from howold.age_model import DEFAULT_MODEL_PATH, decode_distribution, probability_at_least, read_model_info
from howold.options import AgeCheck
from howold.train.age_checks import SETS, cache_path, face_distributions

ROOT = Path(__file__).resolve().parents[1]
SET_NAMES = {"utkface": "UTKFace test", "aaf": "AAF test", "fgnet": "FG-NET test people", "pooled": "pooled"}
THRESHOLDS = (13, 16, 18, 21, 25)
MARGINS = tuple(range(0, 26))
CHALLENGE_25 = 25  # the retail policy the per-set tables also show: ask anyone who does not look 25
TARGET = 0.01  # the share of minors passed as over that the default margin stays under
RELIABILITY_MIN_FACES = 50
RELIABILITY_TOLERANCE = 0.05
CHANCE_DRAWS = 200


def data_root(given: str | None) -> Path:
    return Path(given or os.environ.get("HOWOLD_DATA") or ROOT.parent / "shared" / "data")


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share hits / n."""
    if n == 0:
        return (math.nan, math.nan)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(mask: np.ndarray) -> dict:
    n, hits = int(mask.size), int(mask.sum())
    low, high = wilson(hits, n)
    return {"n": n, "count": hits, "rate": hits / n if n else math.nan, "ci95": [low, high]}


def bands(threshold: int) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """(minor bands, adult bands) as (name, first age, last age)."""
    near = max(0, threshold - 5)
    minors = [(f"{near}–{threshold - 1}", near, threshold - 1)]
    if near > 0:
        minors.insert(0, (f"0–{near - 1}", 0, near - 1))
    adults = [(f"{threshold}–{threshold + 6}", threshold, threshold + 6), (f"{threshold + 7}+", threshold + 7, 999)]
    return minors, adults


def error_rates(true: np.ndarray, passed: np.ndarray, threshold: int) -> dict:
    minor, adult = true < threshold, true >= threshold
    minor_bands, adult_bands = bands(threshold)
    return {
        "minors_passed": share(passed[minor]),
        "adults_refused": share(~passed[adult]),
        "minors_passed_by_band": {name: share(passed[(true >= lo) & (true <= hi)]) for name, lo, hi in minor_bands},
        "adults_refused_by_band": {name: share(~passed[(true >= lo) & (true <= hi)]) for name, lo, hi in adult_bands},
    }


def chance_misses(p: np.ndarray, draws: int = CHANCE_DRAWS, seed: int = 0) -> float:
    """How many judged bins a perfectly calibrated p would put out of tolerance by chance: the mean
    over `draws` draws of labels "over" ~ Bernoulli(p) for these very faces."""
    rng = np.random.default_rng(seed)
    index = np.minimum((p * 10).astype(int), 9)
    counted = [index == d for d in range(10) if (index == d).sum() >= RELIABILITY_MIN_FACES]
    misses = 0
    for _ in range(draws):
        over = rng.random(p.size) < p
        misses += sum(abs(p[sel].mean() - over[sel].mean()) > RELIABILITY_TOLERANCE for sel in counted)
    return misses / draws


def reliability(true: np.ndarray, p: np.ndarray, threshold: int) -> dict:
    rows = []
    index = np.minimum((p * 10).astype(int), 9)
    for decile in range(10):
        sel = index == decile
        n = int(sel.sum())
        row = {"bin": f"{decile / 10:.1f}–{(decile + 1) / 10:.1f}", "n": n}
        if n:
            row["predicted"] = float(p[sel].mean())
            row["observed"] = float((true[sel] >= threshold).mean())
            row["within"] = bool(abs(row["predicted"] - row["observed"]) <= RELIABILITY_TOLERANCE)
            spread = math.sqrt(max(row["predicted"] * (1 - row["predicted"]), 1e-12) / n)
            row["z"] = (row["observed"] - row["predicted"]) / spread
        rows.append(row)
    judged = [r for r in rows if r["n"] >= RELIABILITY_MIN_FACES]
    worst = max((abs(r["predicted"] - r["observed"]) for r in judged), default=math.nan)
    return {
        "bins": rows,
        "worst_gap": worst,
        "within": all(r["within"] for r in judged),
        "bins_judged": len(judged),
        "bins_out": sum(not r["within"] for r in judged),
        "bins_out_by_chance": chance_misses(p),
        "bins_beyond_noise": sum(abs(r["z"]) > 1.96 and not r["within"] for r in judged),
    }


def range_coverage(true: np.ndarray, probs: np.ndarray, min_age: int, interval: float) -> float:
    """The share of faces whose `interval` range (read from the same distributions) holds the true age."""
    _, low, high = decode_distribution(probs, interval, min_age)
    return float(((true >= low) & (true <= high)).mean())


def measure(cache: dict[str, np.ndarray], interval: float = 0.8) -> dict:
    sets, true, probs, min_age = cache["set"], cache["age"], cache["probs"], int(cache["min_age"])
    groups = {kind: sets == kind for kind in SETS} | {"pooled": np.ones(len(sets), bool)}
    out: dict = {
        "faces": {k: int(v.sum()) for k, v in groups.items()},
        "range_coverage": {k: range_coverage(true[g], probs[g], min_age, interval) for k, g in groups.items()},
        "no_face": dict(zip(cache["missed_sets"].tolist(), cache["missed"].tolist())),
        "thresholds": {},
    }
    for threshold in THRESHOLDS:
        entry: dict = {"margins": {}, "reliability": {}}
        for margin in MARGINS:
            p_challenge = probability_at_least(probs, min(threshold + margin, AgeCheck.MAX_AGE), min_age)
            passed = p_challenge >= AgeCheck.PASS_PROBABILITY
            entry["margins"][margin] = {k: error_rates(true[g], passed[g], threshold) for k, g in groups.items()}
        pooled = [m for m in MARGINS if entry["margins"][m]["pooled"]["minors_passed"]["rate"] < TARGET]
        entry["default_margin"] = pooled[0] if pooled else None
        p_over = probability_at_least(probs, threshold, min_age)
        entry["reliability"] = {k: reliability(true[groups[k]], p_over[groups[k]], threshold) for k in SETS}
        out["thresholds"][threshold] = entry
    return out


def percent(entry: dict) -> str:
    if not entry["n"]:
        return "–"
    low, high = entry["ci95"]
    return f"{100 * entry['rate']:.1f} % ({entry['count']}/{entry['n']}; {100 * low:.1f}–{100 * high:.1f})"


def markdown(figures: dict, model: str, command: str) -> str:
    lines = [
        f"Model {model}; `{command}`.",
        "",
        "Faces with an age: "
        + ", ".join(f"{SET_NAMES[k]} {v}" for k, v in figures["faces"].items())
        + "; photos without a face (left out): "
        + ", ".join(f"{SET_NAMES[k]} {v}" for k, v in figures["no_face"].items())
        + ".",
        "",
        "**Default challenge margins** (the smallest that passes under 1 % of the pooled minors as over):",
        "",
        "| threshold | margin | challenge age | minors passed, pooled | adults asked for ID, pooled |",
        "|---|---|---|---|---|",
    ]
    for threshold, entry in figures["thresholds"].items():
        margin = entry["default_margin"]
        shown = MARGINS[-1] if margin is None else margin
        rates = entry["margins"][shown]["pooled"]
        note = f"none up to +{MARGINS[-1]}" if margin is None else f"+{margin}"
        lines.append(
            f"| {threshold} | {note} | {threshold + shown} | {percent(rates['minors_passed'])} | "
            f"{percent(rates['adults_refused'])} |"
        )
    lines += [
        "",
        "**Error rates per set** (rate, count/faces, 95 % interval), with no margin, with challenge 25 "
        "and with the default margin:",
        "",
    ]
    for threshold, entry in figures["thresholds"].items():
        minor_bands, adult_bands = bands(threshold)
        shown = {0, MARGINS[-1] if entry["default_margin"] is None else entry["default_margin"]}
        shown = sorted(shown | ({CHALLENGE_25 - threshold} if threshold < CHALLENGE_25 else set()))
        lines += [
            f"Over {threshold}:",
            "",
            "| challenge | set | minors passed | "
            + " | ".join(f"{n} passed" for n, _, _ in minor_bands)
            + " | adults asked for ID | "
            + " | ".join(f"{n} asked" for n, _, _ in adult_bands)
            + " |",
            "|---" * (4 + len(minor_bands) + len(adult_bands)) + "|",
        ]
        for margin in shown:
            for kind, rates in entry["margins"][margin].items():
                cells = [percent(rates["minors_passed"])]
                cells += [percent(rates["minors_passed_by_band"][n]) for n, _, _ in minor_bands]
                cells += [percent(rates["adults_refused"])]
                cells += [percent(rates["adults_refused_by_band"][n]) for n, _, _ in adult_bands]
                lines.append(f"| {threshold + margin} | {SET_NAMES[kind]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "**Calibration of P(age ≥ threshold)**: the largest gap between the mean predicted probability "
        f"and the observed share over the threshold, among the tenths of probability holding "
        f"{RELIABILITY_MIN_FACES} faces or more (bins judged; ✓ within ±{RELIABILITY_TOLERANCE}):",
        "",
        "| threshold | " + " | ".join(SET_NAMES[k] for k in SETS) + " |",
        "|---" * (1 + len(SETS)) + "|",
    ]
    for threshold, entry in figures["thresholds"].items():
        cells = []
        for kind in SETS:
            r = entry["reliability"][kind]
            gap = "–" if math.isnan(r["worst_gap"]) else f"{r['worst_gap']:.3f}"
            cells.append(f"{gap} ({r['bins_judged']}) {'✓' if r['within'] else '✗'}")
        lines.append(f"| {threshold} | " + " | ".join(cells) + " |")
    tables = [e["reliability"][k] for e in figures["thresholds"].values() for k in SETS]
    out, chance = sum(r["bins_out"] for r in tables), sum(r["bins_out_by_chance"] for r in tables)
    judged, beyond = sum(r["bins_judged"] for r in tables), sum(r["bins_beyond_noise"] for r in tables)
    lines += [
        "",
        f"Bins out of ±{RELIABILITY_TOLERANCE}: **{out} of {judged}**. A perfectly calibrated P(age ≥ threshold) "
        f"would put {chance:.1f} of these bins out by chance alone (labels drawn from the predicted "
        f"probabilities, {CHANCE_DRAWS} draws): with 50–200 faces a bin's share has a sampling spread of "
        f"0.035–0.07. Bins out of ±{RELIABILITY_TOLERANCE} and more than 1.96 standard errors away: {beyond}.",
        "",
        "The 80 % range holds the true age for "
        + ", ".join(f"{SET_NAMES[k]} {figures['range_coverage'][k]:.3f}" for k in (*SETS, "pooled"))
        + " of the faces (read from the same distributions).",
    ]
    lines += [
        "",
        "**Reliability** per tenth of P(age ≥ threshold): mean predicted / observed share over the threshold (faces):",
        "",
        "| threshold | set | " + " | ".join(f"{d / 10:.1f}–{(d + 1) / 10:.1f}" for d in range(10)) + " |",
        "|---" * 12 + "|",
    ]
    for threshold, entry in figures["thresholds"].items():
        for kind in SETS:
            cells = [
                f"{r['predicted']:.2f} / {r['observed']:.2f} ({r['n']})" if r["n"] else "–"
                for r in entry["reliability"][kind]["bins"]
            ]
            lines.append(f"| {threshold} | {SET_NAMES[kind]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="ONNX age model (default: shipped)")
    parser.add_argument("--data", help="the data sets' folder (default $HOWOLD_DATA, else ../shared/data)")
    parser.add_argument("--limit", type=int, help="at most N photos per set, spread over it (for trying things)")
    parser.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="the split to measure (default test; val is what the p_over calibration is fitted on)",
    )
    parser.add_argument("--refresh", action="store_true", help="run the photos again even when cached")
    parser.add_argument("--json", type=Path, help="write every figure (all margins, all bins) to FILE")
    parser.add_argument("--markdown", type=Path, help="write the tables to FILE (default: stdout)")
    args = parser.parse_args(argv)
    root = data_root(args.data)
    if not all((root / kind / "labels.csv").is_file() for kind in SETS):
        print(f"bench_age_checks: {root} lacks {', '.join(SETS)} (each with labels.csv); give --data.", file=sys.stderr)
        return 2
    path = cache_path(args.model, ROOT / "out", args.limit, args.split)
    if args.refresh or not path.is_file():
        cache = face_distributions(args.model, root, args.limit, args.split)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **cache)
        print(f"cached the distributions in {path}", file=sys.stderr)
    with np.load(path) as stored:
        cache = dict(stored)
    info = read_model_info(args.model)
    figures = measure(cache, info.interval)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    command = (
        "python benchmarks/bench_age_checks.py"
        + (f" --model {args.model}" if args.model != DEFAULT_MODEL_PATH else "")
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --split {args.split}" if args.split != "test" else "")
    )
    text = markdown(figures, f"{info.name} {info.version}", command)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
