"""The loaders' fuzz harness: a worker process that loads one input at a time under a memory cap, a
watchdog around it, and a campaign that counts what happened per format.

The contract checked on every input (:func:`judge`): ``load()`` either returns a valid
:class:`~signbench.data.types.LabeledImages` (at least one image, uint8 N x H x W x C, labels within
the classes, counts that agree; every skipped item naming the file) or raises
:class:`~signbench.errors.DataError` naming the file. Anything else is a failure: another exception,
a load the watchdog stops (a hang) or one that the memory cap stops (a bomb), or a worker that dies.
The watchdog and the cap are generous hang and bomb detectors, not timing or memory measurements.

Inputs come from the hypothesis strategies in :mod:`signbench.testing.strategies`
(``fuzz_cases(fmt)``); :func:`campaign` drives them with a seed. Per format it counts inputs tried,
loaded, rejected, failed, and how many got past the format's first check (:func:`first_check`), so a
fuzz that only ever hits the header shows up as such.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_TIMEOUT_S",
    "Counts",
    "Outcome",
    "Worker",
    "campaign",
    "first_check",
    "judge",
    "save_examples",
    "serve",
    "write_files",
]

#: The watchdog: a single load running longer than this is a hang (generous: loads take milliseconds).
DEFAULT_TIMEOUT_S = 10.0
#: The worker's address-space cap (RLIMIT_AS): an input whose load needs more is a bomb.
DEFAULT_MEMORY_BYTES = 1 << 30


@dataclass(frozen=True)
class Outcome:
    """What one input did: ``status`` "loaded", "rejected" or "failed"; ``kind`` the exception type (or
    "hang", "worker died", "invalid result", "unnamed file"); ``past_first`` whether it got past the
    format's first check."""

    status: str
    kind: str = ""
    message: str = ""
    past_first: bool = False
    images: int = 0


@dataclass
class Counts:
    """Per-format tallies of a campaign, and one example input per distinct failure."""

    fmt: str
    tried: int = 0
    loaded: int = 0
    rejected: int = 0
    failed: int = 0
    past_first: int = 0
    failures: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, outcome: Outcome, case=None) -> None:
        self.tried += 1
        self.past_first += bool(outcome.past_first)
        if outcome.status == "loaded":
            self.loaded += 1
        elif outcome.status == "rejected":
            self.rejected += 1
        else:
            self.failed += 1
            key = f"{outcome.kind}: {_first_words(outcome.message)}"
            self.failures[key] += 1
            self.examples.setdefault(key, (case, outcome))

    def row(self) -> dict:
        return {"format": self.fmt, "tried": self.tried, "loaded": self.loaded, "rejected": self.rejected,
                "failed": self.failed, "past_first_check": self.past_first, "distinct_failures": len(self.failures)}


def _first_words(message: str, n: int = 8) -> str:
    """The start of a message with paths and numbers blurred, so one bug is one key."""
    import re

    text = re.sub(r"(/[^\s:'\"\]]+)+", "<path>", message)
    text = re.sub(r"\d+", "N", text)
    return " ".join(text.split()[:n])


# ------------------------------------------------------------------------------------------ the contract
def _names(text: str, source: str) -> bool:
    return source in text


