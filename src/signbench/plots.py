"""Every chart of the project, drawn with matplotlib's object API (``Figure``, no pyplot global state,
Agg backend): learning curves, class balance, confusion matrix, misclassified images, accuracy vs
latency. Each function writes one PNG and returns its path."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "accuracy_latency_chart",
    "class_balance_chart",
    "confusion_chart",
    "confusion_figure",
    "forest_plot",
    "learning_curves",
    "learning_curves_figure",
    "misclassified_grid",
]


def _figure(**kwargs):
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path: str | os.PathLike, *, dpi: int = 110, tight: bool = True) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    return p


def learning_curves(history, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Accuracy and loss per epoch from a Keras-style history dict or a ``RunResult`` (integer epoch
    ticks). Validation curves are drawn when the history has ``val_*`` keys."""
    fig = learning_curves_figure(history, title=title)
    return _save(fig, path, dpi=100, tight=False)


def learning_curves_figure(history, *, title: str | None = None):
    """The figure :func:`learning_curves` saves."""
    from matplotlib.ticker import MaxNLocator

    if hasattr(history, "history") and isinstance(history.history, dict):
        title = title or getattr(history, "model_name", None)
        history = history.history
    missing = {"accuracy", "loss"} - set(history)
    if missing:
        raise KeyError(f"history lacks {sorted(missing)}; has {sorted(history)}")
    epochs = range(1, len(history["loss"]) + 1)
    fig = _figure(figsize=(10, 4))
    for ax, metric in zip(fig.subplots(1, 2), ("accuracy", "loss"), strict=True):
        ax.plot(epochs, history[metric], marker="o", label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label=f"val {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_balance_chart(counts: Mapping[str, int], path: Path, *, title: str = "Class balance") -> Path:
    names = list(counts)
    values = [int(counts[k]) for k in names]
    fig = _figure(figsize=(max(6.0, 0.35 * len(names)), 3.6))
    ax = fig.subplots()
    ax.bar(range(len(names)), values, color="#4C72B0")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("images")
    if values:
        mean = float(np.mean(values))
        ax.axhline(mean, color="#C44E52", ls="--", lw=1, label=f"mean {mean:.0f}")
        ratio = max(values) / max(min(values), 1)
        ax.set_title(f"{title} (max/min = {ratio:.2f})")
        ax.legend(loc="lower right")
    return _save(fig, path)


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], *, title: str):
    """(figure, matrix): the confusion matrix, class names (letters) on both axes, rows = true class."""
    from sklearn.metrics import confusion_matrix

    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    size = max(5.0, 0.36 * k + 1.5)
    fig = _figure(figsize=(size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), list(class_names))
    ax.set_yticks(range(k), list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = float(np.trace(cm) / max(cm.sum(), 1))
    ax.set_title(f"{title} (accuracy {acc:.4f})")
    thresh = cm.max() / 2 if cm.size else 0
    fs = 6 if k > 12 else 8
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fs,
                        color="white" if cm[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return fig, cm


def confusion_chart(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], path: Path, *, title: str
) -> Path:
    fig, _ = confusion_figure(y_true, y_pred, class_names, title=title)
    return _save(fig, path)


def _diverse(index: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``index`` reordered round-robin over the true classes, so the first few show many letters."""
    groups = [index[classes[index] == k] for k in np.unique(classes[index])]
    out = [g[i] for i in range(max((len(g) for g in groups), default=0)) for g in groups if i < len(g)]
    return np.asarray(out, dtype=np.int64)


def misclassified_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    path: Path,
    *,
    max_images: int = 32,
    columns: int = 8,
    title: str = "Misclassified test images",
) -> Path:
    """The first ``max_images`` wrong predictions (round-robin over the true letters), each titled
    "true -> predicted"."""
    wrong = _diverse(np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred)), np.asarray(y_true))[:max_images]
    n = max(len(wrong), 1)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(1.3 * cols, 1.5 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong, strict=False):
        img = np.asarray(images[i])
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.set_title(f"{class_names[int(y_true[i])]} -> {class_names[int(y_pred[i])]}", fontsize=9,
                     color="#C44E52")
    if not len(wrong):
        axes[0, 0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    total = int(np.sum(np.asarray(y_true) != np.asarray(y_pred)))
    fig.suptitle(f"{title}: {len(wrong)} of {total} shown (true -> predicted)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def accuracy_latency_chart(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path:
    """Accuracy against one-image p50 latency: colour per model, marker per runtime (log x axis)."""
    import matplotlib
    from matplotlib.lines import Line2D

    fig = _figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    models = sorted({r["model"] for r in rows})
    runtimes = sorted({r["runtime"] for r in rows})
    markers = "osD^v<>pPX*h"
    cmap = matplotlib.colormaps["tab10"]
    for r in rows:
        if r.get("latency_ms") is None or r.get("accuracy") is None:
            continue
        ax.scatter(
            r["latency_ms"], r["accuracy"], s=60,
            color=cmap(models.index(r["model"]) % 10),
            marker=markers[runtimes.index(r["runtime"]) % len(markers)],
            edgecolors="black", linewidths=0.5,
        )
    handles = [Line2D([], [], ls="", marker="o", color=cmap(i % 10), label=m) for i, m in enumerate(models)]
    handles += [
        Line2D([], [], ls="", marker=markers[i % len(markers)], color="gray", label=rt)
        for i, rt in enumerate(runtimes)
    ]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("one-image latency p50 (ms, log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def forest_plot(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path:
    """One line per claim and metric: the mean effect with its 95% interval, the smallest effect that
    counts marked, coloured by verdict (event claims: the rate with its interval, on their own axis)."""
    colors = {"holds": "#2E7D32", "fails": "#C62828", "inconclusive": "#9E9E9E"}
    groups = [[r for r in rows if r["kind"] != "event"], [r for r in rows if r["kind"] == "event"]]
    groups = [g for g in groups if g]
    heights = [max(1.5, 0.32 * len(g) + 0.8) for g in groups]
    fig = _figure(figsize=(9, sum(heights) + 0.6))
    axes = fig.subplots(len(groups), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, group in zip(axes, groups, strict=True):
        labels = [f"{r['claim']} ({r['metric']})" for r in group]
        for i, r in enumerate(group):
            y = len(group) - 1 - i
            c = colors.get(r["verdict"], "black")
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=c, lw=2)
            ax.plot([r["effect_mean"]], [y], "o", color=c)
            if r["kind"] != "event":
                m = -r["min_effect"] if r["kind"] == "non-inferiority" else r["min_effect"]
                ax.plot([m], [y], "|", color="black", ms=12)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(group)), labels[::-1], fontsize=8)
        ax.set_xlabel("rate of seeds in which the event happened" if group[0]["kind"] == "event"
                      else "effect (positive = as the claim says; | = smallest effect that counts)")
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_title(title)
    fig.tight_layout()
    return _save(fig, path)
