"""The results index: ``results/index.md`` and ``results/index.html``, one screen per question a reviewer
asks, rendered from the committed tables alone (``signbench results``).

Each screen is a short table, a chart (a PNG under ``results/index/``), the command that produced its
numbers and the run behind them (commit, date, device, CPU flags, threads). A table that is not there yet
is said to be "not measured yet". Rendering is deterministic: the inputs are read in sorted order, the
pages carry no date of their own (only the runs' dates), and the charts carry no software stamp, so the
same tables give the same index bytes (and, with the same matplotlib, the same PNG bytes).

The screens, in order: the course's claims and their verdicts; the overfitting story (train against
validation accuracy per model); accuracy and latency per model and runtime (the fastest runtime per
model first); training speed options against plain ``fit``; time to accuracy; data loading; CPU against
GPU; and the history (did the newest run get slower than the one before it on the same kind of device).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signbench import plots
from signbench.atomic import atomic_write
from signbench.results import TIME_UNITS, run_cpu_flags
from signbench.review import history, regress
from signbench.review.blocks import Heading, Image, Paragraph, Table, to_html, to_markdown

__all__ = ["CHARTS", "SCREENS", "Screen", "render", "render_blocks", "slug"]

#: The charts' folder, under the results folder.
CHARTS = "index"
TITLE = "signbench results: one screen per question"
NOT_YET = "not measured yet"

#: The commands behind the study tables (the benchmark tables name theirs in their raw JSON).
STUDY_COMMANDS = {
    "course_reproduction.csv": "signbench course --seed 0 --epochs 20 --batch-size 128 --out results",
    "model_selection.csv": "signbench transfer select --work runs/transfer --out results",
    "sota.jsonl": "signbench sota --seed 0 --seed 1 --seed 2 --out results/sota.jsonl",
    "pareto.csv": "signbench pareto --out results",
}
COURSE_ORDER = ("baseline", "regularized", "cnn", "transfer")
#: Runtimes of the data benchmarks (model "-") in a benchmark table.
DATA_RUNTIMES = ("numpy", "tf_data", "image_data_generator")


def slug(text: str) -> str:
    """The anchor Markdown renderers (Python-Markdown's toc, GitHub) give a heading with this text."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


@dataclass
class Screen:
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Source:
    """The results folder, its tables read on demand (each once) and the raw runs behind them."""

    root: Path
    charts: Path
    _raws: dict[str, dict] | None = None
    written: list[Path] = field(default_factory=list)

    def rows(self, name: str) -> list[dict] | None:
        p = self.root / name
        if not p.is_file():
            return None
        if p.suffix == ".jsonl":
            return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]
        return list(csv.DictReader(io.StringIO(p.read_text())))

    def raws(self) -> dict[str, dict]:
        if self._raws is None:
            self._raws = {}
            for p in sorted((self.root / "raw").glob("*.json")):
                try:
                    data = json.loads(p.read_text())
                except json.JSONDecodeError:
                    continue
                if isinstance(data, dict) and "signbench" in data:
                    self._raws[p.stem] = data
        return self._raws

    def raw_for(self, rows: Sequence[dict]) -> tuple[str, dict] | None:
        """The raw run a benchmark table was written from (same date and commit as its rows)."""
        if not rows:
            return None
        date, commit = rows[0].get("date"), rows[0].get("git_commit")
        for name, data in self.raws().items():
            meta = data["signbench"].get("meta", {})
            if meta.get("date") == date and meta.get("git_commit") == commit:
                return name, data
        return None

    def chart(self, name: str, draw: Callable[[Path], Path], title: str) -> Image:
        path = draw(self.charts / name)
        self.written.append(path)
        return Image(title, Path(CHARTS) / name)


# -- small helpers ---------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _g(v: Any, digits: int = 4) -> str:
    """A measured number: thousands separators from 10,000 up, else ``digits`` significant digits."""
    f = _num(v)
    if f is None:
        return "-"
    return f"{f:,.0f}" if abs(f) >= 1e4 else f"{f:.{digits}g}"


def _times(x: float | None) -> str:
    """A ratio as 'N x'."""
    if x is None:
        return "-"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def _acc(v: Any) -> str:
    f = _num(v)
    return "-" if f is None else f"{f:.4f}"


def _distinct(rows: Sequence[dict], key: str) -> str:
    vals = sorted({str(r.get(key, "")) for r in rows if str(r.get(key, "")).strip()})
    return ", ".join(vals) if vals else "not recorded"


def _run_line(rows: Sequence[dict], raw: tuple[str, dict] | None = None) -> str:
    """'Run: commit, date, device (backend), CPU flags, threads' of a table's rows (and its raw run)."""
    flags = _distinct(rows, "cpu_flags")
    if raw is not None:
        flags = run_cpu_flags(raw[1]) or "none recorded"
    dates = sorted({str(r.get("date", "")) for r in rows if str(r.get("date", "")).strip()})
    when = f"{dates[0]} to {dates[-1]}" if len(dates) > 2 else _distinct(rows, "date")  # one per seed: the span
    text = (f"Run: commit `{_distinct(rows, 'git_commit')}`, {when}, device "
            f"{_distinct(rows, 'device')} ({_distinct(rows, 'backend')} backend), CPU flags {flags}, threads "
            f"{_distinct(rows, 'threads')}")
    return text + (f"; raw rounds in `raw/{raw[0]}.json`." if raw is not None else ".")


