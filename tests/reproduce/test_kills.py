"""``signbench reproduce --quick`` killed with SIGKILL at 20+ points of its progress, each resumed with
``--resume``: the final results.csv equals an uninterrupted run's in every column but times and dates.

The command runs in a subprocess through a small wrapper that reports the run's file writes on stdout
(``@@ <event> <path> #<n>``) and, when asked, stops at one of them until it is killed: half-way through a
result file's write (``mid-write``), or with the whole temporary file written just before its rename
(``before-rename``, also the runner's commit of a stage folder). The kill points are chosen from an
uninterrupted run's progress: every stage's start line and result writes spread over the stages. The
test kills at each point in turn, each resumed run being killed at the next point, then lets the last
one finish. After every kill the run folder's visible files must parse.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import signbench
from signbench.data.formats.csv import to_csv_bytes
from signbench.data.types import SIGN_RAW_LABELS
from signbench.reproduce import stages
from signbench.testing.fixtures import make_images

pytestmark = pytest.mark.slow

SRC = str(Path(signbench.__file__).resolve().parents[1])
#: results.csv columns that may differ between two runs of the same settings.
TIMES_AND_DATES = {"seconds", "date"}
#: Declared before measuring: at least this many kill points.
MIN_POINTS = 20

WRAPPER = r'''
import os, re, sys, time, types
from pathlib import Path

import signbench.atomic as atomic
import signbench.reproduce.runner as runner

RUN = Path(os.environ["SB_RUN_DIR"]).resolve()
PAUSE = os.environ.get("SB_PAUSE", "")
counts = {}


def event(kind, path):
    rel = os.path.relpath(os.path.abspath(path), RUN)
    rel = re.sub(r"(^|/)\.([^/]+)\.[^./]+\.tmp$", r"\1\2", rel)  # atomic_write's temporary name -> target
    key = f"{kind} {rel}"
    counts[key] = counts.get(key, 0) + 1
    key = f"{key} #{counts[key]}"
    print(f"@@ {key}", flush=True)
    if key == PAUSE:
        print(f"@@ PAUSED {key}", flush=True)
        while True:
            time.sleep(3600)


class HalfWay:
    """A file whose writes stop half-way at an event (the pause point when asked)."""

    def __init__(self, f, path):
        self.f, self.path = f, path

    def write(self, data):
        half = len(data) // 2
        self.f.write(data[:half])
        self.f.flush()
        event("mid-write", self.path)
        return half + self.f.write(data[half:])

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


proxy = types.ModuleType("os")
proxy.__dict__.update(os.__dict__)


def fdopen(fd, *args, **kwargs):
    return HalfWay(os.fdopen(fd, *args, **kwargs), os.readlink(f"/proc/self/fd/{fd}"))


def replace(src, dst):
    event("before-rename", dst)
    return os.replace(src, dst)


proxy.fdopen, proxy.replace = fdopen, replace
atomic.os = proxy
runner.os = proxy

from signbench.cli import main

sys.exit(main(sys.argv[1:]))
'''


def _csv_pair(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for split, n, seed in (("train", 24 * 14, 0), ("test", 24 * 6, 1)):
        images, classes = make_images(n, seed)
        raw = [SIGN_RAW_LABELS[c] for c in classes]
        (folder / f"sign_mnist_{split}.csv.gz").write_bytes(gzip.compress(to_csv_bytes(images, raw, crlf=True), mtime=0))
    return folder


class Run:
    """One ``signbench reproduce`` process through the wrapper, read line by line."""

    def __init__(self, data: Path, out: Path, *, resume: bool, pause: str = ""):
        env = dict(os.environ, PYTHONPATH=SRC, SB_RUN_DIR=str(out), SB_PAUSE=pause, SIGNBENCH_OFFLINE="1",
                   SIGNBENCH_DATA_DIR=str(out.parent / "no-data"), SIGNBENCH_CACHE=str(out.parent / "no-cache"),
                   TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        argv = ["reproduce", "--data", str(data), "--out", str(out), "--quick", "--quiet", "--seed", "3"]
        self.proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *argv, *(["--resume"] if resume else [])],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     start_new_session=True)
        self.lines: list[str] = []

    def until(self, done) -> str | None:
        """Read lines until ``done(line)``; that line, or None at the end of the output."""
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if done(line):
                return line
        return None

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=120)
        self.proc.stdout.close()

    def finish(self) -> int:
        self.until(lambda line: False)
        self.proc.stdout.close()
        return self.proc.wait(timeout=3600)


STAGE_START = re.compile(r"^(\[\d+/\d+\] \S+): .* \.\.\.$")


def _points(lines: list[str]) -> list[tuple[int, str, str]]:
    """(index in the uninterrupted run's output, kind, what) of every kill point, in progress order:
    every stage's start line; half-way through the first manifest write; half-way through the done.json
    write of stages 1, 4, 7 and 10; just before the runner's commit (the rename of the stage folder)
    of stages 2, 5, 8 and 11; and inside the report's and the published results' writes."""
    stages = [m.group(1).split("] ")[1] for m in map(STAGE_START.match, lines) if m]
    wanted = {"mid-write manifest.json #1", "mid-write .partial-report/results.csv #1", "mid-write results.csv #1",
              "before-rename report.md #1"}
    wanted |= {f"mid-write .partial-{s}/done.json #1" for s in stages[0::3]}
    wanted |= {f"before-rename {s} #1" for s in stages[1::3]}
    points = []
    for i, line in enumerate(lines):
        m = STAGE_START.match(line)
        if m:
            points.append((i, "line", m.group(1) + ": "))
        elif line.startswith("@@ ") and line[3:] in wanted:
            points.append((i, "event", line[3:]))
    assert len([p for p in points if p[1] == "event"]) == len(wanted), sorted(wanted - {p[2] for p in points})
    return points


def _results(path: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return [{k: v for k, v in r.items() if k not in TIMES_AND_DATES} for r in rows]


def _visible_files_parse(run: Path) -> None:
    for p in run.rglob("*"):
        if any(part.startswith(".") for part in p.relative_to(run).parts) or not p.is_file():
            continue
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".csv":
            assert list(csv.DictReader(io.StringIO(p.read_text()))), p


def test_killed_at_twenty_points_and_resumed_equals_an_uninterrupted_run(tmp_path):
    data = _csv_pair(tmp_path / "data")
    ref_dir = tmp_path / "reference"
    ref = Run(data, ref_dir, resume=False)
    assert ref.finish() == 0, "\n".join(ref.lines[-30:])
    points = _points(ref.lines)
    assert len(points) >= MIN_POINTS, points
    stages_hit = {p[2].split("] ")[1] for p in points if p[1] == "line"}
    assert len(stages_hit) == len(stages.STAGES), stages_hit

    run_dir = tmp_path / "killed"
    log = []
    for k, (_, kind, what) in enumerate(points):
        run = Run(data, run_dir, resume=k > 0, pause=what if kind == "event" else "")
        if kind == "event":
            hit = run.until(lambda line, w=what: line == f"@@ PAUSED {w}")
        else:
            hit = run.until(lambda line, w=what: line.startswith(w))
        assert hit is not None, f"point {k} ({kind} {what}) never came:\n" + "\n".join(run.lines[-20:])
        run.kill()
        log.append(f"{kind} {what}")
        _visible_files_parse(run_dir)
    last = Run(data, run_dir, resume=True)
    assert last.finish() == 0, "\n".join(last.lines[-30:])
    assert f"all {len(stages.STAGES)} stages done" in "\n".join(last.lines)
    assert _results(run_dir / "results.csv") == _results(ref_dir / "results.csv"), log
    assert not list(run_dir.glob(".partial-*"))
