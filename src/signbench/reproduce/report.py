"""The reproduction report: ``report.md`` and ``report.html`` (images embedded as base64).

Everything here works from plain data (dicts, lists, numpy arrays), so it is tested without training.
A report is a list of blocks (heading, paragraph, table, image); :func:`to_markdown` and
:func:`to_html` render the same blocks. The chart helpers draw with matplotlib's Agg backend.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COURSE",
    "Heading",
    "Paragraph",
    "Table",
    "Image",
    "to_markdown",
    "to_html",
    "results_table",
    "class_balance_chart",
    "confusion_chart",
    "misclassified_grid",
    "accuracy_latency_chart",
    "confusion_figure",
]

#: The course's published numbers (accuracy). None where the course printed nothing.
COURSE: dict[str, dict[str, float | None]] = {
    "baseline": {"train": 0.9999, "val": 0.7572, "test": 0.7616},
    "regularized": {"train": 0.9251, "val": 0.7937, "test": None},
    "cnn": {"train": 0.9972, "val": 0.8575, "test": None},
    "cnn (best checkpoint)": {"train": None, "val": None, "test": 0.8826},
}


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Image:
    title: str
    path: Path  # relative to the report's folder in markdown; read and embedded in HTML


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.1e}"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def to_markdown(blocks: Sequence[Any], *, base: Path | None = None) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                out.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
        elif isinstance(b, Image):
            rel = b.path.relative_to(base) if base is not None and b.path.is_absolute() else b.path
            out.append(f"![{b.title}]({rel.as_posix()})")
        else:
            raise TypeError(f"unknown report block {b!r}")
        out.append("")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
code{background:#f5f5f5;padding:0 3px}figure{margin:1em 0}figcaption{color:#555;font-size:90%}"""


def _inline(text: str) -> str:
    """Escape, then render `code` spans (the only inline markdown the report uses)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: Sequence[Any], *, base: Path, title: str = "signbench report") -> str:
    """Self-contained HTML: every image is read from ``base / path`` and embedded as base64."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in b.headers))
            out.append("</tr></thead><tbody>")
            for row in b.rows:
                out.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode((base / b.path).read_bytes()).decode("ascii")
            out.append(
                f'<figure><img alt="{html.escape(b.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(b.title)}</figcaption></figure>"
            )
        else:
            raise TypeError(f"unknown report block {b!r}")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- tables --------------------------------------------------------------------------------------
RESULTS_HEADERS = (
    "model", "train acc", "val acc", "test acc",
    "course train", "course val", "course test", "epochs", "train time (s)",
)


def results_table(models: Sequence[Mapping[str, Any]]) -> Table:
    """One row per trained model next to the course's published numbers (by ``name``)."""
    rows = []
    for m in models:
        course = COURSE.get(m["name"], {})
        rows.append(
            [
                m["name"],
                m.get("train_accuracy"),
                m.get("val_accuracy"),
                m.get("test_accuracy"),
                course.get("train"),
                course.get("val"),
                course.get("test"),
                m.get("epochs"),
                None if m.get("seconds") is None else f"{m['seconds']:.1f}",
            ]
        )
    return Table(RESULTS_HEADERS, rows)


# -- charts --------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return path


def class_balance_chart(counts: Mapping[str, int], path: Path, *, title: str = "Class balance") -> Path:
    plt = _plt()
    names = list(counts)
    values = [int(counts[k]) for k in names]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(names)), 3.6))
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
    """The confusion matrix figure, class names (letters) on both axes, rows = true class."""
    from sklearn.metrics import confusion_matrix

    plt = _plt()
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    size = max(5.0, 0.36 * k + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
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
    """The first ``max_images`` wrong predictions, each titled "true -> predicted"."""
    plt = _plt()
    wrong = _diverse(np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred)), np.asarray(y_true))[:max_images]
    n = max(len(wrong), 1)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.5 * rows + 0.4), squeeze=False)
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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    models = sorted({r["model"] for r in rows})
    runtimes = sorted({r["runtime"] for r in rows})
    markers = "osD^v<>pPX*h"
    cmap = plt.get_cmap("tab10")
    for r in rows:
        if r.get("latency_ms") is None or r.get("accuracy") is None:
            continue
        ax.scatter(
            r["latency_ms"], r["accuracy"], s=60,
            color=cmap(models.index(r["model"]) % 10),
            marker=markers[runtimes.index(r["runtime"]) % len(markers)],
            edgecolors="black", linewidths=0.5,
        )
    from matplotlib.lines import Line2D

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
