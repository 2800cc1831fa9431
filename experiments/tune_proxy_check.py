#!/usr/bin/env python
"""How well does howold tune's proxy rank recipes? Spearman (and Kendall) rank correlation of proxy
val MAE against full-run val MAE over at least 4 recipes.

Each --recipe is CONFIG=FULL, FULL being the full run's folder (its summary.json) or its recorded best
val MAE. The proxy run of CONFIG is `howold train --config CONFIG name=proxy_<name> <the space's proxy>`
in runs/proxy_<name>/; --run trains the missing ones (about 3.5 minutes each on 2 CPU cores).

    python experiments/tune_proxy_check.py --space configs/tune_space.yaml --run \
        --recipe configs/utkface_lite0.yaml=4.87 --recipe configs/history/utkface_lite0_v2.yaml=4.735 \
        --recipe configs/history/utkface_lite1_v3.yaml=4.64 --recipe configs/utkface_lite0_kd.yaml=4.635
(the full-run figures are the model card's runs 1, 10, 12 and 13).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from howold.errors import HowoldError
from howold.train.config import load_config
from howold.train.tune.space import as_overrides, load_space

MIN_RECIPES = 4


def best_val_mae(run: Path) -> float | None:
    summary = run / "summary.json"
    return json.loads(summary.read_text()).get("best_val_mae") if summary.is_file() else None


def full_val_mae(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        value = best_val_mae(Path(text))
        if value is None:
            raise HowoldError(f"{text}: neither a val MAE nor a run folder with a summary.json.") from None
        return value


def proxy_command(config: str, space: Path) -> tuple[list[str], Path]:
    cfg = load_config(config)
    name = f"proxy_{cfg.name}"
    overrides = [f"name={name}", *as_overrides(load_space(space).proxy)]
    return [sys.executable, "-m", "howold.cli", "train", "--config", config, *overrides], cfg.run_dir.parent / name


def rank_correlation(proxy: list[float], full: list[float]) -> dict:
    from scipy.stats import kendalltau, spearmanr

    rho, p_rho = spearmanr(proxy, full)
    tau, p_tau = kendalltau(proxy, full)
    return {
        "spearman": round(float(rho), 3),
        "spearman_p": round(float(p_rho), 3),
        "kendall": round(float(tau), 3),
        "kendall_p": round(float(p_tau), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", type=Path, default=Path("configs/tune_space.yaml"))
    parser.add_argument("--recipe", action="append", required=True, metavar="CONFIG=FULL")
    parser.add_argument("--run", action="store_true", help="train the proxy runs that are missing")
    parser.add_argument("--out", type=Path, default=Path("runs/proxy_check.json"))
    args = parser.parse_args()
    if len(args.recipe) < MIN_RECIPES:
        parser.error(f"give at least {MIN_RECIPES} recipes: a rank correlation over fewer says little")
    rows = []
    for item in args.recipe:
        config, _, full = item.partition("=")
        command, run = proxy_command(config, args.space)
        if best_val_mae(run) is None and args.run:
            print("$", " ".join(command), flush=True)
            subprocess.run(command, check=True)
        proxy = best_val_mae(run)
        if proxy is None:
            print(f"no proxy run in {run}; run it with --run, or: {' '.join(command[2:])}", file=sys.stderr)
            return 1
        rows.append(
            {
                "config": config,
                "proxy_run": str(run),
                "proxy_val_mae": round(proxy, 3),
                "full_val_mae": full_val_mae(full),
            }
        )
    result = {
        "space": str(args.space),
        "recipes": rows,
        **rank_correlation([r["proxy_val_mae"] for r in rows], [r["full_val_mae"] for r in rows]),
    }
    print("| recipe | proxy val MAE | full val MAE |\n|---|---|---|")
    for r in rows:
        print(f"| {Path(r['config']).stem} | {r['proxy_val_mae']:.3f} | {r['full_val_mae']:.3f} |")
    print(f"Spearman {result['spearman']} (p {result['spearman_p']}), Kendall {result['kendall']} over {len(rows)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
