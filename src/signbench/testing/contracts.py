"""THE shared model-contract checklist. Every model builder's test calls :func:`check_model_contract`.

The checklist, in order (the step runs before saving so the optimizer state is part of the round trip).
Predictions and losses are eager inference-mode calls (``model(x, training=False)``, ``compute_loss``
with ``training=False``, what ``predict`` and ``evaluate`` compute on one batch), which spares tracing
their functions for every model; the training step is ``train_on_batch``, the traced path ``fit`` takes.

1. output shape: a batch of ``n`` inputs gives ``(n, num_classes)``, or ``(n, 1)`` for two classes
   (one sigmoid unit);
2. parameter count equals ``expected_params`` (skipped only when it is None);
3. one training step (``train_on_batch``, the model's optimizer at 1/100 of its learning rate) lowers
   the loss on that batch, measured in inference mode;
4. serialization round trip of the trained model: save to ``.keras``, reload with ``safe_mode=True``:
   same architecture, same parameter count, identical predictions, optimizer state kept;
   ``get_config``/``from_config`` rebuilds the same architecture (fresh weights).

Usage::

    from contracts import check_model_contract
    check_model_contract(build("cnn"), (28, 28, 1), 24, 3_281_798)

Pass ``x``/``y`` for models that need particular inputs; otherwise a seeded random batch is used.
The model must be compiled (the training step needs its optimizer and loss).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np

__all__ = ["check_model_contract", "check_png", "expected_cnn_params", "expected_dense_params"]


def expected_dense_params(input_shape, num_classes: int, hidden=(256, 128)) -> int:
    """Parameters of Flatten -> Dense(hidden...) -> head, computed by hand."""
    n_in = int(np.prod(input_shape))
    out = 1 if num_classes == 2 else num_classes
    total = 0
    for units in (*hidden, out):
        total += n_in * units + units
        n_in = units
    return total


def expected_cnn_params(input_shape, num_classes: int, filters=75, hidden=(256, 128)) -> int:
    """Parameters of Conv2D(filters, 3x3, valid) -> MaxPool 2x2 -> Flatten -> Dense(hidden...) -> head."""
    h, w, c = input_shape
    conv = 3 * 3 * c * filters + filters
    pooled = ((h - 2) // 2, (w - 2) // 2, filters)
    return conv + expected_dense_params(pooled, num_classes, hidden)


def _predict(model, x) -> np.ndarray:
    """Inference-mode outputs, eagerly: what ``model.predict`` gives for one batch, without tracing."""
    return np.asarray(model(keras.ops.convert_to_tensor(x), training=False))


def _loss(model, x, y, y_pred: np.ndarray) -> float:
    """Inference-mode loss on one batch from its :func:`_predict` outputs ``y_pred`` (the compiled loss plus
    the model's own losses, as ``evaluate`` reports it), eagerly."""
    return float(model.compute_loss(x=x, y=keras.ops.convert_to_tensor(y), y_pred=keras.ops.convert_to_tensor(y_pred),
                                    training=False))


def _batch(input_shape, num_classes: int, n: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, *input_shape), dtype=np.float32)
    y = rng.integers(0, num_classes, size=n)
    return x, y


def check_model_contract(model, input_shape, num_classes, expected_params, x=None, y=None) -> dict:
    """Assert the four contract points for ``model``; return the measured values."""
    input_shape = tuple(int(d) for d in input_shape)
    if x is None or y is None:
        x, y = _batch(input_shape, num_classes)
    x = np.asarray(x)
    n = x.shape[0]
    assert model.optimizer is not None and model.loss is not None, f"{model.name}: model is not compiled"

    # 1. output shape
    out = _predict(model, x)
    want = (n, 1) if num_classes == 2 else (n, num_classes)
    assert out.shape == want, f"{model.name}: output shape {out.shape}, expected {want}"
    assert np.all(np.isfinite(out)), f"{model.name}: non-finite outputs"

    # 2. parameter count
    params = model.count_params()
    if expected_params is not None:
        assert params == expected_params, f"{model.name}: {params:,} parameters, expected {expected_params:,}"

    # 3. one training step lowers the loss on that batch (evaluated in inference mode)
    # The step uses the model's own optimizer at 1/100 of its learning rate: Adam's first step moves
    # every weight by about the learning rate, which on a wide layer can overshoot; a small step
    # checks what the contract is about (loss, gradients and optimizer wired up) without that.
    before = _loss(model, x, y, out)  # the weights have not moved since ``out``
    lr = model.optimizer.learning_rate
    original = float(lr.numpy()) if hasattr(lr, "assign") else None
    if original is not None:
        lr.assign(original / 100)
    try:
        model.train_on_batch(x, y)
    finally:
        if original is not None:
            lr.assign(original)
    after = _loss(model, x, y, _predict(model, x))
    assert after < before, f"{model.name}: one training step did not lower the loss ({before:.6f} -> {after:.6f})"
    # 4. serialization round trip (.keras, safe mode) and architecture-only round trip
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert loaded.count_params() == params
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=0, atol=1e-6)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations), "optimizer state lost"
    rebuilt = model.__class__.from_config(model.get_config())
    assert rebuilt.count_params() == params
    assert [w.shape for w in rebuilt.get_weights()] == [w.shape for w in model.get_weights()]

    return {"output_shape": out.shape, "params": params, "loss_before": before, "loss_after": after}


def check_png(path, min_side: int = 200) -> tuple[int, int]:
    """Assert ``path`` is a valid PNG of at least ``min_side`` pixels a side that is not blank; its size."""
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert min(im.size) >= min_side
        arr = np.asarray(im.convert("L"))
    assert arr.std() > 5  # not a blank image
    return im.size
