"""Training's log and callbacks on real Lightning fits: each log line once, images/s over the training
batches' time only."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from howold.train.callbacks import Throughput  # noqa: E402

VALIDATION_SECONDS = 1.0


class SlowValidation(L.LightningModule):
    """A one-layer model whose validation takes VALIDATION_SECONDS, far longer than its training."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        time.sleep(VALIDATION_SECONDS)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def batches(count: int) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(torch.randn(8 * count, 4))
    return torch.utils.data.DataLoader(data, batch_size=8)


def test_images_per_second_leaves_out_the_validation_run_inside_each_epoch(tmp_path):
    throughput = Throughput()
    trainer = L.Trainer(
        max_epochs=2,
        callbacks=[throughput],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,
        default_root_dir=tmp_path,
    )
    started = time.perf_counter()
    trainer.fit(SlowValidation(), train_dataloaders=batches(3), val_dataloaders=batches(1))
    wall = time.perf_counter() - started
    assert wall >= 3 * VALIDATION_SECONDS  # the sanity check and one validation per epoch ran
    assert [epoch["images"] for epoch in throughput.history] == [24, 24]
    assert all(epoch["train_seconds"] < VALIDATION_SECONDS / 2 for epoch in throughput.history)
    assert throughput.images == 48 and throughput.seconds < VALIDATION_SECONDS


def test_howold_train_logs_each_line_once_with_an_images_per_second_line_per_epoch(tiny_run, face_paths, tmp_path):
    """The `lightning` package's own console handler printed each of its lines a second time."""
    if not face_paths:
        pytest.skip("no fixture faces in tests/fixtures/faces")
    overrides = [*tiny_run(), "name=log", "model.backbone=tf_efficientnet_lite0", "model.pretrained=bundled",
                 "trainer.max_epochs=2", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1"]  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "howold.cli", "train", *overrides], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "Seed set to" in line]
    assert len(lines) == 1 and "INFO lightning.fabric.utilities.seed: Seed set to 42" in lines[0]
    epochs = [line for line in run.stderr.splitlines() if "images/s)" in line]
    assert [line.split("epoch ")[1].split(":")[0] for line in epochs] == ["0", "1"]
