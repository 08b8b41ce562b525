"""Training-speed options for the course models (TensorFlow-specific: tf.data, XLA, threads).

``fast_fit(name, data, seed=..., epochs=..., options=SpeedOptions(...))`` trains a course model like
``signbench.train.fit`` does (same seeding, same Adam, same loss) but lets the user turn on, one
by one, the things that make training faster on a CPU:

``pipeline="uint8"``
    A ``tf.data`` pipeline over the images cached once as a uint8 tensor (4x less memory than
    float32), shuffled per epoch, batched, then divided by 255 on the fly (a fused cast+scale),
    with prefetch. ``"arrays"`` is the plain ``fit(x_float, y)``.
``batch_size`` and ``lr_scaling``
    A larger batch cuts the per-step overhead; the learning rate is scaled from the base batch 128
    linearly (``"linear"``), by the square root (``"sqrt"``), or kept (``"none"``).
``jit_compile=True``
    XLA compiles the whole train step (fuses conv+ReLU+pool and the optimizer update).
``precision="mixed_bfloat16"``
    Keras mixed precision: bfloat16 compute, float32 variables; the output layer is kept in
    float32 so the softmax and the loss stay accurate. Uses AVX512-BF16 where the CPU has it.
``conv="fused"``
    The CNN's Conv2D+ReLU+MaxPool as one :class:`signbench.models.fused.ConvReluPool2D`: the same
    function and the same weights (interchangeable with the course CNN's), computed as one matrix
    product of the pooling windows' pixels with the kernel at the window's four offsets and a max,
    with bias and ReLU after the pooling. Dense models have no convolution, so the option leaves
    them as they are.
``optimizer="fused"``
    :class:`signbench.optimizers.FusedAdam`: the same Adam update as Keras' (same formula, float32
    rounding apart) done by TensorFlow's one-pass ``ResourceApplyAdam`` kernel instead of about ten
    elementwise passes per variable; for the course CNN that is most of the optimizer's time.
``steps_per_execution=N``
    Keras runs N training steps per call of the compiled step function, so the Python work around
    each step (callbacks, metric reads) is paid once per N steps. Same steps, same order.
``onednn=True``
    TensorFlow's oneDNN kernels (``TF_ENABLE_ONEDNN_OPTS=1``). TensorFlow turns them on by default
    only on some Intel CPUs; on this AMD machine they are off unless asked for. Like the thread
    pools, this is read once, when TensorFlow is imported, so it is a property of the process:
    :func:`onednn_env` gives the environment for a subprocess and :func:`fast_fit` refuses to run
    an option whose oneDNN setting differs from the process's (see :func:`onednn_enabled`).
``intra_threads``/``inter_threads``
    TensorFlow's thread pools: threads inside one op, and ops run at once (``None``: TensorFlow's
    choice, one per core for each). Like oneDNN they are a property of the process, fixed once
    TensorFlow has run its first op: :func:`prepare` (and so :func:`fast_fit`) sets them with
    :func:`configure_threads` while that is still possible, as in the speed worker's fresh process,
    and refuses options whose thread settings differ from the process's afterwards (see
    :func:`thread_settings`).

Each option is measured against plain ``fit`` in the same run by ``bench/bench_speed.py``; see
``results/train_speed.md``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

__all__ = [
    "SpeedOptions", "PRESETS", "configure_threads", "fast_fit", "make_dataset", "onednn_enabled", "onednn_env",
    "prepare", "scaled_lr", "thread_settings", "RECOMMENDED",
]

BASE_BATCH = 128
BASE_LR = 1e-3


@dataclass(frozen=True)
class SpeedOptions:
    """What ``fast_fit`` turns on. The defaults are plain fit (nothing on)."""

    pipeline: str = "arrays"  # "arrays" | "uint8"
    batch_size: int = BASE_BATCH
    lr_scaling: str = "linear"  # "linear" | "sqrt" | "none"
    jit_compile: bool = False
    precision: str = "float32"  # "float32" | "mixed_bfloat16"
    conv: str = "standard"  # "standard" | "fused"
    onednn: bool | None = None  # None: whatever the process has (TensorFlow's default)
    optimizer: str = "keras"  # "keras" (keras.optimizers.Adam) | "fused" (signbench.optimizers.FusedAdam)
    steps_per_execution: int = 1
    intra_threads: int | None = None  # None: TensorFlow's default (one per core)
    inter_threads: int | None = None

    def __post_init__(self):
        for name in ("intra_threads", "inter_threads"):
            n = getattr(self, name)
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {n!r}")
        if self.conv not in ("standard", "fused"):
            raise ValueError(f"conv must be 'standard' or 'fused', got {self.conv!r}")
        if self.onednn not in (None, True, False):
            raise ValueError(f"onednn must be None, True or False, got {self.onednn!r}")
        if self.optimizer not in ("keras", "fused"):
            raise ValueError(f"optimizer must be 'keras' or 'fused', got {self.optimizer!r}")
        if int(self.steps_per_execution) < 1:
            raise ValueError(f"steps_per_execution must be >= 1, got {self.steps_per_execution}")
        if self.pipeline not in ("arrays", "uint8"):
            raise ValueError(f"pipeline must be 'arrays' or 'uint8', got {self.pipeline!r}")
        if self.lr_scaling not in ("linear", "sqrt", "none"):
            raise ValueError(f"lr_scaling must be 'linear', 'sqrt' or 'none', got {self.lr_scaling!r}")
        if self.precision not in ("float32", "mixed_bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'mixed_bfloat16', got {self.precision!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def label(self) -> str:
        parts = [] if self.pipeline == "arrays" else ["uint8 tf.data"]
        if self.batch_size != BASE_BATCH:
            parts.append(f"batch {self.batch_size} ({self.lr_scaling} LR)")
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
        return " + ".join(parts) or "plain fit"


_FAST = SpeedOptions(pipeline="uint8", conv="fused", onednn=True, optimizer="fused", steps_per_execution=16)

#: The candidates the bench measures, each against plain fit in the same run.
PRESETS: dict[str, SpeedOptions] = {
    "plain": SpeedOptions(),
    "uint8": SpeedOptions(pipeline="uint8"),
    "batch512": SpeedOptions(batch_size=512),
    "uint8+batch512": SpeedOptions(pipeline="uint8", batch_size=512),
    "xla": SpeedOptions(jit_compile=True),
    "bf16": SpeedOptions(precision="mixed_bfloat16"),
    "uint8+xla": SpeedOptions(pipeline="uint8", jit_compile=True),
    "uint8+batch512+xla": SpeedOptions(pipeline="uint8", batch_size=512, jit_compile=True),
    "all": SpeedOptions(pipeline="uint8", batch_size=512, jit_compile=True, precision="mixed_bfloat16"),
    "fused": SpeedOptions(conv="fused"),
    "onednn": SpeedOptions(onednn=True),
    "fused+onednn": SpeedOptions(conv="fused", onednn=True),
    "fused+onednn+batch512": SpeedOptions(conv="fused", onednn=True, batch_size=512),
    "fused+onednn+batch1024": SpeedOptions(conv="fused", onednn=True, batch_size=1024),
    "adam": SpeedOptions(optimizer="fused"),
    "spe16": SpeedOptions(steps_per_execution=16),
    "fast": _FAST,
    "fast+batch256": replace(_FAST, batch_size=256),
    "fast+batch512": replace(_FAST, batch_size=512),
    # Thread settings (2 cores here: TensorFlow's default is 2 intra-op and 2 inter-op threads).
    "inter1": SpeedOptions(inter_threads=1),
    "fast+inter1": replace(_FAST, inter_threads=1),
    "fast+intra1": replace(_FAST, intra_threads=1),
}


#: The preset ``bench_speed_full_length`` and the README recommend: the uint8 tf.data pipeline
#: (``make_dataset``: no float copy of the data, no tf.data autotuning thread to stall epochs), the
#: fused conv+pool layer, oneDNN, the fused Adam kernel and 16 steps per call, at the course's batch
#: 128 and learning rate, i.e. the same maths and the same optimizer trajectory as plain fit (float32
#: rounding and the shuffling order apart), only faster kernels and less waiting per step
#: (results/train_speed*.md). Larger batches are faster still on
#: the CNN but change the optimization: batch 512 alone lost 7.4 points of baseline test accuracy
#: over a full run (results/README.md). Re-measure on your CPU.
RECOMMENDED = "fast"


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


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN kernels (fixed when TensorFlow was imported)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_env(options: SpeedOptions, env: dict | None = None) -> dict:
    """A copy of ``env`` (default ``os.environ``) that gives a new process ``options``' oneDNN setting."""
    out = dict(os.environ if env is None else env)
    if options.onednn is None:
        out.pop("TF_ENABLE_ONEDNN_OPTS", None)
    else:
        out["TF_ENABLE_ONEDNN_OPTS"] = "1" if options.onednn else "0"
    return out