def _produced(name: str, src: Source, rows: Sequence[dict]) -> list[Paragraph]:
    """The producing command and run line of table ``name`` (a benchmark table's from its raw JSON)."""
    raw = src.raw_for(rows) if "value" in (rows[0] if rows else {}) else None
    command = (raw[1]["signbench"].get("command") if raw else None) or STUDY_COMMANDS.get(name)
    if not command and rows and rows[0].get("command"):
        command = _distinct(rows, "command")
    stem = name.rsplit(".", 1)[0]
    # a table with a JSON twin (claims, speedrun, leakage), or a latency table beside its study's JSON
    for twin in (stem, stem.removesuffix("_latency")):
        if not command and (src.root / f"{twin}.json").is_file():
            command = _json(src, f"{twin}.json").get("command")
    page = f" ([{stem}.md]({stem}.md))" if (src.root / f"{stem}.md").is_file() else ""
    cmd = f"`{command}`" if command else "not recorded in the table (see [README.md](README.md))"
    return [Paragraph(f"From [{name}]({name}){page}, produced by: {cmd}"), Paragraph(_run_line(rows, raw))]


def _missing(*names: str, what: str) -> Paragraph:
    files = " and ".join(f"`{n}`" for n in names)
    return Paragraph(f"{what[0].upper()}{what[1:]}: {NOT_YET} ({files} {'is' if len(names) == 1 else 'are'} not in "
                     "this folder yet).")


def _by(rows: Sequence[dict], **match: str) -> list[dict]:
    return [r for r in rows if all(str(r.get(k, "")) == v for k, v in match.items())]


def _to_ms(r: dict) -> float | None:
    v = _num(r.get("value"))
    unit = r.get("unit", "")
    return None if v is None or unit not in TIME_UNITS else v * TIME_UNITS[unit] / 1e-3


def _floats(text: Any) -> list[float]:
    return [float(x) for x in re.findall(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?", str(text or ""))]


def _course_sorted(names) -> list[str]:
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda n: (COURSE_ORDER.index(n) if n in COURSE_ORDER else len(COURSE_ORDER),
                                        names.index(n)))


# -- 1. the course's claims --------------------------------------------------------------------------
CLAIM_FILES = (("claims_ci.csv", "CI protocol"), ("claims_r1.csv", "ladder's r1 rung (the claims not settled at the CI protocol)"),
               ("claims_r2.csv", "ladder's r2 rung, its top (the claims still inconclusive at r1)"),
               ("claims_full.csv", "full protocol"))


def screen_claims(src: Source) -> Screen:
    s = Screen("Do the course's claims hold?")
    found = [(name, label, src.rows(name)) for name, label in CLAIM_FILES]
    if not any(rows for _, _, rows in found):
        s.blocks += [_missing(*[n for n, _ in CLAIM_FILES], what="the claims table"),
                     Paragraph("Until then the claims are checked by the seeded realdata tests described in the "
                               "docs (The course's claims).")]
        return s
    for name, label, rows in found:
        if rows is None:
            s.blocks.append(_missing(name, what=f"the claims under the {label}"))
            continue
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.get("verdict", "") or "no verdict"] = counts.get(r.get("verdict", "") or "no verdict", 0) + 1
        s.blocks.append(Heading(f"{label[0].upper()}{label[1:]}: " + ", ".join(f"{n} {v}" for v, n in counts.items()), 3))
        table = []
        for r in rows:
            effect = f"{_g(r.get('effect_mean'), 3)} [{_g(r.get('ci_low'), 3)}, {_g(r.get('ci_high'), 3)}]"
            table.append([r.get("claim", ""), r.get("translation") or r.get("statement", ""), r.get("metric", ""),
                          f"{r.get('arm_a', '')} vs {r.get('arm_b', '')}", effect, _g(r.get("min_effect"), 3),
                          r.get("n_seeds", ""), r.get("verdict", "")])
        s.blocks.append(Table(["claim", "statement", "metric", "arms", "effect [interval]", "min effect",
                               "seeds", "verdict"], table))
        forest = [{"label": r.get("claim", ""), "mean": _num(r.get("effect_mean")), "low": _num(r.get("ci_low")),
                   "high": _num(r.get("ci_high")), "min_effect": _num(r.get("min_effect")),
                   "verdict": r.get("verdict", "")} for r in rows]
        stem = name.rsplit(".", 1)[0]
        s.blocks.append(src.chart(f"{stem}.png", lambda p, f=forest, lab=label: plots.forest_chart(
            f, p, title=f"The course's claims, {lab}: effect and interval per claim"),
            f"Effect per claim with its interval ({label})"))
        s.blocks += _produced(name, src, rows)
        stab_name = f"{stem}_stability.csv"
        stab = src.rows(stab_name)
        if stab:
            runs = [c.removeprefix("verdict ") for c in stab[0] if c.startswith("verdict ")]
            unstable = [f"{r.get('claim')} ({r.get('metric')})" for r in stab if str(r.get("stable")) != "True"]
            s.blocks.append(Paragraph(
                f"Under {len(runs)} numerics ({', '.join(runs)}; [{stab_name}]({stab_name})): "
                f"{len(stab) - len(unstable)} of {len(stab)} verdicts agree"
                + (f"; these differ and count as inconclusive here: {', '.join(unstable)}." if unstable else ".")))
    return s


