"""FusedAdam: the same update as keras.optimizers.Adam, done by one TensorFlow kernel."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from signbench.models import cnn_fused
from signbench.testing.contracts import check_model_contract
from signbench.train.tf_speed import FusedAdam


def _run(optimizer_cls, grads, steps, **kwargs):
    """Apply ``steps`` rounds of ``grads`` (a list per step) to fresh variables; return their values."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(3)])
    opt = optimizer_cls(learning_rate=3e-3, **kwargs)

    @tf.function
    def step(g):
        opt.apply_gradients(zip(g, model.trainable_variables, strict=True))

    for s in range(steps):
        step([tf.constant(g) for g in grads[s]])
    return [v.numpy() for v in model.trainable_variables], [v.numpy() for v in opt.variables]


@pytest.mark.parametrize("kwargs", [{}, {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4}])
def test_same_updates_as_keras_adam(kwargs):
    rng = np.random.default_rng(0)
    shapes = [(6, 5), (5,), (5, 3), (3,)]
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(25)]
    want_vars, want_state = _run(keras.optimizers.Adam, grads, 25, **kwargs)
    got_vars, got_state = _run(FusedAdam, grads, 25, **kwargs)
    start = _run(keras.optimizers.Adam, grads, 0, **kwargs)[0]
    for w, g, s in zip(want_vars, got_vars, start, strict=True):
        assert np.abs(w - s).max() > 1e-2, "the variables must have moved"
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    for w, g in zip(want_state, got_state, strict=True):  # iterations, then m and v of each variable
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-7)


def test_amsgrad_falls_back_to_keras_update():
    rng = np.random.default_rng(1)
    grads = [[rng.normal(size=s).astype(np.float32) for s in [(6, 5), (5,), (5, 3), (3,)]] for _ in range(5)]
    want = _run(keras.optimizers.Adam, grads, 5, amsgrad=True)[0]
    got = _run(FusedAdam, grads, 5, amsgrad=True)[0]
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)


def test_model_with_fused_adam_meets_contract_and_reloads_safely():
    model = cnn_fused()
    model.compile(optimizer=FusedAdam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    check_model_contract(model, (28, 28, 1), 24, 3_281_798)
    again = FusedAdam.from_config(FusedAdam(2e-3, beta_2=0.99).get_config())
    assert isinstance(again, keras.optimizers.Adam)
    assert float(again.learning_rate) == pytest.approx(2e-3) and again.beta_2 == pytest.approx(0.99)
