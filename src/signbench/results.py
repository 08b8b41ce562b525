"""Result rows, raw pytest-benchmark JSON and THE table writer (CSV + Markdown). (Two runs are compared on
their raw rounds by :mod:`signbench.review.regress`.)

:func:`write_table` writes every table of the project (``results/*.csv|md``, the reproduction's
``results.csv``): a CSV with every column and a Markdown page with a title, notes and the columns a
reader needs, both atomically. :func:`markdown_table` is the one Markdown table renderer.

One row per measurement: date, git commit, device, CPU flags (:data:`signbench.meta.CPU_FLAGS`), backend, data ("real" Sign Language MNIST or
"synthetic" images of its shapes), TF/Keras/LiteRT versions, threads, batch size, model, runtime,
metric, value, unit, seed (plus rounds and a note, e.g. why a row was skipped). Rows on synthetic data
are never compared with rows on the real data (:func:`compare` matches the data too). Runs stored
before the ``data`` column existed ran on the real data only (every benchmark then needed the real
CSVs), so a missing value reads as "real" (:func:`data_of`). Every file is written atomically (a temporary file in the same folder, then ``os.replace``
or ``os.link``), so a killed run leaves no half-written file; raw files get unique names and are
never replaced, so two runs cannot overwrite each other's raw data.

Benchmark convention (the plugin signbench.testing.bench turns the JSON into rows): ``extra_info`` keys ``model``,
``runtime``, ``batch_size``, ``metric`` (what one round's time means, e.g. "latency") and ``unit``
(the time unit to report it in: "s", "ms", "us" or "ns"); optional ``items_per_round`` (adds a
``throughput`` row, items/s), ``threads`` and ``seed``; derived numbers in
``extra_info["metrics"] = {name: [value, unit]}``; a benchmark that reports MFU gives its achieved FLOP/s
instead, ``extra_info["achieved_flops"] = {mfu_name: flop_per_s}``, and the MFU rows are made here from the
run's one pair of peaks (the raw JSON's ``signbench.peaks``, :func:`_mfu_rows`).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import socket
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signbench.atomic import atomic_write
from signbench.errors import DataError
from signbench.meta import CPU_FLAGS

__all__ = [
    "COLUMNS",
    "csv_text",
    "data_of",
    "load_raw_run",
    "load_rows",
    "markdown_table",
    "rows_from_benchmark_json",
    "run_cpu_flags",
    "summary_lines",
    "write_raw",
    "write_table",
    "write_tables",
]

COLUMNS = [
    "date", "git_commit", "device", "cpu_flags", "backend", "data", "tensorflow", "keras", "litert", "threads",
    "batch_size", "model", "runtime", "metric", "value", "unit", "seed", "rounds", "note",
]
_META = ["date", "git_commit", "device", "cpu_flags", "backend", "data", "tensorflow", "keras", "litert", "threads", "seed"]
#: The data a row was measured on (the ``data`` column).
DATA_KINDS = ("real", "synthetic")
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


def data_of(row: dict) -> str:
    """The ``data`` of a row (or of a run's metadata): "real" or "synthetic"; missing (a row stored
    before the column existed, when every benchmark needed the real CSVs) reads as "real"."""
    return str(row.get("data") or "real")


def _percentile(data: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(data, dtype=np.float64), q))


#: What a table with MFU rows says under its metadata.
MFU_NOTE = (
    "MFU: every `*mfu` row is its benchmark's achieved FLOP/s (the `*mfu_achieved` row: training FLOPs per "
    "sample x samples/s) over this run's one `matmul_peak` (the best of the float32 matmul samples taken over "
    "the run; its row gives their spread), and every `*mfu_physical` row the same over `physical_peak` (the "
    "CPU's limit from its flags and clock; its row gives the inputs and the assumptions)."
)


def _mfu_rows(row, achieved: dict, peaks: dict | None) -> list[dict]:
    """The rows of one benchmark's ``achieved_flops`` (``{mfu_name: FLOP/s}``): per name the achieved
    GFLOP/s (``NAME_achieved``), NAME = achieved / the run's matmul peak and NAME_physical = achieved / the
    physical limit, each row's note saying which peak it divides by. ``peaks``: the raw JSON's
    ``signbench.peaks`` (``{"matmul": {"peak": FLOP/s, ...}, "physical": {"flops": FLOP/s or None, ...}}``);
    a missing peak gives an empty value saying so. ``row(metric, value, unit, note=...)`` makes a row."""
    peaks = peaks or {}
    matmul = (peaks.get("matmul") or {}).get("peak")
    physical = (peaks.get("physical") or {}).get("flops")
    out = []
    for name, flops in achieved.items():
        flops = float(flops)
        out.append(row(f"{name}_achieved", flops / 1e9, "GFLOP/s", note=f"achieved; {name} = this / a peak"))
        for metric, peak, what in ((name, matmul, "matmul_peak"), (f"{name}_physical", physical, "physical_peak")):
            if peak:
                out.append(row(metric, flops / peak, "fraction", note=f"achieved / {what} ({peak / 1e9:.4g} GFLOP/s)"))
            else:
                out.append(row(metric, "", "fraction", note=f"no {what} in this run"))
    return out


def _peak_rows(row, peaks: dict | None) -> list[dict]:
    """The run's ``matmul_peak`` and ``physical_peak`` rows (GFLOP/s), their spread and inputs as notes."""
    peaks = peaks or {}
    out = []
    matmul = peaks.get("matmul")
    if matmul:
        n = matmul.get("n", "")
        out.append(row("matmul_peak", matmul["peak"] / 1e9, "GFLOP/s", note=(
            f"max of {matmul['count']} float32 {n}x{n} matmul samples over the run: min {matmul['min'] / 1e9:.4g}, "
            f"median {matmul['median'] / 1e9:.4g}, max {matmul['max'] / 1e9:.4g} GFLOP/s")))
    physical = peaks.get("physical")
    if physical:
        flops = physical.get("flops")
        out.append(row("physical_peak", flops / 1e9 if flops else "", "GFLOP/s", note=physical.get("note", "")))
    return out


