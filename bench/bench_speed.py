"""Training-speed options (``signbench.speed``) for the course CNN, each against plain fit IN THE SAME RUN.

``bench_speed_option[P]``: two models of the course CNN are built, one plain (float32 arrays, batch
128, ``fit``) and one with preset ``P``; after one untimed epoch each (tracing, XLA compilation),
they train alternately, one epoch per round: pytest-benchmark times the candidate's epoch and the
plain epoch runs as the round's set-up, timed here. Interleaving means both see the same machine
load, so ``speedup_vs_plain`` (median plain epoch / median candidate epoch) is meaningful even on a
busy machine, when the absolute samples/s are not. MFU = training FLOPs per sample
(``signbench.flops``) x samples/s / float32 matmul peak measured in the same run. Checked after
timing: both models' losses are finite and went down.

``bench_speed_full_length``: the course's three models, 20 epochs on all the real training data,
plain fit vs ``signbench.speed.RECOMMENDED``, interleaved model by model; checks the final test
accuracy of each pair is within 0.5 point; reports the time ratio (goal <= 0.5). Smoke mode: 1
epoch on 2,048 rows, accuracy check skipped (one epoch on a subset is too noisy to compare).

Sizes: ``SIGNBENCH_SPEED_SAMPLES`` (default 8192) rows per epoch, ``SIGNBENCH_SPEED_ROUNDS`` (3).
Run: ``python3 -m pytest bench/bench_speed.py --benchmark-enable --results-dir results --results-name
train_speed -p no:randomly`` (add ``-k option`` for the per-option table only).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

from signbench.speed import PRESETS, RECOMMENDED, prepare

CANDIDATES = [k for k in PRESETS if k != "plain"]


def _subset(train, n: int, seed: int):
    from signbench.seeds import derive

    n = min(n, len(train))
    idx = np.sort(np.random.default_rng(derive(seed, "speed/subset")).choice(len(train), size=n, replace=False))
    return train.images[idx], train.labels[idx]


@pytest.mark.parametrize("preset", CANDIDATES)
def bench_speed_option(benchmark, bench_cfg, sign_data, preset):
    from signbench.flops import matmul_peak, train_flops_per_sample

    train, _ = sign_data
    smoke = bench_cfg.smoke
    n = 2048 if smoke else int(os.environ.get("SIGNBENCH_SPEED_SAMPLES", 8192))
    rounds = 1 if smoke else int(os.environ.get("SIGNBENCH_SPEED_ROUNDS", 3))
    x8, y = _subset(train, n, bench_cfg.seed)
    plain, plain_kw = prepare("cnn", x8, y, seed=bench_cfg.seed, num_classes=train.num_classes)
    cand, cand_kw = prepare("cnn", x8, y, seed=bench_cfg.seed, options=PRESETS[preset],
                            num_classes=train.num_classes)
    first = {
        "plain": plain.fit(**plain_kw, epochs=1).history["loss"][0],  # untimed: trace / compile
        "cand": cand.fit(**cand_kw, epochs=1).history["loss"][0],
    }
    times = {"plain": [], "cand": []}
    last = {}

    def plain_epoch():
        t = time.perf_counter()
        last["plain"] = plain.fit(**plain_kw, epochs=1).history["loss"][0]
        times["plain"].append(time.perf_counter() - t)

    def cand_epoch():
        t = time.perf_counter()
        last["cand"] = cand.fit(**cand_kw, epochs=1).history["loss"][0]
        times["cand"].append(time.perf_counter() - t)

    peak = matmul_peak(256 if smoke else 1024, repeats=3 if smoke else 10)
    benchmark.extra_info.update(
        model="cnn", runtime=f"keras-fit {PRESETS[preset].label()}", batch_size=PRESETS[preset].batch_size,
        metric="epoch time", unit="s", items_per_round=len(y), items="samples", seed=bench_cfg.seed,
        preset=preset,
    )
    benchmark.pedantic(cand_epoch, setup=plain_epoch, rounds=rounds, iterations=1)
    plain_rate = len(y) / float(np.median(times["plain"]))
    rate = len(y) / float(np.median(times["cand"]))
    flops = train_flops_per_sample(cand)
    benchmark.extra_info["metrics"] = {
        "samples_per_s": [rate, "samples/s"],
        "plain_samples_per_s": [plain_rate, "samples/s"],
        "speedup_vs_plain": [rate / plain_rate, "x"],
        "mfu": [flops * rate / peak, "fraction"],
        "plain_mfu": [flops * plain_rate / peak, "fraction"],
        "matmul_peak": [peak / 1e9, "GFLOP/s"],
    }
    for k in ("plain", "cand"):
        assert math.isfinite(last[k]) and last[k] < first[k], (k, first[k], last[k])


def bench_speed_full_length(benchmark, bench_cfg, sign_data):
    from signbench.models import MODEL_NAMES
    from signbench.speed import fast_fit

    train, test = sign_data
    smoke = bench_cfg.smoke
    epochs = 1 if smoke else 20
    plain_rows, fast_rows = {}, {}

    def plain_all():
        for name in MODEL_NAMES:
            plain_rows[name] = fast_fit(name, train, seed=bench_cfg.seed, epochs=epochs, test=test)

    def fast_all():
        for name in MODEL_NAMES:
            fast_rows[name] = fast_fit(name, train, seed=bench_cfg.seed, epochs=epochs, test=test,
                                       options=PRESETS[RECOMMENDED])

    benchmark.extra_info.update(
        model="+".join(MODEL_NAMES), runtime=f"keras-fit {PRESETS[RECOMMENDED].label()}",
        batch_size=PRESETS[RECOMMENDED].batch_size, metric=f"{epochs} epochs x {len(MODEL_NAMES)} models",
        unit="s", items_per_round=len(train) * epochs * len(MODEL_NAMES), items="samples", seed=bench_cfg.seed,
    )
    benchmark.pedantic(fast_all, setup=plain_all, rounds=1, iterations=1)
    plain_s = sum(r["seconds"] for r in plain_rows.values())
    fast_s = sum(r["seconds"] for r in fast_rows.values())
    metrics = {"time_ratio_vs_plain": [fast_s / plain_s, "x"], "plain_seconds": [plain_s, "s"],
               "fast_seconds": [fast_s, "s"]}
    for name in MODEL_NAMES:
        metrics[f"{name}_test_acc_plain"] = [plain_rows[name]["test_accuracy"], "fraction"]
        metrics[f"{name}_test_acc_fast"] = [fast_rows[name]["test_accuracy"], "fraction"]
    benchmark.extra_info["metrics"] = metrics
    for name in MODEL_NAMES:
        a, b = plain_rows[name]["test_accuracy"], fast_rows[name]["test_accuracy"]
        assert math.isfinite(a) and math.isfinite(b)
        if not smoke:
            assert abs(a - b) <= 0.005, f"{name}: plain {a:.4f} vs fast {b:.4f} at {epochs} epochs"
