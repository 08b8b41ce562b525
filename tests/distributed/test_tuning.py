"""KerasTuner's chief/worker mode on 127.0.0.1: a shared search, and a worker killed mid-trial.

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


def test_chief_and_two_workers_share_the_search(tmp_path, capsys):
    code = main([
        "tune", "--workers", "2", "--tuner", "random", "--max-trials", "4", "--epochs", "1",
        "--batch-size", "16", "--data", "synthetic", "--synthetic-n", "48", "--threads", "1",
        "--directory", str(tmp_path), "--project", "shared", "--timeout", str(TIMEOUT_S),
    ])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["oracle"].startswith("127.0.0.1:")

    # Every trial the oracle created completed (KerasTuner marks a trial FAILED and carries on).
    trials = summary["trials"]
    assert len(trials) == 4
    assert {t["status"] for t in trials.values()} == {"COMPLETED"}
    assert summary["incomplete"] == [] and summary["lost_workers"] == []

    # Trials ran on both workers, and none ran twice (begun once, completed once).
    events = read_events(summary["project_dir"])
    begun = Counter(e["trial_id"] for e in events if e["event"] == "begin")
    done = _completed(events)
    assert begun == Counter({tid: 1 for tid in trials})
    assert sorted(e["trial_id"] for e in done) == sorted(trials)
    assert {e["tuner_id"] for e in done} == {"worker0", "worker1"}
    assert summary["completed_by"] == {e["trial_id"]: [e["tuner_id"]] for e in done}
    assert len({json.dumps(t["values"], sort_keys=True) for t in trials.values()}) == 4

    # The best result the workers measured is the one the oracle reports.
    assert summary["objective"] == "val_accuracy" and summary["direction"] == "max"
    best_seen = max(e["score"] for e in done)
    assert summary["best"]["score"] == pytest.approx(best_seen, rel=1e-6)
    tied = {e["trial_id"] for e in done if e["score"] == pytest.approx(best_seen, rel=1e-6)}
    assert summary["best"]["trial_id"] in tied
    assert summary["best"]["values"] == trials[summary["best"]["trial_id"]]["values"]
    for e in done:
        assert trials[e["trial_id"]]["score"] == pytest.approx(e["score"], rel=1e-6)


def test_killing_a_worker_mid_trial_does_not_lose_the_search(tmp_path):
    spec = SearchSpec(directory=str(tmp_path), project_name="killed", tuner="random", max_trials=4, epochs=1,
                      batch_size=16, data=DATA)
    with LocalSearch(spec, workers=2, threads=1) as search:
        search.start()
        victim = search.workers["worker1"]
        deadline = time.monotonic() + TIMEOUT_S
        killed_trial = None
        while killed_trial is None:
            assert time.monotonic() < deadline, "worker1 never started a trial"
            assert not search.poll(), "the search ended before worker1 could be killed mid-trial"
            trial = _open_trial(spec.project_dir, "worker1")
            if trial is not None:
                victim.signal(signal.SIGSTOP)  # freeze it, then make sure it is still mid-trial
                if _open_trial(spec.project_dir, "worker1") == trial:
                    victim.signal(signal.SIGKILL)
                    killed_trial = trial
                else:
                    victim.signal(signal.SIGCONT)
            time.sleep(0.1)
        summary = search.wait(timeout_s=TIMEOUT_S)
    assert all(c.poll() is not None for c in [search.chief, *search.workers.values()])  # all reaped
    assert search.exit_codes["worker1"] == -signal.SIGKILL
    assert search.exit_codes["chief"] == 0 and search.exit_codes["worker0"] == 0
    assert summary["lost_workers"] == ["worker1"]

    # The search is whole: every trial completed exactly once, the killed one by the survivor.
    trials = summary["trials"]
    assert len(trials) == 4
    assert {t["status"] for t in trials.values()} == {"COMPLETED"}
    done = _completed(read_events(spec.project_dir))
    assert sorted(e["trial_id"] for e in done) == sorted(trials)
    assert summary["completed_by"][killed_trial] == ["worker0"]
    assert max(e["score"] for e in done) == pytest.approx(summary["best"]["score"], rel=1e-6)


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
