"""``speednet``: a small, fast CNN for Sign Language MNIST, built for time to accuracy and for int8 latency.

The course CNN spends nearly all its parameters (3.2 of 3.3 million) and most of its one-image int8
latency in one Dense layer over 26x26x75 features. ``speednet`` keeps the spatial work small instead:
blocks of [3x3 conv (no bias) - batch norm - ReLU - 2x2 max pool] (28 -> 14 -> 7 -> 3 with the default
three blocks; with ``stem_stride=2`` the first block's convolution has stride 2 and no pool, same sizes),
then a flatten, dropout and the softmax head: about 37,000 parameters and about 2 million multiply-adds
per image at the default widths. Augmentation (small rotations, shifts and zoom; never flips, a mirrored hand can
be another letter) is the same preprocessing block as ``cnn_plus`` (:func:`signbench.models.plus.augmentation`),
Keras's three layers or, with ``fused_augment``, the same ranges as one affine transform
(:class:`signbench.models.plus.RandomAffine`), active only in training.

Input: float images in [0, 1] (the course's normalization), so every converter and ``Predictor`` path
that serves the course models serves this one too. Keras 3 APIs only (runs on the JAX backend).
"""

from __future__ import annotations

import keras
from keras import layers

from signbench.models.course import SIGN_CLASSES, SIGN_SHAPE, compile_for, head
from signbench.models.plus import augmentation

__all__ = ["speednet"]


def speednet(
    num_classes: int = SIGN_CLASSES,
    input_shape=SIGN_SHAPE,
    *,
    filters: tuple[int, ...] = (16, 32, 64),
    dropout: float = 0.2,
    augment: bool = True,
    fused_augment: bool = False,
    stem_stride: int = 1,
    learning_rate: float = 1e-3,
    seed: int | None = None,
) -> keras.Model:
    """Blocks of conv-BN-ReLU-pool with ``filters`` channels, flatten, dropout, head; compiled with Adam.

    ``augment`` puts the (seeded) augmentation block in front, Keras's three layers or, with
    ``fused_augment``, one :class:`signbench.models.plus.RandomAffine` (one resampling); ``seed`` seeds it.
    ``stem_stride=2``: the first block downsamples with its convolution's stride instead of a max pool (a
    quarter of the full-resolution outputs: what an int8 model's low-depth first layer pays most for).
    """
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not filters:
        raise ValueError("need at least one block")
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = augmentation(seed=seed, fused=fused_augment)(inputs) if augment else inputs
    for i, f in enumerate(filters, start=1):
        stride = stem_stride if i == 1 else 1
        x = layers.Conv2D(f, 3, strides=stride, padding="same", use_bias=False, name=f"b{i}_conv")(x)
        x = layers.BatchNormalization(name=f"b{i}_bn")(x)
        x = layers.Activation("relu", name=f"b{i}_relu")(x)
        if stride == 1:
            x = layers.MaxPooling2D(2, name=f"b{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="drop")(x)
    outputs = head(num_classes)(x)
    return compile_for(keras.Model(inputs, outputs, name="speednet"), num_classes, learning_rate)
