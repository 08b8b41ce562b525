"""The HTML report of `signbench reproduce --quick` in a real browser (Debian's Chromium driven by
Playwright): every embedded image decodes, no link is dead, the tables are there, the console is clean,
and a screenshot lands in the test's tmp folder.

The fast test opens the report of a run cut after the first trained model (the same report writer, the
real stages up to train-baseline, about half a minute); the slow one runs the whole quick reproduction
through the command line, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from signbench.testing.browser import inspect_page, launch, require_browser
from signbench.testing.contracts import check_png
from signbench.testing.fixtures import block_images, write_sign_csv
from signbench.testing.local_http import serve


def write_csv(path: Path, per_class: int, seed: int) -> Path:
    """Learnable 28x28 images (one bright block per class, plus noise) as a gzipped Sign-MNIST CSV."""
    return write_sign_csv(path, *block_images(per_class, seed))


@pytest.fixture
def csv_pair(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SIGNBENCH_DATA_DIR", str(tmp_path / "no-data-dir"))  # never the real data
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.setenv("SIGNBENCH_OFFLINE", "1")
    d = tmp_path / "data"
    write_csv(d / "sign_mnist_train.csv.gz", per_class=14, seed=0)
    write_csv(d / "sign_mnist_test.csv.gz", per_class=6, seed=1)
    return d


def _check_report(run: Path, shot: Path, *, min_images: int) -> None:
    exe = require_browser()
    with serve(run) as base, launch(exe) as browser:
        page = inspect_page(browser, f"{base}/report.html", shot)
    assert page.problems == [], page.problems
    assert len(page.images) >= min_images and all(i["naturalWidth"] > 0 for i in page.images), page.images
    assert all(i["src"].startswith("data:image/png;base64,") for i in page.images)  # self-contained
    assert page.tables and all(n > 0 for n in page.tables), page.tables
    assert page.title.startswith("signbench")
    check_png(page.screenshot)


def test_browser_opens_the_report_of_a_quick_run_cut_after_the_baseline(csv_pair, tmp_path):
    require_browser()  # skip before training anything when there is no browser
    from signbench.reproduce.config import RunConfig
    from signbench.reproduce.report import publish
    from signbench.reproduce.runner import Runner
    from signbench.reproduce.source import resolve
    from signbench.reproduce.stages import STAGES, build_stages

    run = tmp_path / "run"
    config = RunConfig.make(resolve(str(csv_pair), None), quick=True, seed=0)
    Runner(run, [*build_stages("train-baseline"), STAGES[-1]], config, quiet=True).run()
    assert publish(run)
    # class balance, confusion matrix, misclassified images, the baseline's learning curves
    _check_report(run, tmp_path / "report.png", min_images=4)


@pytest.mark.slow
def test_browser_opens_the_report_of_signbench_reproduce_quick(csv_pair, tmp_path):
    require_browser()
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "signbench", "reproduce", "--quick", "--data", str(csv_pair), "--out", str(run),
           "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env={**os.environ})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _check_report(run, tmp_path / "report.png", min_images=7)
