"""Distributed hyperparameter search with KerasTuner's own chief/worker mode.

KerasTuner runs a search on several processes when each one is given ``KERASTUNER_TUNER_ID``
(``"chief"`` for the oracle, any other name for a worker), ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``: the chief serves the oracle over gRPC, every worker asks it for a
trial, trains it and reports back. This module only starts those processes; the scheduling is
KerasTuner's.

- :class:`LocalSearch` starts a chief and N workers on 127.0.0.1 with a port chosen free at run
  time, watches them, and reaps every process when it leaves (``with`` block), even on errors.
- :func:`host_recipe` prints the environment and command for each process of a multi-host run.
- A worker that dies mid-trial does not lose the search. KerasTuner alone would wait for it for
  ever (its trial stays "ongoing" and the chief never exits), so the chief here adds two small
  things on top of the stock oracle: a *lost worker* notice (a file ``_lost/<tuner id>`` in the
  project folder, written by :class:`LocalSearch` when it reaps a dead worker, or by hand on a
  cluster) puts that worker's trial back on the oracle's own retry queue; and a worker asking for a
  trial when the search is over is told to wait (``IDLE``) instead of stop while other workers
  still have trials running, so that someone is left to run a trial that comes back.
- Every worker appends what it ran to ``_events/<tuner id>.jsonl`` and the chief writes what the
  oracle reports at the end to ``oracle_report.json``: the tests check one against the other.

The entry point of every process is ``python -m signbench.commands.worker tune --spec SPEC.json``
(:func:`process_main`) with the role taken from the environment, the same on one host or many.
``signbench tune`` (:mod:`signbench.commands.tune`) is the user's command.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from signbench.distributed.procs import LOOPBACK, Child, child_env, free_port, reap, start, tail

__all__ = [
    "CHIEF_ID",
    "LocalSearch",
    "SearchSpec",
    "TuningError",
    "host_recipe",
    "in_process_search",
    "process_main",
    "read_events",
    "read_report",
    "worker_ids",
]

_log = logging.getLogger("signbench")

ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
#: seconds the chief may take to exit after the last worker has gone
CHIEF_EXIT_GRACE_S = 60
CHIEF_ID = "chief"
REPORT = "oracle_report.json"
EVENTS = "_events"
LOST = "_lost"
SPEC = "_launch/spec.json"


class TuningError(RuntimeError):
    """The distributed search failed (chief crashed, every worker died, time ran out)."""


@dataclass
class SearchSpec:
    """Everything a chief or worker process needs to rebuild the same tuner (JSON-serializable).

    ``data`` is ``{"kind": "synthetic", "n": 64, "image_size": 8, "num_classes": 3}`` (tiny seeded
    images, for tests and smoke runs), ``{"kind": "sign_mnist"}`` (the real training CSV) or
    ``{"kind": "csv", "path": ...}``, optionally with ``"n"``: a seeded subset of that many rows.
    ``validation_split`` of the rows is held out for validation.
    """

    directory: str
    project_name: str = "signbench_tune"
    tuner: str = "hyperband"  # "hyperband" (the course's) or "random"
    objective: str = "val_accuracy"
    max_trials: int = 10  # random search
    epochs: int = 2  # random search: epochs per trial
    max_epochs: int = 10  # hyperband
    factor: int = 3  # hyperband
    hyperband_iterations: int = 1
    batch_size: int = 128
    seed: int = 0
    data: dict = field(default_factory=lambda: {"kind": "sign_mnist"})
    validation_split: float = 0.2
    idle_poll_s: float = 0.5

    @property
    def project_dir(self) -> Path:
        return Path(self.directory) / self.project_name

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=1))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SearchSpec:
        return cls(**json.loads(Path(path).read_text()))


def worker_ids(n: int) -> list[str]:
    """Tuner ids of ``n`` workers (KerasTuner treats any id containing "chief" as the chief)."""
    return [f"worker{i}" for i in range(n)]


# --------------------------------------------------------------------------------------------------
# Inside a chief or worker process


def _load_data(spec: SearchSpec):
    """(x_train, y_train), (x_val, y_val) as float32 images in [0, 1] and int labels."""
    from signbench.seeds import rng

    kind = spec.data.get("kind")
    if kind == "synthetic":
        from signbench.distributed.data_parallel import synthetic_data

        x, y = synthetic_data(spec.seed, n=int(spec.data.get("n", 64)), size=int(spec.data.get("image_size", 8)),
                              num_classes=int(spec.data.get("num_classes", 3)))
    elif kind in ("sign_mnist", "csv"):
        from signbench.data import load, load_sign_mnist

        ds = load_sign_mnist("train") if kind == "sign_mnist" else load(spec.data["path"])
        x = ds.images.astype("float32") / 255.0
        y = ds.labels
        order = rng(spec.seed, "tune/split").permutation(len(y))[: spec.data.get("n")]
        x, y = x[order], y[order]
    else:
        _check_data(spec)
    n_val = max(1, int(round(len(y) * spec.validation_split)))
    return (x[n_val:], y[n_val:]), (x[:n_val], y[:n_val])


DATA_KINDS = ("synthetic", "sign_mnist", "csv")


def _check_data(spec: SearchSpec) -> None:
    """Fail fast (before TensorFlow loads) on a data spec no worker could load."""
    kind = spec.data.get("kind")
    if kind not in DATA_KINDS:
        raise ValueError(f"unknown data kind {kind!r}; choose one of {DATA_KINDS}")
    if kind == "csv" and not Path(spec.data.get("path", "")).is_file():
        raise FileNotFoundError(f"no such data file: {spec.data.get('path')}")


def _num_classes_and_shape(spec: SearchSpec):
    if spec.data.get("kind") == "synthetic":
        s = int(spec.data.get("image_size", 8))
        return int(spec.data.get("num_classes", 3)), (s, s, 1)
    from signbench.models.course import SIGN_CLASSES, SIGN_SHAPE

    return SIGN_CLASSES, SIGN_SHAPE


def _recording(cls):
    """A subclass of the KerasTuner class ``cls`` that logs each trial it runs to ``_events/``."""

    class Recording(cls):
        def _event(self, **row):
            d = Path(self.project_dir) / EVENTS
            d.mkdir(parents=True, exist_ok=True)
            row.update(tuner_id=self.tuner_id, pid=os.getpid(), time=time.time())
            with open(d / f"{self.tuner_id}.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

        def on_trial_begin(self, trial):
            self._last_results = None
            self._event(event="begin", trial_id=trial.trial_id, values=dict(trial.hyperparameters.values))
            super().on_trial_begin(trial)

        def run_trial(self, trial, *args, **kwargs):
            self._last_results = super().run_trial(trial, *args, **kwargs)
            return self._last_results

        def on_trial_end(self, trial):
            from keras_tuner.src.engine import tuner_utils

            score = None
            if self._last_results is not None and trial.status == "COMPLETED":
                metrics = tuner_utils.convert_to_metrics_dict(self._last_results, self.oracle.objective)
                score = float(metrics[self.oracle.objective.name])
            super().on_trial_end(trial)  # reports the end to the oracle first
            self._event(event="end", trial_id=trial.trial_id, status=str(trial.status), score=score)

    Recording.__name__ = Recording.__qualname__ = f"Recording{cls.__name__}"
    return Recording


def build_tuner(spec: SearchSpec):
    """The KerasTuner tuner the spec describes, on :func:`signbench.models.hypermodel`.

    With the ``KERASTUNER_*`` variables set this is a chief or a worker; without them, a plain
    single-process tuner.
    """
    import functools

    import keras_tuner as kt

    from signbench.models import hypermodel

    num_classes, shape = _num_classes_and_shape(spec)
    common = dict(
        hypermodel=functools.partial(hypermodel, num_classes=num_classes, input_shape=shape),
        objective=spec.objective,
        seed=spec.seed,
        directory=spec.directory,
        project_name=spec.project_name,
        overwrite=False,  # the launcher clears the folder; every process must see the same one
    )
    if spec.tuner == "random":
        return _recording(kt.RandomSearch)(max_trials=spec.max_trials, **common)
    if spec.tuner == "hyperband":
        return _recording(kt.Hyperband)(
            max_epochs=spec.max_epochs, factor=spec.factor, hyperband_iterations=spec.hyperband_iterations, **common
        )
    raise ValueError(f"unknown tuner {spec.tuner!r}; choose hyperband or random")


def _install_chief_extensions(oracle, lost_dir: Path, stop: threading.Event) -> threading.Thread:
    """Make the chief's oracle survive dead workers (see the module docstring)."""
    from keras_tuner.src.engine import trial as trial_module
    from keras_tuner.src.engine.oracle import synchronized

    stock_create_trial = oracle.create_trial

    @synchronized
    def create_trial_waiting(oracle_, tuner_id):
        trial = stock_create_trial(tuner_id)
        others_running = any(t != tuner_id for t in oracle_.ongoing_trials)
        if trial.status == trial_module.TrialStatus.STOPPED and others_running:
            # Hold this worker: a trial still running elsewhere may come back for a retry.
            oracle_.tuner_ids.add(tuner_id)
            return trial_module.Trial(oracle_.get_space(), trial_id=trial.trial_id, status="IDLE")
        return trial

    @synchronized
    def forget_tuner(oracle_, tuner_id):
        trial = oracle_.ongoing_trials.pop(tuner_id, None)
        if trial is not None and trial.trial_id not in oracle_._retry_queue:
            oracle_._retry_queue.append(trial.trial_id)  # the stock retry path re-issues it
        oracle_.tuner_ids.discard(tuner_id)
        oracle_.save()
        _log.warning("[chief] worker %s lost; trial %s requeued", tuner_id, trial.trial_id if trial else None)

    oracle.create_trial = lambda tuner_id: create_trial_waiting(oracle, tuner_id)

    def watch():
        seen: set[str] = set()
        while not stop.is_set():
            if lost_dir.is_dir():
                for f in sorted(lost_dir.iterdir()):
                    if f.name not in seen:
                        seen.add(f.name)
                        forget_tuner(oracle, f.name)
            stop.wait(0.2)

    thread = threading.Thread(target=watch, name="lost-worker-watch", daemon=True)
    thread.start()
    return thread


