"""Every chart of the project, drawn with matplotlib's object API (``Figure``, no pyplot global state,
Agg backend): learning curves, class balance, confusion matrix, misclassified images, accuracy vs
latency (and its Pareto front), and the results index's charts (latency per runtime, horizontal and grouped bars, the claims'
forest plot, the overfitting story, a history of medians). Each function writes one PNG and returns its
path; the PNG carries no software or date stamp, so the same data and matplotlib give the same bytes."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "accuracy_latency_chart",
    "bar_chart",
    "forest_chart",
    "grouped_bar_chart",
    "history_chart",
    "latency_chart",
    "latency_figure",
    "overfitting_chart",
    "overfitting_figure",
    "pareto_chart",
    "pareto_figure",
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
    fig.savefig(p, format="png", dpi=dpi, metadata={"Software": None},
                **({"bbox_inches": "tight"} if tight else {}))
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


def _place_labels(ax, points: Sequence[tuple[float, float, str, bool]], *, fontsize: float = 6.0) -> None:
    """Label each (x, y, text, bold) point, greedily choosing among offsets around it the one whose text
    box overlaps the labels and points already placed least (boxes estimated from the text length)."""
    fig = ax.get_figure()
    to_pt = 72.0 / fig.dpi
    xy = [tuple(ax.transData.transform((x, y)) * to_pt) for x, y, _, _ in points]
    marks = [(px - 3, py - 3, px + 3, py + 3) for px, py in xy]
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(4, 2), (4, -8), (-4, 2), (-4, -8), (4, 9), (-4, 9), (4, -15), (-4, -15)]

    def overlap(a, b) -> float:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        return w * h if w > 0 and h > 0 else 0.0

    # The front's labels first (they matter most), then from left to right.
    for i in sorted(range(len(points)), key=lambda i: (not points[i][3], xy[i][0])):
        x, y, text, bold = points[i]
        px, py = xy[i]
        width, height = 0.55 * fontsize * len(text), fontsize
        best = None
        for dx, dy in offsets:
            x0 = px + dx if dx > 0 else px + dx - width
            box = (x0, py + dy, x0 + width, py + dy + height)
            cost = sum(overlap(box, b) for b in placed) + sum(overlap(box, m) for k, m in enumerate(marks) if k != i)
            if best is None or cost < best[0]:
                best = (cost, dx, dy, box)
            if cost == 0:
                break
        _, dx, dy, box = best
        placed.append(box)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    ha="left" if dx > 0 else "right", va="bottom", color="#222222" if bold else "#555555",
                    fontweight="bold" if bold else "normal")


def pareto_chart(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path:
    """Test accuracy against one-image p50 latency (log x), one point per model x runtime: colour per
    model, marker per runtime, every point labelled; the Pareto front (rows whose ``on_front`` is true)
    ringed and joined by a step line. ``rows``: model, runtime, test_accuracy, p50_us, on_front."""
    return _save(pareto_figure(rows, title=title), path)


def pareto_figure(rows: Sequence[Mapping[str, Any]], *, title: str):
    """The figure :func:`pareto_chart` saves."""
    import matplotlib
    from matplotlib.lines import Line2D

    if not rows:
        raise ValueError("pareto_chart: no rows")
    models = list(dict.fromkeys(r["model"] for r in rows))
    runtimes = list(dict.fromkeys(r["runtime"] for r in rows))
    markers = "osD^v<>pPX*h"
    cmap = matplotlib.colormaps["tab10"]
    fig = _figure(figsize=(9.5, 5.8))
    ax = fig.subplots()
    for r in rows:
        ax.scatter(r["p50_us"], r["test_accuracy"], s=55, zorder=3,
                   color=cmap(models.index(r["model"]) % 10),
                   marker=markers[runtimes.index(r["runtime"]) % len(markers)], edgecolors="black", linewidths=0.5)
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.08)  # room for the labels beside the outermost points
    ax.autoscale_view()
    _place_labels(ax, [(r["p50_us"], r["test_accuracy"], f"{r['model']} {r['runtime']}", bool(r.get("on_front")))
                       for r in rows])
    on = sorted((r for r in rows if r.get("on_front")), key=lambda r: (r["p50_us"], -r["test_accuracy"]))
    if on:
        xs = [r["p50_us"] for r in on]
        ys = [r["test_accuracy"] for r in on]
        ax.step(xs, ys, where="post", color="#C62828", lw=1.2, zorder=2)
        ax.scatter(xs, ys, s=160, facecolors="none", edgecolors="#C62828", linewidths=1.5, zorder=4)
    handles = [Line2D([], [], ls="", marker="o", color=cmap(i % 10), label=m) for i, m in enumerate(models)]
    handles += [Line2D([], [], ls="", marker=markers[i % len(markers)], color="gray", label=rt)
                for i, rt in enumerate(runtimes)]
    handles.append(Line2D([], [], color="#C62828", marker="o", mfc="none", label="Pareto front (p50)"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xlabel("one-image latency p50 (microseconds, log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return fig


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


# -- the results index's charts (signbench.review.index) -------------------------------------------
def _value_label(v: float) -> str:
    return f"{v:.3g}"


def latency_chart(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str, unit: str = "ms") -> Path:
    """Latency per runtime, one panel per model (in the order first seen), fastest runtime on top: a bar
    to the p50 and a tick at the p99 (when given). ``rows``: model, runtime, p50, optional p99 (log x)."""
    return _save(latency_figure(rows, title=title, unit=unit), path)


def latency_figure(rows: Sequence[Mapping[str, Any]], *, title: str, unit: str = "ms"):
    """The figure :func:`latency_chart` saves."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    if not models:
        raise ValueError("latency_chart: no rows")
    per = {m: sorted((r for r in rows if r["model"] == m), key=lambda r: r["p50"]) for m in models}
    heights = [max(len(v), 1) for v in per.values()]
    fig = _figure(figsize=(8.0, 0.9 + 0.28 * sum(heights) + 0.45 * len(models)))
    axes = fig.subplots(len(models), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, m in zip(axes, models, strict=True):
        rs = per[m]
        y = np.arange(len(rs))[::-1]
        ax.barh(y, [r["p50"] for r in rs], color=["#55A868"] + ["#4C72B0"] * (len(rs) - 1), height=0.7)
        p99 = [(yy, r["p99"]) for yy, r in zip(y, rs, strict=True) if r.get("p99") is not None]
        if p99:
            ax.plot([v for _, v in p99], [yy for yy, _ in p99], ls="", marker="|", ms=10, color="black",
                    label="p99")
        for yy, r in zip(y, rs, strict=True):  # the label right of the bar and of the p99 tick
            ax.text(max(r["p50"], r.get("p99") or 0), yy, "  " + _value_label(r["p50"]), va="center", fontsize=7)
        ax.set_yticks(y, [r["runtime"] for r in rs], fontsize=8)
        ax.set_ylabel(m, rotation=0, ha="right", va="center", fontweight="bold")
        ax.set_xscale("log")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    axes[-1].set_xlabel(f"p50 latency ({unit}, log scale; bar = p50, tick = p99; fastest on top)")
    axes[0].set_title(title)
    fig.tight_layout()
    return fig


def bar_chart(
    items: Sequence[tuple[str, float]], path: Path, *, title: str, xlabel: str, ref: float | None = None,
    log: bool = False,
) -> Path:
    """Horizontal bars in the given order (first on top), each labelled with its value; ``ref`` draws a
    reference line (bars beyond it green, short of it red, e.g. speed-ups against 1)."""
    if not items:
        raise ValueError("bar_chart: no items")
    fig = _figure(figsize=(8.0, 1.0 + 0.3 * len(items)))
    ax = fig.subplots()
    y = np.arange(len(items))[::-1]
    values = [float(v) for _, v in items]
    colors = ["#4C72B0" if ref is None else ("#55A868" if v >= ref else "#C44E52") for v in values]
    ax.barh(y, values, color=colors, height=0.7)
    for yy, v in zip(y, values, strict=True):
        ax.text(v, yy, " " + _value_label(v), va="center", fontsize=7)
    ax.set_yticks(y, [label for label, _ in items], fontsize=8)
    if ref is not None:
        ax.axvline(ref, color="black", lw=1, ls="--")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def grouped_bar_chart(
    categories: Sequence[str], series: Mapping[str, Sequence[float | None]], path: Path, *, title: str,
    ylabel: str, log: bool = False,
) -> Path:
    """One group of bars per category, one bar per series (``None`` = not measured: no bar, 'n/a')."""
    if not categories or not series:
        raise ValueError("grouped_bar_chart: nothing to draw")
    fig = _figure(figsize=(max(6.0, 1.3 * len(categories) + 2), 4.2))
    ax = fig.subplots()
    width = 0.8 / len(series)
    x = np.arange(len(categories))
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]
    for i, (name, values) in enumerate(series.items()):
        xs = x - 0.4 + width * (i + 0.5)
        for xx, v in zip(xs, values, strict=True):
            if v is None:
                ax.text(xx, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90,
                        transform=ax.get_xaxis_transform())
        drawn = [(xx, v) for xx, v in zip(xs, values, strict=True) if v is not None]
        ax.bar([xx for xx, _ in drawn], [v for _, v in drawn], width=width, label=name, color=colors[i % 5])
        for xx, v in drawn:
            ax.text(xx, v, _value_label(v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, list(categories), fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def verdict_color(verdict: str) -> str:
    """Green for a claim that holds, red for one that does not, grey for anything else."""
    v = str(verdict).lower()
    if any(w in v for w in ("not ", "no ", "fail", "refut", "contradict", "reject", "opposite")):
        return "#C44E52"
    if any(w in v for w in ("hold", "support", "confirm", "pass", "reproduc")):
        return "#55A868"
    return "#8C8C8C"


def forest_chart(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path:
    """A forest plot: each claim's mean effect with its interval (``label``, ``mean``, ``low``, ``high``,
    optional ``min_effect`` drawn as a tick, ``verdict`` colouring the row), first row on top."""
    if not rows:
        raise ValueError("forest_chart: no rows")
    fig = _figure(figsize=(8.5, 1.0 + 0.38 * len(rows)))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yy, r in zip(y, rows, strict=True):
        c = verdict_color(r.get("verdict", ""))
        if r.get("mean") is None:
            ax.text(0, yy, "  not measured", va="center", fontsize=7, color=c)
            continue
        lo = r.get("low") if r.get("low") is not None else r["mean"]
        hi = r.get("high") if r.get("high") is not None else r["mean"]
        ax.plot([lo, hi], [yy, yy], color=c, lw=2)
        ax.plot([r["mean"]], [yy], marker="o", color=c)
        if r.get("min_effect") is not None:
            ax.plot([r["min_effect"]], [yy], marker="|", ms=12, color="black")
        ax.text(hi, yy, f"  {r.get('verdict', '')}", va="center", fontsize=7, color=c)
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(y, [str(r["label"]) for r in rows], fontsize=8)
    ax.set_xlabel("effect (dot: mean over seeds; line: interval; tick: minimum effect of the claim)")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def overfitting_chart(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> Path:
    """Train against validation accuracy per model, left to right in the given order, the gap shaded
    and labelled; the course's printed numbers as hollow markers where given. ``rows``: label, train,
    val (None = not measured yet), optional course_train, course_val."""
    return _save(overfitting_figure(rows, title=title), path)


def overfitting_figure(rows: Sequence[Mapping[str, Any]], *, title: str):
    """The figure :func:`overfitting_chart` saves."""
    if not rows:
        raise ValueError("overfitting_chart: no rows")
    fig = _figure(figsize=(8.0, 4.5))
    ax = fig.subplots()
    x = np.arange(len(rows))
    measured = [(i, r) for i, r in enumerate(rows) if r.get("train") is not None and r.get("val") is not None]
    if measured:
        xs = np.array([i for i, _ in measured], dtype=float)
        tr = np.array([float(r["train"]) for _, r in measured])
        va = np.array([float(r["val"]) for _, r in measured])
        ax.fill_between(xs, va, tr, color="#C44E52", alpha=0.15, label="train - validation gap")
        ax.plot(xs, tr, marker="o", color="#4C72B0", label="train accuracy")
        ax.plot(xs, va, marker="o", color="#DD8452", label="validation accuracy")
        for xx, t, v in zip(xs, tr, va, strict=True):
            ax.annotate(f"gap {t - v:.3f}", (xx, (t + v) / 2), ha="center", va="center", fontsize=8)
    for key, color, name in (("course_train", "#4C72B0", "course's train"), ("course_val", "#DD8452", "course's val")):
        pts = [(i, float(r[key])) for i, r in enumerate(rows) if r.get(key) is not None]
        if pts:
            ax.plot([p for p, _ in pts], [v for _, v in pts], ls="", marker="s", mfc="none", color=color,
                    label=f"{name} (printed)")
    labels = [str(r["label"]) + ("" if r.get("train") is not None else "\n(not measured yet)") for r in rows]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def history_chart(series: Mapping[str, Sequence[tuple[str, float]]], path: Path, *, title: str) -> Path:
    """One line per benchmark: its median per run relative to its first run, so every line starts at 1
    (x: the runs, labelled so that their labels sort in time order, e.g. "2026-11-27T16:46 d4d26cb")."""
    if not series:
        raise ValueError("history_chart: no series")
    labels = sorted({x for pts in series.values() for x, _ in pts})
    series = {name: sorted(pts) for name, pts in series.items()}
    # the legend sits to the right, one line per benchmark, in columns of 30 (tight_layout could not fit it
    # once the history held a few dozen benchmarks, and warned; the tight bounding box at saving does)
    ncol = 1 + (len(series) - 1) // 30
    fig = _figure(figsize=(max(6.0, 0.6 * len(labels) + 3), 4.2))
    ax = fig.subplots()
    for name, pts in series.items():
        first = pts[0][1]
        ax.plot([labels.index(x) for x, _ in pts], [v / first for _, v in pts], marker="o", label=name)
    ax.axhline(1.0, color="black", lw=1, ls="--")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("median round time / first run's (lower is faster)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=ncol)
    return _save(fig, path)  # saved with bbox_inches="tight": the legend and labels are inside the image
