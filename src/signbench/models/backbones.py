"""Transfer-learning builders (Keras 3 APIs only): the course's InceptionV3 cut at ``mixed7``,
MobileNetV2 at a small width multiplier, and the small backbone this project pretrains offline.

Every builder puts the course's head on a frozen feature extractor, with the functional API:
Flatten, Dense 128 relu, Dropout 0.2, output (``signbench.models.course.head``). For 24 classes and a
150x150x3 input, ``inception_mixed7`` has the course's 13,795,384 parameters, 4,820,120 trainable.

``weights`` is ``"imagenet"`` (downloaded once into the cache and hash-checked; offline this fails
at once with a message saying how to get the file), a local weights file (Keras 3 ``*.weights.h5``
or the legacy ``*.h5`` that Keras Applications publishes), or ``None`` (random initialisation).

The 28x28 grayscale data reaches 150x150x3 models through :func:`resize_and_repeat`.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

from signbench.models.course import compile_for, head

__all__ = [
    "IMAGENET_WEIGHTS",
    "fetch_imagenet",
    "INCEPTION_CUT",
    "backbone_features",
    "freeze",
    "inception_mixed7",
    "mobilenet_v2_small",
    "batchnorm_layers",
    "mobilenet_v2_base",
    "reestimate_bn_statistics",
    "set_bn_momentum",
    "resize_and_repeat",
    "small_backbone",
    "small_classifier",
    "transfer_head",
]

INCEPTION_CUT = "mixed7"
HEAD_UNITS = 128
HEAD_DROPOUT = 0.2

#: Where Keras Applications publishes the no-top ImageNet weights. Keras publishes only an MD5 for these
#: files; ``sha256`` is pinned by the user (argument or $SIGNBENCH_IMAGENET_SHA256) or, when unpinned,
#: recorded on first download next to the file and checked on every later load.
IMAGENET_WEIGHTS = {
    "inception_v3": {
        "url": "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "filename": "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "md5": "bcbd6486424b2319ff4ef7d526e38f63",
        "sha256": os.environ.get("SIGNBENCH_IMAGENET_SHA256") or None,
    },
}


def transfer_head(features, num_classes: int, *, name_prefix: str = "head"):
    """The course's head on a feature tensor: Flatten, Dense 128 relu, Dropout 0.2, output."""
    x = layers.Flatten(name=f"{name_prefix}_flatten")(features)
    x = layers.Dense(HEAD_UNITS, activation="relu", name=f"{name_prefix}_dense")(x)
    x = layers.Dropout(HEAD_DROPOUT, name=f"{name_prefix}_dropout")(x)
    return head(num_classes)(x)


def freeze(model: keras.Model) -> keras.Model:
    """Make every layer of ``model`` non-trainable (the course's ``layer.trainable = False`` loop)."""
    for layer in model.layers:
        layer.trainable = False
    model.trainable = False
    return model


def fetch_imagenet(
    which: str = "inception_v3",
    *,
    url: str | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    cache: str | os.PathLike | None = None,
    timeout: float = 15.0,
) -> Path:
    """The no-top ImageNet weights file for ``which``, downloaded once into the cache.

    Through the project's one verified download helper (:func:`signbench.data.fetch.fetch_pinned`:
    http(s) only, short socket timeout, size cap). Keras publishes only an MD5 for these files, so
    unless a SHA-256 is pinned (``sha256=``, $SIGNBENCH_IMAGENET_SHA256) the first download is checked
    against that MD5 and its SHA-256 recorded beside it; every later use checks the recorded or pinned
    SHA-256. Offline this fails at once with a :class:`~signbench.errors.DataError` saying what to do.
    """
    from signbench.data.fetch import fetch_pinned
    from signbench.data.locate import cache_dir
    from signbench.errors import DataError

    entry = IMAGENET_WEIGHTS[which]
    src = url or entry["url"]
    dest = Path(cache if cache is not None else cache_dir() / "weights") / entry["filename"]
    try:
        return fetch_pinned(src, dest, sha256=sha256 or entry["sha256"], md5=md5 or entry["md5"], timeout=timeout)
    except DataError as exc:
        if dest.is_file():  # a cached file that fails its check: the helper's message says what to do
            raise
        raise DataError(
            f"cannot download the ImageNet weights ({exc}). Without the internet, pass weights=<local "
            f"weights file> or weights=None, or put the file at {dest}",
            path=src,
        ) from None


