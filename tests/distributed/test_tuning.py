"""KerasTuner's chief/worker mode on 127.0.0.1: a shared search with a worker killed mid-trial.

Each search is tiny: RandomSearch over :func:`signbench.models.hypermodel` on 48 seeded synthetic
8x8 images, one epoch per trial, one TF thread per process. The chief and the workers are separate
processes on a port chosen free at run time; :class:`LocalSearch` reaps all of them when its
``with`` block ends, whatever happens, and every wait here has a timeout.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from signbench.cli import main
from signbench.distributed.tuning import LocalSearch, SearchSpec, TuningError, read_events

TIMEOUT_S = 900  # generous: the machine is shared; no test asserts a duration
DATA = {"kind": "synthetic", "n": 48, "image_size": 8, "num_classes": 3}


def _completed(events):
    return [e for e in events if e["event"] == "end" and e["status"] == "COMPLETED"]


def _open_trial(project_dir, tuner_id):
    """The trial ``tuner_id`` has begun and not ended, or None."""
    current = None
    for e in read_events(project_dir):
        if e["tuner_id"] == tuner_id:
            current = e["trial_id"] if e["event"] == "begin" else None
    return current


def test_two_workers_share_the_search_and_survive_one_killed_mid_trial(tmp_path):
    """One search for both properties (each search starts three TensorFlow processes): the chief hands
    distinct trials to two live workers, and when one is killed mid-trial the survivor finishes its trial.

    To make the kill certain without timing luck: the first worker seen in a trial (A) is frozen
    (SIGSTOP) while it holds that trial, so the other (B) must complete a trial and begin another; B is
    killed in that one, A is let go and finishes its own trial, B's and the rest. Five trials leave B one
    to begin even if A got through two before it was frozen."""
    trials_asked = 5
    spec = SearchSpec(directory=str(tmp_path), project_name="shared", tuner="random", max_trials=trials_asked,
                      epochs=1, batch_size=16, data=DATA)
    with LocalSearch(spec, workers=2, threads=1) as search:
        search.start()
        deadline = time.monotonic() + TIMEOUT_S
        first = None  # A: frozen while it holds a trial
        while first is None:
            assert time.monotonic() < deadline, "no worker ever started a trial"
            assert not search.poll(), "the search ended before a worker could be frozen"
            first = next((w for w in search.workers if _open_trial(spec.project_dir, w) is not None), None)
            time.sleep(0.05)
        search.workers[first].signal(signal.SIGSTOP)
        victim = next(w for w in search.workers if w != first)  # B
        killed_trial = None
        while killed_trial is None:
            assert time.monotonic() < deadline, f"{victim} never began a second trial"
            assert not search.poll(), f"the search ended before {victim} could be killed mid-trial"
            trial = _open_trial(spec.project_dir, victim)
            if trial is not None and _completed(e for e in read_events(spec.project_dir) if e["tuner_id"] == victim):
                search.workers[victim].signal(signal.SIGSTOP)  # freeze it, then make sure it is still mid-trial
                if _open_trial(spec.project_dir, victim) == trial:
                    search.workers[victim].signal(signal.SIGKILL)
                    killed_trial = trial
                else:
                    search.workers[victim].signal(signal.SIGCONT)
            time.sleep(0.1)
        search.workers[first].signal(signal.SIGCONT)
        summary = search.wait(timeout_s=TIMEOUT_S)
    assert all(c.poll() is not None for c in [search.chief, *search.workers.values()])  # all reaped
    assert search.exit_codes[victim] == -signal.SIGKILL
    assert search.exit_codes["chief"] == 0 and search.exit_codes[first] == 0
    assert summary["lost_workers"] == [victim]
    assert summary["oracle"].startswith("127.0.0.1:")

    # The search is whole: every trial the oracle created completed (KerasTuner marks a trial FAILED and
    # carries on), each exactly once, the killed one by the survivor.
    trials = summary["trials"]
    assert len(trials) == trials_asked
    assert {t["status"] for t in trials.values()} == {"COMPLETED"}
    assert summary["incomplete"] == []
    events = read_events(summary["project_dir"])
    done = _completed(events)
    assert sorted(e["trial_id"] for e in done) == sorted(trials)
    assert summary["completed_by"] == {e["trial_id"]: [e["tuner_id"]] for e in done}
    assert summary["completed_by"][killed_trial] == [first]

    # Shared: both workers completed trials; none was handed out twice but the killed one (begun by the
    # victim, then by the survivor); every trial tried other hyperparameters.
    assert {e["tuner_id"] for e in done} == {"worker0", "worker1"}
    begun = Counter(e["trial_id"] for e in events if e["event"] == "begin")
    assert begun == Counter({tid: 2 if tid == killed_trial else 1 for tid in trials})
    assert len({json.dumps(t["values"], sort_keys=True) for t in trials.values()}) == trials_asked

    # The best result the workers measured is the one the oracle reports.
    assert summary["objective"] == "val_accuracy" and summary["direction"] == "max"
    best_seen = max(e["score"] for e in done)
    assert summary["best"]["score"] == pytest.approx(best_seen, rel=1e-6)
    tied = {e["trial_id"] for e in done if e["score"] == pytest.approx(best_seen, rel=1e-6)}
    assert summary["best"]["trial_id"] in tied
    assert summary["best"]["values"] == trials[summary["best"]["trial_id"]]["values"]
    for e in done:
        assert trials[e["trial_id"]]["score"] == pytest.approx(e["score"], rel=1e-6)


def test_tune_workers_runs_a_local_search_and_prints_its_summary(tmp_path, capsys, monkeypatch):
    """``signbench tune --workers N``: the spec from the flags, one LocalSearch started and waited for, its
    summary printed as JSON; exit status 1 when a trial did not complete (the search itself runs for real
    in the test above and in bench_distributed_tuning's smoke run)."""
    import signbench.distributed.tuning as tuning

    made = []

    class FakeSearch:
        host, port, logs = "127.0.0.1", 4321, tmp_path / "logs"

        def __init__(self, spec, workers, **kwargs):
            made.append(self)
            self.spec, self.n, self.kwargs, self.calls = spec, workers, kwargs, []

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.calls.append("close")

        def start(self):
            self.calls.append("start")

        def wait(self, timeout_s):
            self.calls.append(("wait", timeout_s))
            return {"trials": {"0": {"status": "COMPLETED"}}, "incomplete": self.incomplete,
                    "oracle": f"{self.host}:{self.port}"}

    monkeypatch.setattr(tuning, "LocalSearch", FakeSearch)
    argv = ["tune", "--workers", "2", "--tuner", "random", "--max-trials", "4", "--epochs", "1", "--batch-size", "16",
            "--data", "synthetic", "--synthetic-n", "48", "--threads", "1", "--directory", str(tmp_path),
            "--project", "shared", "--timeout", "77"]
    for incomplete, code in (([], 0), (["3"], 1)):
        FakeSearch.incomplete = incomplete
        assert main(argv) == code
        out, err = capsys.readouterr()
        search = made[-1]
        assert json.loads(out)["incomplete"] == incomplete and "oracle on 127.0.0.1:4321" in err
        assert search.calls == ["start", ("wait", 77.0), "close"]
        assert search.n == 2 and search.kwargs["threads"] == 1 and search.kwargs["overwrite"] is True
        assert (search.spec.tuner, search.spec.max_trials, search.spec.epochs, search.spec.batch_size) == (
            "random", 4, 1, 16)
        assert search.spec.data == DATA and search.spec.project_name == "shared"
    assert "did not complete: ['3']" in err


def test_a_search_whose_workers_all_die_fails_loudly_and_leaves_no_process(tmp_path):
    spec = SearchSpec(directory=str(tmp_path), project_name="doomed", tuner="random", max_trials=2, epochs=1,
                      data={"kind": "no-such-data"})
    # No worker ever finishes a trial here, so the chief cannot exit on its own: a short grace suffices.
    search = LocalSearch(spec, workers=1, threads=1, chief_exit_grace_s=5)
    with pytest.raises(TuningError, match="every worker exited") as err, search:
        search.start()
        search.wait(timeout_s=TIMEOUT_S)
    assert "unknown data kind 'no-such-data'" in str(err.value)  # the worker's error, in the message
    assert all(c.poll() is not None for c in [search.chief, *search.workers.values()])
    assert search.lost == ["worker0"]


def test_print_env_gives_every_process_its_kerastuner_environment(tmp_path, capsys):
    code = main(["tune", "--workers", "3", "--print-env", "10.0.0.5", "--port", "8000", "--tuner", "random",
                 "--directory", str(tmp_path), "--project", "multi"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("KERASTUNER_TUNER_ID=")]
    assert [ln.split()[0] for ln in lines] == [
        "KERASTUNER_TUNER_ID=chief", "KERASTUNER_TUNER_ID=worker0", "KERASTUNER_TUNER_ID=worker1",
        "KERASTUNER_TUNER_ID=worker2",
    ]
    for ln in lines:
        assert "KERASTUNER_ORACLE_IP=10.0.0.5 KERASTUNER_ORACLE_PORT=8000" in ln
        assert "-m signbench.commands.worker tune --spec" in ln
    spec = SearchSpec.load(tmp_path / "multi" / "_launch" / "spec.json")
    assert spec.tuner == "random" and spec.project_name == "multi"


def test_zero_workers_runs_the_in_process_search_of_signbench_tune(tmp_path, capsys, monkeypatch):
    """--workers 0 hands the search to signbench.train.tune.tune (its own tests run it for real)."""
    import signbench.train.tune

    calls = []

    def fake_tune(train, validation, **kwargs):
        calls.append((train, validation, kwargs))
        trials = [{"trial_id": "0", "status": "COMPLETED", "score": 0.5, "hyperparameters": {"units": 32}}]
        return SimpleNamespace(best_score=0.5, best_hyperparameters={"units": 32}, trials=trials,
                               directory=str(tmp_path / "p"))

    monkeypatch.setattr(signbench.train.tune, "tune", fake_tune)
    code = main(["tune", "--data", "synthetic", "--synthetic-n", "40", "--max-epochs", "4", "--factor", "2",
                 "--batch-size", "8", "--retrain-epochs", "3", "--seed", "7", "--directory", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["workers"] == 0 and out["best"]["score"] == 0.5
    [((x, y), (xv, yv), kwargs)] = calls
    assert x.shape == (32, 8, 8, 1) and xv.shape == (8, 8, 8, 1) and len(y) == 32 and len(yv) == 8
    assert kwargs["seed"] == 7 and kwargs["max_epochs"] == 4 and kwargs["factor"] == 2
    assert kwargs["batch_size"] == 8 and kwargs["retrain_epochs"] == 3
    assert main(["tune", "--tuner", "random", "--data", "synthetic", "--directory", str(tmp_path)]) == 2
