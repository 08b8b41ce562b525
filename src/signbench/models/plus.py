"""``cnn_plus``: the course's own practical advice taken seriously, for Sign Language MNIST.

3x3 convolutions in VGG-style pairs, 2x2 max pooling, batch normalization after every convolution,
dropout, and augmentation done by Keras preprocessing layers inside the model (small rotations,
shifts and zoom; never flips, because a mirrored hand can be a different letter). The augmentation
layers are active only in training, so ``predict``/``evaluate`` see the images unchanged.

The model takes uint8-range or [0, 1] pixels as chosen by ``rescale``: with ``rescale=True``
(the default) it divides by 255 itself, so it can be fed raw ``LabeledImages.images``.
Keras 3 APIs only.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from signbench.models.course import SIGN_CLASSES, SIGN_SHAPE, compile_for, head

__all__ = ["RandomAffine", "cnn_plus", "augmentation"]

#: Augmentation strengths (fractions as Keras defines them): rotation factor 0.04 of a full turn is
#: about +-14 degrees; shifts and zoom up to 10%.
ROTATION = 0.04
SHIFT = 0.10
ZOOM = 0.10


def augmentation(
    *, rotation: float = ROTATION, shift: float = SHIFT, zoom: float = ZOOM, seed: int | None = None,
    fused: bool = False,
) -> keras.Layer:
    """Random small rotation, shift and zoom (no flips). Identity outside training.

    ``fused=False``: Keras's three layers in a row (three resamplings); ``fused=True``: one
    :class:`RandomAffine` (the same ranges, composed into one transform: one resampling).
    """
    if fused:
        return RandomAffine(rotation, shift, zoom, seed=seed, name="augment")
    s = (lambda k: None) if seed is None else (lambda k: int(seed) + k)
    return keras.Sequential(
        [
            layers.RandomRotation(rotation, fill_mode="nearest", seed=s(0)),
            layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=s(1)),
            layers.RandomZoom(zoom, zoom, fill_mode="nearest", seed=s(2)),
        ],
        name="augment",
    )


@keras.saving.register_keras_serializable(package="signbench")
class RandomAffine(layers.Layer):
    """Rotation, shift and zoom drawn per image and applied as ONE affine transform about the image centre.

    Ranges as Keras's layers define them: rotation angle uniform in +-``rotation`` of a full turn, shift
    uniform in +-``shift`` of the height and width, zoom factor uniform in [1 - ``zoom``, 1 + ``zoom``]
    drawn separately for height and width. Bilinear, edges replicated ("nearest" fill). Identity outside
    training. Keras 3 ops only (any backend).
    """

    def __init__(self, rotation: float = ROTATION, shift: float = SHIFT, zoom: float = ZOOM, *,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.shift, self.zoom, self.seed = float(rotation), float(shift), float(zoom), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        ops = keras.ops
        n = ops.shape(images)[0]
        h, w = images.shape[1], images.shape[2]

        def uniform(bound):
            return keras.random.uniform((n,), -bound, bound, seed=self.seed_generator)

        angle = uniform(self.rotation * 2.0 * math.pi)
        zx, zy = 1.0 + uniform(self.zoom), 1.0 + uniform(self.zoom)
        tx, ty = uniform(self.shift * w), uniform(self.shift * h)
        cos, sin = ops.cos(angle), ops.sin(angle)
        # output pixel p maps to input pixel R(angle) diag(zx, zy) (p - c) + c + t, c the centre
        a0, a1, b0, b1 = cos * zx, -sin * zy, sin * zx, cos * zy
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        a2, b2 = cx - a0 * cx - a1 * cy + tx, cy - b0 * cx - b1 * cy + ty
        zeros = ops.zeros_like(angle)
        transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="nearest")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rotation": self.rotation, "shift": self.shift, "zoom": self.zoom,
                "seed": self.seed}


def _conv_bn(x, filters: int, name: str, momentum: float):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def cnn_plus(
    num_classes: int = SIGN_CLASSES,
    input_shape=SIGN_SHAPE,
    *,
    filters: tuple[int, ...] = (32, 64, 128),
    convs_per_block: int = 1,
    dense: int = 256,
    dropout: float = 0.4,
    augment: bool = True,
    rescale: bool = True,
    learning_rate: float = 1e-3,
    bn_momentum: float = 0.99,
    seed: int | None = None,
) -> keras.Model:
    """Blocks of [3x3 conv-BN-ReLU x ``convs_per_block``, 2x2 max pool, light dropout] (28->14->7->3
    with the default three blocks), then dense-BN-ReLU, dropout, head.

    ``filters`` sets the width of each block, ``augment`` toggles the preprocessing layers,
    ``rescale`` divides the input by 255 inside the model, ``bn_momentum`` is the batch-norm moving
    average momentum, ``seed`` seeds the augmentation.
    Returns the model compiled with Adam (the recipe in ``signbench.studies.sota`` recompiles it with a
    schedule).
    """
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if convs_per_block < 1 or not filters:
        raise ValueError("need at least one block and one convolution per block")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    if rescale:
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    if augment:
        x = augmentation(seed=seed)(x)
    for i, f in enumerate(filters, start=1):
        for j in range(convs_per_block):
            x = _conv_bn(x, f, f"b{i}c{j}", bn_momentum)
        x = layers.MaxPooling2D(2, name=f"b{i}_pool")(x)
        x = layers.Dropout(dropout / 4, name=f"b{i}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="fc_bn")(x)
    x = layers.Activation("relu", name="fc_relu")(x)
    x = layers.Dropout(dropout, name="fc_drop")(x)
    outputs = head(num_classes)(x)
    model = keras.Model(inputs, outputs, name="cnn_plus")
    return compile_for(model, num_classes, learning_rate)