def configure_threads(intra: int | None = None, inter: int | None = None) -> None:
    """Set TensorFlow's thread pools. Call before TensorFlow runs any op (else RuntimeError)."""
    import tensorflow as tf

    try:
        if intra is not None:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        if inter is not None:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError as exc:
        raise RuntimeError(
            f"cannot set TensorFlow's thread pools to intra={intra}, inter={inter} now ({exc}): they are "
            "fixed once TensorFlow has run an op; set them at process start (a fresh process, as signbench.speed_worker)"
        ) from None


def thread_settings() -> tuple[int | None, int | None]:
    """(intra-op, inter-op) threads of this process's TensorFlow; ``None`` where it uses its default."""
    import tensorflow as tf

    return (tf.config.threading.get_intra_op_parallelism_threads() or None,
            tf.config.threading.get_inter_op_parallelism_threads() or None)


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, *, seed: int, shuffle: bool = True):
    """tf.data over uint8 images cached as one tensor, normalized to float32 [0, 1] per batch."""
    import tensorflow as tf

    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"make_dataset wants uint8 images, got {images.dtype}")
    ds = tf.data.Dataset.from_tensor_slices((images, np.asarray(labels)))
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    scale = tf.constant(1.0 / 255.0, tf.float32)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32) * scale, y), num_parallel_calls=1)
    # Fixed, small buffers and no autotuning: the normalization is one cheap op per batch, and on a
    # 2-core machine tf.data's autotuning thread competes with training and can hold up the end of
    # an epoch by seconds (the `fit_call_overhead` rows of results/train_speed.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def _seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, with op determinism OFF for every option alike.

    Keras refuses XLA while TensorFlow's op determinism is on, so the plain baseline and every
    candidate run without it (same seeds, not bitwise-repeatable across runs).
    """
    import keras
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(int(seed))
    if tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()


def _build(name: str, num_classes: int, input_shape, lr: float, options: SpeedOptions):
    import keras

    from signbench.models import build
    from signbench.models.course import compile_for

    previous = keras.config.dtype_policy()
    try:
        if options.precision != "float32":
            keras.config.set_dtype_policy(options.precision)
        if options.conv == "fused" and name == "cnn":
            from signbench.models.fused import cnn_fused

            model = cnn_fused(num_classes, input_shape, learning_rate=lr)
        else:
            model = build(name, num_classes, input_shape, learning_rate=lr)
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
    compile_for(model, num_classes, lr)  # the course's loss for num_classes, with Keras' Adam
    optimizer = model.optimizer
    if options.optimizer == "fused":
        from signbench.optimizers import FusedAdam

        optimizer = FusedAdam(lr)
    model.compile(optimizer=optimizer, loss=model.loss, metrics=["accuracy"],
                  jit_compile=True if options.jit_compile else "auto",
                  steps_per_execution=int(options.steps_per_execution))
    return model


def prepare(name: str, images: np.ndarray, labels: np.ndarray, *, seed: int,
            options: SpeedOptions = SpeedOptions(), base_lr: float = BASE_LR, num_classes: int | None = None):
    """Seed, build and compile course model ``name`` for ``options``; return (model, fit_kwargs)
    so that ``model.fit(**fit_kwargs, epochs=E)`` trains it on the uint8 ``images``."""
    x8, y = np.asarray(images), np.asarray(labels)
    if x8.dtype != np.uint8:
        raise TypeError(f"fast_fit wants uint8 images, got {x8.dtype}")
    num_classes = num_classes or max(int(y.max()) + 1, 2)
    if options.onednn is not None and options.onednn != onednn_enabled():
        raise RuntimeError(
            f"options ask for onednn={options.onednn} but this process's TensorFlow has oneDNN "
            f"{'on' if onednn_enabled() else 'off'}; it is read at import: start Python with "
            f"TF_ENABLE_ONEDNN_OPTS={int(options.onednn)} (signbench.speed.onednn_env gives that environment)"
        )
    asked = (options.intra_threads, options.inter_threads)
    if any(a is not None and a != h for a, h in zip(asked, thread_settings(), strict=True)):
        configure_threads(*asked)  # works only before TensorFlow's first op; else a clear RuntimeError
    _seed(seed)
    lr = scaled_lr(base_lr, options.batch_size, options.lr_scaling)
    model = _build(name, num_classes, x8.shape[1:], lr, options)
    if options.pipeline == "uint8":
        kwargs = {"x": make_dataset(x8, y, options.batch_size, seed=seed), "shuffle": False}
    else:
        kwargs = {"x": x8.astype(np.float32) / np.float32(255.0), "y": y,
                  "batch_size": options.batch_size, "shuffle": True}
    return model, {**kwargs, "verbose": 0}


def fast_fit(
    name: str,
    data,
    *,
    seed: int,
    epochs: int,
    options: SpeedOptions = SpeedOptions(),
    base_lr: float = BASE_LR,
    test=None,
) -> dict:
    """Train course model ``name`` on ``data`` (LabeledImages or uint8 (x, y)) with ``options``.

    Returns a dict: seconds (the ``fit`` call), epoch_seconds (the epochs alone, see
    :class:`signbench.callbacks.EpochTimer`), samples_per_s (over the epochs), train_accuracy (last epoch), test_accuracy (if
    ``test`` given), lr, options, label, and the model under ``"model"``.
    """
    from signbench.data.types import LabeledImages

    x8, y = (data.images, data.labels) if isinstance(data, LabeledImages) else data
    num_classes = data.num_classes if isinstance(data, LabeledImages) else None
    model, kwargs = prepare(name, x8, y, seed=seed, options=options, base_lr=base_lr, num_classes=num_classes)
    from signbench.callbacks import EpochTimer

    timer = EpochTimer()
    start = time.perf_counter()
    hist = model.fit(**kwargs, epochs=epochs, callbacks=[timer])
    seconds = time.perf_counter() - start
    out = {
        "seconds": seconds,
        "epoch_seconds": float(sum(timer.seconds)),
        "samples_per_s": len(y) * epochs / float(sum(timer.seconds)),
        "train_accuracy": float(hist.history["accuracy"][-1]),
        "lr": float(model.optimizer.learning_rate),
        "options": asdict(options),
        "label": options.label(),
        "model": model,
    }
    if test is not None:
        tx, ty = (test.images, test.labels) if isinstance(test, LabeledImages) else test
        out["test_accuracy"] = float(
            model.evaluate(np.asarray(tx, np.float32) / np.float32(255.0), ty, verbose=0, return_dict=True)["accuracy"]
        )
    return out
