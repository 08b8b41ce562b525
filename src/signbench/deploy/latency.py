"""Latency helpers every table uses: the median of one callable's timed calls after a warm-up, several
callables timed interleaved, round-robin, so the machine's noise hits them all alike, and the interpreter
thread counts a one-image latency is timed at."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from signbench import seeds

__all__ = ["interleaved_us", "median_ms", "thread_counts"]


def thread_counts(threads: Sequence[int] | None = None) -> tuple[int, ...]:
    """``threads`` as a tuple, or (None) every count from 1 up to the cores this process may use: the
    interpreter thread counts each TFLite model is timed at (its fastest is what a deployment would pick)."""
    from signbench.meta import available_cores

    counts = tuple(threads) if threads is not None else tuple(range(1, available_cores() + 1))
    if not counts or min(counts) < 1:
        raise ValueError(f"need thread counts >= 1, got {threads}")
    return counts


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
