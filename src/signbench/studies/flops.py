"""Model FLOPs per training sample (Keras 3, any backend) and a float32 matmul peak measurement.

FLOPs count multiply-adds as 2 operations, for the layers that dominate the work: Dense,
Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose (element-wise layers, pooling
and normalization are a few percent at most and are left out, so MFU is slightly understated), and
any layer with a ``forward_flops_per_sample()`` method (its own count).
Training FLOPs per sample = forward + weight gradients (1x forward, trainable layers only) + input
gradients (1x forward, only for layers after the first trainable one: nothing flows further back).
For a fully trainable model that is the usual 3x forward.
"""

from __future__ import annotations

import math
import time

__all__ = ["forward_flops", "matmul_peak", "train_flops_per_sample"]


def _shape(t) -> tuple:
    return tuple(t.shape)


def _layer_forward(layer) -> float:
    """Forward FLOPs of one layer for one sample (0 for layers not counted)."""
    from keras import layers as L

    try:
        out = _shape(layer.output)
        inp = _shape(layer.input)
    except (AttributeError, ValueError):
        return 0.0
    own = getattr(layer, "forward_flops_per_sample", None)
    if callable(own):  # layers of ours that know their count (signbench.models.fused.ConvReluPool2D)
        return float(own())
    if isinstance(layer, L.Dense):
        units = out[-1]
        rows = math.prod(d for d in out[1:-1] if d)  # Dense on N-D input applies per position
        return 2.0 * inp[-1] * units * rows
    if isinstance(layer, L.SeparableConv2D | L.SeparableConv1D):
        k = math.prod(layer.kernel_size)
        cin = inp[-1]
        spatial = math.prod(out[1:-1])
        mult = layer.depth_multiplier
        return 2.0 * spatial * (k * cin * mult + cin * mult * out[-1])
    if isinstance(layer, L.DepthwiseConv2D | L.DepthwiseConv1D):
        k = math.prod(layer.kernel_size)
        return 2.0 * math.prod(out[1:]) * k
    if isinstance(layer, L.Conv2DTranspose | L.Conv1DTranspose | L.Conv3DTranspose):
        k = math.prod(layer.kernel_size)
        return 2.0 * math.prod(inp[1:-1]) * inp[-1] * k * out[-1]
    if isinstance(layer, L.Conv1D | L.Conv2D | L.Conv3D):
        k = math.prod(layer.kernel_size)
        groups = getattr(layer, "groups", 1) or 1
        return 2.0 * math.prod(out[1:]) * k * inp[-1] / groups
    return 0.0


def _leaf_layers(model) -> list:
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # nested Sequential / Functional model
            out.extend(_leaf_layers(layer))
        else:
            out.append(layer)
    return out


def forward_flops(model) -> float:
    """Forward-pass FLOPs of ``model`` for one sample."""
    return sum(_layer_forward(layer) for layer in _leaf_layers(model))


def train_flops_per_sample(model) -> float:
    """Training FLOPs for one sample (forward + backward), see the module docstring."""
    total = 0.0
    seen_trainable = False
    for layer in _leaf_layers(model):
        f = _layer_forward(layer)
        trainable = bool(layer.trainable_weights)
        total += f  # forward
        if seen_trainable:
            total += f  # gradient with respect to the layer's input
        if trainable:
            total += f  # gradient with respect to its weights
            seen_trainable = True
    return total


def matmul_peak(n: int = 1024, *, repeats: int = 10, seconds: float = 2.0) -> float:
    """Best float32 n x n matmul rate of the Keras backend here, in FLOP/s (after one warm-up).

    Each timed product is waited for by fetching one element of it (not the whole matrix), so on
    an accelerator with asynchronous dispatch the time is the product's, not a device-to-host copy.
    Whatever precision the backend uses for float32 matmuls by default (TF32 on recent NVIDIA GPUs
    under JAX) is what the models train with too, so MFU compares like with like.
    """
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32))

    def one() -> float:
        return float(keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0]))

    one()  # warm-up (kernel selection, thread pool)
    best = math.inf
    start = time.perf_counter()
    for i in range(repeats):
        t = time.perf_counter()
        one()
        best = min(best, time.perf_counter() - t)
        if i >= 2 and time.perf_counter() - start > seconds:
            break
    return 2.0 * n**3 / best
