"""Latency helpers every table uses: the median of one callable's timed calls after a warm-up, and
several callables timed interleaved, round-robin, so the machine's noise hits them all alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from signbench import seeds

__all__ = ["interleaved_us", "median_ms"]


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median milliseconds of ``runs`` calls of ``fn`` after one untimed warm-up (tracing, allocation)."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def interleaved_us(
    fns: Mapping[str, Callable[[], object]], *, rounds: int, warmup: int, seed: int
) -> dict[str, np.ndarray]:
    """Microseconds of every call of every callable, timed interleaved: ``warmup`` untimed rounds, then
    ``rounds`` timed rounds, each round calling every callable once in a fresh seeded order (so no
    callable always runs right after the same neighbour). Returns name -> ``rounds`` times."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got {rounds} and {warmup}")
    names = list(fns)
    calls = [fns[n] for n in names]
    order = seeds.rng(seed, "interleaved-order")
    times = np.zeros((len(names), rounds))
    for r in range(warmup + rounds):
        for i in order.permutation(len(names)):
            fn = calls[i]
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            if r >= warmup:
                times[i, r - warmup] = dt * 1e6
    return {n: times[i] for i, n in enumerate(names)}
