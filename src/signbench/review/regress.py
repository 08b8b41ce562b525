"""The regression gate: two benchmark runs compared on their raw rounds, like with like.

For every benchmark both runs timed (same model, runtime, batch size and metric) on the same kind of
data, :func:`compare_rounds` decides from the raw round times:

- **regression** when the new rounds are slower than the old ones by more than the minimum effect
  (default 10%) with significance: a one-sided Mann-Whitney U test of ``log(new) - log(1 + min_effect)``
  against ``log(old)`` (the null hypothesis is "at most ``min_effect`` slower"), p < ``alpha``;
- **improvement** the same the other way (faster by more than the minimum effect);
- **unchanged** otherwise, and **too few rounds** when even completely separated rounds could not reach
  ``alpha`` (for example 3 against 3, or one-round training benchmarks).

The ratio of medians (new / old) and its bootstrap interval are reported with each verdict. Runs compare
only when they ran on the same kind of device (device name, CPU flags, Keras backend): :func:`run_kind`,
:class:`NotComparable` otherwise.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signbench.errors import DataError
from signbench.results import run_cpu_flags
from signbench.review.history import bench_key, data_kind

__all__ = [
    "NotComparable", "Verdict", "compare_rounds", "compare_runs", "latest_like", "load_run", "pick_like",
    "resolve_run", "run_kind",
]

MIN_EFFECT = 0.10
ALPHA = 0.05
BOOTSTRAP = 1000


class NotComparable(ValueError):
    """Two runs from different kinds of device (or backends): their times say nothing about a commit."""


@dataclass(frozen=True)
class Verdict:
    key: tuple[str, str, str, str]  # model, runtime, batch size, metric
    unit: str
    data: str
    status: str  # "regression", "improvement", "unchanged", "too few rounds", "not comparable"
    n_old: int
    n_new: int
    old_median: float = math.nan  # in ``unit``
    new_median: float = math.nan
    ratio: float = math.nan  # new median / old median (> 1: slower)
    ci_low: float = math.nan  # bootstrap 95% interval of the ratio
    ci_high: float = math.nan
    p_slower: float = math.nan  # one-sided p of "slower by more than the minimum effect"
    p_faster: float = math.nan
    note: str = ""

    @property
    def label(self) -> str:
        model, runtime, batch, metric = self.key
        parts = [p for p in (model, runtime) if p]
        return "/".join(parts) + (f"/batch {batch}" if batch else "") + f" {metric}"


def _min_p(n: int, m: int) -> float:
    """The smallest one-sided Mann-Whitney p-value ``n`` against ``m`` rounds can give (no ties)."""
    if n + m > 1000:  # far below any alpha (and 1 / comb would overflow a float)
        return 0.0
    return 1.0 / math.comb(n + m, n)


def _bootstrap_ratio(old: np.ndarray, new: np.ndarray, *, seed: int, n_boot: int = BOOTSTRAP) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // max(len(old), len(new))))
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        mo = np.median(old[rng.integers(0, len(old), (k, len(old)))], axis=1)
        mn = np.median(new[rng.integers(0, len(new), (k, len(new)))], axis=1)
        ratios[start:start + k] = mn / mo
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def compare_rounds(
    old, new, *, min_effect: float = MIN_EFFECT, alpha: float = ALPHA, seed: int = 0,
    key: tuple[str, str, str, str] = ("", "", "", "time"), unit: str = "s", scale: float = 1.0, data: str = "",
    bootstrap: bool = True,
) -> Verdict:
    """The verdict on two samples of round times (any positive unit; ``scale`` converts to ``unit``)."""
    from scipy.stats import mannwhitneyu

    if min_effect < 0 or not 0 < alpha < 1:
        raise ValueError(f"need min_effect >= 0 and 0 < alpha < 1, got {min_effect}, {alpha}")
    o = np.asarray(old, dtype=np.float64)
    n = np.asarray(new, dtype=np.float64)
    o, n = o[np.isfinite(o) & (o > 0)], n[np.isfinite(n) & (n > 0)]
    common = {"key": key, "unit": unit, "data": data, "n_old": len(o), "n_new": len(n)}
    if len(o) == 0 or len(n) == 0:
        return Verdict(status="too few rounds", note="no rounds", **common)
    mo, mn = float(np.median(o)), float(np.median(n))
    found = {"old_median": mo / scale, "new_median": mn / scale, "ratio": mn / mo}
    if _min_p(len(o), len(n)) >= alpha:
        return Verdict(status="too few rounds", **common, **found,
                       note=f"{len(o)} vs {len(n)} rounds cannot reach p < {alpha}")
    lo, ln = np.log(o), np.log(n)
    shift = math.log1p(min_effect)
    p_slower = float(mannwhitneyu(ln - shift, lo, alternative="greater").pvalue)
    p_faster = float(mannwhitneyu(ln + shift, lo, alternative="less").pvalue)
    ci = _bootstrap_ratio(o, n, seed=seed) if bootstrap else (math.nan, math.nan)
    status = "regression" if p_slower < alpha else "improvement" if p_faster < alpha else "unchanged"
    return Verdict(status=status, ci_low=ci[0], ci_high=ci[1], p_slower=p_slower, p_faster=p_faster, **common,
                   **found)


def run_kind(output_json: dict) -> dict[str, str]:
    """What makes two runs' times comparable: the device, the CPU flags and the Keras backend."""
    meta = output_json.get("signbench", {}).get("meta", {})
    return {"device": str(meta.get("device", "")), "cpu_flags": run_cpu_flags(output_json),
            "backend": str(meta.get("backend", ""))}


