"""The loaders under fuzzing: mutated files of every format either load into a valid dataset or raise a
DataError naming the file, in a worker process with a watchdog and a memory cap (signbench.testing.fuzz).

A few hundred inputs per format here; the `slow` campaign runs 10,000 per format, as
`signbench fuzz --per-format 10000` does for results/fuzz.md. The harness itself is tested too: a hang, a
bomb, a crash, a stray exception, an unnamed file and an empty dataset must each count as a failure.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings

from signbench.testing.fuzz import Counts, Worker, campaign
from signbench.testing.strategies import FUZZ_FORMATS, FuzzCase, fuzz_cases, renamed

#: Inputs per format in the normal test run.
PER_FORMAT = 200
#: Inputs per format in the slow campaign.
SLOW_PER_FORMAT = 10_000
#: Declared before measuring: at least this share of each format's inputs must get past the format's
#: first check (else the fuzz only exercises headers), and at least this share must load and this
#: share be rejected (else the mutations are too mild or too wild to test anything).
MIN_PAST_FIRST = 0.40
MIN_LOADED = 0.05
MIN_REJECTED = 0.20


@pytest.fixture(scope="module")
def worker():
    with Worker() as w:
        yield w


def _report(case: FuzzCase, out) -> str:
    return (f"{case.fmt}: {out.kind}: {out.message}\n  mutations: {list(case.mutations)}\n"
            f"  options: {case.options}\n  files: {[(p, None if b is None else len(b)) for p, b in case.files]}")


def _check_shares(counts: Counts) -> None:
    assert counts.past_first >= MIN_PAST_FIRST * counts.tried, counts.row()
    assert counts.loaded >= MIN_LOADED * counts.tried, counts.row()
    assert counts.rejected >= MIN_REJECTED * counts.tried, counts.row()


def _check_campaign(fmt: str, n: int, worker) -> None:
    """``signbench fuzz``'s seeded campaign (seed 0) of ``n`` inputs: all tried, none failed, the shares met."""
    counts = campaign(fmt, n, seed=0, worker=worker)
    assert counts.tried == n
    assert not counts.failures, "\n".join(
        f"{k} x {key}\n{_report(*counts.examples[key])}" for key, k in counts.failures.most_common())
    _check_shares(counts)


@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
def test_mutated_inputs_load_or_raise_a_data_error_naming_the_file(fmt, worker):
    counts = Counts(fmt)

    @settings(max_examples=PER_FORMAT, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases(fmt))
    def one(case):
        out = worker.run(case)
        counts.add(out, case)
        assert out.status != "failed", _report(case, out)

    one()
    assert counts.tried >= PER_FORMAT


@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
def test_a_seeded_campaign_gets_past_each_formats_first_check(fmt, worker):
    """The shares (past the first check, loaded, rejected) over a seeded draw of ``PER_FORMAT`` inputs,
    the generator ``signbench fuzz`` uses (hypothesis, generation phase only, ``seed=0``).

    Protocol change (stop 28): until then the shares were taken over the draws of the test above, which
    under the default ``dev`` profile are new every run and adaptive (hypothesis mutates earlier
    examples, replays its database, shrinks failures), so they are not a sample of the strategy. One
    fresh-clone run at a75f2be failed there: folder, 77 of 200 past the first check (0.385 < 0.40;
    loaded 50, rejected 150, failed 0), when 40 fixed hypothesis seeds gave 0.525-0.770 and
    results/fuzz.md's 10,000 folder inputs 0.62. The thresholds are unchanged; the draw is now fixed."""
    _check_campaign(fmt, PER_FORMAT, worker)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FUZZ_FORMATS)
def test_slow_campaign(fmt, worker):
    """The committed campaign's size (results/fuzz.md comes from `signbench fuzz --per-format 10000`)."""
    _check_campaign(fmt, SLOW_PER_FORMAT, worker)


def test_a_renamed_dot_file_keeps_its_name():
    """Regression (stop 28's fresh-clone run, found by the hypothesis test above): renaming the junk file
    ``A/.DS_Store`` with an empty suffix gave the path ``A/`` with bytes, a file where a folder is, so the
    worker died writing the case (IsADirectoryError): a strategy bug, not a loader's."""
    assert renamed("tree/A/.DS_Store", "") == "tree/A/.DS_Store"
    assert renamed("tree/A/.DS_Store", ".txt") == "tree/A/.DS_Store.txt"
    assert renamed("A/0.png", ".txt") == "A/0.txt" and renamed("A/._0.png", "") == "A/._0"


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=fuzz_cases("folder"))
def test_every_folder_case_can_be_written(case):
    """Every file path of a folder case names a file: no trailing slash, not the folder of another path."""
    paths = [p for p, _ in case.files]
    for p, data in case.files:
        if data is not None:
            assert not p.endswith("/") and not any(q.startswith(p + "/") for q in paths), (p, paths)


# ------------------------------------------------------------------------------- the harness can fail
PROBES = textwrap.dedent('''
    import os, time
    import numpy as np
    from signbench.data.types import LabeledImages
    from signbench.errors import DataError

    def hang(source, **options):
        time.sleep(3600)

    def bomb(source, **options):
        return np.ones(4 << 30, np.uint8)  # 4 GiB: over the cap

    def crash(source, **options):
        os._exit(3)

    def stray(source, **options):
        raise KeyError("not a DataError")

    def unnamed(source, **options):
        raise DataError("bad input, but which file?")

    def empty(source, **options):
        return LabeledImages(np.zeros((0, 2, 2, 1), np.uint8), [], ["a"], source=source)

    def bad_labels(source, **options):
        return LabeledImages(np.zeros((2, 2, 2, 1), np.uint8), [0, 0], ["a", "a"], source=source)

    def fine(source, **options):
        return LabeledImages(np.zeros((1, 2, 2, 1), np.uint8), [0], ["a"], source=source)

    def rejects(source, **options):
        raise DataError("no good", path=source, where="line 2")
''')

CASE = FuzzCase("csv", (("x.csv", b"label,p\n"),), "x.csv")


@pytest.fixture
def probes(tmp_path, monkeypatch):
    (tmp_path / "fuzz_probes.py").write_text(PROBES)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}")  # the worker puts signbench's src first itself
    return tmp_path


@pytest.mark.parametrize(("probe", "kind"), [
    ("hang", "hang"), ("bomb", "MemoryError"), ("crash", "worker died"), ("stray", "KeyError"),
    ("unnamed", "unnamed file"), ("empty", "invalid result"), ("bad_labels", "invalid result"),
])
def test_the_harness_counts_each_misbehaviour_as_a_failure(probes, probe, kind):
    with Worker(loader=f"fuzz_probes:{probe}", timeout_s=2.0, memory_bytes=1 << 30) as w:
        out = w.run(CASE)
        assert (out.status, out.kind) == ("failed", kind), out
        # and the worker that replaced a dead or stopped one still works
        w.loader = "fuzz_probes:fine"
        assert w.run(CASE).status == "loaded"
        w.loader = "fuzz_probes:rejects"
        assert w.run(CASE).status == "rejected"
