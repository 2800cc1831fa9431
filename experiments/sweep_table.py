#!/usr/bin/env python
"""Print a Markdown table of training runs: what each changed from the recipe, epochs, wall time,
images/s and best val MAE. Usage: python experiments/sweep_table.py runs/short_* [--base configs/utkface_lite0.yaml]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from howold.train.config import load_config


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def changes(run_config: dict, base: dict) -> str:
    """Settings of the run that differ from the base recipe (name and bookkeeping left out)."""
    skip = {"name", "version", "out_dir", "trainer.patience", "trainer.max_epochs", "data.train_fraction"}
    diff = [f"{k}={v}" for k, v in flatten(run_config).items() if k not in skip and k in base and base[k] != v]
    return ", ".join(diff) or "(recipe)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--base", type=Path, default=Path("configs/utkface_lite0.yaml"))
    args = parser.parse_args()
    base = flatten(load_config(args.base).to_dict())
    print("| run | change | train share | epochs | wall | images/s | best val MAE (epoch) |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        summary_file = run / "summary.json"
        if not summary_file.is_file():
            continue
        summary = json.loads(summary_file.read_text())
        config = load_config(run / "config.yaml").to_dict()
        epochs = summary.get("epochs") or []
        best = min(epochs, key=lambda e: e.get("val/mae", 1e9)) if epochs else {}
        share = config["data"]["train_fraction"]
        print(
            f"| {run.name} | {changes(config, base)} | {share:.0%} | {summary['epochs_done']} | "
            f"{summary['wall_seconds'] / 60:.1f} min | {summary.get('images_per_s')} | "
            f"{summary['best_val_mae']:.3f} ({best.get('epoch', '?')}) |"
        )


if __name__ == "__main__":
    main()
