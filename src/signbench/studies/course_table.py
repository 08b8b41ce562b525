"""The course's three models at full length on the real data, next to the course's published numbers.

Protocol (the course's): train on the full training CSV; validation = a seeded, stratified 20% of
the official test CSV; test = the full test CSV (so validation rows are also in test, as in the
course); 20 epochs, batch 128, Adam 1e-3. Every model also trains with a best-only
``ModelCheckpoint(monitor="val_accuracy")``; the best checkpoint is reloaded and evaluated on the
test CSV (the course printed 0.8826 for that). Writes ``course_reproduction.csv`` and ``.md``
(``signbench course``; ``--epochs 1 --train-limit 480 --out /tmp/x`` is a smoke run).

Each row carries run metadata (seed, git commit, versions, backend, device, threads) and the
1-minute load average before and after the run, since wall time on a shared machine is not clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from signbench.data.types import LabeledImages
from signbench.seeds import derive

__all__ = ["run_course_table", "write"]

META_KEYS = ("seed", "git_commit", "date", "tensorflow", "keras", "python", "backend", "device", "cpu", "cpu_flags",
             "threads", "onednn")


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def run_course_table(
    train: LabeledImages,
    test: LabeledImages,
    *,
    seed: int = 0,
    epochs: int = 20,
    batch_size: int = 128,
    models=("baseline", "regularized", "cnn"),
    out_dir: str | os.PathLike = "results",
    run_dir: str | os.PathLike = "runs/course",
    stem: str = "course_reproduction",
    command: str = "",
    report=None,
) -> list[dict]:
    """Train each model, write ``{stem}.csv``/``.md`` under ``out_dir`` after every model, return rows.
    ``report`` (a callable taking one line) hears about each finished model."""
    from signbench.data.split import course_validation
    from signbench.models.course import COURSE_PUBLISHED
    from signbench.plots import learning_curves
    from signbench.train.callbacks import best_checkpoint
    from signbench.train.fit import evaluate, fit
    from signbench.train.persist import load_weights

    out_dir, run_dir = Path(out_dir), Path(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    val = test.subset(course_validation(test.labels, seed=derive(seed, "val_split")))
    rows = []
    for name in models:
        ckpt = run_dir / f"{name}_best.weights.h5"
        load_before = os.getloadavg()[0]
        r = fit(
            name, train, seed=seed, epochs=epochs, batch_size=batch_size, validation=val, test=test,
            callbacks=[best_checkpoint(ckpt)],
        )
        load_after = os.getloadavg()[0]
        best = load_weights(r.model, ckpt)  # final-epoch metrics are already in r; now the best epoch
        best_test = evaluate(best, test)[1]
        r.to_json(run_dir / f"{name}.json")
        learning_curves(r, run_dir / f"{name}_curves.png")
        c = COURSE_PUBLISHED.get(name, {})
        row = {
            "model": name,
            "epochs": r.epochs,
            "epochs_run": r.epochs_run,
            "batch_size": batch_size,
            "num_train": r.num_train,
            "num_val": len(val),
            "num_test": len(test),
            "train_accuracy": r.train_accuracy,
            "val_accuracy": r.val_accuracy,
            "test_accuracy": r.test_accuracy,
            "best_val_accuracy": r.best_val_accuracy,
            "best_val_epoch": r.best_val_epoch,
            "best_ckpt_test_accuracy": best_test,
            "gap": r.gap,
            "course_train": c.get("train"),
            "course_val": c.get("val"),
            "course_test": c.get("test"),
            "course_best_ckpt_test": COURSE_PUBLISHED[f"{name} (best checkpoint)"]["test"]
            if f"{name} (best checkpoint)" in COURSE_PUBLISHED else None,
            "wall_time_s": r.wall_time_s,
            "samples_per_s": r.samples_per_s,
            "load_avg_before": load_before,
            "load_avg_after": load_after,
            **{k: r.metadata.get(k) for k in META_KEYS},
        }
        rows.append(row)
        if report is not None:
            report(
                f"{name}: train {r.train_accuracy:.4f} val {r.val_accuracy:.4f} test {r.test_accuracy:.4f} "
                f"best-ckpt test {best_test:.4f} ({r.wall_time_s:.0f} s, load {load_before:.1f}->{load_after:.1f})"
            )
        write(rows, out_dir, stem, command=command)
    return rows


def write(rows: list[dict], out_dir: Path, stem: str = "course_reproduction", *, command: str = "") -> list[Path]:
    """``{stem}.csv`` (every column) and ``{stem}.md`` (ours next to the course's numbers) in ``out_dir``."""
    from signbench.results import write_table

    def both(v, c):
        return _fmt(v) + (f" ({_fmt(c)})" if c is not None else "")

    first = rows[0]
    shown = ["model", "train acc", "val acc", "test acc", "best-ckpt test acc (epoch)", "train-val gap", "epochs",
             "wall s", "samples/s", "load avg", "seed", "commit", "TF / Keras", "backend", "device", "CPU flags",
             "threads"]
    cells = [[
        r["model"], both(r["train_accuracy"], r["course_train"]), both(r["val_accuracy"], r["course_val"]),
        both(r["test_accuracy"], r["course_test"]),
        f"{both(r['best_ckpt_test_accuracy'], r['course_best_ckpt_test'])}, epoch {r['best_val_epoch']}",
        _fmt(r["gap"]), f"{r['epochs_run']}/{r['epochs']}", f"{r['wall_time_s']:.0f}", f"{r['samples_per_s']:.0f}",
        f"{r['load_avg_before']:.1f} -> {r['load_avg_after']:.1f}", r["seed"], r["git_commit"],
        f"{r['tensorflow']} / {r['keras']}", r["backend"], r["device"], r["cpu_flags"], r["threads"],
    ] for r in rows]
    notes = [
        f"Protocol: {first['num_train']} training images; validation = seeded stratified 20% of the test "
        f"CSV ({first['num_val']}); test = full test CSV ({first['num_test']}); "
        f"{first['epochs']} epochs, batch {first['batch_size']}. Course numbers in parentheses.",
        "Wall time is on a shared machine: see the load averages (1-min, before -> after the run).",
    ]
    return write_table(out_dir, stem, rows, shown=shown, md_rows=cells, notes=notes, command=command,
                       title="Course reproduction: three models, full real data",
                       csv_fmt=lambda v: _fmt(v, 6) if isinstance(v, float) else v)