def run_cpu_flags(output_json: dict) -> str:
    """The run's :data:`signbench.meta.CPU_FLAGS`: from its metadata, else from pytest-benchmark's
    ``machine_info`` (py-cpuinfo's flag list; runs recorded before the metadata had them)."""
    meta = output_json.get("signbench", {}).get("meta", {})
    if meta.get("cpu_flags") is not None:
        return str(meta["cpu_flags"])
    flags = set((output_json.get("machine_info", {}).get("cpu", {}) or {}).get("flags", []) or [])
    return " ".join(f for f in CPU_FLAGS if f in flags)


def rows_from_benchmark_json(output_json: dict) -> list[dict]:
    """Turn one run's JSON (pytest-benchmark's, plus our ``signbench`` block) into result rows."""
    block = output_json.get("signbench", {})
    meta = {**block.get("meta", {}), "cpu_flags": run_cpu_flags(output_json)}
    rows: list[dict] = []
    with_mfu = False

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
        r["data"] = data_of(info) if info.get("data") else data_of(meta)
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
        if info.get("achieved_flops"):
            rows += _mfu_rows(functools.partial(row, info, rounds=rounds), info["achieved_flops"], block.get("peaks"))
            with_mfu = True
    if with_mfu:  # once per run: the peaks every MFU row of it divides by
        rows += _peak_rows(functools.partial(row, {}), block.get("peaks"))
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


