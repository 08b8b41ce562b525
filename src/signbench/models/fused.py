"""The course CNN's first block as one layer that computes the same function with fewer passes over memory.

``Conv2D(F, k, activation="relu")`` followed by ``MaxPooling2D(2)`` is, for every input,
``relu(max over the 2x2 window of (conv + bias))``: ReLU is monotone and the bias is the same in the
four positions of a window, so both commute with the max. :class:`ConvReluPool2D` therefore computes
the convolution only at the four offsets of each pooling window, as four matrix products of strided
input patches (``keras.ops`` slices + ``matmul``), takes their elementwise maximum, then adds the bias and
applies ReLU on the pooled tensor (4x smaller than the convolution output). On a CPU this avoids the
slow single-input-channel convolution kernels and ``MaxPoolGrad``; see ``results/train_speed.md``.

It has the same weights as the pair it replaces (``kernel`` of shape (k, k, C, F) and ``bias`` (F,)), in
the same order, so ``cnn_fused`` and ``signbench.models.course.cnn`` have the same parameter count
(3,281,798 for the course) and their weights are interchangeable with ``set_weights``. Outputs agree to
float32 rounding; gradients agree except where two positions of a window tie exactly (each picks a
valid subgradient). Keras 3 ops only, so it runs under every backend.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from signbench.models.course import SIGN_CLASSES, SIGN_SHAPE, compile_for, dense_tail

__all__ = ["ConvReluPool2D", "cnn_fused"]


@keras.saving.register_keras_serializable(package="signbench")
class ConvReluPool2D(layers.Layer):
    """``MaxPooling2D(2)(Conv2D(filters, kernel_size, activation="relu", padding="valid")(x))`` in one layer."""

    def __init__(self, filters: int, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1 or int(kernel_size) < 1:
            raise ValueError(f"filters and kernel_size must be >= 1, got {filters}, {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        k, c = self.kernel_size, int(input_shape[-1])
        h, w = int(input_shape[1]), int(input_shape[2])
        if h - k + 1 < 2 or w - k + 1 < 2:
            raise ValueError(f"input {h}x{w} is too small for a {k}x{k} convolution and 2x2 pooling")
        self.kernel = self.add_weight(name="kernel", shape=(k, k, c, self.filters), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def compute_output_shape(self, input_shape):
        k = self.kernel_size
        return (input_shape[0], (input_shape[1] - k + 1) // 2, (input_shape[2] - k + 1) // 2, self.filters)

    def call(self, x):
        k = self.kernel_size
        hp = (x.shape[1] - k + 1) // 2
        wp = (x.shape[2] - k + 1) // 2
        # Input rows a, a+2, ..., a+2(hp-1) (and the same for columns): the ((k+1)^2) strided views
        # from which every window offset's patches are made.
        views = {
            (a, b): x[:, a : a + 2 * hp - 1 : 2, b : b + 2 * wp - 1 : 2, :] for a in range(k + 1) for b in range(k + 1)
        }
        kernel = ops.reshape(self.kernel, (-1, self.filters))  # rows ordered (ki, kj, c) as the patches
        best = None
        for di in range(2):
            for dj in range(2):
                patches = ops.concatenate([views[(di + ki, dj + kj)] for ki in range(k) for kj in range(k)], axis=-1)
                z = ops.matmul(patches, kernel)
                best = z if best is None else ops.maximum(best, z)
        return ops.relu(best + self.bias)

    def forward_flops_per_sample(self) -> float:
        """The FLOPs of the Conv2D it replaces (one multiply-add = 2): it computes the same outputs."""
        k, c = self.kernel_size, int(self.kernel.shape[2])
        hp, wp = self.output.shape[1], self.output.shape[2]
        return 2.0 * (2 * hp) * (2 * wp) * k * k * c * self.filters

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


def cnn_fused(num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, *, learning_rate: float = 1e-3):
    """The course CNN (``signbench.models.course.cnn``) with its Conv2D+MaxPool as one ConvReluPool2D.

    Same function, same parameters in the same order: ``cnn_fused().set_weights(cnn().get_weights())``
    gives the same predictions (to float32 rounding)."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            ConvReluPool2D(75, 3, name="conv_relu_pool"),
            *dense_tail(num_classes),
        ],
        name="cnn_fused",
    )
    return compile_for(model, num_classes, learning_rate)
