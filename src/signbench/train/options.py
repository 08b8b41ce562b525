"""How :func:`signbench.train.fit` trains, as one frozen dataclass: :class:`FitOptions`.

Defaults are plain Keras ``fit`` as the course runs it. Every other value is a choice a user turns on,
one by one; ``bench/bench_speed.py`` (the speed study, :mod:`signbench.studies.speed`) measures each
against plain ``fit`` in the same run (``results/train_speed*.md``).

``pipeline="uint8"``
    A ``tf.data`` pipeline over the images cached once as a uint8 tensor (4x less memory than
    float32), shuffled per epoch, batched, then scaled to [0, 1] on the fly, with a fixed prefetch
    and no autotuning (:func:`signbench.data.pipeline.make_dataset`; TensorFlow only).
    ``"arrays"`` is plain ``fit(x_float, y)``.
``lr_scaling``
    For a model built by name: the learning rate scaled from the base batch 128 to the batch used,
    linearly (``"linear"``), by the square root (``"sqrt"``), or kept (``"none"``, the default).
``jit_compile=True``
    XLA compiles the whole train step. Keras refuses it while TensorFlow's op determinism is on, so it
    needs ``deterministic=False``.
``precision="mixed_bfloat16"``
    Keras mixed precision: bfloat16 compute, float32 variables, the output layer kept in float32.
``conv="fused"``
    The course CNN's Conv2D+ReLU+MaxPool as one :class:`signbench.models.fused.ConvReluPool2D`: the
    same function and weights, computed as one matrix product over the pooling windows. Dense models
    have no convolution and are left as they are.
``optimizer="fused"``
    :class:`signbench.train.tf_speed.FusedAdam`: Keras' Adam update done by TensorFlow's one-pass
    ``ResourceApplyAdam`` kernel (same formula; float32 rounding apart).
``steps_per_execution=N``
    Keras runs N training steps per call of the compiled step function.
``onednn``, ``intra_threads``, ``inter_threads``
    TensorFlow's oneDNN kernels and thread pools. They are properties of the process, fixed when
    TensorFlow is imported (oneDNN) or runs its first op (threads): ``fit`` sets the thread pools
    while it still can and refuses options that differ from the process's
    (:mod:`signbench.train.tf_speed`). ``None``: whatever the process has.
``deterministic``
    TensorFlow's op determinism (on by default: same seed, data and machine give identical
    histories and weights).
``schedule``, ``early_stop``, ``augment``
    A warm-up + cosine-decay learning-rate schedule (:class:`Schedule`), early stopping with the best
    weights restored (:class:`EarlyStop`), and random rotation / shift / zoom in front of the model
    (no flips: a mirrored hand can be another letter).

Model-side options (``conv``, ``precision``, ``optimizer``, ``jit_compile``, ``steps_per_execution``,
``lr_scaling``) apply when ``fit`` builds the model by name; the rest apply to any model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BASE_BATCH", "BASE_LR", "FAST", "MODEL_SIDE", "PLAIN", "EarlyStop", "FitOptions", "Schedule", "scaled_lr"]

BASE_BATCH = 128
BASE_LR = 1e-3
#: The options that change the model or its compilation: they need ``fit`` to build the model by name.
MODEL_SIDE = ("conv", "precision", "optimizer", "jit_compile", "steps_per_execution", "lr_scaling")


def _choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


@dataclass(frozen=True)
class Schedule:
    """Adam's learning rate: linear warm-up from ``learning_rate / 10`` over ``warmup_epochs``, then
    cosine decay to ``min_lr_fraction * learning_rate`` at the last step."""

    learning_rate: float = 2e-3
    warmup_epochs: int = 1
    min_lr_fraction: float = 0.01

    def make(self, steps_per_epoch: int, epochs: int):
        """The Keras schedule for a run of ``epochs`` epochs of ``steps_per_epoch`` steps."""
        import keras

        total = max(1, epochs * steps_per_epoch)
        warm = min(total - 1, self.warmup_epochs * steps_per_epoch)
        lr = self.learning_rate
        if warm > 0:
            return keras.optimizers.schedules.CosineDecay(
                lr / 10, decay_steps=total - warm, alpha=self.min_lr_fraction, warmup_target=lr, warmup_steps=warm
            )
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=self.min_lr_fraction)


@dataclass(frozen=True)
class EarlyStop:
    """Keras ``EarlyStopping`` on ``monitor``; it only watches epochs from ``start_from_fraction`` of the
    run on (early, a high learning rate makes the validation loss jump about)."""

    monitor: str = "val_loss"
    patience: int = 3
    restore_best: bool = True
    start_from_fraction: float = 0.0


@dataclass(frozen=True)
class FitOptions:
    """What ``fit`` turns on. The defaults are plain fit (nothing on). See the module docstring."""

    pipeline: str = "arrays"  # "arrays" | "uint8"
    lr_scaling: str = "none"  # "none" | "linear" | "sqrt"
    jit_compile: bool = False
    precision: str = "float32"  # "float32" | "mixed_bfloat16"
    conv: str = "standard"  # "standard" | "fused"
    onednn: bool | None = None  # None: whatever the process has (TensorFlow's default)
    optimizer: str = "keras"  # "keras" (keras.optimizers.Adam) | "fused" (FusedAdam)
    steps_per_execution: int = 1
    intra_threads: int | None = None  # None: TensorFlow's default (one per core)
    inter_threads: int | None = None
    deterministic: bool = True
    schedule: Schedule | None = None
    early_stop: EarlyStop | None = None
    augment: bool = False

    def __post_init__(self):
        for name in ("intra_threads", "inter_threads"):
            n = getattr(self, name)
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {n!r}")
        _choice("pipeline", self.pipeline, ("arrays", "uint8"))
        _choice("lr_scaling", self.lr_scaling, ("none", "linear", "sqrt"))
        _choice("precision", self.precision, ("float32", "mixed_bfloat16"))
        _choice("conv", self.conv, ("standard", "fused"))
        _choice("onednn", self.onednn, (None, True, False))
        _choice("optimizer", self.optimizer, ("keras", "fused"))
        if int(self.steps_per_execution) < 1:
            raise ValueError(f"steps_per_execution must be >= 1, got {self.steps_per_execution}")
        if self.jit_compile and self.deterministic:
            raise ValueError("jit_compile needs deterministic=False (Keras refuses XLA under op determinism)")

    def model_side(self) -> list[str]:
        """The options that differ from plain fit and need ``fit`` to build the model by name."""
        plain = FitOptions(deterministic=self.deterministic)
        return [k for k in MODEL_SIDE if getattr(self, k) != getattr(plain, k)]

    def label(self) -> str:
        """A short human name of what is on ("plain fit" when nothing is)."""
        parts = [] if self.pipeline == "arrays" else ["uint8 tf.data"]
        if self.jit_compile:
            parts.append("XLA")
        if self.precision != "float32":
            parts.append("bf16")
        if self.conv == "fused":
            parts.append("fused conv+pool")
        if self.onednn is not None:
            parts.append("oneDNN" if self.onednn else "no oneDNN")
        if self.optimizer == "fused":
            parts.append("fused Adam")
        if self.steps_per_execution != 1:
            parts.append(f"{self.steps_per_execution} steps/call")
        if self.intra_threads is not None:
            parts.append(f"{self.intra_threads} intra-op thread{'s' * (self.intra_threads != 1)}")
        if self.inter_threads is not None:
            parts.append(f"{self.inter_threads} inter-op thread{'s' * (self.inter_threads != 1)}")
        if self.schedule is not None:
            parts.append("warm-up + cosine LR")
        if self.early_stop is not None:
            parts.append(f"early stop on {self.early_stop.monitor}")
        if self.augment:
            parts.append("augmentation")
        return " + ".join(parts) or "plain fit"


#: Plain fit, as the course runs it (every option at its default).
PLAIN = FitOptions()

#: The recommended speed options: the uint8 tf.data pipeline, the fused conv+pool layer, oneDNN, the
#: fused Adam kernel and 16 steps per call, at the course's batch 128 and learning rate, i.e. the same
#: maths and optimizer trajectory as plain fit (float32 rounding and the shuffling order apart), only
#: faster kernels and less waiting per step (results/train_speed*.md). Re-measure on your CPU.
FAST = FitOptions(pipeline="uint8", conv="fused", onednn=True, optimizer="fused", steps_per_execution=16)


def scaled_lr(base_lr: float, batch_size: int, scaling: str, base_batch: int = BASE_BATCH) -> float:
    """The learning rate for ``batch_size`` scaled from ``base_lr`` at ``base_batch``."""
    ratio = batch_size / base_batch
    if scaling == "linear":
        return base_lr * ratio
    if scaling == "sqrt":
        return base_lr * math.sqrt(ratio)
    if scaling == "none":
        return base_lr
    raise ValueError(f"unknown lr scaling {scaling!r}")
