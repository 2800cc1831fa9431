#!/usr/bin/env python
"""Model 1.0's search and full runs on a lent GPU machine, from the pack of scripts/device_pack.py.

    python scripts/device_job.py --pack .devpack --out "$OUT" --budget 540

1. unpack: the crops into the crop cache's own layout, the label files into a data root (with a
   one-byte stand-in for each image, which is never read: the crop cache finds each image's sha1 in
   the pack instead of hashing the absent file), and the teacher targets into cache/teacher:
   FaceRes-deep's, 0.3.0's own, and their mean (mix_train.npz).
2. search: `--workers` processes of `howold tune` share one SQLite study until the search deadline.
3. full runs: the best trial, trial 0 (the base recipe) and trials further down the ranking train the
   full recipe side by side, their epochs sized to the time left by the trials' measured images/s: the
   candidates of Model 1.0, and the proxy's rank correlation (proxy val MAE against full-run val MAE).
4. results in --out: the study database, results.json, each full run's best checkpoint stripped to its
   network (no optimiser state: 13.6 MiB), and logs.tgz (summaries, metrics, configs, logs).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # howold is not installed there: it runs from the copied tree
BASE = "configs/history/model1.yaml"
SPACE = "configs/history/tune_space_model1.yaml"
STUDY = "model1_tune"
EPOCH_IMAGES = 25037  # UTKFace train 18,649 + AAF train 6,388 crops
VAL_IMAGES = 4457  # UTKFace val 2,327 + AAF val 2,130
T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f} s] {text}", flush=True)


# ---------------------------------------------------------------- unpack


def _decode(blob: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))


def unpack(pack: Path, data_root: Path, cache_dir: Path, workers: int) -> Path:
    """Crops, labels, stand-in files and teachers; returns the sha1 map's path."""
    for labels in (pack / "data").glob("*/labels.csv.gz"):
        target = data_root / labels.parent.name / "labels.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(labels.read_bytes()))
    key_dir = cache_dir / (pack / "cache_key.txt").read_text().strip()
    key_dir.mkdir(parents=True, exist_ok=True)
    for npz in sorted((pack / "crops").glob("*.npz")):
        with np.load(npz) as f:
            blob, offsets = f["blob"].tobytes(), f["offsets"]
        parts = [blob[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
        with ProcessPoolExecutor(workers) as pool:
            crops = np.stack(list(pool.map(_decode, parts, chunksize=256)))
        np.save(key_dir / f"{npz.stem}.npy", crops)
        index = gzip.decompress((npz.parent / f"{npz.stem}.json.gz").read_bytes())
        (key_dir / f"{npz.stem}.json").write_bytes(index)
        say(f"unpacked {npz.stem}: {crops.shape}")
    packed = json.loads(gzip.decompress((pack / "sha1.json.gz").read_bytes()))
    sha1 = {str(data_root / rel): h for rel, h in packed.items()}
    for path in sha1:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"x")
    sha1_path = data_root / "sha1_by_path.json"
    sha1_path.write_text(json.dumps(sha1))
    teachers = {}
    for npz in sorted((pack / "teacher").glob("*.npz")):
        with np.load(npz) as f:
            paths = [str(data_root / p) for p in f["paths"]]
            probs = f["probs_q"].astype(np.float32)
            min_age = f["min_age"]
        probs /= probs.sum(axis=1, keepdims=True)
        teachers[npz.stem] = dict(zip(paths, probs))
        write_teacher(REPO / "cache" / "teacher" / f"{npz.stem}.npz", paths, probs, min_age)
    if {"faceres_train", "m030_train"} <= set(teachers):
        a, b = teachers["faceres_train"], teachers["m030_train"]
        paths = [p for p in a if p in b]
        mix = np.stack([(a[p] + b[p]) / 2 for p in paths])
        write_teacher(REPO / "cache" / "teacher" / "mix_train.npz", paths, mix, min_age)
        say(f"teachers: {sorted(teachers)} + mix_train ({len(paths)} photos)")
    return sha1_path


def write_teacher(path: Path, paths: list[str], probs: np.ndarray, min_age) -> None:
    from howold.train.teacher import save_teacher_targets

    save_teacher_targets(path, paths, probs, int(min_age), ["device pack"])


# ---------------------------------------------------------------- howold's CLI with the sha1 map


def run_cli(sha1_path: str, argv: list[str]) -> int:
    """howold's CLI in this process, its crop cache reading image sha1s from the pack's map."""
    import howold.train.crops as crops

    sha1 = json.loads(Path(sha1_path).read_text())
    crops.file_sha1 = lambda path: sha1[str(path)]
    from howold.cli import main

    return main(argv)


def cli_command(sha1_path: Path, *argv: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "cli", str(sha1_path), "--", *argv]


def stop(processes: list[subprocess.Popen], grace: float = 15.0) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    end = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_all(processes: list[subprocess.Popen], deadline: float) -> None:
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(2)
    stop(processes)


# ---------------------------------------------------------------- search


def search(sha1_path: Path, env: dict, args, deadline: float, logs: Path) -> None:
    overrides = ["data.num_workers=2", "trainer.threads=1", "data.crop_workers=1", *args.override]
    timeout = max(10, deadline - time.monotonic() - args.trial_s)
    command = cli_command(
        sha1_path,
        "tune",
        "--config",
        BASE,
        "--space",
        SPACE,
        "--trials",
        str(args.trials),
        "--timeout",
        f"{timeout:.0f}",
        "--study",
        STUDY,
        "--storage",
        storage_url(),
        *overrides,
    )
    processes = []
    for i in range(args.workers):
        log = open(logs / f"tune_{i}.log", "w")
        processes.append(subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(8 if i == 0 else 1)  # the first creates the study and queues trial 0
    say(f"search: {args.workers} processes, no new trial after {timeout:.0f} s")
    wait_all(processes, deadline)
    show_log(logs / "tune_0.log")


def show_log(path: Path, lines: int = 25) -> None:
    """The log's errors and its last lines, so a failure on the lent machine can be read here."""
    text = path.read_text(errors="replace").splitlines() if path.is_file() else []
    errors = [line for line in text if "Error" in line or "Traceback" in line]
    print(f"--- {path.name}: {len(text)} lines; errors: {errors[:5]}", *text[-lines:], sep="\n", flush=True)


def storage_url() -> str:
    # SQLite's default 5 s lock wait is short for six processes writing heartbeats and epoch values
    return f"sqlite:///{REPO / 'runs' / STUDY / 'study.db'}?timeout=60"


def load_study():
    import optuna

    return optuna.load_study(study_name=STUDY, storage=storage_url())


def trial_rate(folder: Path) -> float | None:
    rates = []
    for summary in folder.glob("trial_*/summary.json"):
        rate = json.loads(summary.read_text()).get("images_per_s")
        if rate:
            rates.append(rate)
    return float(np.median(rates)) if rates else None


def pick_recipes(study, count: int) -> list:
    """The best trial, trial 0, then trials spread down the ranking (distinct)."""
    from optuna.trial import TrialState

    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    if not done:
        return []
    chosen = [done[0]]
    chosen += [t for t in done if t.number == 0 and t is not done[0]]
    for q in (0.5, 0.85, 0.3, 0.7):
        t = done[min(len(done) - 1, round(q * (len(done) - 1)))]
        if len(chosen) < count and all(t.number != c.number for c in chosen):
            chosen.append(t)
    return chosen[:count]


# ---------------------------------------------------------------- full runs


def full_runs(sha1_path: Path, env: dict, args, deadline: float, logs: Path) -> list[dict]:
    from howold.train.config import load_config, save_config
    from howold.train.tune.space import apply, load_space
    from howold.train.tune.study import best_config

    base = load_config(BASE, args.override)
    space = load_space(SPACE)
    try:
        study = load_study()
        recipes = [
            (t.number, t.value, {p.key: p.from_optuna(t.params[p.key]) for p in space.params if p.key in t.params})
            for t in pick_recipes(study, args.full)
        ]
    except Exception as exc:  # no study: run the base recipe alone
        say(f"no study to pick from ({exc}); the base recipe alone")
        recipes = []
    if not recipes:
        recipes = [(None, None, {})]
    rate96 = trial_rate(REPO / "runs" / STUDY / "trials") or 300.0
    workers = max(1, (args.cpus - len(recipes)) // len(recipes))
    # per process at 128 px: trials ran 2 loader workers at 96 px; 128 px costs 1/0.75 (measured on CPU)
    rate = rate96 / 2 * workers * 0.75
    epoch_s = EPOCH_IMAGES / rate + VAL_IMAGES / (2 * rate)
    left = deadline - time.monotonic()
    epochs = int(max(2, min(args.max_epochs, (left - 70) // epoch_s)))
    cap = max(60, int(left - 50))  # after fit: summary and a CPU pass over val for the plots
    say(
        f"full runs: {len(recipes)} recipes, {workers} loader workers each, trial rate {rate96:.0f}/s "
        f"-> ~{rate:.0f} images/s each, {epoch_s:.0f} s an epoch, {epochs} epochs, cap {cap} s"
    )
    runs, processes = [], []
    for number, proxy, params in recipes:
        name = f"full_t{number:03d}" if number is not None else "full_base"
        cfg = best_config(base, params)
        cfg = apply(
            cfg,
            {
                "name": name,
                "data.num_workers": workers,
                "trainer.max_epochs": epochs,
                "trainer.max_time": time.strftime("00:%H:%M:%S", time.gmtime(cap)),
                "trainer.threads": 1,
                "trainer.patience": 99,
            },
        )
        path = REPO / "runs" / f"{name}.yaml"
        save_config(cfg, path)
        log = open(logs / f"{name}.log", "w")
        processes.append(
            subprocess.Popen(
                cli_command(sha1_path, "train", "--config", str(path)),
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        runs.append({"name": name, "trial": number, "proxy_val_mae": proxy, "params": params, "epochs": epochs})
    wait_all(processes, deadline)
    show_log(logs / f"{runs[0]['name']}.log", 10)
    for run in runs:
        summary = REPO / "runs" / run["name"] / "summary.json"
        if summary.is_file():
            s = json.loads(summary.read_text())
            run.update(
                full_val_mae=s.get("best_val_mae"),
                best_checkpoint=s.get("best_checkpoint"),
                epochs_done=s.get("epochs_done"),
                wall_seconds=s.get("wall_seconds"),
                images_per_s=s.get("images_per_s"),
            )
        else:  # stopped before the end: the best checkpoint and val MAE so far
            best = sorted((REPO / "runs" / run["name"] / "checkpoints").glob("best-*.ckpt"))
            run["best_checkpoint"] = str(best[-1]) if best else None
            run["full_val_mae"] = best_logged_val_mae(REPO / "runs" / run["name"])
    return runs


def best_logged_val_mae(run_dir: Path) -> float | None:
    import csv

    values = [
        float(row["val/mae"])
        for path in run_dir.glob("csv/*/metrics.csv")
        for row in csv.DictReader(open(path))
        if row.get("val/mae")
    ]
    return min(values) if values else None


# ---------------------------------------------------------------- results


def strip_checkpoint(source: str, target: Path) -> None:
    import torch

    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    torch.save(
        {
            "state_dict": checkpoint["state_dict"],
            "hyper_parameters": checkpoint["hyper_parameters"],
            "epoch": checkpoint.get("epoch"),
        },
        target,
    )


def collect(out: Path, runs: list[dict], logs: Path) -> None:
    results = {"runs": runs, "seconds": round(time.monotonic() - T0, 1)}
    try:
        from optuna.trial import TrialState

        study = load_study()
        trials = study.get_trials(deepcopy=False)
        results["states"] = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
        pairs = [
            (r["proxy_val_mae"], r["full_val_mae"])
            for r in runs
            if r.get("proxy_val_mae") is not None and r.get("full_val_mae") is not None
        ]
        if len(pairs) >= 3:
            from scipy.stats import kendalltau, spearmanr

            proxy, full = zip(*pairs)
            results["rank_correlation"] = {
                "n": len(pairs),
                "spearman": float(spearmanr(proxy, full)[0]),
                "kendall": float(kendalltau(proxy, full)[0]),
            }
    except Exception as exc:
        results["study_error"] = str(exc)
    for run in runs:
        if run.get("best_checkpoint") and Path(run["best_checkpoint"]).is_file():
            strip_checkpoint(run["best_checkpoint"], out / f"{run['name']}.ckpt")
    db = REPO / "runs" / STUDY / "study.db"
    if db.is_file():
        shutil.copy(db, out / "study.db")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    with tarfile.open(out / "logs.tgz", "w:gz") as tar:
        tar.add(logs, arcname="logs")
        for pattern in (
            "runs/*.yaml",
            "runs/full_*/summary.json",
            "runs/full_*/config.yaml",
            "runs/full_*/csv/*/metrics.csv",
            f"runs/{STUDY}/trials/*/summary.json",
            f"runs/{STUDY}/trials/*/csv/*/metrics.csv",
        ):
            for path in REPO.glob(pattern):
                tar.add(path, arcname=str(path.relative_to(REPO)))
    say(f"results in {out}: {sorted(p.name for p in out.iterdir())}")
    print(json.dumps(results, indent=2, default=str))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "cli":
        sys.exit(run_cli(sys.argv[2], sys.argv[4:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", default=".devpack")
    parser.add_argument("--out", default=os.environ.get("OUT", "out/device"))
    parser.add_argument("--budget", type=float, default=540, help="seconds from start to results")
    parser.add_argument("--search-share", type=float, default=0.5, help="share of the budget for the search")
    parser.add_argument("--workers", type=int, default=6, help="howold tune processes")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--trial-s", type=float, default=45, help="seconds one trial may take (no start after)")
    parser.add_argument("--full", type=int, default=4, help="full runs")
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--override", action="append", default=[], help="KEY=VALUE for every run (smoke tests)")
    args = parser.parse_args()
    os.chdir(REPO)
    (REPO / "runs" / STUDY).mkdir(parents=True, exist_ok=True)
    out, logs = Path(args.out), REPO / "runs" / "device_logs"
    out.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    end = T0 + args.budget
    data_root = REPO / ".devdata"
    sha1_path = unpack(Path(args.pack), data_root, REPO / "cache" / "crops", args.cpus)
    start = Path(args.pack).resolve() / "init" / "age_model.onnx"  # the network the runs start from
    if start.is_file():
        args.override.insert(0, f"model.init_from={start}")
    env = dict(
        os.environ,
        HOWOLD_DATA=str(data_root),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    say("unpacked")
    search_end = time.monotonic() + (end - 20 - time.monotonic()) * args.search_share
    search(sha1_path, env, args, search_end, logs)
    try:
        complete = sum(t.value is not None for t in load_study().get_trials(deepcopy=False))
    except Exception as exc:
        complete = 0
        say(f"cannot read the study: {exc}")
    say(f"search done: {complete} trials with a value")
    if complete == 0:  # the same failure would end every full run: stop and keep the lease's time
        for log in sorted(logs.glob("tune_*.log"))[1:2]:
            show_log(log)
        sys.exit(2)
    runs = full_runs(sha1_path, env, args, end - 20, logs)
    collect(out, runs, logs)


if __name__ == "__main__":
    main()