def _resolve_weights(weights, *, which: str = "inception_v3") -> Path | None:
    if weights is None:
        return None
    if isinstance(weights, str) and weights == "imagenet":
        return fetch_imagenet(which)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} not found (pass 'imagenet', an existing .weights.h5/.h5 file, or None)"
        )
    return path


def _load_backbone_weights(backbone: keras.Model, path: Path) -> None:
    """Load ``path`` into the full no-top backbone (before it is cut), naming the file on failure.

    Keras only *warns* when a weights file does not fit (and leaves those layers at their initial
    values); here any warning during the load is an error: a half-loaded backbone is a silent bug.
    """
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            backbone.load_weights(str(path))
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"{path}: cannot load into {backbone.name} ({exc})") from exc
    if caught:
        raise ValueError(f"{path}: does not fit {backbone.name}: {caught[0].message}")


def inception_mixed7(
    num_classes: int = 24,
    input_shape=(150, 150, 3),
    weights: str | os.PathLike | None = "imagenet",
    *,
    learning_rate: float = 1e-4,
) -> keras.Model:
    """InceptionV3 without top, weights loaded, frozen, cut at ``mixed7``, plus the course head.

    With 24 classes and 150x150x3 input: 13,795,384 parameters, 4,820,120 trainable.
    """
    path = _resolve_weights(weights)
    base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=tuple(input_shape))
    if path is not None:
        _load_backbone_weights(base, path)
    freeze(base)
    last = base.get_layer(INCEPTION_CUT).output
    model = keras.Model(base.input, transfer_head(last, num_classes), name="inception_mixed7")
    return compile_for(model, num_classes, learning_rate)


def mobilenet_v2_small(
    num_classes: int = 24,
    input_shape=(96, 96, 3),
    *,
    alpha: float = 0.35,
    weights: str | os.PathLike | None = None,
    frozen: bool = True,
    learning_rate: float = 1e-3,
    bn_momentum: float | None = None,
) -> keras.Model:
    """MobileNetV2 without top at width ``alpha`` (default 0.35), plus the course head.

    ``weights`` is a local weights file for the no-top backbone or None (no ImageNet file is pinned for
    it here). ``frozen=False`` trains the backbone too (what one does with random initial weights).
    ``bn_momentum`` (e.g. 0.9) replaces keras.applications' BatchNorm momentum of 0.999, whose moving
    statistics need thousands of steps to settle (see :func:`set_bn_momentum`).
    """
    path = _resolve_weights(weights) if weights != "imagenet" else None
    if weights == "imagenet":
        raise ValueError("mobilenet_v2_small: pass a local weights file or None ('imagenet' is not pinned)")
    base = mobilenet_v2_base(input_shape, alpha=alpha, bn_momentum=bn_momentum)
    if path is not None:
        _load_backbone_weights(base, path)
    if frozen:
        freeze(base)
    model = keras.Model(base.input, transfer_head(base.output, num_classes), name=f"mobilenet_v2_{alpha:g}")
    return compile_for(model, num_classes, learning_rate)


def mobilenet_v2_base(input_shape=(96, 96, 3), *, alpha: float = 0.35,
                      bn_momentum: float | None = None) -> keras.Model:
    """keras.applications MobileNetV2 without top, random initial weights, optional BN momentum."""
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=tuple(input_shape), alpha=alpha
    )
    if bn_momentum is not None:
        set_bn_momentum(base, bn_momentum)
    return base


def batchnorm_layers(model: keras.Model) -> list:
    """Every BatchNormalization layer of ``model``, nested models included."""
    found = []
    for la in model.layers:
        if isinstance(la, layers.BatchNormalization):
            found.append(la)
        elif hasattr(la, "layers"):
            found.extend(batchnorm_layers(la))
    return found


