"""Learning-rate schedules of the toolchain's Keras training loops (emotion, identity)."""
from __future__ import annotations

import math
import time

from converters.core.tfenv import keras


class WallClockCosine(keras.callbacks.Callback):
    """Linear warm-up then cosine decay on progress = max(step fraction, wall-clock fraction).

    With a budget the schedule anneals to zero exactly when the budget is spent, however busy
    the machine is, and training stops there. ``elapsed_offset`` carries time across resumes.
    """

    def __init__(self, peak_lr: float, total_steps: int, warmup_steps: int, budget_s: float = 0.0,
                 start_step: int = 0, elapsed_offset: float = 0.0, final_fraction: float = 0.0) -> None:
        super().__init__()
        self.peak_lr, self.total_steps, self.warmup_steps = peak_lr, max(total_steps, 1), warmup_steps
        self.budget_s, self.step, self.elapsed_offset = budget_s, start_step, elapsed_offset
        self.final_fraction = final_fraction
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        return self.elapsed_offset + time.monotonic() - self._t0

    def progress(self) -> float:
        p = self.step / self.total_steps
        if self.budget_s > 0:
            p = max(p, self.elapsed() / self.budget_s)
        return min(p, 1.0)

    def lr(self) -> float:
        if self.step < self.warmup_steps:
            return self.peak_lr * (self.step + 1) / self.warmup_steps
        cos = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return self.peak_lr * (self.final_fraction + (1.0 - self.final_fraction) * cos)

    def on_train_batch_begin(self, batch, logs=None):
        keras.backend.set_value(self.model.optimizer.learning_rate, self.lr())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.progress() >= 1.0:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.lr()
            logs["elapsed_s"] = self.elapsed()
