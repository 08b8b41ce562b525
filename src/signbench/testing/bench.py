"""pytest plugin of the benchmarks (``-p signbench.testing.bench`` in pyproject): shared set-up, and the
step that turns a benchmark run into result rows.

Smoke mode (pytest-benchmark disabled, the default from pyproject's addopts): every benchmark runs
its function once on tiny inputs, so CI keeps them from rotting in seconds. Real runs pass
``--benchmark-enable``; with ``--results-dir DIR`` the run's raw JSON (pytest-benchmark's, with
every round's time, plus our run metadata and the skipped rows) is stored as
``DIR/raw/<unique>.json``, the human tables ``DIR/<name>.csv`` / ``DIR/<name>.md`` are
rewritten from it (``name`` = ``--results-name``, default "cpu" or "gpu" by the device seen), and one row
per benchmark (the median of its rounds, with the run's metadata) is appended to ``DIR/history.csv``
(:mod:`signbench.review.history`). Smoke runs write nothing.

Every benchmark's ``extra_info["data"]`` says what it ran on: the run's data kind (what ``sign_data``
serves: the real CSVs when they are here, else the synthetic stand-in), unless the benchmark sets it.

Data: the real Sign Language MNIST CSVs when they are here (``signbench.testing.real_data_missing``),
else seeded synthetic images and labels of the real shapes (28x28x1, 24 classes, as many rows as the
real CSVs; :func:`synthetic_sign_data`), so every latency and throughput benchmark runs on any machine.
The run metadata and every row say which (``data``: "real" or "synthetic"); a synthetic run's tables
are ``<name>_synthetic.csv|md``, so they never replace, or sit in one table with, real-data rows; and
accuracy numbers, meaningless on synthetic images, become skipped rows saying so
(:meth:`BenchConfig.accuracy`).

Benchmark convention (see :mod:`signbench.results`): ``extra_info`` keys ``model``, ``runtime``,
``batch_size``, ``metric`` / ``unit`` (what one round's time is, and the time unit to report),
optional ``items_per_round`` (adds throughput), ``threads``; derived numbers in
``extra_info["metrics"] = {name: [value, unit]}``. p50/p90/p99 come from the raw round times.

MFU: one float32 matmul peak per run. A benchmark that reports MFU asks for the ``peak_meter`` fixture
(the run's one :class:`signbench.studies.flops.PeakMeter`), calls ``peak_meter.sample()`` right before
its timed part and records what it achieved, ``extra_info["achieved_flops"] = {mfu_name: FLOP/s}``. The
meter also samples once when collection is done (before any benchmark runs, if one selected asks for
it) and, at the end of a real run, until it has 5 samples; the run's peak is their maximum. The raw
JSON stores it with every sample (``signbench.peaks.matmul``) beside the CPU's physical limit
(``signbench.peaks.physical``, :func:`signbench.studies.flops.physical_peak_here`; none on an
accelerator), and the rows divide by them (:func:`signbench.results.rows_from_benchmark_json`): every MFU
row of a run by the same peak.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from signbench.meta import available_cores
from signbench.testing import real_data_missing

SKIPPED_KEY = pytest.StashKey[list]()
#: The run's one matmul peak meter (created on first use, :func:`_peak_meter`).
PEAK_KEY = pytest.StashKey[object]()
#: The fixture a benchmark that reports MFU asks for.
PEAK_FIXTURE = "peak_meter"
#: Rows of the real CSVs (train, test): the synthetic stand-in has as many.
SIGN_MNIST_ROWS = {"train": 27_455, "test": 7_172}
#: Rows of the smoke runs' subsets (train, test), real or synthetic.
SMOKE_ROWS = {"train": 2048, "test": 512}
#: Why an accuracy number is a skipped row on synthetic data.
ACCURACY_SKIPPED = (
    "accuracy needs the real Sign Language MNIST; this run used seeded synthetic images of the real shapes"
)


def data_kind() -> str:
    """"real" when the real CSVs are here (the benchmarks then use them), else "synthetic"."""
    return "synthetic" if real_data_missing() else "real"


def pytest_addoption(parser):
    g = parser.getgroup("signbench", "signbench benchmark results")
    g.addoption("--results-dir", default=None, help="store raw JSON under DIR/raw and tables DIR/<name>.csv|md")
    g.addoption("--results-name", default=None, help="table name (default: cpu, or gpu when a GPU is visible)")
    g.addoption("--bench-seed", type=int, default=0, help="root seed of the benchmarks (default 0)")
    g.addoption(
        "--litert-threads", type=int, default=None,
        help="LiteRT interpreter threads (default: all cores)",
    )
    g.addoption(
        "--bench-budget", type=float, default=2.0,
        help="seconds of timed rounds to aim for per benchmark (rounds are clamped to a range)",
    )


def pytest_configure(config):
    config.stash[SKIPPED_KEY] = []


#: Most pytest-xdist workers of a test run (each holds a TensorFlow, and uses every core for its ops).
MAX_TEST_WORKERS = 4


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before pytest-xdist's own, which always answers
def pytest_xdist_auto_num_workers(config):
    """Workers for pyproject's ``-n auto``: none for a real benchmark run (``--benchmark-enable``: it
    times on quiet cores in one process, and pytest-benchmark switches itself off under xdist), else one
    per available core, at most :data:`MAX_TEST_WORKERS` (none with one core). ``PYTEST_XDIST_AUTO_NUM_WORKERS``
    still decides when it is set."""
    if config.getoption("benchmark_enable", False):
        return 0
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = available_cores()
    return 0 if cores < 2 else min(cores, MAX_TEST_WORKERS)


#: Benchmarks of TensorFlow itself (tf.data, ImageDataGenerator, tf.distribute): TensorFlow backend only.
TF_ONLY = {"bench_data.py", "bench_distributed.py", "bench_speed.py"}


def pytest_collection_modifyitems(config, items):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"measures TensorFlow itself (tf.data / tf.distribute); this run uses the {backend} backend"
    )
    for item in items:
        if item.path.name in TF_ONLY:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and "benchmark" in getattr(item, "fixturenames", ()):
        params = dict(getattr(getattr(item, "callspec", None), "params", {}) or {})
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        item.config.stash[SKIPPED_KEY].append(
            {
                "model": params.get("model_name", params.get("model", "")),
                "runtime": params.get("runtime", ""),
                "batch_size": params.get("batch_size", ""),
                "test": item.nodeid,
                "reason": reason.removeprefix("Skipped: "),
            }
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    bm = getattr(item, "funcargs", {}).get("benchmark")
    if bm is not None and hasattr(bm, "extra_info"):
        bm.extra_info.setdefault("data", data_kind())  # what sign_data serves in this run
    yield


def _benchmark_session(config):
    return getattr(config, "_benchmarksession", None)


def _smoke(config) -> bool:
    bs = _benchmark_session(config)
    return bool(bs is None or bs.disabled)


def _peak_meter(config):
    """The run's one PeakMeter: float32 256x256 matmuls in smoke mode, else 1024x1024 on a CPU (enough to
    saturate it) and 8192x8192 on an accelerator (which needs a much bigger product to reach its peak)."""
    meter = config.stash.get(PEAK_KEY, None)
    if meter is None:
        from signbench.studies.flops import PeakMeter

        if _smoke(config):
            meter = PeakMeter(256, repeats=3)
        else:
            from signbench.meta import on_accelerator

            meter = PeakMeter(8192 if on_accelerator() else 1024, repeats=10)
        config.stash[PEAK_KEY] = meter
    return meter


def pytest_collection_finish(session):
    if any(PEAK_FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        _peak_meter(session.config).sample()  # the run's first sample, before any benchmark


def peaks_block(config) -> dict | None:
    """The run's peaks for its raw JSON, None when no benchmark reported MFU: the matmul peak (the meter
    first topped up to its 5 samples) and the CPU's physical limit (none on an accelerator: the matmuls
    ran there)."""
    meter = config.stash.get(PEAK_KEY, None)
    if meter is None or not meter.samples:
        return None
    from signbench.meta import on_accelerator
    from signbench.studies.flops import physical_peak_here

    meter.fill()
    if on_accelerator():
        physical = {"flops": None, "note": "not derived: this run's matmuls ran on an accelerator, and the "
                                           "physical limit derived here is the CPU's"}
    else:
        physical = physical_peak_here().as_dict()
    return {"matmul": meter.as_dict(), "physical": physical}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    out_dir = config.getoption("--results-dir")
    bs = _benchmark_session(config)
    if not out_dir or bs is None or bs.disabled:
        return
    from signbench import results
    from signbench.meta import run_metadata
    from signbench.review import history

    output_json = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=bs.benchmarks,
        include_data=True,
        machine_info=bs.get_machine_info(),
        commit_info=config.hook.pytest_benchmark_generate_commit_info(config=config),
    )
    meta = run_metadata(config.getoption("--bench-seed"), data=data_kind())
    command = "python3 -m pytest " + shlex.join(config.invocation_params.args)
    name = config.getoption("--results-name") or ("cpu" if meta["device"] == meta["cpu"] else "gpu")
    if meta["data"] == "synthetic":
        name += "_synthetic"  # never replaces a real-data table, never shares one with real rows
    output_json["signbench"] = {
        "meta": meta, "skipped": config.stash[SKIPPED_KEY], "command": command, "exitstatus": int(exitstatus),
        "results_name": name, "peaks": peaks_block(config),
    }
    raw = results.write_raw(output_json, Path(out_dir) / "raw")
    rows = results.rows_from_benchmark_json(output_json)
    tables = results.write_tables(rows, out_dir, name, command=command)
    hist = history.append(Path(out_dir) / "history.csv", history.history_rows(output_json, raw.stem))
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"signbench: {len(rows)} rows on {meta['data']} data; raw {raw}; "
                      f"tables {', '.join(map(str, tables))}; history {hist}")


# --- fixtures shared by the benchmarks ----------------------------------------------------------


@dataclass
class BenchConfig:
    smoke: bool
    seed: int
    budget_s: float
    litert_threads: int | None
    cores: int = field(default_factory=available_cores)
    #: "real" or "synthetic": what ``sign_data`` serves in this run (:func:`data_kind`).
    data: str = field(default_factory=data_kind)
    #: The run's skipped rows (the plugin's stash), where :meth:`accuracy` records what it leaves out.
    skipped: list = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return self.data == "synthetic"

    def accuracy(self, benchmark, metrics: dict) -> dict:
        """``metrics`` (accuracy numbers, ``{name: [value, unit]}``) as they are on the real data; on
        synthetic data none of them, each recorded instead as a skipped row with the reason."""
        if not self.synthetic:
            return dict(metrics)
        info = benchmark.extra_info
        for name in metrics:
            self.skipped.append({
                "model": info.get("model", ""), "runtime": info.get("runtime", ""),
                "batch_size": info.get("batch_size", ""), "metric": name,
                "test": getattr(benchmark, "fullname", ""), "reason": ACCURACY_SKIPPED,
            })
        return {}

    def threads_for(self, batch_size: int) -> int:
        """LiteRT threads: ``--litert-threads``, else every core (at batch 1 too: the course CNN's
        one-image invoke is memory-bound and measured 2-4x faster on 2 threads than on 1)."""
        if self.litert_threads:
            return self.litert_threads
        return self.cores

    def rounds(self, fn, *, min_rounds: int, max_rounds: int) -> int:
        """Rounds so the timed part takes about ``budget_s``: fn is timed 3 times first."""
        if self.smoke:
            return 1
        best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        return int(min(max_rounds, max(min_rounds, self.budget_s / max(best, 1e-9))))


@pytest.fixture(scope="session")
def peak_meter(request):
    """The run's one float32 matmul :class:`~signbench.studies.flops.PeakMeter`: call ``sample()`` right
    before the timed part of a benchmark that reports MFU (see the module docstring)."""
    return _peak_meter(request.config)


@pytest.fixture(scope="session")
def bench_cfg(request) -> BenchConfig:
    return BenchConfig(
        smoke=_smoke(request.config),
        seed=request.config.getoption("--bench-seed"),
        budget_s=request.config.getoption("--bench-budget"),
        litert_threads=request.config.getoption("--litert-threads"),
        skipped=request.config.stash[SKIPPED_KEY],
    )


def synthetic_sign_data(seed: int, sizes: dict[str, int] = SIGN_MNIST_ROWS):
    """(train, test) seeded synthetic LabeledImages of Sign Language MNIST's shapes: uint8 28x28x1
    images (a per-class blob plus noise, :func:`signbench.testing.fixtures.make_images`) and the 24
    letters as classes, ``sizes["train"]`` / ``sizes["test"]`` rows. Learnable, so the benchmarks'
    checks (the loss falls, runtimes agree on confidently classified images) mean what they do on
    the real data; their accuracies mean nothing."""
    from signbench.data.types import SIGN_LETTERS, LabeledImages
    from signbench.seeds import derive
    from signbench.testing.fixtures import make_images

    out = []
    for split in ("train", "test"):
        images, labels = make_images(sizes[split], derive(seed, f"synthetic/{split}"), side=28,
                                     classes=len(SIGN_LETTERS))
        out.append(LabeledImages(images, labels, list(SIGN_LETTERS), source=f"synthetic:{split}:seed{seed}"))
    return tuple(out)


@pytest.fixture(scope="session")
def sign_data(bench_cfg):
    """(train, test) LabeledImages: the real data when it is here, else :func:`synthetic_sign_data`
    of the same sizes (``bench_cfg.data`` says which). Smoke mode: the first 2,048 / 512 rows."""
    if bench_cfg.synthetic:
        return synthetic_sign_data(bench_cfg.seed, SMOKE_ROWS if bench_cfg.smoke else SIGN_MNIST_ROWS)
    from signbench.data import load_sign_mnist
    from signbench.data.locate import real_data_dir

    d = real_data_dir()
    train, test = load_sign_mnist("train", d), load_sign_mnist("test", d)
    if bench_cfg.smoke:
        train, test = train.subset(np.arange(SMOKE_ROWS["train"])), test.subset(np.arange(SMOKE_ROWS["test"]))
    return train, test


def transfer_available() -> str | None:
    """None when the transfer head model can be built here, else why not."""
    try:
        from signbench.models.backbones import inception_mixed7  # noqa: F401
    except ImportError as exc:
        return f"signbench.models.backbones.inception_mixed7 unavailable: {exc}"
    return None


def transfer_shape(smoke: bool) -> tuple[int, int, int]:
    """InceptionV3 input: the course's 150x150x3; smoke mode the smallest it accepts (75x75x3)."""
    return (75, 75, 3) if smoke else (150, 150, 3)


def build_model(name: str, num_classes: int, *, seed: int, smoke: bool):
    """A fresh model by benchmark name: a course model, or "transfer" (InceptionV3 mixed7 head)."""
    import keras

    from signbench.seeds import derive

    keras.utils.set_random_seed(derive(seed, f"init/{name}"))
    if name == "transfer":
        from signbench.models.backbones import inception_mixed7

        return inception_mixed7(num_classes, transfer_shape(smoke), weights=None)
    from signbench.models import build

    return build(name, num_classes)


def model_inputs(name: str, images: np.ndarray, *, smoke: bool) -> np.ndarray:
    """uint8 N x 28 x 28 x 1 images -> the float32 input of model ``name``."""
    if name == "transfer":
        import keras

        from signbench.models.backbones import resize_and_repeat

        return np.asarray(keras.ops.convert_to_numpy(resize_and_repeat(images, transfer_shape(smoke)[:2])))
    return images.astype(np.float32) / np.float32(255.0)


def pytest_report_header(config):
    why = real_data_missing()
    data = f"synthetic ({why})" if why else "real"
    return [f"signbench bench: python {sys.version.split()[0]}, cores {available_cores()}, data {data}"]