def _write_report(tuner, spec: SearchSpec) -> dict:
    oracle = tuner.oracle
    best = oracle.get_best_trials(1)
    trials = {
        tid: {"status": str(t.status), "score": t.score, "values": dict(t.hyperparameters.values)}
        for tid, t in sorted(oracle.trials.items())
    }
    report = {
        "objective": oracle.objective.name,
        "direction": oracle.objective.direction,
        "best": (
            {"trial_id": best[0].trial_id, "score": best[0].score, "values": dict(best[0].hyperparameters.values)}
            if best
            else None
        ),
        "trials": trials,
    }
    path = spec.project_dir / REPORT
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, path)
    return report


def process_main(spec_path: str) -> int:
    """Run this process's part of the search: the chief serves the oracle, a worker trains trials."""
    spec = SearchSpec.load(spec_path)
    tuner_id = os.environ.get(ENV_ID, "tuner0")
    if CHIEF_ID not in tuner_id:
        _check_data(spec)  # the chief never loads data
    from signbench.seeds import derive, seed_everything

    seed_everything(derive(spec.seed, f"tune/{tuner_id}"))
    tuner = build_tuner(spec)
    if CHIEF_ID in tuner_id:
        stop = threading.Event()
        watcher = _install_chief_extensions(tuner.oracle, spec.project_dir / LOST, stop)
        try:
            tuner.search()  # blocks: serves the oracle until every worker has been told to stop
        finally:
            stop.set()
            watcher.join(timeout=5)
        report = _write_report(tuner, spec)
        _log.info("[chief] search done: best %s", report["best"])
        return 0

    from keras_tuner.src.engine import trial as trial_module

    if hasattr(tuner.oracle, "stub"):  # a worker talking to the chief: don't spin while told to wait
        ask = tuner.oracle.create_trial

        def create_trial_politely(tid):
            trial = ask(tid)
            if trial.status == trial_module.TrialStatus.IDLE:
                time.sleep(spec.idle_poll_s)
            return trial

        tuner.oracle.create_trial = create_trial_politely
    (x, y), (xv, yv) = _load_data(spec)
    fit = dict(validation_data=(xv, yv), batch_size=spec.batch_size, verbose=0)
    if spec.tuner == "random":
        fit["epochs"] = spec.epochs
    tuner.search(x, y, **fit)
    _log.info("[%s] done", tuner_id)
    return 0


