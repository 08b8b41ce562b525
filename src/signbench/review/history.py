"""``results/history.csv``: one row per benchmark per run, appended by every benchmark run that writes to a
results folder (pytest ``--benchmark-enable --results-dir DIR``; smoke runs write nothing).

A row is the run's metadata (commit, date, device, CPU flags, backend, versions, threads), whether the
benchmark ran on the real data or on synthetic data, the run's raw file name, what was timed (model,
runtime, batch size, metric) and the median of its raw rounds with their count. Every run also keeps its
raw JSON under ``DIR/raw/``, so :func:`rebuild` writes the same file again from ``DIR/raw/*.json`` alone
(``signbench results --rebuild-history``), for example after two runs raced to append.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from signbench.atomic import atomic_write
from signbench.results import TIME_UNITS, csv_text, run_cpu_flags

__all__ = [
    "HISTORY_COLUMNS", "append", "bench_key", "data_kind", "history_rows", "read", "rebuild",
]

HISTORY_COLUMNS = [
    "date", "git_commit", "device", "cpu_flags", "backend", "tensorflow", "keras", "litert", "threads", "data",
    "run", "benchmark", "model", "runtime", "batch_size", "metric", "median", "unit", "rounds",
]


def data_kind(bench: dict) -> str:
    """"real" or "synthetic": what the benchmark's rounds ran on (``extra_info["data"]``, which the
    benchmark plugin sets for every benchmark; earlier runs had every benchmark on the real CSVs)."""
    return str((bench.get("extra_info") or {}).get("data") or "real")


def bench_key(bench: dict) -> tuple[str, str, str, str]:
    """What a benchmark timed, the same across runs: (model, runtime, batch size, metric), or its name."""
    info = bench.get("extra_info") or {}
    if not info.get("model") and not info.get("runtime"):
        return (str(bench.get("name", "")), "", "", str(info.get("metric", "time")))
    batch = info.get("batch_size")
    return (str(info.get("model", "")), str(info.get("runtime", "")), "" if batch is None else str(batch),
            str(info.get("metric", "time")))


def history_rows(output_json: dict, run: str) -> list[dict]:
    """One history row per benchmark of a run's JSON with raw rounds (``run``: its raw file name)."""
    meta = output_json.get("signbench", {}).get("meta", {})
    base = {k: meta.get(k, "") for k in ("date", "git_commit", "device", "backend", "tensorflow", "keras",
                                           "litert", "threads")}
    base["cpu_flags"] = run_cpu_flags(output_json)
    rows = []
    for bench in output_json.get("benchmarks", []):
        data = (bench.get("stats") or {}).get("data") or []
        if not data:
            continue
        info = bench.get("extra_info") or {}
        unit = info.get("unit", "s") if info.get("unit", "s") in TIME_UNITS else "s"
        model, runtime, batch, metric = bench_key(bench)
        rows.append({
            **base, "threads": info.get("threads", base["threads"]), "data": data_kind(bench), "run": run,
            "benchmark": bench.get("name", ""), "model": model, "runtime": runtime, "batch_size": batch,
            "metric": metric, "median": float(np.median(np.asarray(data, dtype=np.float64))) / TIME_UNITS[unit],
            "unit": unit, "rounds": len(data),
        })
    return rows


def _text(rows: Sequence[dict]) -> str:
    return csv_text(rows, HISTORY_COLUMNS, fmt=lambda v: repr(v) if isinstance(v, float) else v)


def append(path: str | os.PathLike, rows: Sequence[dict]) -> Path:
    """Add ``rows`` at the end of the history file (created with its header), written atomically."""
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    new = _text(rows)
    return atomic_write(path, (old + new.split("\n", 1)[1]) if old else new)


def read(path: str | os.PathLike) -> list[dict]:
    """The history's rows (an empty list when there is no file)."""
    path = Path(path)
    if not path.is_file():
        return []
    return list(csv.DictReader(io.StringIO(path.read_text())))


def rebuild(results_dir: str | os.PathLike) -> Path:
    """Write ``results_dir/history.csv`` again from every raw run under ``results_dir/raw`` (in run order)."""
    d = Path(results_dir)
    rows = []
    for raw in sorted((d / "raw").glob("*.json")):
        output_json = json.loads(raw.read_text())
        if isinstance(output_json, dict) and "signbench" in output_json:
            rows += history_rows(output_json, raw.stem)
    return atomic_write(d / "history.csv", _text(rows))
