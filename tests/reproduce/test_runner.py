"""The stage runner: order, atomic stage folders, resume after a failure or a hard kill, progress/ETA."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

from signbench.atomic import atomic_write
from signbench.reproduce.config import DataSpec, RunConfig
from signbench.reproduce.runner import DONE, MANIFEST, RunError, Runner, Stage, format_seconds


def _cfg(seed: int = 0, *, quick: bool = False) -> RunConfig:
    return RunConfig.make(DataSpec("single", "data.csv"), quick=quick, seed=seed)


def _to(out):
    """A progress callable that writes each line to ``out``."""
    return lambda line: out.write(line + "\n")


def _stages(calls, fail_at=None):
    """Three stages that record their calls; ``fail_at`` raises after writing a file (once)."""

    def make(name, dep=None):
        def func(ctx):
            calls.append(name)
            value = 1 if dep is None else ctx.result(dep)["value"] + 1
            (ctx.out / "out.txt").write_text(f"{name}={value}")
            if fail_at and fail_at[0] == name:
                fail_at.clear()
                raise RuntimeError(f"{name} crashed")
            return {"value": value}

        return func

    return [
        Stage("a", make("a"), "a", (1.0, 1.0)),
        Stage("b", make("b", "a"), "b", (2.0, 2.0)),
        Stage("c", make("c", "b"), "c", (3.0, 3.0)),
    ]


def _files(run_dir):
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())


def test_runs_in_order_and_commits_each_stage(tmp_path):
    calls, out = [], io.StringIO()
    results = Runner(tmp_path / "run", _stages(calls), _cfg(0), progress=_to(out)).run()
    assert calls == ["a", "b", "c"]
    assert results["c"] == {"value": 3}
    run = tmp_path / "run"
    assert _files(run) == sorted([MANIFEST, "a/done.json", "a/out.txt", "b/done.json", "b/out.txt",
                                  "c/done.json", "c/out.txt"])
    manifest = json.loads((run / MANIFEST).read_text())
    assert [manifest["stages"][s]["status"] for s in "abc"] == ["done"] * 3
    assert manifest["fingerprint"] == _cfg(0).fingerprint()
    text = out.getvalue()
    assert "[1/3] a: done in" in text and "[3/3] c: done in" in text
    assert "left" in text.splitlines()[2]  # after stage a: an estimate of what remains


def test_failure_keeps_finished_stages_and_leaves_no_partial_file(tmp_path):
    calls, out = [], io.StringIO()
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="b crashed"):
        Runner(run, _stages(calls, fail_at=["b"]), _cfg(0), progress=_to(out)).run()
    assert calls == ["a", "b"]
    # b wrote out.txt before raising: it must not survive anywhere in the run folder
    assert _files(run) == sorted([MANIFEST, "a/done.json", "a/out.txt"])
    assert json.loads((run / MANIFEST).read_text())["stages"]["b"]["status"] == "failed"
    assert "rerun with --resume" in out.getvalue()


def test_resume_does_not_recompute_finished_stages(tmp_path):
    run = tmp_path / "run"
    calls = []
    stages = _stages(calls, fail_at=["c"])
    with pytest.raises(RuntimeError):
        Runner(run, stages, _cfg(0), progress=_to(io.StringIO())).run()
    stamp = (run / "a" / DONE).stat().st_mtime_ns, (run / "b" / DONE).read_text()
    calls.clear()
    out = io.StringIO()
    results = Runner(run, stages, _cfg(0), resume=True, progress=_to(out)).run()
    assert calls == ["c"]
    assert results["c"] == {"value": 3}  # built on b's stored result
    assert ((run / "a" / DONE).stat().st_mtime_ns, (run / "b" / DONE).read_text()) == stamp
    assert "[1/3] a: already done, skipped" in out.getvalue()
    # resuming a finished run recomputes nothing
    calls.clear()
    Runner(run, stages, _cfg(0), resume=True, progress=_to(io.StringIO())).run()
    assert calls == []


def test_resume_recomputes_everything_after_a_missing_stage(tmp_path):
    run = tmp_path / "run"
    calls = []
    Runner(run, _stages(calls), _cfg(0), progress=_to(io.StringIO())).run()
    import shutil

    shutil.rmtree(run / "b")
    calls.clear()
    Runner(run, _stages(calls), _cfg(0), resume=True, progress=_to(io.StringIO())).run()
    assert calls == ["b", "c"]


_KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from signbench.reproduce.runner import Runner, Stage

    def a(ctx):
        (ctx.out / "a.txt").write_text("a")
        return {"ok": 1}

    def b(ctx):
        with open(ctx.out / "half.bin", "wb") as f:
            f.write(b"x" * 1000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # a hard kill in the middle of writing

    from signbench.reproduce.config import DataSpec, RunConfig

    Runner(sys.argv[1], [Stage("a", a, "a", (1, 1)), Stage("b", b, "b", (1, 1))],
           RunConfig.make(DataSpec("single", "data.csv"), seed=1)).run()
    """
)