def csv_text(rows: Sequence[dict], columns: Sequence[str] | None = None, *, fmt=None) -> str:
    """CSV of ``rows`` with ``columns`` (default: every key, in first-seen order); ``fmt`` formats cells."""
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (fmt(r.get(k, "")) if fmt else r.get(k, "")) for k in cols})
    return buf.getvalue()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, fmt=_fmt) -> list[str]:
    """Lines of a Markdown table; a "|" inside a cell is escaped (it would start a new column)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |")
    return lines


def write_table(
    out_dir: str | os.PathLike,
    stem: str,
    rows: Sequence[dict],
    *,
    columns: Sequence[str] | None = None,
    shown: Sequence[str] | None = None,
    md_rows: Sequence[Sequence[Any]] | None = None,
    title: str = "",
    notes: Sequence[str] = (),
    footer: Sequence[str] = (),
    command: str = "",
    csv_fmt=None,
) -> list[Path]:
    """Write ``out_dir/stem.csv`` (``columns`` of ``rows``, default all) and ``out_dir/stem.md`` atomically.

    The Markdown page: ``# title``, the producing ``command``, ``notes`` (lines), a table of the
    ``shown`` columns (default: the CSV's) with cells from ``rows`` or, when given, ``md_rows``
    (pre-formatted cells, one list per row), then ``footer`` lines.
    """
    d = Path(out_dir)
    headers = list(shown) if shown is not None else (list(columns) if columns is not None else
                                                      list(dict.fromkeys(k for r in rows for k in r)))
    cells = md_rows if md_rows is not None else [[r.get(h, "") for h in headers] for r in rows]
    lines = [f"# {title}", ""] if title else []
    if command:
        lines += [f"Produced by: `{command}`", ""]
    if notes:
        lines += [*notes, ""]
    lines += markdown_table(headers, cells)
    if footer:
        lines += ["", *footer]
    return [
        atomic_write(d / f"{stem}.csv", csv_text(rows, columns, fmt=csv_fmt)),
        atomic_write(d / f"{stem}.md", "\n".join(lines) + "\n"),
    ]


#: Columns of a benchmark table's Markdown page (the CSV has all of ``COLUMNS``).
_SHOWN = ["model", "runtime", "batch_size", "threads", "metric", "value", "unit", "rounds", "note"]


#: What a table of synthetic-data rows says under its metadata.
SYNTHETIC_NOTE = (
    "These rows ran on seeded synthetic images of the real data's shapes (28x28x1, 24 classes), the real "
    "Sign Language MNIST being absent: latency and throughput only (accuracy rows are skipped rows), "
    "never compared with rows on the real data."
)


def write_tables(rows: list[dict], results_dir: str | os.PathLike, name: str, *, command: str = "") -> list[Path]:
    """A benchmark run's ``results_dir/name.csv`` and ``name.md`` (the run's metadata once on top; the
    data, real or synthetic, in the title too, and as a column of its own if a run ever mixes them)."""
    first = rows[0] if rows else {}
    kinds = sorted({data_of(r) for r in rows})
    shown = _SHOWN if len(kinds) <= 1 else ["data", *_SHOWN]
    notes = [f"- {k}: {first.get(k, '')}" for k in _META if k != "data"] if rows else []
    if rows:
        notes.append(f"- data: {' and '.join(kinds)}")
    if "synthetic" in kinds:
        notes += ["", SYNTHETIC_NOTE]
    if any(r.get("metric") == "physical_peak" for r in rows):
        notes += ["", MFU_NOTE]
    return write_table(
        results_dir, name, rows, columns=COLUMNS, shown=shown,
        title=f"signbench results: {name}" + (f" ({' and '.join(kinds)} data)" if rows else ""),
        command=command, notes=notes, md_rows=[[r.get(c, "") for c in shown] for r in rows],
    )


def load_raw_run(path: str | os.PathLike) -> dict:
    """A raw run file written by :func:`write_raw` (checked to be one), as its JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such raw run file: {path}")
    try:
        output_json = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc})", path=str(path)) from None
    block = output_json.get("signbench") if isinstance(output_json, dict) else None
    if not isinstance(block, dict) or "meta" not in block:
        raise DataError("not a signbench raw run (no 'signbench' block with run metadata)", path=str(path))
    return output_json


def load_rows(path: str | os.PathLike) -> list[dict]:
    """Rows from a raw run JSON or a results CSV."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such results file: {path}")
    if path.suffix == ".json":
        try:
            return rows_from_benchmark_json(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc})", path=str(path)) from None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# -- the one-screen summary of a benchmark run -----------------------------------------------------

#: The int8-parts benchmark's bare ``invoke`` (no input or output handling): a floor, not a runtime to pick.
_NOT_A_RUNTIME = " invoke"
#: Most skip reasons a summary lists (the rest are counted).
_SUMMARY_REASONS = 5


def _seconds(row: dict) -> float:
    return float(row["value"]) * TIME_UNITS[str(row["unit"])]


def _readable(value: float, unit: str = "") -> str:
    """A number for the summary's prose: thousands separated, else 3 significant digits."""
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def _duration(seconds: float) -> str:
    for unit in ("s", "ms", "us"):
        if seconds >= TIME_UNITS[unit] or unit == "us":
            return _readable(seconds / TIME_UNITS[unit], unit)
    raise AssertionError("unreachable")


def _number(row: dict) -> float | None:
    try:
        value = float(row.get("value", ""))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _batch(row: dict) -> float:
    try:
        return float(row.get("batch_size", ""))
    except (TypeError, ValueError):
        return math.nan


