"""The age LightningModule, following lightning-hydra-template: the network is passed in, with the
typed training config; one shared `model_step` serves training and validation; the config (as a
plain dict), mean and std are saved with each checkpoint, from which `howold.train.checkpoints`
rebuilds the module."""

from __future__ import annotations

import math
from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
import torchmetrics

from howold.train.config import TrainConfig
from howold.train.losses import age_loss, expected_age


class AgeModule(L.LightningModule):
    """Age distribution learner over the network `net`, trained as `cfg` says; `mean` and `std` are
    the network's input normalisation. The checkpoint keeps `cfg` as a plain dict (hparams["cfg"])."""

    def __init__(self, net: torch.nn.Module, cfg: TrainConfig, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"cfg: expected a TrainConfig, got {type(cfg).__name__}")
        self.save_hyperparameters({"cfg": cfg.to_dict(), "mean": mean, "std": std})
        self.cfg = cfg
        self.net = net
        if cfg.model.freeze_bn:
            # frozen layers, not eval mode: Lightning restores each layer's mode after validation
            from timm.layers import freeze_batch_norm_2d

            self.net = freeze_batch_norm_2d(self.net)
        if cfg.model.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.val_mae = torchmetrics.MeanAbsoluteError()
        self.val_cs5 = torchmetrics.MeanMetric()
        self.val_loss = torchmetrics.MeanMetric()
        self.train_mae = torchmetrics.MeanAbsoluteError()
        self.val_mae_best = torchmetrics.MinMetric()
        self._val_errors: list[torch.Tensor] = []  # |error| per val row (NaN for age bins), in order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.model.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def model_step(self, batch):
        x, low, high, *teacher = batch  # + (targets, has_target) when distilling (train set only)
        logits = self(x)
        loss_cfg = self.cfg.loss
        loss = age_loss(
            logits,
            low,
            high,
            loss_cfg.sigma,
            loss_cfg.l1_weight,
            *teacher,
            teacher_weight=loss_cfg.teacher_weight if teacher else 0.0,
        )
        return loss, expected_age(logits).detach(), low, high

    def training_step(self, batch, batch_idx):
        loss, pred, low, high = self.model_step(batch)
        exact = low == high
        if exact.any():
            self.train_mae(pred[exact], low[exact].float())
            self.log("train/mae", self.train_mae, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, pred, low, high = self.model_step(batch)
        self.val_loss(loss)
        exact = low == high
        self._val_errors.append(torch.where(exact, (pred - low.float()).abs(), torch.nan))
        if exact.any():
            err = (pred[exact] - low[exact].float()).abs()
            self.val_mae(pred[exact], low[exact].float())
            self.val_cs5((err <= 5).float())
        self.log("val/loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val/mae", self.val_mae, on_epoch=True, prog_bar=True)
        self.log("val/cs5", self.val_cs5, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        self.val_mae_best(self.val_mae.compute())
        self.log("val/mae_best", self.val_mae_best.compute(), prog_bar=False)
        self._log_val_per_set()

    def _log_val_per_set(self) -> None:
        """val/mae_<set> for each val set of several (single process: rows arrive in order)."""
        errors, self._val_errors = torch.cat(self._val_errors) if self._val_errors else None, []
        parts = getattr(getattr(self.trainer, "datamodule", None), "val_parts", None)
        if errors is None or parts is None or len(parts.names) < 2 or len(errors) != len(parts.group):
            return
        group = torch.from_numpy(parts.group).to(errors.device)  # errors are on the GPU when training there
        for i, name in enumerate(parts.names):
            mine = errors[(group == i) & ~errors.isnan()]
            if len(mine):
                self.log(f"val/mae_{name}", mine.mean())

    def configure_optimizers(self):
        o = self.cfg.optim
        decay, no_decay = [], []
        for name, p in self.net.named_parameters():
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=o.lr,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = min(total - 1, int(o.warmup_epochs * total / epochs))
        floor = o.min_lr_ratio

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            t = (step - warmup) / max(1, total - warmup)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def predict_crops(module: AgeModule, dataset, batch_size: int = 128) -> np.ndarray:
    """Expected ages for every item of a CropDataset (no augmentation)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(dataset), batch_size):
            x = torch.stack([dataset[j][0] for j in range(i, min(i + batch_size, len(dataset)))])
            out.append(expected_age(module(x)).numpy())
    return np.concatenate(out) if out else np.zeros(0)
