"""THE training loop: ``fit(model, data, ...) -> RunResult``, used by every stage and study.

Keras 3 APIs only, so it runs on any Keras backend; what is TensorFlow-specific (the uint8 tf.data
pipeline, the fused Adam kernel, oneDNN and thread pools) is plugged in by :class:`FitOptions` and
imported only when asked for.

Seeding: ``fit`` seeds Python, NumPy and the backend with :func:`signbench.seeds.seed_everything`
(TensorFlow op determinism on unless ``options.deterministic`` is False), so two runs with the same
seed, data and machine give identical histories and weights (thread counts, oneDNN and the CPU change
the bits). ``model`` is

- a course model *name* ("baseline", "regularized", "cnn"), built after seeding for ``data``'s number of
  classes and image shape (``build_kwargs`` go to the builder; model-side options apply);
- a *builder* (a callable returning a compiled model), called after seeding;
- a compiled model *instance*, which keeps the weights it has (only shuffling and dropout are seeded).

``seed=None`` continues without reseeding (e.g. one epoch at a time on the same model and input).

Data is a ``LabeledImages`` (uint8 images are scaled to float32 ``/ 255``, the course's
normalization), an ``(x, y)`` pair (uint8 arrays are scaled the same way, float arrays are used as
given), or a :class:`TrainInput` made once and reused across calls (it keeps its tf.data pipeline).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np

from signbench.data.types import LabeledImages
from signbench.meta import run_metadata
from signbench.seeds import derive, seed_everything
from signbench.train.callbacks import EpochTimer
from signbench.train.options import BASE_LR, PLAIN, FitOptions, scaled_lr

__all__ = ["RunResult", "TrainInput", "as_arrays", "evaluate", "fit"]


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


def evaluate(model, data, *, batch_size: int = 256) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``data`` (any form :func:`as_arrays` takes), inference mode."""
    x, y = as_arrays(data)
    ev = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return float(ev["loss"]), float(ev["accuracy"])


@dataclass
class TrainInput:
    """Training data in the form ``model.fit`` consumes, made once: the uint8 pipeline caches its
    tf.data dataset here, so later ``fit`` calls on the same input reuse it."""

    images: np.ndarray  # as given: uint8, or float
    labels: np.ndarray
    num_classes: int
    _float: np.ndarray | None = field(default=None, repr=False)
    _dataset: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, data) -> TrainInput:
        if isinstance(data, TrainInput):
            return data
        if isinstance(data, LabeledImages):
            return cls(data.images, data.labels, data.num_classes)
        x, y = as_arrays(data) if not _is_uint8_pair(data) else (np.asarray(data[0]), np.asarray(data[1]))
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
        return cls(x, y, max(int(y.max()) + 1, 2) if y.size else 2)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.images.shape[1:])

    def fit_kwargs(self, batch_size: int, options: FitOptions, seed: int | None) -> dict:
        """``model.fit`` keyword arguments for this input."""
        if options.pipeline == "uint8":
            if self.images.dtype != np.uint8:
                raise TypeError(f"the uint8 pipeline wants uint8 images, got {self.images.dtype}")
            if self._dataset is None:
                from signbench.data.pipeline import make_dataset  # tf.data: TensorFlow only

                self._dataset = make_dataset((self.images, self.labels), batch_size=batch_size,
                                             seed=0 if seed is None else seed)
            return {"x": self._dataset, "shuffle": False}
        if self._float is None:
            self._float = as_arrays((self.images, self.labels))[0]
        return {"x": self._float, "y": self.labels, "batch_size": batch_size, "shuffle": True}


def _is_uint8_pair(data) -> bool:
    try:
        x, _ = data
    except (TypeError, ValueError):
        return False
    return getattr(x, "dtype", None) == np.uint8