def set_bn_momentum(model: keras.Model, momentum: float) -> int:
    """Set ``momentum`` on every BatchNormalization layer of ``model``; return how many were set.

    keras.applications builds MobileNetV2 with momentum 0.999: the moving statistics keep about
    1/(1-0.999) = 1000 steps of memory, so after a short training (3 epochs of ~100 batches) they
    still mostly hold their initial values (mean 0, variance 1) and the model in inference mode, as
    a frozen backbone runs, sees activations the training never saw. Set before training (before
    the first ``fit`` traces the train step).
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"bn_momentum must be in [0, 1), got {momentum}")
    bns = batchnorm_layers(model)
    for la in bns:
        la.momentum = float(momentum)
    return len(bns)


def reestimate_bn_statistics(model: keras.Model, x, *, batch_size: int = 256) -> int:
    """Recompute every BatchNorm layer's moving mean/variance of ``model`` over ``x`` (a "precise BN"
    pass, no weight changes): forward passes in training mode with momentum (k-1)/k at batch k, so the
    moving statistics end as the average of the per-batch statistics over all of ``x``. Call on the
    trained, not-yet-frozen model; returns the number of batches. Weights other than the BN moving
    statistics are untouched; each layer's momentum is restored afterwards.
    """
    bns = batchnorm_layers(model)
    if not bns:
        return 0
    saved = [(la, la.momentum, la.trainable) for la in bns]
    n = len(x)
    steps = 0
    try:
        for la in bns:
            la.trainable = True  # BN updates its moving statistics only when trainable and training
        for start in range(0, n, batch_size):
            steps += 1
            for la in bns:
                la.momentum = (steps - 1) / steps
            model(keras.ops.convert_to_tensor(x[start:start + batch_size]), training=True)
    finally:
        for la, momentum, trainable in saved:
            la.momentum = momentum
            la.trainable = trainable
    return steps


def small_backbone(input_shape=(28, 28, 1), *, filters=(32, 64, 128), seed: int = 0) -> keras.Model:
    """The small convolutional feature extractor pretrained offline on a source task: per entry of
    ``filters`` a Conv2D 3x3 relu then MaxPool 2x2 (28x28 input -> 1x1x128 features, 92,672 params)."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, f in enumerate(filters, start=1):
        init = keras.initializers.GlorotUniform(seed + i)
        x = layers.Conv2D(f, 3, activation="relu", kernel_initializer=init, name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return keras.Model(inputs, x, name="small_backbone")


def small_classifier(
    num_classes: int,
    backbone: keras.Model | None = None,
    *,
    input_shape=(28, 28, 1),
    frozen: bool = False,
    seed: int = 0,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """``backbone`` (a fresh :func:`small_backbone` when None) plus the course head, functional API.

    ``frozen=True`` freezes the backbone: the transfer model. The same call with a fresh backbone and
    ``frozen=False`` is the from-scratch comparison.
    """
    if backbone is None:
        backbone = small_backbone(input_shape, seed=seed)
    if frozen:
        freeze(backbone)
    inputs = keras.Input(shape=tuple(backbone.input.shape[1:]), name="input")
    # training=False keeps a frozen backbone in inference mode (matters for BatchNorm-style layers).
    feats = backbone(inputs, training=False) if frozen else backbone(inputs)
    model = keras.Model(inputs, transfer_head(feats, num_classes), name="small_classifier")
    return compile_for(model, num_classes, learning_rate)


def backbone_features(model: keras.Model) -> int:
    """Number of parameters in the frozen part of ``model`` (total minus trainable)."""
    return int(model.count_params() - sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def resize_and_repeat(images, size=(150, 150), channels: int = 3):
    """Grayscale batch (N x H x W x 1, uint8 or float) -> float32 N x size x channels, values in [0, 1].

    Bilinear resize (``keras.ops.image.resize``) then the channel repeated, as the course feeds
    28x28 grayscale images to 150x150x3 InceptionV3. Accepts numpy or backend tensors.
    """
    x = keras.ops.convert_to_tensor(images)
    if len(x.shape) != 4 or x.shape[-1] not in (1, channels):
        raise ValueError(f"expected N x H x W x 1 images, got shape {tuple(x.shape)}")
    if "int" in str(x.dtype):
        x = keras.ops.cast(x, "float32") / 255.0
    else:
        x = keras.ops.cast(x, "float32")
    x = keras.ops.image.resize(x, tuple(size), interpolation="bilinear")
    if x.shape[-1] == 1 and channels != 1:
        x = keras.ops.repeat(x, channels, axis=-1)
    return x
