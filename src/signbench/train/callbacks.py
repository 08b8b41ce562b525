"""The course's callbacks, in Keras 3 form.

- :class:`ThresholdStop` stops once training accuracy exceeds 0.95 and reports why.
- :class:`LifecycleLogger` reports train / epoch / batch begin and end (the course's logging demo).
- :class:`EpochTimer` times each epoch inside ``fit``.

"Reports" means a call of the callback's ``report`` function, by default the ``signbench`` logger at
INFO level (library code does not print; pass ``report=print`` to see the lines as the course does).
- :func:`early_stopping` is the course's ``EarlyStopping(monitor="loss", patience=3)``.
- :func:`best_checkpoint` is the course's best-only ``ModelCheckpoint(monitor="val_accuracy")`` with a
  Keras 3 file name (``*.weights.h5`` for weights only, ``*.keras`` for the full model); the course's
  extension-less ``model_checkpoints/checkpoint`` is refused with the right call in the message
  (see :mod:`signbench.train.persist`).
- :func:`tensorboard` writes event files (the TensorBoard callback needs TensorFlow installed).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import keras

_log = logging.getLogger("signbench")

__all__ = ["EpochTimer", "LifecycleLogger", "ThresholdStop", "best_checkpoint", "early_stopping", "tensorboard"]


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time in ``.seconds``, from ``on_epoch_begin`` to ``on_epoch_end``.

    Timing epochs inside ``fit`` rather than around it leaves out ``fit``'s set-up and tear-down:
    on TensorFlow 2.21 the end of a ``fit`` call over arrays sometimes waits ~3-4 s for tf.data's
    autotuning thread (seen on this machine; bench_speed's ``fit_call_overhead`` rows measure it).
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._t = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t)


class ThresholdStop(keras.callbacks.Callback):
    """Stop training at the end of the first epoch whose ``monitor`` exceeds ``threshold``."""

    def __init__(self, threshold: float = 0.95, monitor: str = "accuracy", report: Callable[[str], None] | None = None):
        super().__init__()
        self.threshold = float(threshold)
        self.monitor = monitor
        self.report = report or _log.info
        self.stopped_epoch: int | None = None  # 1-based
        self.reason: str | None = None

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None
        self.reason = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"ThresholdStop: '{self.monitor}' is not in the epoch logs {sorted(logs or {})}")
        if value > self.threshold:
            self.stopped_epoch = epoch + 1
            self.reason = (
                f"Reached {self.monitor} {value:.4f} > {self.threshold} at epoch {epoch + 1}, "
                "so cancelling training!"
            )
            self.report(self.reason)
            self.model.stop_training = True


class LifecycleLogger(keras.callbacks.Callback):
    """Record (and report) every train / epoch / batch begin and end event.

    ``events`` holds ``(event, index, logs)`` tuples; ``batches=False`` skips the per-batch events;
    ``report=None`` reports to the ``signbench`` logger, ``report=False`` only records.
    """

    def __init__(self, report: Callable[[str], None] | None | bool = None, batches: bool = True):
        super().__init__()
        self.report = None if report is False else (report or _log.info)
        self.batches = batches
        self.events: list[tuple[str, int | None, dict]] = []

    def _log(self, event: str, index: int | None, logs) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        self.events.append((event, index, logs))
        if self.report is not None:
            where = "" if index is None else f" {index}"
            shown = ", ".join(f"{k}={v:.4f}" for k, v in logs.items())
            self.report(f"{event}{where}" + (f": {shown}" if shown else ""))

    def on_train_begin(self, logs=None):
        self._log("train_begin", None, logs)

    def on_train_end(self, logs=None):
        self._log("train_end", None, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._log("epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log("epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        if self.batches:
            self._log("batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.batches:
            self._log("batch_end", batch, logs)

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def early_stopping(monitor: str = "loss", patience: int = 3, **kwargs) -> keras.callbacks.EarlyStopping:
    """The course's ``EarlyStopping(monitor="loss", patience=3)``; extra kwargs go to Keras."""
    return keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, **kwargs)


def best_checkpoint(
    path: str | os.PathLike,
    *,
    monitor: str = "val_accuracy",
    save_weights_only: bool = True,
    **kwargs,
) -> keras.callbacks.ModelCheckpoint:
    """Best-only checkpoint of ``monitor`` (mode ``max`` for accuracies, ``min`` for losses).

    ``path`` must carry the Keras 3 suffix: ``.weights.h5`` when ``save_weights_only`` (the default,
    as in the course), else ``.keras``. The course's extension-less path raises
    :class:`signbench.train.persist.CoursePathError` saying which name to use.
    """
    from signbench.train.persist import require_suffix

    path = require_suffix(path, "weights" if save_weights_only else "model")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mode = kwargs.pop("mode", "min" if "loss" in monitor else "max")
    return keras.callbacks.ModelCheckpoint(
        filepath=str(path), monitor=monitor, mode=mode, save_best_only=True,
        save_weights_only=save_weights_only, save_freq="epoch", **kwargs,
    )


def tensorboard(log_dir: str | os.PathLike, **kwargs) -> keras.callbacks.TensorBoard:
    """A TensorBoard callback writing event files under ``log_dir`` (needs TensorFlow)."""
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), **kwargs)