# -- 2. the overfitting story -------------------------------------------------------------------------
def _claims_arm_accuracy(src: Source, arm: str) -> dict[str, float] | None:
    """Mean train and validation accuracy of ``arm`` (e.g. "transfer") from the claims rows, when they
    hold per-seed values of a train-accuracy and a validation-accuracy metric for it."""
    found: dict[str, float] = {}
    for name, _ in CLAIM_FILES:
        for r in src.rows(name) or []:
            metric = str(r.get("metric", "")).lower()
            kind = "train" if "train" in metric else "val" if "val" in metric else None
            if kind is None or "acc" not in metric or "gap" in metric:
                continue
            for side in ("a", "b"):
                vals = _floats(r.get(f"values_{side}"))
                if arm in str(r.get(f"arm_{side}", "")).lower() and vals and kind not in found:
                    found[kind] = sum(vals) / len(vals)
    return found if {"train", "val"} <= set(found) else None


def screen_overfitting(src: Source) -> Screen:
    s = Screen("Overfitting: train against validation accuracy per model")
    rows = src.rows("course_reproduction.csv")
    if rows is None:
        s.blocks.append(_missing("course_reproduction.csv", what="the course's models at full size"))
        return s
    story, table = [], []
    by = {r["model"]: r for r in rows}
    for m in _course_sorted(by):
        r = by[m]
        story.append({"label": m, "train": _num(r.get("train_accuracy")), "val": _num(r.get("val_accuracy")),
                      "course_train": _num(r.get("course_train")), "course_val": _num(r.get("course_val"))})
        tr, va = _num(r.get("train_accuracy")), _num(r.get("val_accuracy"))
        table.append([m, _acc(tr), _acc(va), _acc(None if tr is None or va is None else tr - va),
                      _acc(r.get("test_accuracy")), _acc(r.get("course_train")), _acc(r.get("course_val")),
                      "course_reproduction.csv"])
    if "transfer" not in by:
        t = _claims_arm_accuracy(src, "transfer")
        story.append({"label": "transfer", "train": t and t["train"], "val": t and t["val"]})
        table.append(["transfer", _acc(t and t["train"]), _acc(t and t["val"]),
                      _acc(t and t["train"] - t["val"]), "-", "-", "-",
                      "claims rows (mean over seeds)" if t else NOT_YET])
    s.blocks.append(Table(["model", "train acc", "val acc", "gap", "test acc", "course's train", "course's val",
                           "from"], table))
    s.blocks.append(src.chart("overfitting.png", lambda p: plots.overfitting_chart(
        story, p, title="Train vs validation accuracy: baseline -> regularized -> CNN -> transfer"),
        "Train against validation accuracy per model, the gap shaded (hollow squares: the course's printed numbers)"))
    s.blocks += _produced("course_reproduction.csv", src, rows)
    return s


# -- 3. accuracy and latency per model and runtime ------------------------------------------------------
def _latency_rows(rows: Sequence[dict]) -> list[dict]:
    """Per model and runtime at batch 1: p50 and p99 in ms, best throughput, agreement with Keras."""
    out = []
    keys = list(dict.fromkeys((r["model"], r["runtime"]) for r in rows
                              if r.get("metric") == "latency p50" and str(r.get("batch_size")) == "1"
                              and not r["runtime"].endswith(" invoke")))  # a part of a runtime, not one
    for model, runtime in keys:
        mine = _by(rows, model=model, runtime=runtime)
        p50 = next((_to_ms(r) for r in _by(mine, batch_size="1", metric="latency p50")), None)
        p99 = next((_to_ms(r) for r in _by(mine, batch_size="1", metric="latency p99")), None)
        tput = [(int(r["batch_size"]), _num(r["value"])) for r in mine
                if r.get("metric") == "throughput" and str(r.get("batch_size", "")).isdigit()]
        agree = next((_num(r["value"]) for r in _by(mine, batch_size="1", metric="agreement with keras")), None)
        best = max(tput, key=lambda t: t[1] or 0) if tput else None
        if p50 is not None:
            out.append({"model": model, "runtime": runtime, "p50": p50, "p99": p99, "agree": agree,
                        "best_tput": best})
    return out