def judge(load: Callable, source: str, options: dict) -> Outcome:
    """Load ``source`` and judge the result against the contract (module docstring); never raises
    (except for BaseExceptions such as KeyboardInterrupt)."""
    import numpy as np

    from signbench.data.types import LabeledImages
    from signbench.errors import DataError

    try:
        ds = load(source, **options)
    except DataError as exc:
        if not _names(str(exc), source):
            return Outcome("failed", "unnamed file", f"DataError without the file: {exc}"[:300])
        return Outcome("rejected", "DataError", str(exc)[:300])
    except MemoryError as exc:
        return Outcome("failed", "MemoryError", f"memory cap hit ({exc})"[:300])
    except RecursionError as exc:
        return Outcome("failed", "RecursionError", str(exc)[:300])
    except Exception as exc:  # noqa: BLE001 - every other exception is what the fuzz looks for
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        return Outcome("failed", type(exc).__name__, f"{exc}{where}"[:300])
    problems = []
    if not isinstance(ds, LabeledImages):
        problems.append(f"returned {type(ds).__name__}")
    else:
        n = len(ds)
        if n < 1:
            problems.append("zero images without an error")
        if ds.images.dtype != np.uint8 or ds.images.ndim != 4:
            problems.append(f"images {ds.images.dtype} {ds.images.shape}")
        if ds.labels.shape != (n,):
            problems.append(f"labels shape {ds.labels.shape} for {n} images")
        elif n and (ds.labels.min() < 0 or ds.labels.max() >= len(ds.class_names)):
            problems.append("labels outside the classes")
        if len(set(ds.class_names)) != len(ds.class_names):
            problems.append("repeated class names")
        if sum(ds.class_counts().values()) != n if not problems else False:
            problems.append("class counts do not add up")
        for s in ds.skipped:
            if not _names(s.path, source):
                problems.append(f"skipped item without the file: {s}")
                break
    if problems:
        return Outcome("failed", "invalid result", "; ".join(problems)[:300])
    return Outcome("loaded", "", "", images=len(ds))


def first_check(fmt: str, source: str, options: dict) -> bool:
    """Whether the input gets past its format's first check: the CSV header (after gunzip), the first
    JSON-lines line as an object, the whole base64 JSON document as an object, the class folders of a
    tree, the zip's central directory."""
    import json
    import zipfile

    try:
        if fmt in ("csv", "csv.gz"):
            from signbench.data.formats.csv import _header
            from signbench.data.formats.raw import read_bytes

            _header(read_bytes(source), source)
        elif fmt == "jsonl":
            with open(source, "rb") as f:
                first = next((ln for ln in f if ln.strip()), b"")
            return isinstance(json.loads(first), dict)
        elif fmt == "base64json":
            return isinstance(json.loads(Path(source).read_bytes()), dict)
        elif fmt == "folder":
            from signbench.data.formats.folder import find_class_folders

            find_class_folders(Path(source), options.get("split"))
        elif fmt == "zip":
            with zipfile.ZipFile(source) as zf:
                return bool(zf.infolist())
        return True
    except Exception:  # noqa: BLE001 - any failure of the first check means "did not get past it"
        return False


# ------------------------------------------------------------------------------------------ the worker
def write_files(root: Path, files) -> None:
    """A case's files under ``root``: (relative path, bytes) pairs, ``None`` for a folder."""
    for rel, data in files:
        p = root / rel
        if data is None:
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)


def save_examples(examples: dict, fmt: str, root: Path) -> None:
    """One folder per distinct failure of ``fmt`` (a :class:`Counts`' ``examples``) under ``root``: its input
    files in ``input/`` and ``case.json`` (the failure, its message, the source, options and mutations)."""
    import json

    for k, (key, (case, outcome)) in enumerate(sorted(examples.items())):
        d = root / f"{fmt}-{k}"
        d.mkdir(parents=True, exist_ok=True)
        write_files(d / "input", case.files)
        (d / "case.json").write_text(json.dumps({
            "failure": key, "kind": outcome.kind, "message": outcome.message, "source": f"input/{case.source}",
            "options": case.options, "mutations": list(case.mutations)}, indent=1, default=str) + "\n")