def _data_lines(kind: str, rows: list[dict]) -> list[str]:
    measured = [r for r in rows if _number(r) is not None]
    skipped = [r for r in rows if str(r.get("note", "")).startswith("skipped")]
    first = rows[0]
    if kind == "synthetic":
        head = ("Data: SYNTHETIC - seeded images of the real shapes (the real Sign Language MNIST was absent): "
                "latency and throughput only, no accuracy; never compared with real-data rows.")
    else:
        head = "Data: REAL - the Sign Language MNIST CSVs."
    lines = [head, f"Run: {first.get('device', '')}, backend {first.get('backend', '')}, "
             f"commit {first.get('git_commit', '')}, {first.get('date', '')}; {len(rows)} rows "
             f"({len(measured)} measured, {len(skipped)} skipped)."]

    latency = [r for r in measured if str(r.get("metric")) == "latency p50" and str(r.get("unit")) in TIME_UNITS
               and not str(r.get("runtime", "")).endswith(_NOT_A_RUNTIME)]
    models = list(dict.fromkeys(str(r.get("model", "")) for r in latency))
    if models:
        lines += ["", "Best inference runtime per model (batch 1: lowest p50 latency; largest batch: most images/s):"]
        for model in models:
            mine = [r for r in latency if str(r.get("model")) == model]
            cells = []
            ones = [r for r in mine if _batch(r) == 1]
            if ones:
                best = min(ones, key=_seconds)
                cells.append(f"batch 1 {best['runtime']} {_duration(_seconds(best))} p50")
            largest = max((_batch(r) for r in mine if not math.isnan(_batch(r))), default=math.nan)
            tput = [r for r in measured if str(r.get("model")) == model and _batch(r) == largest and largest > 1
                    and str(r.get("metric")) == "throughput"
                    and not str(r.get("runtime", "")).endswith(_NOT_A_RUNTIME)]
            if tput:
                best = max(tput, key=_number)
                cells.append(f"batch {largest:g} {best['runtime']} {_readable(_number(best), best['unit'])}")
            lines.append(f"  {model:<12} " + "; ".join(cells))

    train = [r for r in measured if str(r.get("runtime", "")).startswith("keras-fit")
             and str(r.get("unit", "")) == "samples/s"
             and str(r.get("metric")) in ("steady-state throughput", "samples_per_s")]
    models = list(dict.fromkeys(str(r.get("model", "")) for r in train))
    if models:
        lines += ["", "Training samples/s per model (keras-fit steady state; the speed study's best preset):"]
        for model in models:
            cells = []
            plain = [r for r in train if str(r.get("model")) == model and r.get("metric") == "steady-state throughput"]
            if plain:
                best = max(plain, key=_number)
                cells.append(f"{_readable(_number(best), 'samples/s')} at batch {best.get('batch_size', '')}")
            presets = [r for r in train if str(r.get("model")) == model and r.get("metric") == "samples_per_s"]
            if presets:
                best = max(presets, key=_number)
                cells.append(f"{_readable(_number(best), 'samples/s')} with {best['runtime'].removeprefix('keras-fit ')}")
            lines.append(f"  {model:<12} " + "; ".join(cells))

    if skipped:
        reasons: dict[str, int] = {}
        for r in skipped:
            why = str(r["note"]).removeprefix("skipped: ").removeprefix("skipped")
            reasons[why] = reasons.get(why, 0) + 1
        lines += ["", f"Skipped rows: {len(skipped)}, by reason:"]
        ranked = sorted(reasons.items(), key=lambda kv: -kv[1])
        for why, count in ranked[:_SUMMARY_REASONS]:
            lines.append(f"  {count:>4}  {why if len(why) <= 100 else why[:99] + '…'}")
        if len(ranked) > _SUMMARY_REASONS:
            rest = sum(c for _, c in ranked[_SUMMARY_REASONS:])
            lines.append(f"  {rest:>4}  ({len(ranked) - _SUMMARY_REASONS} other reasons)")
    return lines


def summary_lines(rows: Sequence[dict], *, where: Sequence[str] = (), exitstatus: int | None = None) -> list[str]:
    """One screen about a benchmark run's rows: whether they came from real or synthetic data (said
    first, plainly), the run, the best inference runtime per model (lowest p50 latency at batch 1, most
    items/s at the largest batch), training samples/s per model, and the skipped rows by reason.
    ``where``: lines saying where the rows went; ``exitstatus``: pytest's, reported when not 0.
    Rows of each data kind are summarized apart: nothing is ranked across real and synthetic rows."""
    lines = [*where]
    if exitstatus:
        lines.append(f"pytest exit status {exitstatus}: some benchmarks failed or errored (their rows are missing).")
    if not rows:
        return [*lines, "No rows."]
    for kind in sorted({data_of(r) for r in rows}, key=lambda k: (k != "real", k)):
        if lines:
            lines.append("")
        lines += _data_lines(kind, [r for r in rows if data_of(r) == kind])
    return lines
