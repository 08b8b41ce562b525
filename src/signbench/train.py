"""Seeded training: ``fit(model_or_name, data, ...) -> RunResult``.

Keras 3 APIs only. ``fit`` seeds Python, NumPy and the backend with ``keras.utils.set_random_seed``
and, on the TensorFlow backend, turns on op determinism, so two runs with the same seed, data and
machine give identical histories and weights (thread counts change the bits, so compare across
machines with tolerances). A model *name* is built after seeding, so its initial weights are seeded
too; a model *instance* keeps the weights it already has (only shuffling and dropout are seeded).

Data may be a ``LabeledImages`` (uint8 images are scaled to float32 ``/ 255``, the course's
normalization) or an ``(x, y)`` pair of arrays (uint8 arrays are scaled the same way, float arrays
are used as given).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np

from signbench.data.types import LabeledImages
from signbench.meta import run_metadata

__all__ = ["RunResult", "as_arrays", "fit", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend; on TensorFlow also make ops deterministic."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # TF-only switch; every other line here is backend-neutral

        tf.config.experimental.enable_op_determinism()


def as_arrays(data) -> tuple[np.ndarray, np.ndarray]:
    """``LabeledImages`` or ``(x, y)`` -> ``(float32 images in [0, 1] or as given, labels)``."""
    if isinstance(data, LabeledImages):
        return data.as_float(), data.labels
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError(
            f"data must be a LabeledImages or an (x, y) pair of arrays, got {type(data).__name__}"
        ) from None
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
    return x, y


def _num_classes(data, y: np.ndarray) -> int:
    if isinstance(data, LabeledImages):
        return data.num_classes
    return max(int(y.max()) + 1, 2) if y.size else 2


@dataclass
class RunResult:
    """Everything one training run produced, JSON-serializable (the trained model is not)."""

    model_name: str
    seed: int
    epochs: int
    epochs_run: int
    batch_size: int
    num_train: int
    history: dict[str, list[float]]
    train_accuracy: float
    train_loss: float
    best_train_accuracy: float
    best_train_loss: float
    val_accuracy: float | None = None
    val_loss: float | None = None
    best_val_accuracy: float | None = None
    best_val_loss: float | None = None
    best_val_epoch: int | None = None  # 1-based epoch of the best val accuracy
    test_accuracy: float | None = None
    test_loss: float | None = None
    gap: float | None = None  # final train accuracy minus final val accuracy
    stopped_early: bool = False
    wall_time_s: float = 0.0  # the model.fit call, per-epoch validation included
    samples_per_s: float = 0.0  # training images x epochs run / wall_time_s
    metadata: dict[str, Any] = field(default_factory=dict)
    model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # deep-copies; the model is dropped below
        d.pop("model")
        return d

    def to_json(self, path: str | os.PathLike | None = None, **kwargs) -> str:
        text = json.dumps(self.to_dict(), indent=kwargs.pop("indent", 2), sort_keys=True, **kwargs)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        known = {f.name for f in fields(cls)} - {"model"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown RunResult fields: {sorted(unknown)}")
        return cls(**{k: d[k] for k in known if k in d})

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> RunResult:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def fit(
    model_or_name: keras.Model | str,
    data,
    *,
    seed: int,
    epochs: int,
    batch_size: int = 128,
    validation=None,
    test=None,
    callbacks=(),
    verbose: int = 0,
    **build_kwargs,
) -> RunResult:
    """Train one model with a fixed seed and return a :class:`RunResult`.

    ``model_or_name`` is a compiled Keras model or a course model name ("baseline", "regularized",
    "cnn"), built after seeding for ``data``'s number of classes and image shape (``build_kwargs`` go
    to the builder). ``validation`` and ``test`` take the same forms as ``data`` (or None).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    x, y = as_arrays(data)
    val = as_arrays(validation) if validation is not None else None
    seed_everything(seed)
    if isinstance(model_or_name, str):
        from signbench.models import build

        model = build(model_or_name, _num_classes(data, y), x.shape[1:], **build_kwargs)
        name = model_or_name
    else:
        if build_kwargs:
            raise TypeError(f"builder arguments {sorted(build_kwargs)} need a model name, not a model")
        model, name = model_or_name, model_or_name.name
    start = time.perf_counter()
    hist = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, validation_data=val,
        callbacks=list(callbacks), verbose=verbose, shuffle=True,
    )
    wall = time.perf_counter() - start
    history = {k: _floats(v) for k, v in hist.history.items()}
    epochs_run = len(history.get("loss", []))
    if epochs_run == 0:
        raise RuntimeError(f"{name}: training ran no epochs (a callback stopped it before the first)")
    acc, loss = history["accuracy"], history["loss"]
    result = RunResult(
        model_name=name,
        seed=int(seed),
        epochs=int(epochs),
        epochs_run=epochs_run,
        batch_size=int(batch_size),
        num_train=int(x.shape[0]),
        history=history,
        train_accuracy=acc[-1],
        train_loss=loss[-1],
        best_train_accuracy=max(acc),
        best_train_loss=min(loss),
        stopped_early=epochs_run < epochs,
        wall_time_s=wall,
        samples_per_s=x.shape[0] * epochs_run / wall if wall > 0 else math.inf,
        metadata=run_metadata(int(seed), model=name, epochs=int(epochs), batch_size=int(batch_size)),
        model=model,
    )
    if "val_accuracy" in history:
        vacc = history["val_accuracy"]
        result.val_accuracy, result.val_loss = vacc[-1], history["val_loss"][-1]
        result.best_val_accuracy, result.best_val_loss = max(vacc), min(history["val_loss"])
        result.best_val_epoch = int(np.argmax(vacc)) + 1
        result.gap = result.train_accuracy - result.val_accuracy
    if test is not None:
        tx, ty = as_arrays(test)
        ev = model.evaluate(tx, ty, batch_size=max(batch_size, 256), verbose=0, return_dict=True)
        result.test_loss, result.test_accuracy = float(ev["loss"]), float(ev["accuracy"])
    return result