def _benchmarks(output_json: dict) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for b in output_json.get("benchmarks", []):
        key = bench_key(b)
        if key in out:  # two benchmarks with the same description: tell them apart by name
            key = (*key[:3], f"{key[3]} [{b.get('name', '')}]")
        out[key] = b
    return out


def compare_runs(
    old_json: dict, new_json: dict, *, min_effect: float = MIN_EFFECT, alpha: float = ALPHA, bootstrap: bool = True,
) -> list[Verdict]:
    """A verdict for every benchmark both runs timed (in the new run's order); :class:`NotComparable`
    when the runs come from different kinds of device."""
    from signbench.results import TIME_UNITS

    ko, kn = run_kind(old_json), run_kind(new_json)
    if ko != kn:
        diff = ", ".join(f"{k} {ko[k]!r} vs {kn[k]!r}" for k in ko if ko[k] != kn[k])
        raise NotComparable(f"the runs come from different kinds of device ({diff}); compare like with like")
    old = _benchmarks(old_json)
    out = []
    for i, (key, b) in enumerate(_benchmarks(new_json).items()):
        a = old.get(key)
        if a is None:
            continue
        unit = (b.get("extra_info") or {}).get("unit", "s")
        unit = unit if unit in TIME_UNITS else "s"
        da, db = data_kind(a), data_kind(b)
        rounds_a = (a.get("stats") or {}).get("data") or []
        rounds_b = (b.get("stats") or {}).get("data") or []
        if da != db:
            out.append(Verdict(key=key, unit=unit, data=f"{da} vs {db}", status="not comparable",
                               n_old=len(rounds_a), n_new=len(rounds_b), note=f"data {da} vs {db}"))
            continue
        out.append(compare_rounds(rounds_a, rounds_b, min_effect=min_effect, alpha=alpha, seed=i, key=key,
                                  unit=unit, scale=TIME_UNITS[unit], data=db, bootstrap=bootstrap))
    return out


def load_run(path: str | os.PathLike) -> dict:
    from signbench.results import load_raw_run

    return load_raw_run(path)


def resolve_run(spec: str | os.PathLike, raw_dir: str | os.PathLike) -> Path:
    """A raw run file: ``spec`` itself when it is a file, else the run of that name (or the one run whose
    name starts with it) under ``raw_dir``."""
    p = Path(spec)
    if p.is_file():
        return p
    d = Path(raw_dir)
    for cand in (d / str(spec), d / f"{spec}.json"):
        if cand.is_file():
            return cand
    name = str(spec)
    matches = sorted(d.glob(f"{name}*.json")) if d.is_dir() and "/" not in name and name else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DataError(f"{len(matches)} runs under {d} start with {spec!r}: " + ", ".join(m.stem for m in matches[:5]),
                        path=str(d))
    raise FileNotFoundError(f"no raw run file {spec} (neither a file nor a run name under {d})")


def pick_like(new_json: dict, runs: dict[str, dict]) -> str | None:
    """The name of the newest of ``runs`` (name -> raw JSON; names sort by time) from the same kind of device
    as ``new_json`` that timed at least half of its benchmarks, else the newest that timed any of them."""
    kind, keys = run_kind(new_json), set(_benchmarks(new_json))
    fallback = None
    for name in sorted(runs, reverse=True):
        cand = runs[name]
        if run_kind(cand) != kind:
            continue
        shared = len(keys & set(_benchmarks(cand)))
        if shared and 2 * shared >= len(keys):
            return name
        if shared and fallback is None:
            fallback = name
    return fallback


def latest_like(new_json: dict, raw_dir: str | os.PathLike, *, exclude: Path | None = None) -> Path | None:
    """The newest run under ``raw_dir`` from the same kind of device as ``new_json`` that timed at least
    half of its benchmarks (else any of them): :func:`pick_like`; None when there is none."""
    runs = {}
    for raw in sorted(Path(raw_dir).glob("*.json")):  # names start with the UTC time
        if exclude is not None and raw.resolve() == exclude.resolve():
            continue
        try:
            cand = json.loads(raw.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(cand, dict) and "signbench" in cand:
            runs[raw.stem] = cand
    name = pick_like(new_json, runs)
    return None if name is None else Path(raw_dir) / f"{name}.json"
