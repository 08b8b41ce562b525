"""Result rows, raw pytest-benchmark JSON, human tables, and the regression ``compare`` command.

One row per measurement: date, git commit, device, backend, TF/Keras/LiteRT versions, threads,
batch size, model, runtime, metric, value, unit, seed (plus rounds and a note, e.g. why a row was
skipped). Every file is written atomically (a temporary file in the same folder, then ``os.replace``
or ``os.link``), so a killed run leaves no half-written file; raw files get unique names and are
never replaced, so two runs cannot overwrite each other's raw data.

Benchmark convention (bench/conftest.py turns the JSON into rows): ``extra_info`` keys ``model``,
``runtime``, ``batch_size``, ``metric`` (what one round's time means, e.g. "latency") and ``unit``
(the time unit to report it in: "s", "ms", "us" or "ns"); optional ``items_per_round`` (adds a
``throughput`` row, items/s), ``threads`` and ``seed``; derived numbers in
``extra_info["metrics"] = {name: [value, unit]}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import uuid
from pathlib import Path

import numpy as np

from signbench.atomic import atomic_write

__all__ = [
    "COLUMNS",
    "atomic_write",
    "compare",
    "load_rows",
    "rows_from_benchmark_json",
    "write_raw",
    "write_tables",
]

COLUMNS = [
    "date", "git_commit", "device", "backend", "tensorflow", "keras", "litert", "threads",
    "batch_size", "model", "runtime", "metric", "value", "unit", "seed", "rounds", "note",
]
_META = ["date", "git_commit", "device", "backend", "tensorflow", "keras", "litert", "threads", "seed"]
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
PERCENTILES = (50, 90, 99)
#: p90 / p99 rows only for benchmarks with at least this many rounds (else p50 alone).
MIN_ROUNDS_FOR_TAILS = 20


def run_id(meta: dict) -> str:
    """A unique, sortable name for one run: UTC time, commit, host, pid and a random suffix."""
    stamp = str(meta.get("date", "")).replace(":", "").replace("-", "").replace("+0000", "Z")[:15]
    commit = str(meta.get("git_commit", "unknown")).replace("+", "-")
    host = socket.gethostname().split(".")[0] or "host"
    return f"{stamp}_{commit}_{host}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def write_raw(output_json: dict, raw_dir: str | os.PathLike) -> Path:
    """Store one run's pytest-benchmark JSON under ``raw_dir`` with a unique, never-reused name."""
    meta = output_json.get("signbench", {}).get("meta", {})
    path = Path(raw_dir) / f"{run_id(meta)}.json"
    return atomic_write(path, json.dumps(output_json, indent=1, default=str), overwrite=False)


def _percentile(data: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(data, dtype=np.float64), q))


def rows_from_benchmark_json(output_json: dict) -> list[dict]:
    """Turn one run's JSON (pytest-benchmark's, plus our ``signbench`` block) into result rows."""
    block = output_json.get("signbench", {})
    meta = block.get("meta", {})
    rows: list[dict] = []

    def row(info: dict, metric: str, value, unit: str, rounds=None, note: str = "") -> dict:
        r = {k: meta.get(k, "") for k in _META}
        r.update(
            model=info.get("model", ""),
            runtime=info.get("runtime", ""),
            batch_size=info.get("batch_size", ""),
            metric=metric,
            value=value,
            unit=unit,
            rounds=rounds if rounds is not None else "",
            note=note,
        )
        for key in ("threads", "seed"):
            if info.get(key) is not None:
                r[key] = info[key]
        return r

    for bench in output_json.get("benchmarks", []):
        info = dict(bench.get("extra_info") or {})
        stats = bench.get("stats") or {}
        data = stats.get("data") or []
        metric = info.get("metric", "time")
        unit = info.get("unit", "s")
        scale = TIME_UNITS.get(unit)
        if scale is None:  # not a time unit: report seconds, say what one round was
            scale, unit = 1.0, "s"
        rounds = stats.get("rounds", len(data))
        if len(data) >= MIN_ROUNDS_FOR_TAILS:
            for q in PERCENTILES:
                rows.append(row(info, f"{metric} p{q}", _percentile(data, q) / scale, unit, rounds))
            median = _percentile(data, 50)
        elif data or stats:  # too few rounds for p90/p99 to mean anything: the median only
            median = _percentile(data, 50) if data else stats["median"]
            rows.append(row(info, f"{metric} p50", median / scale, unit, rounds))
        else:
            continue
        items = info.get("items_per_round")
        if items:
            rows.append(row(info, "throughput", float(items) / median, f"{info.get('items', 'items')}/s", rounds))
        for name, (value, vunit) in (info.get("metrics") or {}).items():
            rows.append(row(info, name, value, vunit, rounds))
    for skip in block.get("skipped", []):
        rows.append(row(skip, skip.get("metric", "skipped"), "", "", None, f"skipped: {skip.get('reason', '')}"))
    return rows