# --------------------------------------------------------------------------------------------------
# Launcher side (no TensorFlow needed here)


def read_events(project_dir: str | os.PathLike) -> list[dict]:
    """Every event the workers logged, in file order per worker."""
    rows = []
    d = Path(project_dir) / EVENTS
    for f in sorted(d.glob("*.jsonl")) if d.is_dir() else []:
        for line in f.read_text().splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut short by a killed worker
    return rows


def read_report(project_dir: str | os.PathLike) -> dict | None:
    p = Path(project_dir) / REPORT
    return json.loads(p.read_text()) if p.is_file() else None


def _env_for(tuner_id: str, ip: str, port: int) -> dict[str, str]:
    return {ENV_ID: tuner_id, ENV_IP: ip, ENV_PORT: str(port)}


class LocalSearch:
    """A chief and ``workers`` worker processes on this host (loopback), reaped on exit.

    ::

        with LocalSearch(spec, workers=2) as search:
            report = search.run(timeout_s=600)

    ``start()``, then ``poll()`` (one monitoring step; True when the search is over) or ``wait()``;
    a worker that dies is declared lost to the chief at once, and the others finish its trial.
    When every worker is gone, the chief gets ``chief_exit_grace_s`` to exit cleanly before the search is
    declared failed.
    """

    def __init__(self, spec: SearchSpec, workers: int, *, host: str = LOOPBACK, port: int | None = None,
                 threads: int | None = None, overwrite: bool = True, logs: str | os.PathLike | None = None,
                 chief_exit_grace_s: float = CHIEF_EXIT_GRACE_S):
        if workers < 1:
            raise ValueError("a distributed search needs at least one worker")
        self.spec, self.n_workers, self.host, self.port, self.threads = spec, workers, host, port, threads
        self.overwrite, self.chief_exit_grace_s = overwrite, chief_exit_grace_s
        self.logs = Path(logs) if logs else spec.project_dir.parent / f"{spec.project_name}_logs"
        self.chief: Child | None = None
        self.workers: dict[str, Child] = {}
        self.lost: list[str] = []
        self.exit_codes: dict[str, int | None] = {}
        self._chief_done_at: float | None = None

    # -- lifecycle
    def __enter__(self) -> LocalSearch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> dict[str, int | None]:
        """Reap every process this search started (idempotent)."""
        kids = ([self.chief] if self.chief else []) + list(self.workers.values())
        self.exit_codes.update(reap(kids))
        return self.exit_codes

    def start(self) -> LocalSearch:
        pdir = self.spec.project_dir
        if self.overwrite and pdir.exists():
            shutil.rmtree(pdir)
        pdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(pdir / LOST, ignore_errors=True)  # notices of an earlier run's workers
        spec_path = self.spec.save(pdir / SPEC)
        self.port = self.port or free_port(self.host)
        args = ["-m", "signbench.commands.worker", "tune", "--spec", str(spec_path)]
        self.chief = start(CHIEF_ID, args, child_env(_env_for(CHIEF_ID, self.host, self.port), self.threads),
                           self.logs / f"{CHIEF_ID}.log")
        for wid in worker_ids(self.n_workers):
            self.workers[wid] = start(wid, args, child_env(_env_for(wid, self.host, self.port), self.threads),
                                      self.logs / f"{wid}.log")
        return self

    # -- monitoring
    def declare_lost(self, tuner_id: str) -> None:
        """Tell the chief that ``tuner_id`` is gone: its running trial goes back to the queue."""
        d = self.spec.project_dir / LOST
        d.mkdir(parents=True, exist_ok=True)
        (d / tuner_id).write_text(str(time.time()))
        self.lost.append(tuner_id)

    def poll(self) -> bool:
        """One monitoring step. True when the chief finished cleanly and the workers are gone."""
        assert self.chief is not None, "start() first"
        for wid, w in self.workers.items():
            code = w.poll()
            if code not in (None, 0) and wid not in self.lost:
                self.declare_lost(wid)
        chief_code = self.chief.poll()
        if chief_code not in (None, 0):
            raise TuningError(f"chief exited with status {chief_code}:\n{tail(self.chief.log)}")
        alive = [w for w in self.workers.values() if w.poll() is None]
        if chief_code == 0:
            # Workers exit right after being told to stop; give them a moment, then reap.
            self._chief_done_at = self._chief_done_at or time.monotonic()
            return not alive or time.monotonic() - self._chief_done_at > 30
        if not alive:
            # Every worker is gone but the chief still waits: nobody is left to finish the search.
            # The chief may be just about to exit after the last worker's stop; on a loaded machine its
            # shutdown (final oracle save, report) can take many seconds, so give it a grace period.
            try:
                chief_code = self.chief.proc.wait(timeout=self.chief_exit_grace_s)
            except subprocess.TimeoutExpired:
                chief_code = None
            if chief_code == 0:
                return True
            if chief_code is not None:
                raise TuningError(f"chief exited with status {chief_code}:\n{tail(self.chief.log)}")
            codes = {wid: w.poll() for wid, w in self.workers.items()}
            logs = "\n".join(f"--- {wid}\n{tail(w.log, 1500)}" for wid, w in self.workers.items())
            raise TuningError(f"every worker exited ({codes}) before the search finished:\n{logs}")
        return False

    def wait(self, timeout_s: float = 3600, interval_s: float = 0.2) -> dict:
        """Poll until done or ``timeout_s``; return the summary (see :meth:`summary`)."""
        deadline = time.monotonic() + timeout_s
        while not self.poll():
            if time.monotonic() > deadline:
                raise TimeoutError(f"distributed search not finished after {timeout_s:.0f} s (logs in {self.logs})")
            time.sleep(interval_s)
        return self.summary()

    def run(self, timeout_s: float = 3600) -> dict:
        self.start()
        try:
            return self.wait(timeout_s)
        finally:
            self.close()

    def summary(self) -> dict:
        """The oracle's report plus which worker ran which trial, and the worker exit codes."""
        report = read_report(self.spec.project_dir)
        if report is None:
            raise TuningError(f"the chief wrote no {REPORT}:\n{tail(self.chief.log) if self.chief else ''}")
        ran_by: dict[str, list[str]] = {}
        for e in read_events(self.spec.project_dir):
            if e["event"] == "end" and e.get("status") == "COMPLETED":
                ran_by.setdefault(e["trial_id"], []).append(e["tuner_id"])
        return {
            **report,
            "incomplete": sorted(t for t, row in report["trials"].items() if row["status"] != "COMPLETED"),
            "completed_by": ran_by,
            "workers": self.n_workers,
            "lost_workers": list(self.lost),
            "oracle": f"{self.host}:{self.port}",
            "project_dir": str(self.spec.project_dir),
        }


