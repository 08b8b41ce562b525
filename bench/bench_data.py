"""Data-stage benchmarks: CSV parse time, and images/s of the two folder pipelines.

* ``bench_csv_parse``: the real train CSV (83 MB uncompressed) parsed into uint8 arrays by
  ``signbench.data.formats.csv.parse_csv_bytes`` (decompression is set-up, timed separately). Same run,
  for the ratios: ``np.loadtxt`` and pandas' C engine on the same bytes, and gunzip with one
  ``zlib.decompress`` call vs the ``gzip`` module. Smoke mode times the parse once and skips the references.
* ``bench_folder_pipeline``: one epoch over the same folder of real images (written as PNG to a tmp
  folder, 100 per class; smoke: 10 per class), through the course's ``ImageDataGenerator
  .flow_from_directory`` and through the tf.data path; images/s of each in the same run.

Without the real CSVs both run on a file made from the synthetic stand-in (``sign_data``): a CSV of
the synthetic train images (as many rows as the real one; smoke: 2,048), and a folder of its PNGs.
Those rows say so (``data`` synthetic, "synthetic" in the metric or runtime): a synthetic CSV has
other digits than the real one, so its parse time is never compared with the real CSV's.

Run: ``python3 -m pytest bench/bench_data.py --benchmark-enable -p no:randomly`` (add
``--results-dir results`` to write the tables).
"""

from __future__ import annotations

import gzip
import io
import time
import zlib

import numpy as np
import pytest

from signbench.data.locate import TRAIN_CSV
from signbench.testing.bench import SIGN_MNIST_ROWS


def _best(fn, repeats: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


@pytest.fixture(scope="module")
def train_csv_gz(bench_cfg, request) -> tuple[bytes, int, str]:
    """(gzipped train CSV, its rows, its name in the metric): the real file, or the synthetic train images
    written in the real file's format (CRLF, raw labels)."""
    if not bench_cfg.synthetic:
        from signbench.data.locate import real_data_dir

        return (real_data_dir() / TRAIN_CSV).read_bytes(), SIGN_MNIST_ROWS["train"], "train, 83 MB"
    from signbench.data.formats.csv import to_csv_bytes
    from signbench.data.types import SIGN_RAW_LABELS

    train, _ = request.getfixturevalue("sign_data")  # only here: the real file needs no parsed copy
    raw = to_csv_bytes(train.images, [SIGN_RAW_LABELS[i] for i in train.labels], crlf=True)
    return gzip.compress(raw, mtime=0), len(train), f"synthetic train, {len(raw) / 1e6:.0f} MB"


def bench_csv_parse(benchmark, bench_cfg, train_csv_gz):
    from signbench.data.formats.csv import parse_csv_bytes

    gz, n_rows, what = train_csv_gz
    raw = zlib.decompress(gz, 31)
    repeats = 1 if bench_cfg.smoke else 3
    metrics = {
        "uncompressed size": [len(raw) / 1e6, "MB"],
        "gunzip zlib.decompress": [_best(lambda: zlib.decompress(gz, 31), repeats), "s"],
        "gunzip gzip module": [_best(lambda: gzip.GzipFile(fileobj=io.BytesIO(gz)).read(), repeats), "s"],
    }
    if not bench_cfg.smoke:
        ref = _best(lambda: np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8, skiprows=1), repeats)
        metrics["np.loadtxt"] = [ref, "s"]
        import pandas as pd

        metrics["pandas read_csv (C engine)"] = [_best(lambda: pd.read_csv(io.BytesIO(raw), engine="c"), 1), "s"]
    benchmark.extra_info.update(model="-", runtime="numpy", batch_size=None, metric=f"csv parse ({what})",
                                unit="s", items_per_round=n_rows, items="rows", seed=bench_cfg.seed)
    ds = benchmark.pedantic(parse_csv_bytes, args=(raw,), kwargs={"label_map": "sign_mnist"},
                            rounds=1 if bench_cfg.smoke else 10, iterations=1, warmup_rounds=0 if bench_cfg.smoke else 1)
    assert len(ds) == n_rows and ds.num_classes == 24 and ds.images.shape[1:] == (28, 28, 1)
    if not bench_cfg.smoke:
        parse = _best(lambda: parse_csv_bytes(raw, label_map="sign_mnist"), repeats)
        metrics["parse (best, same run)"] = [parse, "s"]
        cpu = _best(lambda: parse_csv_bytes(raw, label_map="sign_mnist"), repeats, clock=time.process_time)
        metrics["parse CPU time (best; less sensitive to a loaded machine)"] = [cpu, "s"]
        metrics["parse / np.loadtxt"] = [parse / ref, "ratio"]
    benchmark.extra_info["metrics"] = metrics


@pytest.fixture(scope="module")
def image_folder(sign_data, bench_cfg, tmp_path_factory):
    """The first k train images of each class (real, else synthetic) as PNG under <tmp>/Test/<letter>/
    (course layout)."""
    from signbench.data.formats.folder import write_folder

    ds, _ = sign_data
    k = 10 if bench_cfg.smoke else 100
    pick = np.concatenate([np.flatnonzero(ds.labels == c)[:k] for c in range(ds.num_classes)])
    root = tmp_path_factory.mktemp("pipeline") / "Test"
    write_folder(ds.subset(np.sort(pick)), root)
    return root, int(pick.size)


def _epoch_generator(root):
    from signbench.data.pipeline import course_generators

    train, val = course_generators(root, seed=0, batch_size=128)
    n = 0
    for it in (train, val):
        for i in range(len(it)):
            n += len(it[i][1])
    return n


def _epoch_tfdata(root):
    from signbench.data.pipeline import from_folder

    ds, _ = from_folder(root, seed=0, batch_size=128, cache=False)
    return sum(int(y.shape[0]) for _, y in ds)


@pytest.mark.parametrize("path", ["image_data_generator", "tf_data"])
def bench_folder_pipeline(benchmark, bench_cfg, image_folder, path):
    root, n = image_folder
    fn = {"image_data_generator": _epoch_generator, "tf_data": _epoch_tfdata}[path]
    other = {"image_data_generator": _epoch_tfdata, "tf_data": _epoch_generator}[path]
    runtime = f"{path} (synthetic PNGs)" if bench_cfg.synthetic else path
    benchmark.extra_info.update(model="-", runtime=runtime, batch_size=128, metric="one epoch over the folder",
                                unit="s", items_per_round=n, items="images", seed=bench_cfg.seed)
    count = benchmark.pedantic(fn, args=(root,), rounds=1 if bench_cfg.smoke else 3, iterations=1,
                               warmup_rounds=0 if bench_cfg.smoke else 1)
    assert count == n
    if bench_cfg.smoke:
        return
    mine, theirs = _best(lambda: fn(root), 3), _best(lambda: other(root), 3)
    benchmark.extra_info["metrics"] = {
        "images/s": [n / mine, "images/s"],
        "images/s of the other path (same run)": [n / theirs, "images/s"],
        "speed-up vs the other path": [theirs / mine, "ratio"],
    }
