"""Learning curves (train vs validation accuracy and loss per epoch) as PNG, with matplotlib's Agg."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["learning_curves"]


def learning_curves(history, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Plot accuracy and loss per epoch from a Keras-style history dict or a ``RunResult``.

    Validation curves are drawn when the history has ``val_*`` keys. Returns the PNG path.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    if hasattr(history, "history") and isinstance(history.history, dict):
        title = title or getattr(history, "model_name", None)
        history = history.history
    missing = {"accuracy", "loss"} - set(history)
    if missing:
        raise KeyError(f"history lacks {sorted(missing)}; has {sorted(history)}")
    epochs = range(1, len(history["loss"]) + 1)
    fig = Figure(figsize=(10, 4))
    for ax, metric in zip(fig.subplots(1, 2), ("accuracy", "loss"), strict=True):
        ax.plot(epochs, history[metric], marker="o", label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label=f"val {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png", dpi=100)
    return p
