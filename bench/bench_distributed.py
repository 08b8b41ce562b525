"""Scaling out on this machine: 1 vs 2 workers, for distributed tuning and multi-worker training.

Both benchmarks measure the 1-worker run first (untimed by pytest-benchmark, timed by the clock)
and then time the 2-worker run, in the same session, so the speedup is a ratio of two numbers taken
under the same load. Each worker process gets ``cores // workers`` TF threads, so both runs use
the whole machine: on 2 cores expect little or no speedup (two processes share the cores one
process already used, and each starts its own TensorFlow); the point is that it works and the
numbers are honest. On a multi-host or multi-GPU run the same code is what scales.

- ``bench_distributed_tuning``: one round is a whole KerasTuner search (chief + workers started,
  RandomSearch over the course hypermodel, every trial COMPLETED - checked after timing). Metrics:
  wall time of each search (process start-up included) and the span from the first trial's start
  to the last trial's end (start-up excluded), with the speedups of both.
- ``bench_multiworker_training``: one round is a MultiWorkerMirroredStrategy training run with
  the same global batch on 1 and on 2 worker processes on 127.0.0.1. Metrics: training samples/s
  of each (process start-up excluded) and the speedup; checked after timing: the 2-worker run
  trained like the 1-worker run (hundreds of steps: per-epoch losses within 1 %; the tests check
  the weights themselves on a short run).

Smoke mode (CI): tiny synthetic data, and only the 2-worker run (the tests cover correctness; the
1-worker baseline and the speedups are measured by real runs only, to keep CI short). Real runs
(``--benchmark-enable``) use the real training CSV, or, where it is absent, 4,096 seeded synthetic
images of its shapes (28x28x1, 24 classes; ``signbench.distributed.data_parallel.synthetic_data``),
and the rows say which (``data``):
``python3 -m pytest bench/bench_distributed.py --benchmark-enable -p no:randomly``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from signbench.distributed.data_parallel import launch_multiworker, load_result
from signbench.distributed.tuning import LocalSearch, SearchSpec, read_events

TIMEOUT_S = 3600


def _threads(workers: int) -> int:
    return max(1, len(os.sched_getaffinity(0)) // workers)


def _search(spec: SearchSpec, workers: int, project: str) -> dict:
    spec.project_name = project
    t0 = time.perf_counter()
    with LocalSearch(spec, workers, threads=_threads(workers)) as search:
        summary = search.run(timeout_s=TIMEOUT_S)
    wall = time.perf_counter() - t0
    events = read_events(spec.project_dir)
    begins = [e["time"] for e in events if e["event"] == "begin"]
    ends = [e["time"] for e in events if e["event"] == "end"]
    return {"summary": summary, "wall": wall, "span": max(ends) - min(begins)}


#: The real data's shapes, for the synthetic stand-in of a real run without the CSVs.
SYNTHETIC = {"n": 4096, "image_size": 28, "num_classes": 24}


def _data_kind(bench_cfg) -> str:
    """What this benchmark trains on: smoke runs always use tiny synthetic data."""
    return "synthetic" if bench_cfg.smoke else bench_cfg.data


def bench_distributed_tuning(benchmark, bench_cfg, tmp_path):
    if bench_cfg.smoke:
        data, trials, epochs = {"kind": "synthetic", "n": 48, "image_size": 8, "num_classes": 3}, 2, 1
    elif bench_cfg.synthetic:
        data, trials, epochs = {"kind": "synthetic", **SYNTHETIC}, 4, 2
    else:
        data, trials, epochs = {"kind": "sign_mnist", "n": 4096}, 4, 2
    spec = SearchSpec(directory=str(tmp_path), tuner="random", max_trials=trials, epochs=epochs,
                      batch_size=128, seed=bench_cfg.seed, data=data)
    one = None if bench_cfg.smoke else _search(spec, 1, "one_worker")
    benchmark.extra_info.update(
        model="hypermodel", runtime="keras-tuner chief+2 workers", batch_size=spec.batch_size,
        metric="search wall time", unit="s", items_per_round=trials, items="trials", threads=_threads(2),
        seed=bench_cfg.seed, data=_data_kind(bench_cfg),
    )
    two = benchmark.pedantic(_search, args=(spec, 2, "two_workers"), rounds=1, iterations=1)
    for run in (one, two) if one else (two,):
        trials_seen = run["summary"]["trials"]
        assert len(trials_seen) == trials
        assert {t["status"] for t in trials_seen.values()} == {"COMPLETED"}
    assert {w for ws in two["summary"]["completed_by"].values() for w in ws} <= {"worker0", "worker1"}
    metrics = {"2 workers wall": [two["wall"], "s"], "2 workers trial span": [two["span"], "s"]}
    if one:
        metrics.update({
            "1 worker wall": [one["wall"], "s"],
            "speedup wall (1/2)": [one["wall"] / two["wall"], "x"],
            "1 worker trial span": [one["span"], "s"],
            "speedup trial span (1/2)": [one["span"] / two["span"], "x"],
        })
    benchmark.extra_info["metrics"] = metrics


def bench_multiworker_training(benchmark, bench_cfg, tmp_path):
    if bench_cfg.smoke:
        args = ["--n", "64", "--image-size", "8", "--num-classes", "3", "--global-batch", "16", "--epochs", "2"]
        model, batch = "baseline", 16
    else:
        data = (["--data", "synthetic", "--n", str(SYNTHETIC["n"]), "--image-size", str(SYNTHETIC["image_size"]),
                 "--num-classes", str(SYNTHETIC["num_classes"])] if bench_cfg.synthetic
                else ["--data", "sign_mnist", "--n", "4096"])
        args = [*data, "--model", "cnn", "--global-batch", "128", "--epochs", "2"]
        model, batch = "cnn", 128
    args += ["--seed", str(bench_cfg.seed)]

    def train(workers):
        outs = launch_multiworker(workers, tmp_path / f"w{workers}", extra_args=args, timeout_s=TIMEOUT_S,
                                  threads=_threads(workers))
        return load_result(outs[0])["multiworker"]

    one = None if bench_cfg.smoke else train(1)
    benchmark.extra_info.update(
        model=model, runtime="MultiWorkerMirroredStrategy x2 (loopback)", batch_size=batch,
        metric="training run incl. start-up", unit="s", threads=_threads(2), seed=bench_cfg.seed,
        data=_data_kind(bench_cfg),
    )
    two = benchmark.pedantic(train, args=(2,), rounds=1, iterations=1)
    assert two["replicas"] == 2
    assert two["loss"][-1] < two["loss"][0] or len(two["loss"]) == 1
    sps2 = two["samples"] / two["seconds"]
    metrics = {"2 workers samples/s": [sps2, "samples/s"]}
    if one:
        assert one["replicas"] == 1
        # Hundreds of Adam steps amplify float32 order differences: compare the epoch losses.
        np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-2)
        sps1 = one["samples"] / one["seconds"]
        metrics.update({"1 worker samples/s": [sps1, "samples/s"], "speedup (2/1 samples/s)": [sps2 / sps1, "x"]})
    benchmark.extra_info["metrics"] = metrics

