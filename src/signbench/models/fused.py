"""The course CNN's first block as one layer that computes the same function with fewer passes over memory.

``Conv2D(F, k, activation="relu")`` followed by ``MaxPooling2D(2)`` is, for every input,
``relu(max over the 2x2 window of (conv + bias))``: ReLU is monotone and the bias is the same in the
four positions of a window, so both commute with the max. :class:`ConvReluPool2D` therefore
gathers, for each pooled output, the input window its four convolution positions read (a
space-to-depth reshape and a few contiguous slices), multiplies all windows by one matrix that holds
the kernel at each of the four offsets (a single ``matmul`` with 4 x filters columns), takes the
maximum over the four, then adds the bias and applies ReLU on the pooled tensor (4x smaller than the
convolution output). On a CPU this avoids the slow single-input-channel convolution kernels, pools a tensor
whose windows are contiguous, and does 16 instead of 9 multiply-adds per output in one efficient
matrix product (the zeros); see ``results/train_speed.md``.

It has the same weights as the pair it replaces (``kernel`` of shape (k, k, C, F) and ``bias`` (F,)), in
the same order, so ``cnn_fused`` and ``signbench.models.course.cnn`` have the same parameter count
(3,281,798 for the course) and their weights are interchangeable with ``set_weights``. Outputs agree to
float32 rounding; gradients agree except where two positions of a window tie exactly (each routes the
gradient to one of the tied maxima, a valid subgradient). Keras 3 ops only, so it runs under every backend.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from signbench.models.course import DROPOUT, L2, SIGN_CLASSES, SIGN_SHAPE, compile_for, dense_tail

__all__ = ["ConvReluPool2D", "cnn_fused", "window_max"]


def window_max(z):
    """``ops.max(z, axis=3)`` for ``z`` of shape (N, H, W, 4, F), computed as a 2x2 max pooling.

    The four values of each window are laid out as a 2x2 image with F channels (a free reshape), so
    the backend's own max-pooling kernels do the work, forward and backward: the gradient goes to one
    maximum of each window, exactly as ``MaxPooling2D``'s does in the course CNN (where several tie,
    the pooling kernel picks one). Under TensorFlow with oneDNN it takes far fewer passes over this
    (large) tensor than the hand-written gradient it replaced, which shared ties equally: the fused +
    oneDNN row of ``results/train_speed.md`` went from 1.39x to 1.68x plain fit's epoch speed with it."""
    if z.shape[3] != 4:
        raise ValueError(f"window_max needs 4 values per window on axis 3, got shape {tuple(z.shape)}")
    h, w, f = z.shape[1], z.shape[2], z.shape[4]
    pooled = ops.max_pool(ops.reshape(z, (-1, 2, 2, f)), pool_size=2, strides=2, padding="valid")
    return ops.reshape(pooled, (-1, h, w, f))


@keras.saving.register_keras_serializable(package="signbench")
class ConvReluPool2D(layers.Layer):
    """``MaxPooling2D(2)(Conv2D(filters, kernel_size, activation="relu", padding="valid")(x))`` in one layer."""

    def __init__(self, filters: int, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1 or int(kernel_size) < 1:
            raise ValueError(f"filters and kernel_size must be >= 1, got {filters}, {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        # Made here, as Conv2D makes its own in __init__: the initializers draw their seeds when they
        # are created, so the same seed gives this layer, and the layers after it, the same initial
        # weights as the course CNN's Conv2D (tests/test_speed.py trains both side by side).
        self.kernel_initializer = keras.initializers.get("glorot_uniform")
        self.bias_initializer = keras.initializers.get("zeros")

    def build(self, input_shape):
        k, c = self.kernel_size, int(input_shape[-1])
        h, w = int(input_shape[1]), int(input_shape[2])
        if h - k + 1 < 2 or w - k + 1 < 2:
            raise ValueError(f"input {h}x{w} is too small for a {k}x{k} convolution and 2x2 pooling")
        self.kernel = self.add_weight(name="kernel", shape=(k, k, c, self.filters), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)

    def compute_output_shape(self, input_shape):
        k = self.kernel_size
        return (input_shape[0], (input_shape[1] - k + 1) // 2, (input_shape[2] - k + 1) // 2, self.filters)

    def call(self, x):
        k, c, f = self.kernel_size, x.shape[-1], self.filters
        hp, wp = (x.shape[1] - k + 1) // 2, (x.shape[2] - k + 1) // 2
        # Pooled output (i, j) sees the input window of rows 2i .. 2i+k and columns 2j .. 2j+k. Cut the
        # input into 2x2 blocks (space-to-depth, as reshape + transpose); the window is then covered
        # by the nb x nb blocks starting at block (i, j), so four (nb = 2, for k = 3) contiguous slices
        # of the block tensor make every window's pixels, ordered (block row, block col, row, col, c).
        nb = k // 2 + 1
        hn, wn = 2 * (hp - 1 + nb), 2 * (wp - 1 + nb)
        x = x[:, :hn, :wn, :]
        if hn > x.shape[1] or wn > x.shape[2]:  # a window reaches past the input: pad (zero weights there)
            x = ops.pad(x, [(0, 0), (0, hn - x.shape[1]), (0, wn - x.shape[2]), (0, 0)])
        blocks = ops.reshape(x, (-1, hn // 2, 2, wn // 2, 2, c))
        blocks = ops.reshape(ops.transpose(blocks, (0, 1, 3, 2, 4, 5)), (-1, hn // 2, wn // 2, 4 * c))
        patches = ops.concatenate(
            [blocks[:, bi : bi + hp, bj : bj + wp, :] for bi in range(nb) for bj in range(nb)], axis=-1
        )
        # One kernel matrix for the four positions of a pooling window: the k x k kernel placed at
        # offset (di, dj) of the 2nb x 2nb window, zeros elsewhere, rows in the patches' order.
        size = 2 * nb
        wide = ops.concatenate(
            [ops.pad(self.kernel, [(di, size - k - di), (dj, size - k - dj), (0, 0), (0, 0)])
             for di in range(2) for dj in range(2)],
            axis=-1,
        )  # (size, size, c, 4f), columns ordered (offset, filter)
        wide = ops.reshape(wide, (nb, 2, nb, 2, c, 4 * f))
        wide = ops.reshape(ops.transpose(wide, (0, 2, 1, 3, 4, 5)), (size * size * c, 4 * f))
        z = ops.reshape(ops.matmul(patches, wide), (-1, hp, wp, 4, f))  # conv + 0 at the 4 window positions
        return ops.relu(window_max(z) + self.bias)

    def forward_flops_per_sample(self) -> float:
        """The FLOPs of the Conv2D it replaces (one multiply-add = 2): it computes the same outputs."""
        k, c = self.kernel_size, int(self.kernel.shape[2])
        hp, wp = self.output.shape[1], self.output.shape[2]
        return 2.0 * (2 * hp) * (2 * wp) * k * k * c * self.filters

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


def cnn_fused(num_classes: int = SIGN_CLASSES, input_shape=SIGN_SHAPE, *, l2: float = L2, dropout: float = DROPOUT,
              learning_rate: float = 1e-3):
    """The course CNN (``signbench.models.course.cnn``) with its Conv2D+MaxPool as one ConvReluPool2D.

    Same function, same parameters in the same order: ``cnn_fused().set_weights(cnn().get_weights())``
    gives the same predictions (to float32 rounding)."""
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            ConvReluPool2D(75, 3, name="conv_relu_pool"),
            *dense_tail(num_classes, l2=l2, dropout=dropout),
        ],
        name="cnn_fused",
    )
    return compile_for(model, num_classes, learning_rate)