def test_hard_kill_then_resume(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(run)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert (run / ".partial-b" / "half.bin").is_file()  # what the kill left: only in the hidden partial
    assert not (run / "b").exists()
    calls = []

    def b(ctx):
        calls.append("b")
        return {"ok": 2}

    def a(ctx):  # pragma: no cover - must not run again
        calls.append("a")
        return {}

    out = io.StringIO()
    res = Runner(run, [Stage("a", a, "a", (1, 1)), Stage("b", b, "b", (1, 1))], _cfg(1), resume=True,
                 progress=_to(out)).run()
    assert calls == ["b"] and res == {"a": {"ok": 1}, "b": {"ok": 2}}
    assert not (run / ".partial-b").exists()
    assert _files(run) == sorted([MANIFEST, "a/a.txt", "a/done.json", "b/done.json"])


def test_existing_run_needs_resume(tmp_path):
    run = tmp_path / "run"
    Runner(run, _stages([]), _cfg(0), progress=_to(io.StringIO())).run()
    with pytest.raises(RunError, match="already holds a run; pass --resume"):
        Runner(run, _stages([]), _cfg(0), progress=_to(io.StringIO())).run()


def test_resume_with_other_settings_is_refused(tmp_path):
    run = tmp_path / "run"
    Runner(run, _stages([]), _cfg(0, quick=True), progress=_to(io.StringIO())).run()
    with pytest.raises(RunError, match=r"other settings \(seed: 0 -> 1\)"):
        Runner(run, _stages([]), _cfg(1, quick=True), resume=True, progress=_to(io.StringIO())).run()


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(RunError, match="not empty"):
        Runner(tmp_path, _stages([]), _cfg(), progress=_to(io.StringIO())).run()
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_options_reach_stages_but_not_the_fingerprint(tmp_path):
    seen = []
    stage = Stage("a", lambda ctx: seen.append(ctx.quiet) or {}, "a", (1, 1))
    r = Runner(tmp_path / "r", [stage], _cfg(0), quiet=True, progress=_to(io.StringIO()))
    r.run()
    assert seen == [True] and r.fingerprint == _cfg(0).fingerprint()


def test_eta_rescales_by_measured_speed():
    t = [0.0]
    calls = []

    def clock():
        return t[0]

    def slow(ctx):
        t[0] += 10.0  # stage "a" estimated 1 s, takes 10 s: the rest should be estimated 10x
        calls.append(1)
        return {}

    stages = [Stage("a", slow, "a", (1.0, 1.0)), Stage("b", lambda c: {}, "b", (2.0, 2.0)),
              Stage("c", lambda c: {}, "c", (3.0, 3.0))]
    r = Runner("unused", stages, _cfg(), clock=clock)
    r.status["a"], r.seconds["a"] = "ran", 10.0
    assert r.remaining_estimate(0) == pytest.approx(50.0)
    assert r.remaining_estimate(2) == 0.0


def test_duplicate_stage_names_rejected():
    with pytest.raises(ValueError, match="unique"):
        Runner("x", [Stage("a", lambda c: {}, "a", (1, 1)), Stage("a", lambda c: {}, "a", (1, 1))], _cfg())


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "f.txt"
    atomic_write(p, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(p, "new")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["f.txt"]


@pytest.mark.parametrize("s,text", [(3.25, "3.2s"), (75, "1m15s"), (3725, "1h02m05s")])
def test_format_seconds(s, text):
    assert format_seconds(s) == text


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = atomic_write(tmp_path / "r.md", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_a_write_cut_short_leaves_a_folder_that_resumes(tmp_path):
    """A kill during the very first manifest write leaves only atomic_write's hidden temporary file; the
    folder must still resume (it held "no signbench run" before), and leftovers are removed."""
    run = tmp_path / "run"
    run.mkdir()
    (run / ".manifest.json.k1ll3d.tmp").write_text('{"finger')  # what the kill left
    calls = []
    Runner(run, _stages(calls), _cfg(0), resume=True).run()
    assert calls == ["a", "b", "c"] and not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    (run / ".results.csv.x7y8z9.tmp").write_text("half")  # a later write cut short
    Runner(run, _stages(calls), _cfg(0), resume=True).run()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not ours")
    with pytest.raises(RunError, match="holds no signbench run"):
        Runner(tmp_path / "other", _stages([]), _cfg(0), resume=True).run()