def screen_latency(src: Source) -> Screen:
    s = Screen("Accuracy and latency: which runtime is fastest for which model?")
    rows = src.rows("cpu.csv")
    lat = _latency_rows(rows or [])
    pareto = src.rows("pareto.csv")
    front = (_missing("pareto.csv", what="the accuracy-latency front per runtime") if pareto is None
             else _pareto(pareto, src))
    if not lat:
        s.blocks += [_missing("cpu.csv", what="inference latency per runtime"), *_listed(front)]
        return s
    acc = {r["model"]: _num(r.get("test_accuracy")) for r in src.rows("course_reproduction.csv") or []}
    table, chart = [], []
    for model in _course_sorted(r["model"] for r in lat):
        ranked = sorted((r for r in lat if r["model"] == model), key=lambda r: r["p50"])
        ref = next((r["p50"] for r in ranked if r["runtime"] == "keras-call"), None)
        for rank, r in enumerate(ranked, start=1):
            chart.append({"model": model, "runtime": r["runtime"], "p50": r["p50"], "p99": r["p99"]})
            if rank > 3:
                continue
            tput = f"{_g(r['best_tput'][1])} (batch {r['best_tput'][0]})" if r["best_tput"] else "-"
            table.append([model if rank == 1 else "", rank, r["runtime"], _g(r["p50"]), _g(r["p99"]),
                          _times(None if ref is None else ref / r["p50"]), tput, _g(r["agree"], 3),
                          _acc(acc.get(model)) if rank == 1 else ""])
    s.blocks.append(Paragraph(
        "The three fastest runtimes per model at batch 1 (every runtime is in the chart and in the table "
        "behind it). Test accuracy is the Keras model's from the course run (course_reproduction.csv); a "
        "runtime's agreement with Keras is the share of the benchmark's check images on which it predicts "
        "the Keras model's letter."))
    s.blocks.append(Table(["model", "rank", "runtime", "p50 ms", "p99 ms", "faster than keras-call", "best images/s",
                           "agrees with Keras", "test acc (Keras)"], table))
    s.blocks.append(src.chart("latency.png", lambda p: plots.latency_chart(
        chart, p, title="One-image latency per runtime (CPU)"), "One-image latency per model and runtime"))
    skipped = sorted({(r["runtime"], r["note"].removeprefix("skipped: ")) for r in rows or []
                      if str(r.get("note", "")).startswith("skipped")})
    for runtime, why in skipped:
        s.blocks.append(Paragraph(f"Not measured here: {runtime} ({why})."))
    s.blocks += _produced("cpu.csv", src, rows) + _listed(front)
    return s


def _pareto(rows: list[dict], src: Source) -> list:
    """The accuracy-latency front: its points and the deployable model in a table, every point in a chart."""
    def yes(v) -> bool:
        return str(v).strip().lower() in ("true", "1", "yes")

    shown = [r for r in rows if yes(r.get("on_front")) or yes(r.get("deployable"))]
    shown.sort(key=lambda r: _num(r.get("p50_us")) or math.inf)
    blocks: list = [Heading("Accuracy against one-image latency: the Pareto front", 3), Paragraph(
        f"The {sum(yes(r.get('on_front')) for r in rows)} points on the front (no other model x runtime is both at "
        f"least as accurate and at least as fast) of {len(rows)} measured, and the deployable model; every point is "
        "in the chart.")]
    blocks.append(Table(["model", "runtime", "on front", "deployable", "params", "size bytes", "test acc", "p50 us",
                         "p99 us"],
                        [[r.get("model"), r.get("runtime"), "yes" if yes(r.get("on_front")) else "no",
                          "yes" if yes(r.get("deployable")) else "", _g(r.get("params")), _g(r.get("size_bytes")),
                          _acc(r.get("test_accuracy")), _g(r.get("p50_us")), _g(r.get("p99_us"))] for r in shown]))
    points = [{"model": r.get("model", ""), "runtime": r.get("runtime", ""), "test_accuracy": _num(r.get("test_accuracy")),
               "p50_us": _num(r.get("p50_us")), "on_front": yes(r.get("on_front"))} for r in rows]
    points = [p for p in points if p["test_accuracy"] is not None and p["p50_us"]]
    if points:
        blocks.append(src.chart("pareto.png", lambda p: plots.pareto_chart(
            points, p, title="Test accuracy against one-image p50 latency (front ringed)"),
            "Accuracy against one-image latency, every model x runtime"))
    return blocks + _produced("pareto.csv", src, rows)


def _listed(blocks) -> list:
    return list(blocks) if isinstance(blocks, list) else [blocks]


