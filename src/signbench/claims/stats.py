"""Verdicts from per-seed measurements: paired t intervals for effects, exact binomial intervals for events.

Every effect is oriented so that a positive value is what the claim says (``direction``): for a claim
"a is larger than b" the per-seed effect is ``a - b``; for "a is smaller than b" it is ``b - a``; for a
claim about one arm ("the gap is larger than zero") it is the value itself.

Rules (fixed before any run; see :mod:`signbench.claims.declared`):

- superiority and presence: ``holds`` when the 95% interval of the mean effect lies entirely above the
  smallest effect that counts; ``fails`` when it lies entirely below zero; ``inconclusive`` otherwise.
- non-inferiority with margin m: ``holds`` when the interval's lower bound is above ``-m``; ``fails`` when
  the whole interval is below ``-m``; ``inconclusive`` otherwise.
- event (fired or not, per seed): ``holds`` when it fired in every seed, ``fails`` when in none,
  ``inconclusive`` otherwise; the 95% Clopper-Pearson interval of the rate is reported beside it.

The interval of an effect is the t interval over seeds (``scipy.stats.t``), which needs at least two
seeds; the verdict does not depend on the order of the seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KINDS", "Verdict", "event_verdict", "effect_verdict", "t_interval"]

KINDS = ("superiority", "presence", "non-inferiority", "event")
LEVEL = 0.95


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim and metric: mean effect, its 95% interval, the verdict."""

    verdict: str  # "holds" | "fails" | "inconclusive"
    effect_mean: float
    ci_low: float
    ci_high: float
    n: int


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the two-sided ``level`` t interval of the mean of ``values`` (n >= 2)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least two finite values, got {x.tolist()}")
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def effect_verdict(effects: Sequence[float], kind: str, min_effect: float) -> Verdict:
    """The verdict of a superiority, presence or non-inferiority claim from its per-seed effects."""
    mean, low, high = t_interval(effects)
    if kind in ("superiority", "presence"):
        verdict = "holds" if low > min_effect else "fails" if high < 0 else "inconclusive"
    elif kind == "non-inferiority":
        verdict = "holds" if low > -min_effect else "fails" if high < -min_effect else "inconclusive"
    else:
        raise ValueError(f"kind must be one of {KINDS[:3]}, got {kind!r}")
    return Verdict(verdict, mean, low, high, len(effects))


def event_verdict(fired: Sequence[bool]) -> Verdict:
    """The verdict of an event claim from whether it fired in each seed (mean = the rate)."""
    from scipy import stats

    n, k = len(fired), int(sum(bool(f) for f in fired))
    if n == 0:
        raise ValueError("no seeds")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=LEVEL, method="exact")
    verdict = "holds" if k == n else "fails" if k == 0 else "inconclusive"
    return Verdict(verdict, k / n, float(ci.low), float(ci.high), n)
