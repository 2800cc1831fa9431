"""Training callbacks of howold's own: the weights' moving average that starts late, and throughput."""

from __future__ import annotations

import logging
import time

from lightning.pytorch.callbacks import Callback, EMAWeightAveraging

log = logging.getLogger(__name__)


class DelayedEMA(EMAWeightAveraging):
    """EMA of the weights that starts after `start_epoch` epochs (fractions allowed), so the average
    does not carry the untrained head; until then validation and checkpoints see the current weights."""

    def __init__(self, decay: float, start_epoch: float = 0.0) -> None:
        super().__init__(decay=decay)
        self.start_epoch = start_epoch

    def on_train_start(self, trainer, module) -> None:
        steps_per_epoch = trainer.estimated_stepping_batches / max(trainer.max_epochs, 1)
        self.update_starting_at_step = int(self.start_epoch * steps_per_epoch)

    def _follow_current_weights(self, module) -> None:
        if self._average_model is not None and int(self._average_model.n_averaged) == 0:
            self._average_model.module.load_state_dict(module.state_dict())

    def on_validation_epoch_start(self, trainer, module) -> None:
        self._follow_current_weights(module)
        super().on_validation_epoch_start(trainer, module)

    def on_save_checkpoint(self, trainer, module, checkpoint) -> None:
        self._follow_current_weights(module)
        super().on_save_checkpoint(trainer, module, checkpoint)


class Throughput(Callback):
    """Logs training images per second (train batches only, validation excluded)."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self.history: list[dict] = []
        self._validating = 0.0

    def on_train_epoch_start(self, trainer, module) -> None:
        self._images, self._t0, self._validating = 0, time.perf_counter(), 0.0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._images += len(batch[0])

    # Lightning validates inside the training epoch, before on_train_epoch_end: its time is taken out
    def on_validation_start(self, trainer, module) -> None:
        self._val_t0 = time.perf_counter()

    def on_validation_end(self, trainer, module) -> None:
        self._validating += time.perf_counter() - self._val_t0

    def on_train_epoch_end(self, trainer, module) -> None:
        seconds = time.perf_counter() - self._t0 - self._validating
        self.images += self._images
        self.seconds += seconds
        rate = self._images / max(seconds, 1e-9)
        module.log("train/images_per_s", rate)
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "images": self._images,
                "train_seconds": round(seconds, 1),
                "images_per_s": round(rate, 1),
            }
        )
        log.info("epoch %d: %d images in %.0f s (%.1f images/s)", trainer.current_epoch, self._images, seconds, rate)