# -- 4. training speed options ---------------------------------------------------------------------------
def screen_train_speed(src: Source) -> Screen:
    s = Screen("Training speed: which options beat plain fit?")
    found = [(n, src.rows(n)) for n in ("train_speed.csv", "train_speed_threads.csv")]
    found = [(n, r) for n, r in found if r]
    if not found:
        s.blocks.append(_missing("train_speed.csv", what="the speed options"))
        return s
    options = []
    for name, rows in found:
        for r in _by(rows, metric="speedup_vs_plain"):
            mine = _by(rows, model=r["model"], runtime=r["runtime"])
            pick = {m: next((_num(x["value"]) for x in _by(mine, metric=m)), None)
                    for m in ("samples_per_s", "plain_samples_per_s", "epoch_seconds")}
            options.append({"option": r["runtime"].removeprefix("keras-fit "), "batch": r["batch_size"],
                            "speedup": _num(r["value"]), "from": name, **pick})
    options.sort(key=lambda o: -(o["speedup"] or 0))
    s.blocks.append(Paragraph(
        f"The ten fastest of {len(options)} options (the course CNN, one epoch per round; every option is "
        "timed against plain `fit` in the same benchmark, and the chart shows them all)."))
    s.blocks.append(Table(["option", "batch", "epoch s", "samples/s", "plain samples/s", "speed-up", "from"],
                          [[o["option"], o["batch"], _g(o["epoch_seconds"]), _g(o["samples_per_s"]),
                            _g(o["plain_samples_per_s"]), _times(o["speedup"]), o["from"]] for o in options[:10]]))
    s.blocks.append(src.chart("train_speed.png", lambda p: plots.bar_chart(
        [(o["option"], o["speedup"]) for o in options], p, ref=1.0,
        title="Speed-up of each option over plain fit (course CNN, same run)",
        xlabel="speed-up over plain fit (x; > 1 is faster)"), "Speed-up of each training option over plain fit"))
    for name, rows in found:
        s.blocks += _produced(name, src, rows)
    full = src.rows("train_speed_full.csv")
    if full:
        models = _course_sorted(m.removesuffix("_seconds_plain") for m in (r["metric"] for r in full)
                                if m.endswith("_seconds_plain"))
        val = {r["metric"]: _num(r["value"]) for r in full}
        s.blocks.append(Heading("At full length (20 epochs): time and test accuracy, plain against the "
                                "recommended options", 3))
        s.blocks.append(Table(
            ["model", "plain s", "fast s", "speed-up", "plain test acc", "fast test acc", "difference"],
            [[m, _g(val.get(f"{m}_seconds_plain")), _g(val.get(f"{m}_seconds_fast")), _g(val.get(f"{m}_speedup"), 3),
              _acc(val.get(f"{m}_test_acc_plain")), _acc(val.get(f"{m}_test_acc_fast")),
              _acc(val.get(f"{m}_test_acc_diff"))] for m in models]))
        s.blocks += _produced("train_speed_full.csv", src, full)
    return s


# -- 5. time to accuracy -------------------------------------------------------------------------------
def _json(src: Source, name: str) -> dict:
    p = src.root / name
    try:
        data = json.loads(p.read_text()) if p.is_file() else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _speedrun_files(src: Source) -> list[tuple[str, str]]:
    """(table, "rung X") of the ladder's rungs present, in the order they are climbed: ``speedrun.csv`` is
    rung A's, ``speedrun_rung_<x>.csv`` rung X's and ``speedrun_rung_<x>_<what>.csv`` rung X's run named
    ``<what>`` (the stems ``signbench speedrun --stem`` was given)."""
    stems = sorted(p.stem for p in src.root.glob("speedrun_rung_*.csv") if not p.stem.endswith("_latency"))
    named = []
    for stem in stems:
        letter, _, what = stem.removeprefix("speedrun_rung_").partition("_")
        named.append((f"{stem}.csv", f"rung {letter.upper()}" + (f" ({what.replace('_', ' ')})" if what else "")))
    return [("speedrun.csv", "rung A"), *named]


def _validation_files(src: Source) -> list[tuple[str, str]]:
    """(stem, "round N") of the validation rounds present (``signbench speedrun --validate --round N``: round 1
    writes ``speedrun_validation``, round N > 1 ``speedrun_validation_N``), in round order."""
    rounds = sorted(int(p.stem.rsplit("_", 1)[1]) for p in src.root.glob("speedrun_validation_*.json")
                    if p.stem.rsplit("_", 1)[1].isdigit())
    return [("speedrun_validation", "round 1"), *((f"speedrun_validation_{n}", f"round {n}") for n in rounds)]