def _fmt(value) -> str:
    if value == "" or value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.4e}"
    return str(value)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def to_markdown(rows: list[dict], *, title: str, command: str = "") -> str:
    """A Markdown table: the run's shared metadata once on top, then one line per measurement."""
    lines = [f"# {title}", ""]
    if command:
        lines += [f"Produced by: `{command}`", ""]
    if rows:
        first = rows[0]
        lines += [f"- {k}: {first.get(k, '')}" for k in _META]
        lines.append("")
    cols = ["model", "runtime", "batch_size", "threads", "metric", "value", "unit", "rounds", "note"]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for r in rows:
        # A "|" inside a cell would start a new column: escape it as Markdown tables want.
        lines.append("| " + " | ".join(_fmt(r.get(c, "")).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], results_dir: str | os.PathLike, name: str, *, command: str = "") -> list[Path]:
    """Write ``results_dir/name.csv`` and ``name.md`` atomically (replacing the previous tables)."""
    d = Path(results_dir)
    return [
        atomic_write(d / f"{name}.csv", to_csv(rows)),
        atomic_write(d / f"{name}.md", to_markdown(rows, title=f"signbench results: {name}", command=command)),
    ]


def load_rows(path: str | os.PathLike) -> list[dict]:
    """Rows from a raw run JSON or a results CSV."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such results file: {path}")
    if path.suffix == ".json":
        try:
            return rows_from_benchmark_json(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            from signbench.data.types import DataError

            raise DataError(f"not valid JSON ({exc})", path=str(path)) from None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def direction(metric: str, unit: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when unknown (never flagged)."""
    m, u = metric.lower(), unit.lower()
    if u in TIME_UNITS or any(w in m for w in ("latency", "time", "overhead", "ratio")):
        return -1
    if u.endswith("/s") or any(w in m for w in ("throughput", "mfu", "accuracy", "samples_per_s", "gflop")):
        return +1
    return 0


def _key(r: dict) -> tuple:
    return (str(r.get("model", "")), str(r.get("runtime", "")), str(r.get("batch_size", "")), str(r.get("metric", "")))


def compare(old_rows: list[dict], new_rows: list[dict], *, threshold: float = 0.10) -> list[dict]:
    """Match rows by (model, runtime, batch size, metric); flag changes worse than ``threshold``."""
    old = {_key(r): r for r in old_rows}
    out = []
    for r in new_rows:
        o = old.get(_key(r))
        if o is None:
            continue
        try:
            a, b = float(o["value"]), float(r["value"])
        except (TypeError, ValueError):
            continue
        if a == 0 or math.isnan(a) or math.isnan(b):
            continue
        change = b / a - 1.0
        sign = direction(str(r.get("metric", "")), str(r.get("unit", "")))
        worse = -sign * change  # > 0 when the new value is worse
        out.append(
            {
                "model": r.get("model", ""), "runtime": r.get("runtime", ""),
                "batch_size": r.get("batch_size", ""), "metric": r.get("metric", ""),
                "unit": r.get("unit", ""), "old": a, "new": b, "change": change,
                "regression": bool(sign != 0 and worse > threshold),
            }
        )
    return out


# --- the `signbench compare` command --------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("old", help="baseline run: raw JSON under results/raw/ or a results CSV")
    parser.add_argument("new", help="candidate run, same formats")
    parser.add_argument(
        "--threshold", type=float, default=0.10,
        help="flag a metric that got worse by more than this fraction (default 0.10 = 10%%)",
    )
    parser.add_argument("--all", action="store_true", help="print every matched row, not only regressions")


def run(args) -> int:
    from signbench.cli import UserError

    if args.threshold < 0:
        raise UserError(f"--threshold must be >= 0, got {args.threshold}")
    table = compare(load_rows(args.old), load_rows(args.new), threshold=args.threshold)
    if not table:
        raise UserError(f"no measurements in common between {args.old} and {args.new}")
    flagged = [t for t in table if t["regression"]]
    for t in table if args.all else flagged:
        mark = "REGRESSION" if t["regression"] else "ok"
        print(
            f"{mark:10s} {t['model']}/{t['runtime']}/batch {t['batch_size']} {t['metric']}: "
            f"{_fmt(t['old'])} -> {_fmt(t['new'])} {t['unit']} ({t['change']:+.1%})"
        )
    print(f"{len(flagged)} regression(s) beyond {args.threshold:.0%} among {len(table)} matched measurements")
    return 1 if flagged else 0
