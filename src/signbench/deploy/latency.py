"""One-call latency: the median of timed calls after a warm-up (the one helper every table uses)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["median_ms"]


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median milliseconds of ``runs`` calls of ``fn`` after one untimed warm-up (tracing, allocation)."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)