def screen_time_to_accuracy(src: Source) -> Screen:
    s = Screen("Time to accuracy: how fast does each recipe reach its accuracy?")
    found = [(n, what, src.rows(n)) for n, what in _speedrun_files(src)]
    found = [(n, what, rows) for n, what, rows in found if rows]
    if not found:
        s.blocks.append(_missing("speedrun.csv", what="time to accuracy"))
        return s
    for name, what, rows in found:
        stem = name.rsplit(".", 1)[0]
        raw = _json(src, f"{stem}.json")
        ref, summary = raw.get("reference") or {}, raw.get("summary") or {}
        s.blocks.append(Heading(f"The speedrun recipe, {what}, against the course CNN", 3))
        if summary:
            s.blocks.append(Paragraph(
                f"Over {summary.get('seeds')} seeds: mean test accuracy {_acc(summary.get('mean_accuracy'))}, worst "
                f"{_acc(summary.get('min_accuracy'))}, mean training time {_g(summary.get('mean_ratio'), 3)}x the "
                f"reference's. Goal (mean >= 0.996, every seed >= 0.995): met: {summary.get('accuracy_goal')}; "
                f"time <= 0.10x: {summary.get('ratio_goal')}; <= 0.25x: {summary.get('ratio_resolved')}; int8 >= "
                f"0.995 for every seed: {summary.get('int8_goal')}."))
        table = [[r.get("seed"), r.get("epochs"), _acc(r.get("test_accuracy")), _acc(r.get("test_accuracy_one_view")),
                  _acc(r.get("int8_test_accuracy")), _g(r.get("train_seconds")), _g(r.get("ratio"), 3)] for r in rows]
        if ref:
            table.append([f"reference: {ref.get('model')}", ref.get("epochs"), _acc(ref.get("test_accuracy")), "-",
                          _acc(ref.get("int8_test_accuracy")), _g(ref.get("train_seconds")), "1"])
        s.blocks.append(Table(["seed", "epochs", "test acc (TTA)", "test acc (one view)", "int8 test acc",
                               "train s", "time / reference"], table))
        bars = [(f"seed {r.get('seed')}", _num(r.get("train_seconds"))) for r in rows]
        if ref:
            bars.append(("reference (course CNN)", _num(ref.get("train_seconds"))))
        bars = [(k, v) for k, v in bars if v is not None]
        if bars:
            s.blocks.append(src.chart(f"{stem}.png", lambda p, b=bars, w=what: plots.bar_chart(
                b, p, title=f"Training time to a trained model ({w}; same run)", xlabel="seconds"),
                f"Training time per seed and the reference ({what})"))
        s.blocks += _produced(name, src, rows)
        every = src.rows(f"{stem}_latency.csv") or []
        lat = [r for r in every if r.get("best", "True") == "True"]  # each model at its fastest thread count
        if len(lat) == 2:
            p50 = [_num(r.get("p50_us")) for r in lat]
            p99 = [_num(r.get("p99_us")) for r in lat]
            s.blocks.append(Table(["model", "runtime", "interpreter threads", "p50 us", "p99 us",
                                   "x the course CNN's (p50, p99)"],
                                  [[r.get("model"), r.get("runtime"), r.get("interpreter_threads") or "default",
                                    _g(p50[i]), _g(p99[i]),
                                    f"{_g(p50[i] / p50[1], 3)}, {_g(p99[i] / p99[1], 3)}" if p50[1] and p99[1] else "-"]
                                   for i, r in enumerate(lat)]))
            s.blocks += _produced(f"{stem}_latency.csv", src, every)
    for stem, what in _validation_files(src):
        val = _json(src, f"{stem}.json")
        if not val.get("summaries"):  # the next rung chosen on a validation split of the train CSV
            continue
        parts = val.get("parts") or {}
        s.blocks.append(Heading(f"Choosing the next rung on held-out photos of the train CSV, {what}", 3))
        twin = ", int8 faster than its own dynamic-range twin" if val.get("twins") else ""
        deployable = ("" if "deployable" not in val else f" Deployable model (the declared latency bar{twin}, then the "
                      f"best worst-seed int8 accuracy): {val.get('deployable') or 'none (no candidate qualifies)'}.")
        s.blocks.append(Paragraph(
            f"{parts.get('held_groups')} of {parts.get('groups')} near-duplicate groups of the train CSV held out "
            f"({parts.get('validation')} images); the test CSV is not read. Chosen by the declared rule: "
            f"{val.get('chosen') or 'none (no candidate within 0.25x the reference)'}.{deployable}"))
        timed = any("p50_fraction" in v for v in val["summaries"].values())
        s.blocks.append(Table(
            ["candidate", "mean val acc (TTA)", "worst", "time / reference"]
            + (["int8 p50, p99 / the course CNN's"] if timed else []) + ["recipe"],
            [[n, _acc(v.get("mean_accuracy")), _acc(v.get("min_accuracy")), _g(v.get("mean_ratio"), 3)]
             + ([f"{_g(v.get('p50_fraction'), 3)}, {_g(v.get('p99_fraction'), 3)}"] if timed else []) + [v.get("recipe")]
             for n, v in val["summaries"].items()]))
        s.blocks += _produced(f"{stem}.csv", src, src.rows(f"{stem}.csv"))
    return s


# -- 6. data loading -------------------------------------------------------------------------------------
def screen_data(src: Source) -> Screen:
    s = Screen("Data loading: how fast are the parsers and the input pipelines?")
    cands = [(n, [r for r in (src.rows(n) or []) if r.get("runtime") in DATA_RUNTIMES])
             for n in ("cpu_data.csv", "cpu.csv")]
    cands = [(n, rows) for n, rows in cands if rows]
    if not cands:
        s.blocks.append(_missing("cpu_data.csv", what="data loading"))
        return s
    name, rows = max(cands, key=lambda c: (c[1][0].get("date", ""), c[0]))  # the newest run
    parse = sorted(((r["metric"].removesuffix(" p50"), _num(r["value"])) for r in _by(rows, runtime="numpy", unit="s")
                    if "cpu time" not in r["metric"] and "best" not in r["metric"]), key=lambda t: t[1] or 0)
    pipes = []
    for runtime in ("tf_data", "image_data_generator"):
        mine = _by(rows, runtime=runtime)
        if mine:
            v = {r["metric"]: _num(r["value"]) for r in mine}
            pipes.append([runtime, mine[0].get("batch_size", ""), _g(v.get("one epoch over the folder p50")),
                          _g(v.get("images/s")), _g(v.get("speed-up vs the other path"), 3)])
    s.blocks.append(Paragraph("Parsing the training CSV (seconds, fastest first) and one epoch over an image "
                              "folder through each input pipeline."))
    s.blocks.append(Table(["task", "seconds"], [[t, _g(v)] for t, v in parse]))
    if pipes:
        s.blocks.append(Table(["pipeline", "batch", "epoch s (p50)", "images/s", "speed-up vs the other"], pipes))
    items = [(f"parse: {t}", v) for t, v in parse if v is not None]
    items += [(f"one folder epoch: {p[0]}", _num(p[2])) for p in pipes if _num(p[2]) is not None]
    s.blocks.append(src.chart("data.png", lambda p: plots.bar_chart(
        items, p, title="Data loading (seconds, lower is faster)", xlabel="seconds"),
        "Seconds per data-loading task"))
    s.blocks += _produced(name, src, src.rows(name) or [])
    return s


