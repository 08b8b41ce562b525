"""The charts: letters on the axes, counts that add up, images that decode and are not blank."""

from __future__ import annotations

import numpy as np

from signbench import plots
from signbench.data.types import SIGN_LETTERS
from signbench.testing.contracts import check_png


def test_learning_curves_have_integer_epoch_ticks(tmp_path):
    history = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.4], "val_accuracy": [0.4, 0.6, 0.65],
               "val_loss": [1.1, 0.8, 0.7]}
    check_png(plots.learning_curves(history, tmp_path / "c.png", title="t"))
    fig = plots.learning_curves_figure(history)
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_confusion_matrix_uses_letters_and_counts(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 24, 500)
    pred = np.where(rng.random(500) < 0.8, y, rng.integers(0, 24, 500))
    fig, cm = plots.confusion_figure(y, pred, SIGN_LETTERS, title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == SIGN_LETTERS
    assert [t.get_text() for t in ax.get_yticklabels()] == SIGN_LETTERS
    assert cm.shape == (24, 24) and cm.sum() == 500 and np.trace(cm) == int(np.sum(y == pred))
    assert cm[3, 5] == int(np.sum((y == 3) & (pred == 5)))  # rows are the true class
    path = plots.confusion_chart(y, pred, SIGN_LETTERS, tmp_path / "cm.png", title="t")
    check_png(path)


def test_misclassified_grid_and_empty_case(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 24, 40)
    pred = y.copy()
    pred[::3] = (pred[::3] + 1) % 24
    check_png(plots.misclassified_grid(images, y, pred, SIGN_LETTERS, tmp_path / "mis.png", max_images=8))
    check_png(plots.misclassified_grid(images, y, y, SIGN_LETTERS, tmp_path / "none.png"), min_side=50)


def test_accuracy_latency_and_balance_charts(tmp_path):
    rows = [
        {"model": m, "runtime": rt, "accuracy": a, "latency_ms": lat}
        for m, a in (("baseline", 0.76), ("cnn", 0.86))
        for rt, lat in (("keras (direct call)", 5.0), ("tflite float32", 0.1), ("tflite int8", 0.05))
    ]
    rows.append({"model": "cnn", "runtime": "tflite int8", "accuracy": None, "latency_ms": None})
    check_png(plots.accuracy_latency_chart(rows, tmp_path / "al.png", title="acc vs latency"))
    check_png(plots.class_balance_chart({c: 100 + i for i, c in enumerate(SIGN_LETTERS)}, tmp_path / "b.png"))
