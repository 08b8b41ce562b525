"""The regression gate on synthetic rounds with realistic noise (log-normal, 10% spread, occasional
outliers): a 20% slowdown is flagged, pure noise raises at most 5% false alarms, like only with like."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from signbench.review import regress


def rounds(rng: np.random.Generator, n: int, slowdown: float = 1.0, outliers: float = 0.03) -> np.ndarray:
    """``n`` round times around 1 ms: log-normal with a 10% spread, and a few rounds 1.5-3x slower (a
    page fault, a context switch), times ``slowdown``."""
    x = np.exp(rng.normal(0.0, 0.10, n)) * 1e-3 * slowdown
    hit = rng.random(n) < outliers
    x[hit] *= rng.uniform(1.5, 3.0, hit.sum())
    return x


def _status(old, new, **kw) -> str:
    return regress.compare_rounds(old, new, bootstrap=False, **kw).status


@pytest.mark.parametrize("n", [50, 200])
def test_a_20_percent_slowdown_is_flagged(n):
    seeds = range(40)
    flagged = [_status(rounds(rng := np.random.default_rng(s), n), rounds(rng, n, 1.2)) for s in seeds]
    assert flagged.count("regression") / len(flagged) >= 0.95, flagged


def test_a_20_percent_speed_up_is_an_improvement_and_a_5_percent_change_is_not_flagged():
    rng = np.random.default_rng(7)
    assert _status(rounds(rng, 200), rounds(rng, 200, 0.8)) == "improvement"
    small = [_status(rounds(rng := np.random.default_rng(s), 200), rounds(rng, 200, 1.05)) for s in range(20)]
    assert small.count("regression") == 0, "5% is below the 10% minimum effect"
    assert _status(rounds(rng, 200), rounds(rng, 200, 1.05), min_effect=0.0) == "regression"


@pytest.mark.parametrize("n", [5, 30, 200])
def test_false_alarm_rate_on_pure_noise_is_at_most_5_percent(n):
    seeds = range(200)
    verdicts = [_status(rounds(rng := np.random.default_rng(10_000 + s), n), rounds(rng, n)) for s in seeds]
    assert verdicts.count("regression") / len(verdicts) <= 0.05
    assert verdicts.count("improvement") / len(verdicts) <= 0.05


def test_false_alarm_rate_per_run_of_20_benchmarks_is_at_most_5_percent():
    """The gate fails a run when any benchmark regresses: count the noise-only runs it would fail."""
    failed = 0
    for s in range(50):
        rng = np.random.default_rng(20_000 + s)
        sizes = rng.choice([5, 30, 200, 1000], 20)
        failed += any(_status(rounds(rng, int(n)), rounds(rng, int(n))) == "regression" for n in sizes)
    assert failed / 50 <= 0.05


def test_the_false_alarm_count_can_fail_a_naive_rule():
    """Flagging any median 10% slower, without a test, raises far more than 5% false alarms on 5 rounds:
    the rate measured above is one a bad rule would exceed."""
    naive = 0
    for s in range(200):
        rng = np.random.default_rng(10_000 + s)
        a, b = rounds(rng, 5), rounds(rng, 5)
        naive += np.median(b) / np.median(a) > 1.1
    assert naive / 200 > 0.05


def test_too_few_rounds_are_never_flagged():
    assert _status([1.0, 1.1, 1.05], [2.0, 2.1, 2.2]) == "too few rounds"  # 3 vs 3: p >= 1/20
    assert _status([1.0], [3.0]) == "too few rounds"
    assert _status([], [1.0]) == "too few rounds"
    assert _status([1.0, 1.1, 1.05, 0.98], [2.0, 2.1, 2.2, 2.05]) == "regression"  # 4 vs 4: p = 1/70


def test_the_verdict_reports_the_ratio_of_medians_and_its_bootstrap_interval():
    rng = np.random.default_rng(3)
    v = regress.compare_rounds(rounds(rng, 300), rounds(rng, 300, 1.3), unit="ms", scale=1e-3)
    assert v.status == "regression" and v.ratio == pytest.approx(1.3, rel=0.05)
    assert v.ci_low < v.ratio < v.ci_high and v.ci_low > 1.1
    assert v.old_median == pytest.approx(1.0, rel=0.05)  # in ms
    again = regress.compare_rounds(rounds(np.random.default_rng(3), 300), rounds(rng, 300, 1.3))
    assert again.ci_low != v.ci_low or again.ratio != v.ratio  # other rounds, other numbers
    same = regress.compare_rounds(*[rounds(np.random.default_rng(5), 300) for _ in range(2)])
    assert same.ratio == 1.0 and same.status == "unchanged"
    with pytest.raises(ValueError):
        regress.compare_rounds([1.0], [1.0], min_effect=-0.1)


# -- runs ------------------------------------------------------------------------------------------
def run_json(seed: int, slowdown: float = 1.0, *, device: str = "AMD EPYC", flags: str = "avx2 fma",
             backend: str = "tensorflow", data: str = "real") -> dict:
    rng = np.random.default_rng(seed)

    def bench(name, model, runtime, batch, n, slow):
        return {"name": name, "extra_info": {"model": model, "runtime": runtime, "batch_size": batch,
                                             "metric": "latency", "unit": "us", "data": data},
                "stats": {"data": list(rounds(rng, n, slow)), "rounds": n}}

    return {
        "benchmarks": [bench("bench_infer[cnn-int8-1]", "cnn", "tflite-int8", 1, 300, slowdown),
                       bench("bench_infer[cnn-f32-1]", "cnn", "tflite-float32", 1, 300, 1.0),
                       bench("bench_train[cnn]", "cnn", "keras-fit", 128, 3, slowdown)],
        "machine_info": {"cpu": {"flags": flags.split() + ["sse2"]}},
        "signbench": {"meta": {"date": f"2026-11-2{seed % 10}T10:00:00+00:00", "git_commit": f"c{seed}",
                               "device": device, "backend": backend, "threads": 2}},
    }


def test_compare_runs_matches_benchmarks_and_flags_only_the_slow_one():
    verdicts = {v.key[1]: v for v in regress.compare_runs(run_json(1), run_json(2, 1.25))}
    assert verdicts["tflite-int8"].status == "regression" and verdicts["tflite-int8"].unit == "us"
    assert verdicts["tflite-float32"].status == "unchanged"
    assert verdicts["keras-fit"].status == "too few rounds"
    assert verdicts["tflite-int8"].label == "cnn/tflite-int8/batch 1 latency"


def test_compare_runs_only_like_with_like():
    with pytest.raises(regress.NotComparable, match="device"):
        regress.compare_runs(run_json(1), run_json(2, device="NVIDIA H100"))
    with pytest.raises(regress.NotComparable, match="cpu_flags"):
        regress.compare_runs(run_json(1), run_json(2, flags="avx2 fma avx512f"))
    with pytest.raises(regress.NotComparable, match="backend"):
        regress.compare_runs(run_json(1), run_json(2, backend="jax"))
    mixed = regress.compare_runs(run_json(1), run_json(2, 1.5, data="synthetic"))
    assert {v.status for v in mixed} == {"not comparable"}


def test_cpu_flags_come_from_the_metadata_or_from_machine_info():
    old = run_json(1)
    assert regress.run_kind(old)["cpu_flags"] == "avx2 fma"  # from py-cpuinfo's list, in CPU_FLAGS order
    new = copy.deepcopy(old)
    new["signbench"]["meta"]["cpu_flags"] = "avx2 fma"
    new["machine_info"] = {}
    assert regress.run_kind(new) == regress.run_kind(old)


def test_pick_like_prefers_the_newest_run_of_the_same_kind_with_the_same_benchmarks():
    new = run_json(9)
    part = run_json(5)
    part["benchmarks"] = part["benchmarks"][:1]  # shares one of three benchmarks
    runs = {"20261120_a": run_json(1), "20261121_gpu": run_json(2, device="NVIDIA H100"),
            "20261122_part": part}
    assert regress.pick_like(new, runs) == "20261120_a"
    assert regress.pick_like(new, {"20261122_part": part}) == "20261122_part"
    assert regress.pick_like(new, {"20261121_gpu": run_json(2, device="NVIDIA H100")}) is None