# -- 7. CPU against GPU ----------------------------------------------------------------------------------
def _device_numbers(rows: Sequence[dict]) -> dict[str, dict[str, tuple[float, str] | None]]:
    """Per model: training samples/s (steady state), best one-image p50 (ms) and best images/s."""
    out: dict[str, dict] = {}
    lat = _latency_rows(rows)
    for model in _course_sorted(r["model"] for r in rows if r.get("runtime") == "keras-fit"):
        fit = next((_num(r["value"]) for r in _by(rows, model=model, runtime="keras-fit",
                                                   metric="steady-state throughput")), None)
        mine = [r for r in lat if r["model"] == model]
        best_lat = min(mine, key=lambda r: r["p50"]) if mine else None
        best_tp = max((r for r in mine if r["best_tput"]), key=lambda r: r["best_tput"][1] or 0, default=None)
        out[model] = {
            "train": (fit, "keras-fit") if fit is not None else None,
            "latency": (best_lat["p50"], best_lat["runtime"]) if best_lat else None,
            "tput": (best_tp["best_tput"][1], f"{best_tp['runtime']}, batch {best_tp['best_tput'][0]}")
            if best_tp else None,
        }
    return out


def screen_cpu_gpu(src: Source) -> Screen:
    s = Screen("CPU against GPU: how much does the accelerator buy?")
    cpu, gpu = src.rows("cpu.csv"), src.rows("gpu.csv")
    if not cpu or not gpu:
        s.blocks.append(_missing(*[n for n, r in (("cpu.csv", cpu), ("gpu.csv", gpu)) if not r],
                                 what="the CPU-GPU comparison"))
        return s
    c, g = _device_numbers(cpu), _device_numbers(gpu)
    models = [m for m in c if m in g]
    measures = (("train", "training samples/s (steady state)", False),
                ("latency", "one-image p50 ms, fastest runtime", True),
                ("tput", "images/s, best runtime and batch", False))
    table = []
    for m in models:
        for key, label, lower in measures:
            a, b = c[m][key], g[m][key]
            gain = None if not a or not b else (a[0] / b[0]) if lower else (b[0] / a[0])
            table.append([m, label, "-" if not a else f"{_g(a[0])} ({a[1]})", "-" if not b else f"{_g(b[0])} ({b[1]})",
                          _times(gain)])
    s.blocks.append(Paragraph("GPU gain: how many times faster the GPU run is (time ratio for latency, "
                              "throughput ratio otherwise). The two runs may differ in backend: see their run lines."))
    s.blocks.append(Table(["model", "measure", "CPU", "GPU", "GPU gain"], table))
    s.blocks.append(src.chart("cpu_gpu.png", lambda p: plots.grouped_bar_chart(
        models, {"CPU": [c[m]["train"] and c[m]["train"][0] for m in models],
                 "GPU": [g[m]["train"] and g[m]["train"][0] for m in models]}, p, log=True,
        title="Training throughput, CPU vs GPU (steady state)", ylabel="samples/s (log scale)"),
        "Training samples/s per model on the CPU and on the GPU"))
    s.blocks += _produced("cpu.csv", src, cpu) + _produced("gpu.csv", src, gpu)
    return s


# -- 8. history ---------------------------------------------------------------------------------------
BENCH_TABLES = ("cpu.csv", "gpu.csv", "cpu_data.csv", "cpu_int8_parts.csv", "train_speed.csv",
                "train_speed_threads.csv", "train_speed_full.csv", "train_speed_seeds.csv", "train_speed_batch.csv")


def _previous_like(src: Source, name: str, data: dict) -> str | None:
    earlier = {n: d for n, d in src.raws().items() if n < name}
    return regress.pick_like(data, earlier)