def _write_frame(fd: int, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack(">Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """n bytes from fd, or None at end of file; TimeoutError after ``deadline`` (time.monotonic)."""
    parts, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_frame(fd: int, deadline: float | None = None):
    head = _read_exact(fd, 8, deadline)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">Q", head)[0], deadline)
    return None if body is None else pickle.loads(body)  # noqa: S301 - frames from our own worker


def serve() -> None:
    """The worker's loop (run as ``python -c "from signbench.testing.fuzz import serve; serve()"``):
    read (memory cap, files, source, options) frames on stdin, answer one :class:`Outcome` each."""
    import importlib
    import resource

    infd, outfd = sys.stdin.fileno(), sys.stdout.fileno()
    sys.stdout = sys.stderr  # nothing else may write into the answer stream
    capped = None
    base = Path(tempfile.mkdtemp(prefix="signbench-fuzz-"))
    try:
        while True:
            frame = _read_frame(infd)
            if frame is None:
                return
            cap, loader, fmt, files, source, options = frame
            module, _, name = loader.partition(":")
            load = getattr(importlib.import_module(module), name)
            if cap != capped and cap:
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
                capped = cap
            case_dir = base / "case"
            shutil.rmtree(case_dir, ignore_errors=True)
            case_dir.mkdir()
            write_files(case_dir, files)
            src = str(case_dir / source) if source != "." else str(case_dir)
            out = judge(load, src, dict(options))
            out = Outcome(out.status, out.kind, out.message.replace(str(case_dir), "<case>"),
                          first_check(fmt, src, options), out.images)
            _write_frame(outfd, out)
            if out.kind == "MemoryError":  # a process that ran out of memory is not trusted further
                return
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Worker:
    """A ``serve()`` subprocess with a watchdog: :meth:`run` sends one case and waits at most
    ``timeout_s``; a hang or a dead worker is a failed :class:`Outcome`, and the next case gets a
    fresh worker. The worker imports signbench from the same place as this process (its ``src``
    folder goes first on the worker's PYTHONPATH). Use as a context manager (or call :meth:`close`)."""

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                 loader: str = "signbench.data.load:load"):
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        #: "module:function" the worker loads with (the harness's own tests swap in misbehaving ones)
        self.loader = loader
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stderr = None

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                        env.get("PYTHONPATH", "")] if p)
        if self._stderr is None:
            self._stderr = tempfile.TemporaryFile()
        self._stderr.seek(0)
        self._stderr.truncate()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from signbench.testing.fuzz import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
        )
        return self.proc

    def _stderr_tail(self) -> str:
        """The last lines the worker wrote on stderr (a traceback when it died)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def run(self, case) -> Outcome:
        """Load ``case`` (a :class:`~signbench.testing.strategies.FuzzCase`) in the worker."""
        proc = self.proc if self.proc is not None and self.proc.poll() is None else self._start()
        frame = (self.memory_bytes, self.loader, case.fmt, case.files, case.source, case.options)
        try:
            _write_frame(proc.stdin.fileno(), frame)
            out = _read_frame(proc.stdout.fileno(), time.monotonic() + self.timeout_s + 5.0)
        except TimeoutError:
            self._kill()
            return Outcome("failed", "hang", f"no answer within the {self.timeout_s:g} s watchdog")
        except (BrokenPipeError, OSError):
            out = None
        if out is None:
            code = self._kill()
            return Outcome("failed", "worker died", f"exit status {code}: {self._stderr_tail()}"[:300])
        if out.kind == "MemoryError":
            self._kill()
        return out

    def _kill(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        self.restarts += 1
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        return code

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._kill()
            self.restarts -= 1
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ campaigns
def campaign(fmt: str, n: int, *, seed: int, worker: Worker, on_case: Callable | None = None) -> Counts:
    """Run ``n`` mutated inputs of ``fmt`` through ``worker`` (hypothesis, generation only, seeded by
    ``seed``) and count the outcomes; failures are collected, not raised. ``on_case(case, outcome)``
    is called after each input."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from signbench.testing.strategies import fuzz_cases

    counts = Counts(fmt)

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases(fmt))
    def one(case) -> None:
        out = worker.run(case)
        counts.add(out, case)
        if on_case is not None:
            on_case(case, out)

    one()
    return counts
