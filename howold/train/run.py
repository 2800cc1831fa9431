"""`howold train`: fit the age model with Lightning; checkpoints, CSV logs, plots, summary.

Everything of one run lives in `<out_dir>/<name>/`: config.yaml, checkpoints/ (last.ckpt every
epoch, best-*.ckpt by val MAE), csv/version_N/metrics.csv (one per start), summary.json, curves.png, error_by_age.png.
Re-running with `resume=True` (or trainer ckpt_path=last) continues from last.ckpt.
"""

from __future__ import annotations

import json
import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from howold.train.callbacks import DelayedEMA, Throughput
from howold.train.checkpoints import load_training_checkpoint
from howold.train.config import TrainConfig, save_config
from howold.train.datamodule import AgeDataModule
from howold.train.model import build_network, load_onnx_weights, normalisation
from howold.train.module import AgeModule

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, resume: bool = False, callbacks: list[Callback] = ()) -> dict:
    """Train; return the summary dict (also written to summary.json). `callbacks` join the run's own
    (e.g. `howold tune`'s pruning callback)."""
    torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    last = run_dir / "checkpoints" / "last.ckpt"
    ckpt_path = str(last) if resume and last.is_file() else None
    if resume and ckpt_path is None:
        log.warning("no %s to resume from; starting afresh", last)

    fresh = ckpt_path is None
    net = build_network(cfg.model, init_weights=fresh and not cfg.model.init_from)
    if fresh and cfg.model.init_from:
        if cfg.model.init_from.endswith(".onnx"):
            load_onnx_weights(net, cfg.model.init_from)
        else:
            load_training_checkpoint(net, cfg.model.init_from)
    mean, std = normalisation(net)
    module = AgeModule(net, cfg, mean, std)
    data = AgeDataModule(cfg, mean, std)

    t = cfg.trainer
    best = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{epoch:02d}",
        monitor="val/mae",
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    # Lightning's save_last writes only when the best improves; this one writes every epoch, so a
    # resumed run loses at most the epoch in progress
    latest = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )
    throughput = Throughput()
    callbacks = [best, latest, throughput, EarlyStopping("val/mae", patience=t.patience, mode="min"), *callbacks]
    if not t.fast_dev_run:
        callbacks.append(LearningRateMonitor("epoch"))
    if cfg.optim.ema_decay:
        callbacks.append(DelayedEMA(cfg.optim.ema_decay, cfg.optim.ema_start_epoch))
    trainer = L.Trainer(
        default_root_dir=run_dir,
        max_epochs=t.max_epochs,
        max_time=t.max_time,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        fast_dev_run=t.fast_dev_run,
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every_n_steps,
        enable_progress_bar=t.progress_bar,
        callbacks=callbacks,
        logger=CSVLogger(run_dir, name="csv"),
        deterministic=False,  # version_N per (re)start
    )
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    wall = time.perf_counter() - t0

    summary = {
        "name": cfg.name,
        "backbone": cfg.model.backbone,
        "wall_seconds": round(wall, 1),
        "resumed_from": ckpt_path,
        "epochs_done": trainer.current_epoch,
        "best_checkpoint": best.best_model_path or None,
        "best_val_mae": float(best.best_model_score) if best.best_model_score is not None else None,
        "train_crops": len(data.train_set),
        "val_crops": len(data.val_set),
        "throughput": throughput.history,
        "images_per_s": round(throughput.images / throughput.seconds, 1) if throughput.seconds else None,
    }
    if not t.fast_dev_run and trainer.is_global_zero:
        from howold.train.plots import plot_curves, plot_error_by_age

        summary["epochs"] = plot_curves(run_dir / "csv", run_dir / "curves.png")
        if best.best_model_path:
            summary["val_error_by_age"] = plot_error_by_age(
                best.best_model_path, data.val_set, run_dir / "error_by_age.png"
            )
    previous = run_dir / "summary.json"
    if previous.is_file() and ckpt_path:
        summary["previous_wall_seconds"] = json.loads(previous.read_text()).get("wall_seconds")
    previous.write_text(json.dumps(summary, indent=2, default=str))
    log.info("done in %.0f s; best val MAE %s at %s", wall, summary["best_val_mae"], summary["best_checkpoint"])
    return summary