def host_recipe(spec: SearchSpec, workers: int, chief_host: str, port: int) -> str:
    """Shell lines to start the chief on ``chief_host`` and ``workers`` workers on other hosts."""
    spec_path = spec.project_dir / SPEC
    cmd = f"{Path(sys.executable).name} -m signbench.commands.worker tune --spec {spec_path}"
    lines = [
        f"# Spec written to {spec_path}; copy it to the same path on every host (Hyperband also",
        f"# needs {spec.directory} on storage all hosts share: later rounds load earlier checkpoints).",
        f"# On {chief_host} (the oracle; it listens on {chief_host}:{port}):",
        " ".join(f"{k}={v}" for k, v in _env_for(CHIEF_ID, chief_host, port).items()) + f" {cmd}",
        "# On each worker host (one line per worker; the ids must be unique):",
    ]
    for wid in worker_ids(workers):
        lines.append(" ".join(f"{k}={v}" for k, v in _env_for(wid, chief_host, port).items()) + f" {cmd}")
    lines += [
        "# A worker that dies: restart it with the same KERASTUNER_TUNER_ID and it resumes its trial,",
        f"# or `touch {spec.project_dir / LOST}/<tuner id>` on the chief's host to hand it to the others.",
    ]
    return "\n".join(lines)



def in_process_search(spec: SearchSpec, *, retrain_epochs: int = 20) -> dict:
    """``signbench tune --workers 0``: :func:`signbench.train.tune.tune`'s Hyperband in this process
    (best model retrained); returns the summary the command prints."""
    from signbench.train.tune import tune

    if spec.tuner != "hyperband":
        raise ValueError("the in-process search (--workers 0) is signbench.train.tune's Hyperband; drop --tuner random")
    train, val = _load_data(spec)
    res = tune(train, val, seed=spec.seed, directory=spec.directory, project_name=spec.project_name,
               max_epochs=spec.max_epochs, factor=spec.factor, hyperband_iterations=spec.hyperband_iterations,
               batch_size=spec.batch_size, retrain_epochs=retrain_epochs)
    return {"workers": 0, "best": {"score": res.best_score, "values": res.best_hyperparameters},
            "trials": res.trials, "project_dir": res.directory}