@dataclass
class RunResult:
    """Everything one training run produced, JSON-serializable (the trained model is not)."""

    model_name: str
    seed: int | None
    epochs: int
    epochs_run: int
    batch_size: int
    num_train: int
    history: dict[str, list[float]]
    train_accuracy: float  # last epoch, training mode (dropout on), as Keras reports it
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
    gap: float | None = None  # final train accuracy (training mode) minus final val accuracy
    train_eval_accuracy: float | None = None  # accuracy on the training images in inference mode
    stopped_early: bool = False
    restored_epoch: int | None = None  # 1-based epoch whose weights early stopping restored
    wall_time_s: float = 0.0  # the model.fit call, per-epoch validation included
    samples_per_s: float = 0.0  # training images x epochs run / wall_time_s
    epoch_seconds: list[float] = field(default_factory=list)  # each epoch, timed inside fit
    options: str = "plain fit"
    metadata: dict[str, Any] = field(default_factory=dict)
    model: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # deep-copies; the model is dropped below
        d.pop("model")
        return d

    def to_json(self, path: str | os.PathLike | None = None, **kwargs) -> str:
        text = json.dumps(self.to_dict(), indent=kwargs.pop("indent", 2), sort_keys=True, **kwargs)
        if path is not None:  # atomically: a reader sees the old file or the whole new one, never half
            from signbench.atomic import atomic_write

            atomic_write(path, text + "\n")
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

    @property
    def epoch_samples_per_s(self) -> float:
        """Training images x epochs run / the epochs' own time (``fit``'s set-up and tear-down left out)."""
        total = sum(self.epoch_seconds)
        return self.num_train * self.epochs_run / total if total > 0 else math.inf


def _build_named(name: str, inp: TrainInput, batch_size: int, options: FitOptions, build_kwargs: dict):
    """Course model ``name`` for ``inp``, with the model-side options (see FitOptions)."""
    from signbench.models import build
    from signbench.models.course import compile_for

    if options.model_side():
        if "learning_rate" in build_kwargs and options.lr_scaling != "none":
            raise TypeError("learning_rate cannot be given together with lr_scaling (it scales the base rate)")
        lr = build_kwargs.get("learning_rate", scaled_lr(BASE_LR, batch_size, options.lr_scaling))
        build_kwargs = {**build_kwargs, "learning_rate": lr}
    previous = keras.config.dtype_policy()
    try:
        if options.precision != "float32":
            keras.config.set_dtype_policy(options.precision)
        if options.conv == "fused" and name == "cnn":
            from signbench.models.fused import cnn_fused

            model = cnn_fused(inp.num_classes, inp.image_shape, **build_kwargs)
        else:
            model = build(name, inp.num_classes, inp.image_shape, **build_kwargs)
        if options.precision != "float32":
            # Keep the output layer (softmax/sigmoid) in float32 so the loss stays accurate.
            def keep_head_fp32(layer):
                cfg = layer.get_config()
                if layer.name == "output":
                    cfg["dtype"] = "float32"
                return layer.__class__.from_config(cfg)

            model = keras.models.clone_model(model, clone_function=keep_head_fp32)
    finally:
        keras.config.set_dtype_policy(previous)
    if options.model_side():
        lr = build_kwargs["learning_rate"]
        compile_for(model, inp.num_classes, lr)  # the course's loss for num_classes, with Keras' Adam
        optimizer = model.optimizer
        if options.optimizer == "fused":
            from signbench.train.tf_speed import FusedAdam

            optimizer = FusedAdam(lr)
        model.compile(optimizer=optimizer, loss=model.loss, metrics=["accuracy"],
                      jit_compile=True if options.jit_compile else "auto",
                      steps_per_execution=int(options.steps_per_execution))
    return model


def _resolve_model(model, inp: TrainInput, batch_size: int, options: FitOptions, build_kwargs: dict):
    """(compiled model, its name) from a name, a builder or an instance."""
    if isinstance(model, str):
        return _build_named(model, inp, batch_size, options, build_kwargs), model
    if options.model_side():
        raise TypeError(f"the options {options.model_side()} need a course model name, not a model")
    if build_kwargs:
        raise TypeError(f"builder arguments {sorted(build_kwargs)} need a model name, not a model")
    if isinstance(model, keras.Model):
        return model, model.name
    if callable(model):
        built = model()
        return built, built.name
    raise TypeError(f"model must be a course model name, a builder or a keras.Model, got {type(model).__name__}")


