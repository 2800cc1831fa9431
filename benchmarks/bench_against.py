"""CPU and wall ms per photo of `howold.Predictor().predict`, this checkout against an older one, side by side
in one run, with what the two networks alone cost on the same photos.

    git -C /work/main worktree add /tmp/old-c65e6ac c65e6ac
    python benchmarks/bench_against.py /tmp/old-c65e6ac [--utk 300] [--fairface 100] [--repeats 2]
    python benchmarks/bench_against.py /tmp/old-c65e6ac --cli 2000 [--workers 2]   # `howold predict -q --json` photos/s

The older checkout is imported by a subprocess whose PYTHONPATH points at it (its dependencies are this
environment's; no second venv), this one by another. Each photo goes to both in turn, the order alternating
photo by photo, so that load from other processes falls on both alike; each reports the best of `--repeats`
calls of its CPU time (process time) and wall time. A third process, on one onnxruntime thread, times this
checkout's `predict` and the networks alone on each photo: the detector once at its input size (the photo
shrunk to max_side) and the age model on one crop per face, the least any photo can cost; and the networks
as run, on exactly the inputs `predict` gave them (refinement patches and small faces' framings included),
so that what is left is the overhead around them. With
`--outputs`, the two checkouts' faces are compared too (bit-identical ages, boxes and warnings or not): run it
against the main checkout to show a change leaves the outputs alone.

Photos: UTKFace test chips (200x200), FairFace photos (448x448) and the group photo, from ../shared/data
($HOWOLD_DATA).
`--cli N`: the first N UTKFace test chips through each checkout's `howold predict -q --json`, all N in one
run as a user would, the checkouts taking turns `--repeats` times; photos/s from the best run's wall time,
CPU from the children's rusage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import best_ms

from howold.train.data import default_data_root

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_root()


def photo_sets(utk: int, fairface: int, group: bool) -> dict[str, list[str]]:
    """The photos by set: the first `utk` UTKFace test chips and `fairface` FairFace photos, by labels.csv."""
    import csv

    def first(folder: str, count: int, split: str | None) -> list[str]:
        with open(DATA / folder / "labels.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if split is None or r["split"] == split]
        return [str(DATA / folder / r["path"]) for r in rows[:count]]

    sets = {f"UTKFace test chips ({utk})": first("utkface", utk, "test")}
    if fairface:
        sets[f"FairFace ({fairface})"] = first("fairface", fairface, None)
    if group:
        sets["group photo (Solvay 1927)"] = [str(DATA / "group-photos" / "Solvay_conference_1927.jpg")]
    return sets


def worker(mode: str) -> None:
    """Answer one JSON line per photo path read from stdin: `predict` (default threads), `nets` (one thread:
    predict, and the networks alone)."""
    import numpy as np

    import howold
    from howold.io import load_image

    threads = 1 if mode == "nets" else None
    predictor = howold.Predictor(threads=threads).prepare()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        path, repeats = request["path"], request["repeats"]
        answer = {"predict": best_ms(lambda: predictor.predict(path), repeats)}
        if request.get("outputs"):
            answer["faces"] = [face.to_dict() for face in predictor.predict(path)]
        if mode == "nets":
            answer["nets"] = best_ms(networks_alone(predictor, load_image(path), np), repeats)
            answer["as_run"] = best_ms(networks_as_run(predictor, path), repeats)
        print(json.dumps(answer), flush=True)


def networks_alone(predictor, image, np):
    """A call that runs only the networks on this photo: the detector on its input, the age model on one
    crop per face (cut and preprocessed beforehand, outside the timing)."""
    import howold.detect

    # commits before the house re-cut (issue 28) named it _bgr_blob
    bgr_blob = getattr(howold.detect, "bgr_blob", None) or howold.detect._bgr_blob
    from howold.io import downscale

    small, _ = downscale(image, predictor.options.max_side)
    blob = bgr_blob(small)
    faces = predictor.detector.detect(image)
    model = predictor.age_model
    info = model.info
    from howold.crop import crop_face

    crops = [crop_face(image, f.landmarks, info.crop_size, info.crop_margin) for f in faces]
    batch = np.ascontiguousarray(model.preprocess(np.stack(crops))) if crops else None
    detector = predictor.detector._session
    age = model._session

    def run():
        detector.run(None, {"input": blob})
        if batch is not None:
            age.run(None, {model._input_name: batch})

    return run


class Recording:
    """An onnxruntime session that keeps every input it is run on."""

    def __init__(self, session, feeds: list) -> None:
        self.session, self.feeds = session, feeds

    def run(self, outputs, feeds):
        self.feeds.append((self.session, feeds))
        return self.session.run(outputs, feeds)


def networks_as_run(predictor, path):
    """A call that runs the networks on exactly the inputs `predict` gave them on this photo (the
    refinement patches and the small faces' framings included), and nothing else."""
    feeds: list = []
    owners = (predictor.detector, predictor.age_model)
    sessions = [owner._session for owner in owners]
    for owner, session in zip(owners, sessions):
        owner._session = Recording(session, feeds)
    try:
        predictor.predict(path)
    finally:
        for owner, session in zip(owners, sessions):
            owner._session = session

    def run():
        for session, feed in feeds:
            session.run(None, feed)

    return run


class Worker:
    def __init__(self, tree: Path, mode: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode]
        self.process = subprocess.Popen(
            command, cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ask(None)

    def ask(self, request: dict | None) -> dict:
        if request is not None:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            sys.exit("bench_against: a worker stopped; its error is above.")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def compare(old_tree: Path, args: argparse.Namespace) -> None:
    sets = photo_sets(args.utk, args.fairface, not args.no_group)
    workers = {"old": Worker(old_tree, "predict"), "new": Worker(ROOT, "predict")}
    nets = None if args.outputs else Worker(ROOT, "nets")
    print(
        f"old: {old_tree} ({revision(old_tree)}); new: {ROOT} ({revision(ROOT)}); best of {args.repeats}; "
        f"load average at start {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| photos | old CPU ms | new CPU ms | new / old CPU | old wall ms | new wall ms | new / old wall |"
        " new 1 thread CPU ms | networks alone CPU ms | new / networks | networks as run CPU ms | new / as run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    differing = 0
    for name, paths in sets.items():
        totals = {key: 0.0 for key in ("old cpu", "old wall", "new cpu", "new wall", "one cpu", "nets cpu", "run cpu")}
        for index, path in enumerate(paths):
            order = ("old", "new") if index % 2 == 0 else ("new", "old")
            answers = {}
            for key in order:
                answers[key] = workers[key].ask({"path": path, "repeats": args.repeats, "outputs": args.outputs})
                totals[f"{key} cpu"] += answers[key]["predict"]["cpu"]
                totals[f"{key} wall"] += answers[key]["predict"]["wall"]
            if args.outputs:
                differing += answers["old"]["faces"] != answers["new"]["faces"]
            if nets:
                answer = nets.ask({"path": path, "repeats": args.repeats})
                totals["one cpu"] += answer["predict"]["cpu"]
                totals["nets cpu"] += answer["nets"]["cpu"]
                totals["run cpu"] += answer["as_run"]["cpu"]
        mean = {key: value / len(paths) for key, value in totals.items()}
        line = (
            f"| {name} | {mean['old cpu']:.1f} | {mean['new cpu']:.1f} | {mean['new cpu'] / mean['old cpu']:.2f} "
            f"| {mean['old wall']:.1f} | {mean['new wall']:.1f} | {mean['new wall'] / mean['old wall']:.2f} |"
        )
        if nets:
            line += (
                f" {mean['one cpu']:.1f} | {mean['nets cpu']:.1f} | {mean['one cpu'] / mean['nets cpu']:.2f} "
                f"| {mean['run cpu']:.1f} | {mean['one cpu'] / mean['run cpu']:.2f} |"
            )
        else:
            line += " | | | | |"
        print(line, flush=True)
    if args.outputs:
        total = sum(len(p) for p in sets.values())
        print(f"\nphotos whose faces differ between the two checkouts: {differing} of {total}")
    for w in [*workers.values(), nets]:
        if w:
            w.close()
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


def cli(old_tree: Path, count: int, workers: int = 0, repeats: int = 2) -> None:
    """Each checkout's `howold predict -q --json` on the same chips, all of them in one run, the checkouts
    taking turns `repeats` times (the order turning each round); with `workers`, this checkout's
    `--workers N` too. Photos/s from the best run's wall time."""
    paths = photo_sets(count, 0, False)[f"UTKFace test chips ({count})"]
    runners = [(old_tree, ()), (ROOT, ())] + ([(ROOT, ("--workers", str(workers)))] if workers else [])
    runs: dict[tuple, list[tuple[float, float]]] = {runner: [] for runner in runners}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(repeats):
            for tree, extra in runners[turn % len(runners) :] + runners[: turn % len(runners)]:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                began = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "howold", "predict", "-q", "--json", f"{tmp}/out.json", *extra, *paths],
                    cwd=tmp,
                    env={**os.environ, "PYTHONPATH": str(tree)},
                    check=True,
                )
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                runs[(tree, extra)].append((time.perf_counter() - began, cpu))
    print(
        f"`howold predict -q --json` on {len(paths)} UTKFace test chips in one run (start-up included), "
        f"checkouts in turn, {repeats} runs each; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| checkout | flags | wall s, each run | CPU s (user + sys), best run | photos/s, best run "
          "| photos/s / old |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    old_wall = min(runs[(old_tree, ())])[0]
    for (tree, extra), results in runs.items():
        wall, cpu = min(results)
        print(
            f"| {tree} ({revision(tree)}) | {' '.join(extra)} | {' / '.join(f'{w:.2f}' for w, _ in results)} | "
            f"{cpu:.1f} | {len(paths) / wall:.1f} | {old_wall / wall:.2f} |"
        )


def revision(tree: Path) -> str:
    result = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    return result.stdout.strip() + (" + uncommitted changes" if dirty else "")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="the older checkout (a git worktree)")
    parser.add_argument("--utk", type=int, default=300, help="UTKFace test chips (default 300)")
    parser.add_argument("--fairface", type=int, default=100, help="FairFace photos (default 100)")
    parser.add_argument("--no-group", action="store_true", help="leave out the group photo")
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="calls per photo, the least counted; with --cli, runs per checkout (default 2)",
    )
    parser.add_argument("--outputs", action="store_true", help="compare the faces instead of the networks alone")
    parser.add_argument("--cli", type=int, metavar="N", help="time `howold predict` on N chips instead")
    parser.add_argument(
        "--workers", type=int, default=0, metavar="N", help="with --cli: this checkout with --workers N too"
    )
    args = parser.parse_args()
    if not (DATA / "utkface" / "labels.csv").is_file():
        sys.exit(f"bench_against: {DATA} is missing; the photos are read from there.")
    if not (args.old / "howold" / "__init__.py").is_file():
        sys.exit(f"bench_against: {args.old} is not a howold checkout (git -C . worktree add {args.old} COMMIT).")
    if args.cli:
        cli(args.old.resolve(), args.cli, args.workers, args.repeats)
    else:
        compare(args.old.resolve(), args)


if __name__ == "__main__":
    main()
