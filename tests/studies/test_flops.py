"""Training FLOPs per sample, counted by hand, and the matmul peak."""

from __future__ import annotations

import pytest


def test_train_flops_per_sample_by_hand():
    keras = pytest.importorskip("keras")
    from signbench.models import build
    from signbench.studies.flops import forward_flops, matmul_peak, train_flops_per_sample

    cnn = build("cnn")
    conv = 2 * 26 * 26 * 75 * 3 * 3 * 1
    dense = 2 * (13 * 13 * 75 * 256 + 256 * 128 + 128 * 24)
    assert forward_flops(cnn) == conv + dense
    # forward + weight gradients everywhere + input gradients for all but the first layer
    assert train_flops_per_sample(cnn) == 3 * (conv + dense) - conv
    # a frozen first part needs no weight gradients and no input gradients before the first trainable layer
    inputs = keras.Input((28, 28, 1))
    frozen = keras.layers.Conv2D(8, 3, trainable=False)(inputs)
    out = keras.layers.Dense(24)(keras.layers.Flatten()(frozen))
    model = keras.Model(inputs, out)
    f_conv, f_dense = 2 * 26 * 26 * 8 * 9, 2 * 26 * 26 * 8 * 24
    assert train_flops_per_sample(model) == f_conv + 2 * f_dense
    assert matmul_peak(64, repeats=3) > 1e6  # FLOP/s: positive and finite
