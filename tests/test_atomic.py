"""Results files under faults: a reader polling them while their writer is SIGKILLed over and over only ever
parses a complete file (old or new), and a full disk is one clear line with the previous results intact.

The writer is a subprocess writing the project's results files the project's way: a table's CSV and
Markdown (``results.write_table``), a JSON document and a training history (``atomic_write_json``, as
the run folder's ``results.json`` and the stages' ``done.json`` are written). A control writer that
writes the same files plainly, in two halves, must be caught half-written: so the reader can fail.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import signbench

SRC = str(Path(signbench.__file__).resolve().parents[1])

WRITER = r'''
import json, sys, time
from pathlib import Path
from signbench.atomic import atomic_write, atomic_write_json, dumps
from signbench.results import csv_text, write_table

out, version, naive = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "naive"


def plain(path, text):  # the control: no temporary file, two halves with a pause between them
    with open(path, "w") as f:
        f.write(text[: len(text) // 2])
        f.flush()
        time.sleep(0.02)
        f.write(text[len(text) // 2 :])


while True:
    n = 200 + version % 50
    rows = [{"version": version, "row": i, "value": f"{version * 1000 + i}", "pad": "x" * (i % 40)} for i in range(n)]
    notes = [f"version: {version}", f"rows: {n}"]
    history = {"version": version, "loss": [1.0 / (e + 1) for e in range(n)], "accuracy": [0.5] * n}
    doc = {"version": version, "rows": n, "payload": list(range(n * 20))}
    if naive:
        plain(out / "results.csv", csv_text(rows))
        plain(out / "results.json", dumps(doc))
    else:
        write_table(out, "results", rows, title="kill test", notes=notes)
        atomic_write_json(out / "results.json", doc)
        atomic_write_json(out / "history.json", history)
    print(version, flush=True)
    version += 1
'''


def _check(path: Path, data: bytes) -> int:
    """The version of a complete file; AssertionError (or a parse error) for anything else."""
    text = data.decode("utf-8")
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and text.endswith("\n"), "empty or cut"
        v = int(rows[0]["version"])
        assert len(rows) == 200 + v % 50 and all(int(r["version"]) == v for r in rows), "rows of another version"
        assert [int(r["row"]) for r in rows] == list(range(len(rows))) and rows[-1]["pad"] == "x" * ((len(rows) - 1) % 40)
        return v
    if path.suffix == ".md":
        lines = text.splitlines()
        v = int(next(ln for ln in lines if ln.startswith("version: ")).split()[1])
        table = [ln for ln in lines if ln.startswith("| ") and ln.endswith(" |")]
        assert len(table) == 1 + 200 + v % 50 and text.endswith("|\n"), "cut table"
        return v
    doc = json.loads(text)
    n = 200 + doc["version"] % 50
    if path.name == "history.json":
        assert len(doc["loss"]) == len(doc["accuracy"]) == n
    else:
        assert doc["rows"] == n and doc["payload"] == list(range(n * 20))
    return doc["version"]


def _poll(folder: Path, names: list[str], stop: threading.Event, seen: dict, torn: list) -> None:
    while not stop.is_set():
        for name in names:
            p = folder / name
            try:
                data = p.read_bytes()
            except FileNotFoundError:
                continue
            try:
                seen.setdefault(name, set()).add(_check(p, data))
            except Exception as exc:  # noqa: BLE001 - any parse failure is a half-written file
                torn.append(f"{name}: {type(exc).__name__}: {exc}"[:200])


def _kill_loop(tmp_path: Path, mode: str, kills: int, names: list[str], seed: int = 0):
    """Start the writer, let it write 1-3 versions plus a random fraction of the next, SIGKILL it; again."""
    rng = random.Random(seed)
    out = tmp_path / mode
    out.mkdir()
    stop, seen, torn = threading.Event(), {}, []
    reader = threading.Thread(target=_poll, args=(out, names, stop, seen, torn), daemon=True)
    reader.start()
    env = dict(os.environ, PYTHONPATH=SRC, PYTHONDONTWRITEBYTECODE="1")
    version = 1
    try:
        for _ in range(kills):
            proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(version), mode],
                                    stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(rng.randint(1, 3)):
                line = proc.stdout.readline()
                assert line, "the writer died on its own"
                version = int(line) + 1
            time.sleep(rng.random() * 0.05)  # somewhere inside the next version's writes
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stdout.close()
            for name in names:  # after each kill the files on disk are whole too
                p = out / name
                if p.exists():
                    try:
                        _check(p, p.read_bytes())
                    except Exception as exc:  # noqa: BLE001
                        torn.append(f"after kill, {name}: {type(exc).__name__}")
    finally:
        stop.set()
        reader.join(30)
    return out, seen, torn


def test_readers_never_see_half_written_results_while_the_writer_is_killed(tmp_path):
    names = ["results.csv", "results.md", "results.json", "history.json"]
    out, seen, torn = _kill_loop(tmp_path, "atomic", kills=25, names=names)
    assert not torn, torn[:5]
    assert all(len(seen.get(n, ())) >= 10 for n in names), {n: len(v) for n, v in seen.items()}
    # what a killed writer leaves are hidden temporary files, never a visible partial one
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(names)
    assert all(p.name.endswith(".tmp") for p in out.iterdir() if p.name.startswith("."))


def test_the_reader_catches_a_plain_writer(tmp_path):
    """The control: the same loop with plain writes must show torn files (else the reader checks nothing)."""
    _, _, torn = _kill_loop(tmp_path, "naive", kills=5, names=["results.csv", "results.json"])
    assert torn


# ------------------------------------------------------------------------------------------ full disk
def _raw(scale: float) -> dict:
    data = [0.001 * scale * (1 + i / 100) for i in range(40)]
    return {
        "signbench": {"meta": {"date": "2026-12-01T00:00:00+00:00", "git_commit": "abc", "device": "cpu"},
                      "command": "test"},
        "benchmarks": [{"name": f"b{k}", "extra_info": {"model": f"m{k}", "runtime": "r", "batch_size": 1,
                                                         "metric": "latency", "unit": "ms"},
                        "stats": {"data": data, "rounds": len(data)}} for k in range(30)],
    }


def _signbench(args: list[str], fsize: int | None = None) -> subprocess.CompletedProcess:
    import resource

    def limit():
        if fsize is not None:  # Python ignores SIGXFSZ: a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = dict(os.environ, PYTHONPATH=SRC, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "signbench", *args], capture_output=True, text=True, env=env,
                          preexec_fn=limit, timeout=600)


def test_a_full_disk_is_one_clear_line_and_leaves_the_previous_results(tmp_path):
    raw = tmp_path / "raw" / "run.json"
    raw.parent.mkdir()
    raw.write_text(json.dumps(_raw(1.0)))
    ok = _signbench(["tables", str(raw), "--name", "bench", "--results-dir", str(tmp_path)])
    assert ok.returncode == 0, ok.stderr
    before = {p.name: p.read_bytes() for p in tmp_path.glob("bench.*")}
    assert sorted(before) == ["bench.csv", "bench.md"] and all(len(b) > 2000 for b in before.values())
    raw.write_text(json.dumps(_raw(2.0)))  # other numbers, written with no room for them
    full = _signbench(["tables", str(raw), "--name", "bench", "--results-dir", str(tmp_path)], fsize=1000)
    assert full.returncode == 2
    lines = [ln for ln in full.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
    assert lines[0].startswith("signbench tables: error: cannot write") and "bench.csv" in lines[0], lines[0]
    assert "File too large" in lines[0] and "unchanged" in lines[0]
    assert {p.name: p.read_bytes() for p in tmp_path.glob("bench.*")} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    again = _signbench(["tables", str(raw), "--name", "bench", "--results-dir", str(tmp_path)])
    assert again.returncode == 0 and (tmp_path / "bench.csv").read_bytes() != before["bench.csv"]


@pytest.mark.parametrize("overwrite", [True, False])
def test_atomic_write_names_the_file_when_the_disk_is_full(tmp_path, overwrite):
    code = ("import sys; from signbench.atomic import atomic_write\n"
            "try:\n    atomic_write(sys.argv[1], 'x' * 5000, overwrite=" + str(overwrite) + ")\n"
            "except OSError as e:\n    print(e.errno, e.filename)\n")
    import errno
    import resource

    target = tmp_path / "out.txt"
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=SRC, PYTHONDONTWRITEBYTECODE="1"), timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000)))
    assert proc.stdout.split() == [str(errno.EFBIG), str(target)], proc.stderr
    assert not list(tmp_path.iterdir())