def screen_history(src: Source) -> Screen:
    s = Screen("History: did the newest run of each table get slower?")
    hist = history.read(src.root / "history.csv")
    summary, flagged = [], []
    for table in BENCH_TABLES:
        rows = src.rows(table)
        raw = src.raw_for(rows or [])
        if raw is None:
            continue
        prev = _previous_like(src, *raw)
        if prev is None:
            summary.append([table, f"`{raw[0][:22]}`", "no earlier run of this kind", "-", "-", "-", "-"])
            continue
        verdicts = regress.compare_runs(src.raws()[prev], raw[1], bootstrap=False)
        n = {st: sum(v.status == st for v in verdicts) for st in ("regression", "improvement", "unchanged",
                                                                   "too few rounds")}
        summary.append([table, f"`{raw[0][:22]}`", f"`{prev[:22]}`", n["regression"], n["improvement"],
                        n["unchanged"], n["too few rounds"]])
        flagged += [(table, v) for v in verdicts if v.status in ("regression", "improvement")]
    if not summary:
        s.blocks.append(_missing("raw/", what="the history"))
        return s
    s.blocks.append(Paragraph(
        "Each benchmark table's run against the previous run on the same kind of device (device, CPU flags, "
        "backend) that timed the same benchmarks, on the raw rounds: a one-sided Mann-Whitney U test of a "
        "change beyond 10%, alpha 0.05 (`signbench compare OLD NEW` prints the same, with bootstrap "
        "intervals)."))
    s.blocks.append(Table(["table", "run", "compared with", "regressions", "improvements", "unchanged",
                           "too few rounds"], summary))
    if flagged:
        flagged.sort(key=lambda t: -abs(math.log(t[1].ratio)))
        s.blocks.append(Table(["table", "benchmark", "status", "old median", "new median", "unit", "new / old"],
                              [[t, v.label, v.status, _g(v.old_median), _g(v.new_median), v.unit, f"{v.ratio:.3g}"]
                               for t, v in flagged[:10]]))
        if len(flagged) > 10:
            s.blocks.append(Paragraph(f"The 10 largest of {len(flagged)} significant changes."))
    series = _history_series(hist)
    if series:
        s.blocks.append(src.chart("history.png", lambda p: plots.history_chart(
            series, p, title="Median round time per run, relative to the first run"),
            "Median round time of the most-run benchmarks, run by run"))
    s.blocks.append(Paragraph("From [history.csv](history.csv) (one row per benchmark per run, appended by every "
                              "benchmark run with `--results-dir results`; `signbench results --rebuild-history` "
                              "writes it again from `raw/`) and the raw runs under `raw/`."))
    return s


def _history_series(rows: Sequence[dict], *, most: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The ``most`` benchmarks with the most runs on the most common kind of device (at least 2 runs)."""
    if not rows:
        return {}
    kinds: dict[tuple, int] = {}
    for r in rows:
        k = (r["device"], r["cpu_flags"], r["backend"])
        kinds[k] = kinds.get(k, 0) + 1
    kind = max(sorted(kinds), key=lambda k: kinds[k])
    per: dict[str, list[tuple[str, float]]] = {}
    for r in rows:
        if (r["device"], r["cpu_flags"], r["backend"]) != kind or r.get("data") != "real":
            continue
        label = " ".join(p for p in (r["model"], r["runtime"], f"b{r['batch_size']}" if r["batch_size"] else "",
                                     r["metric"]) if p and p != "-")
        per.setdefault(label, []).append((f"{r['date'][:16]} {r['git_commit'][:7]}", float(r["median"])))
    ranked = sorted((k for k in per if len(per[k]) >= 2), key=lambda k: (-len(per[k]), k))
    return {k: per[k] for k in ranked[:most]}


SCREENS: tuple[Callable[[Source], Screen], ...] = (
    screen_claims, screen_overfitting, screen_latency, screen_train_speed, screen_time_to_accuracy,
    screen_data, screen_cpu_gpu, screen_history,
)


def render_blocks(results_dir: str | Path, out_dir: str | Path | None = None) -> tuple[list, list[Path]]:
    """The index's blocks and the charts drawn for them (under ``out_dir/index/``, by default the results
    folder's)."""
    root = Path(results_dir)
    src = Source(root, Path(out_dir if out_dir is not None else root) / CHARTS)
    screens = [make(src) for make in SCREENS]
    blocks: list[Any] = [
        Heading(TITLE, 1),
        Paragraph("Rendered by `signbench results` from the tables in this folder, one screen per question: a "
                  "short table, a chart, the command that produced the numbers and the run behind them. The "
                  "long per-row tables stay in the CSV files; [README.md](README.md) lists every table and "
                  "its command. A test renders this page again and fails when it differs."),
        Paragraph(" · ".join(f"[{i}. {sc.title}](#{slug(f'{i}. {sc.title}')})" for i, sc in enumerate(screens, 1))),
    ]
    for i, sc in enumerate(screens, 1):
        title = f"{i}. {sc.title}"
        blocks.append(Heading(title, 2, anchor=slug(title)))
        blocks += sc.blocks
    return blocks, src.written


def render(results_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``index.md``, ``index.html`` and the charts under ``index/`` in ``out_dir`` (by default the
    results folder itself), from the tables in ``results_dir``; charts of an earlier rendering that this
    one did not draw are removed. Returns every path written."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no results folder {root}")
    out = Path(out_dir) if out_dir is not None else root
    blocks, charts = render_blocks(root, out)
    for old in sorted((out / CHARTS).glob("*.png")):
        if old not in charts:
            old.unlink()
    return [
        atomic_write(out / "index.md", to_markdown(blocks)),
        atomic_write(out / "index.html", to_html(blocks, base=out, title=TITLE, embed=False)),
        *charts,
    ]
