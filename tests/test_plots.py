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


# -- the results index's charts --------------------------------------------------------------------------
def test_overfitting_chart_shades_the_gap_in_course_order(tmp_path):
    rows = [
        {"label": "baseline", "train": 1.0, "val": 0.79, "course_train": 0.9999, "course_val": 0.7572},
        {"label": "regularized", "train": 0.90, "val": 0.76},
        {"label": "cnn", "train": 1.0, "val": 0.82},
        {"label": "transfer", "train": None, "val": None},
    ]
    fig = plots.overfitting_figure(rows, title="t")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:3] == ["baseline", "regularized", "cnn"] and labels[3].startswith("transfer")
    assert "not measured yet" in labels[3]
    (gap,) = ax.collections  # fill_between: the shaded gap, from validation up to train accuracy
    ys = gap.get_paths()[0].vertices[:, 1]
    assert min(ys) == 0.76 and max(ys) == 1.0
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines["train accuracy"].get_ydata()) == [1.0, 0.90, 1.0]
    assert list(lines["validation accuracy"].get_ydata()) == [0.79, 0.76, 0.82]
    gaps = sorted(t.get_text() for t in ax.texts)
    assert gaps == ["gap 0.140", "gap 0.180", "gap 0.210"]
    check_png(plots.overfitting_chart(rows, tmp_path / "o.png", title="t"))


def test_latency_chart_puts_the_fastest_runtime_on_top(tmp_path):
    rows = [{"model": "cnn", "runtime": rt, "p50": p, "p99": p * 2}
            for rt, p in (("keras-call", 12.0), ("tflite-int8", 0.25), ("tflite-dynamic", 0.09))]
    rows.append({"model": "baseline", "runtime": "keras-call", "p50": 8.0, "p99": None})
    fig = plots.latency_figure(rows, title="t")
    cnn = fig.axes[0]
    by_height = sorted(zip(cnn.get_yticks(), [t.get_text() for t in cnn.get_yticklabels()], strict=True),
                       reverse=True)
    assert [name for _, name in by_height] == ["tflite-dynamic", "tflite-int8", "keras-call"]
    assert cnn.get_xscale() == "log" and cnn.get_ylabel() == "cnn" and fig.axes[1].get_ylabel() == "baseline"
    check_png(plots.latency_chart(rows, tmp_path / "l.png", title="t"))


def test_index_charts_decode_and_the_same_data_gives_the_same_bytes(tmp_path):
    def draw(d):
        d.mkdir()
        return [
            plots.bar_chart([("fast", 2.3), ("plain-ish", 0.9)], d / "b.png", title="t", xlabel="x", ref=1.0),
            plots.grouped_bar_chart(["baseline", "cnn"], {"CPU": [1e4, 1e3], "GPU": [7e4, None]}, d / "g.png",
                                    title="t", ylabel="samples/s", log=True),
            plots.forest_chart([{"label": "gap", "mean": 0.05, "low": 0.01, "high": 0.09, "min_effect": 0.02,
                                 "verdict": "holds"},
                                {"label": "stop", "mean": -0.1, "low": -0.2, "high": 0.0, "verdict": "does not hold"},
                                {"label": "later", "mean": None, "verdict": ""}], d / "f.png", title="t"),
            plots.history_chart({"cnn latency": [("2026-11-27T16:46 b", 1.2), ("2026-11-26T10:00 a", 1.0)],
                                 "fit": [("2026-11-27T16:46 b", 3.0), ("2026-11-26T10:00 a", 3.3)]}, d / "h.png",
                                title="t"),
        ]

    first, second = draw(tmp_path / "a"), draw(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        check_png(a, min_side=150)
        assert a.read_bytes() == b.read_bytes(), a.name
    assert plots.verdict_color("holds") != plots.verdict_color("does not hold") != plots.verdict_color("")
