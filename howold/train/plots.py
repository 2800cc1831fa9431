"""Plots written after training: learning curves and validation error by true age."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(metrics_csv: str | Path, out: str | Path) -> list[dict]:
    """Loss and MAE per epoch from Lightning's CSV log(s); returns the per-epoch table.

    `metrics_csv`: one metrics.csv, or a folder whose metrics.csv files (one per start of a
    resumed run) are read in order, later rows winning for the same epoch."""
    import pandas as pd

    path = Path(metrics_csv)
    files = sorted(path.glob("**/metrics.csv"), key=lambda p: p.stat().st_mtime) if path.is_dir() else [path]
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    cols = [c for c in ("train/loss_epoch", "train/mae", "val/loss", "val/mae", "val/cs5") if c in df]
    per_epoch = df.groupby("epoch")[cols].last().reset_index()
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for col, ax in (("train/loss_epoch", 0), ("val/loss", 0), ("train/mae", 1), ("val/mae", 1)):
        if col in per_epoch:
            axes[ax].plot(per_epoch["epoch"] + 1, per_epoch[col], marker="o", label=col)
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[1].set(xlabel="epoch", ylabel="MAE (years)", title="mean absolute error")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return [
        {k: (round(float(v), 4) if k != "epoch" else int(v)) for k, v in row.items() if v == v}
        for row in per_epoch.to_dict("records")
    ]


def plot_error_by_age(ckpt: str | Path, val_set, out: str | Path) -> list[dict]:
    """MAE of the checkpoint on the validation crops per 5-year band of true age."""
    from howold.train.checkpoints import load_module
    from howold.train.module import predict_crops

    module = load_module(ckpt)
    exact = (val_set.low == val_set.high).numpy()
    pred = predict_crops(module, val_set)
    true = val_set.low.numpy().astype(float)
    err = np.abs(pred - true)[exact]
    true = true[exact]
    bands = np.arange(0, 105, 5)
    rows = []
    for lo in bands:
        sel = (true >= lo) & (true < lo + 5)
        if sel.any():
            rows.append(
                {
                    "ages": f"{lo}-{lo + 4}",
                    "n": int(sel.sum()),
                    "mae": round(float(err[sel].mean()), 2),
                    "bias": round(float((pred[exact] - true)[sel].mean()), 2),
                }
            )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar([r["ages"] for r in rows], [r["mae"] for r in rows], color="tab:blue", label="MAE")
    ax.plot([r["ages"] for r in rows], [r["bias"] for r in rows], "o-", color="tab:red", label="bias (pred - true)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="true age", ylabel="years", title=f"validation error by age (MAE {err.mean():.2f})")
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return rows