def _with_augmentation(model, seed: int):
    """``model`` behind random rotation / shift / zoom layers (active in training only), same compile."""
    from signbench.models.plus import augmentation

    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="image")
    wrapped = keras.Model(inputs, model(augmentation(seed=seed)(inputs)), name=f"{model.name}_augmented")
    wrapped.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    return wrapped


def fit(
    model: keras.Model | str | Callable[[], keras.Model],
    data,
    *,
    seed: int | None,
    epochs: int,
    batch_size: int = 128,
    validation=None,
    test=None,
    callbacks=(),
    options: FitOptions = PLAIN,
    eval_train: bool = False,
    verbose: int = 0,
    **build_kwargs,
) -> RunResult:
    """Train one model and return a :class:`RunResult` (see the module docstring).

    ``validation`` (evaluated after every epoch) and ``test`` (once, after training) take the same forms
    as ``data`` (or None). ``eval_train`` adds the inference-mode accuracy on the training images.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    inp = TrainInput.of(data)
    val = as_arrays(validation) if validation is not None else None
    if options.onednn is not None or options.intra_threads or options.inter_threads:
        from signbench.train.tf_speed import apply_process_settings  # TensorFlow only

        apply_process_settings(options.onednn, options.intra_threads, options.inter_threads)
    if seed is not None:
        seed_everything(seed, deterministic=options.deterministic)
    model, name = _resolve_model(model, inp, batch_size, options, build_kwargs)
    if options.augment:
        model = _with_augmentation(model, derive(0 if seed is None else seed, "augment"))
    if options.schedule is not None:
        steps = math.ceil(len(inp) / batch_size)
        model.compile(optimizer=keras.optimizers.Adam(options.schedule.make(steps, epochs)), loss=model.loss,
                      metrics=["accuracy"])
    timer = EpochTimer()
    extra = [timer]
    stop = None
    if options.early_stop is not None:
        es = options.early_stop
        stop = keras.callbacks.EarlyStopping(monitor=es.monitor, patience=es.patience,
                                             restore_best_weights=es.restore_best,
                                             start_from_epoch=int(epochs * es.start_from_fraction))
        extra.append(stop)
    start = time.perf_counter()
    hist = model.fit(**inp.fit_kwargs(batch_size, options, seed), epochs=epochs, validation_data=val,
                     callbacks=[*callbacks, *extra], verbose=verbose)
    wall = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    epochs_run = len(history.get("loss", []))
    if epochs_run == 0:
        raise RuntimeError(f"{name}: training ran no epochs (a callback stopped it before the first)")
    acc, loss = history["accuracy"], history["loss"]
    result = RunResult(
        model_name=name,
        seed=None if seed is None else int(seed),
        epochs=int(epochs),
        epochs_run=epochs_run,
        batch_size=int(batch_size),
        num_train=len(inp),
        history=history,
        train_accuracy=acc[-1],
        train_loss=loss[-1],
        best_train_accuracy=max(acc),
        best_train_loss=min(loss),
        stopped_early=epochs_run < epochs,
        wall_time_s=wall,
        samples_per_s=len(inp) * epochs_run / wall if wall > 0 else math.inf,
        epoch_seconds=list(timer.seconds),
        options=options.label(),
        metadata=run_metadata(None if seed is None else int(seed), model=name, epochs=int(epochs),
                              batch_size=int(batch_size)),
        model=model,
    )
    if stop is not None:
        result.restored_epoch = (int(stop.best_epoch) if stop.best_weights is not None else epochs_run - 1) + 1
    if "val_accuracy" in history:
        vacc = history["val_accuracy"]
        result.val_accuracy, result.val_loss = vacc[-1], history["val_loss"][-1]
        result.best_val_accuracy, result.best_val_loss = max(vacc), min(history["val_loss"])
        result.best_val_epoch = int(np.argmax(vacc)) + 1
        result.gap = result.train_accuracy - result.val_accuracy
    if eval_train:
        result.train_eval_accuracy = evaluate(model, (inp.images, inp.labels))[1]
    if test is not None:
        result.test_loss, result.test_accuracy = evaluate(model, test, batch_size=max(batch_size, 256))
    return result
