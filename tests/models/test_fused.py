"""ConvReluPool2D computes Conv2D + ReLU + MaxPool2D(2), with the same weights, and passes the model contract."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from signbench.models import cnn, cnn_fused
from signbench.models.fused import ConvReluPool2D
from signbench.testing.contracts import check_model_contract, expected_cnn_params


def _pair(input_shape, filters, k, seed=0):
    """(standard Conv2D+MaxPool model, ConvReluPool2D model) with the same random weights and bias."""
    keras.utils.set_random_seed(seed)
    std = keras.Sequential([keras.Input(input_shape), keras.layers.Conv2D(filters, k, activation="relu"),
                            keras.layers.MaxPooling2D(2)])
    rng = np.random.default_rng(seed)
    kernel, bias = std.get_weights()
    std.set_weights([kernel, rng.normal(0, 0.1, size=bias.shape).astype(np.float32)])  # a non-zero bias
    fused = keras.Sequential([keras.Input(input_shape), ConvReluPool2D(filters, k)])
    fused.set_weights(std.get_weights())
    return std, fused


@pytest.mark.parametrize("input_shape,filters,k", [((28, 28, 1), 75, 3), ((29, 31, 2), 8, 3), ((12, 12, 3), 5, 5),
                                                   ((4, 4, 1), 3, 3), ((27, 25, 2), 12, 2), ((9, 12, 3), 5, 4),
                                                   ((10, 10, 1), 6, 1)])
def test_same_outputs_as_conv_relu_maxpool(input_shape, filters, k):
    std, fused = _pair(input_shape, filters, k)
    x = np.random.default_rng(1).random((16, *input_shape), dtype=np.float32)
    want = np.asarray(std(x))
    got = np.asarray(fused(x))
    assert got.shape == want.shape == (16, *fused.output_shape[1:])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert (want == 0).mean() > 0.05, "the check must include ReLU-clipped outputs"


def test_same_gradients_where_no_window_ties():
    import tensorflow as tf

    std, fused = _pair((28, 28, 1), 16, 3)
    x = tf.constant(np.random.default_rng(2).random((8, 28, 28, 1), dtype=np.float32))  # continuous: no ties
    w = tf.constant(np.random.default_rng(3).normal(size=(8, 13, 13, 16)).astype(np.float32))
    grads = []
    for model in (std, fused):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) * w)
        grads.append([np.asarray(g) for g in tape.gradient(loss, model.trainable_variables)])
    for a, b in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def test_window_max_routes_each_window_gradient_to_one_maximum():
    import tensorflow as tf

    from signbench.models.fused import window_max

    rng = np.random.default_rng(5)
    z = tf.constant(rng.integers(0, 3, size=(4, 3, 3, 4, 6)).astype(np.float32))  # many exact ties
    up = tf.constant(rng.normal(size=(4, 3, 3, 6)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = window_max(z)
    grad = tape.gradient(out, z, output_gradients=up).numpy()
    zn = z.numpy()
    np.testing.assert_array_equal(out.numpy(), zn.max(axis=3))
    at_max = zn == zn.max(axis=3, keepdims=True)
    assert at_max.sum(axis=3).max() > 1, "the input must tie"
    assert not grad[~at_max].any(), "gradient reached a position that is not a window maximum"
    assert ((grad != 0).sum(axis=3) == 1).all(), "each window's gradient must go to exactly one maximum"
    np.testing.assert_allclose(grad.sum(axis=3), up.numpy(), rtol=1e-6)  # a valid subgradient
    with pytest.raises(ValueError, match="4 values per window"):
        window_max(tf.zeros((1, 2, 2, 3, 5)))


def test_course_cnn_fused_meets_contract_and_shares_weights_with_cnn():
    check_model_contract(cnn_fused(), (28, 28, 1), 24, 3_281_798)
    check_model_contract(cnn_fused(2, (12, 12, 3)), (12, 12, 3), 2, expected_cnn_params((12, 12, 3), 2))
    a, b = cnn(), cnn_fused()
    from signbench.studies.flops import train_flops_per_sample

    assert train_flops_per_sample(b) == train_flops_per_sample(a)  # same work, so MFU compares
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]
    b.set_weights(a.get_weights())
    x = np.random.default_rng(4).random((32, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(b.predict(x, verbose=0), a.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="filters"):
        ConvReluPool2D(0)
    with pytest.raises(ValueError, match="too small"):
        keras.Sequential([keras.Input((3, 3, 1)), ConvReluPool2D(4, 3)])
    layer = ConvReluPool2D(7, 5, name="x")
    again = ConvReluPool2D.from_config(layer.get_config())
    assert (again.filters, again.kernel_size, again.name) == (7, 5, "x")
