"""An ordered, resumable stage runner that writes one run folder.

Each stage writes into a hidden ``.partial-<name>/`` folder; only when the stage function returns is
its ``done.json`` marker written there and the folder renamed to ``<name>/`` (one ``os.replace``,
the commit point). So a stage folder is either complete or absent: a killed run leaves at most a
``.partial-*`` folder and the hidden temporary file of a cut-short write, which the next start deletes. Files in the run folder itself (``manifest.json``,
the report) are written with :func:`atomic_write` (temporary file in the same folder, fsync, rename).

``resume=True`` skips every stage whose folder holds a ``done.json`` made with the same settings and
continues at the first one that does not; that stage and every later one are recomputed (their old
folders, if any, are removed first, since they were built on outputs that are about to change).

Progress: one line when a stage starts and one when it ends, with its duration, the run's elapsed
time and an estimate of what remains (each stage's prior cost estimate, rescaled by how the stages
run so far compared with their estimates), handed to the ``progress`` callable (the command prints
them; the library itself prints nothing).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signbench.atomic import atomic_write_json, is_leftover
from signbench.errors import UserError
from signbench.reproduce.config import RunConfig

__all__ = ["MANIFEST", "DONE", "RunError", "Stage", "StageContext", "Runner", "format_seconds"]

MANIFEST = "manifest.json"
DONE = "done.json"
PARTIAL = ".partial-"


class RunError(UserError):
    """A run folder that cannot be used as asked (a user-fixable problem)."""


def format_seconds(s: float) -> str:
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


@dataclass(frozen=True)
class Stage:
    """One step of the run: ``run(ctx)`` writes files into ``ctx.out`` and returns a JSON-able dict.

    ``estimate`` is (quick, full) seconds on a quiet 2-core CPU, the prior for the ETA
    (``estimate_full_tune`` replaces the full one under ``--full-tune``); ``section(result, ctx)``
    gives the stage's blocks of the report (None: the stage has none).
    """

    name: str
    run: Callable[[StageContext], Mapping[str, Any] | None]
    title: str
    estimate: tuple[float, float]
    section: Callable[[dict, StageContext], list] | None = None
    estimate_full_tune: float | None = None

    def expected_seconds(self, config: RunConfig) -> float:
        quick, full = self.estimate
        if self.estimate_full_tune is not None and config.full_tune:
            return self.estimate_full_tune * (0.2 if config.quick else 1.0)
        return max(float(quick if config.quick else full), 0.01)


def _no_progress(line: str) -> None:
    return None


@dataclass
class StageContext:
    """What a stage sees: its own (temporary) output folder, the settings, earlier stages' outputs."""

    run_dir: Path
    out: Path
    config: RunConfig
    stage: str
    quiet: bool = False
    progress: Callable[[str], None] = _no_progress

    def path(self, stage: str) -> Path:
        """The folder of a finished earlier stage."""
        p = self.run_dir / stage
        if not (p / DONE).is_file():
            raise RunError(f"stage {self.stage!r} needs stage {stage!r}, which has not finished")
        return p

    def result(self, stage: str) -> dict:
        """The dict an earlier stage returned."""
        return json.loads((self.path(stage) / DONE).read_text())["result"]

    def log(self, message: str) -> None:
        self.progress(f"    {message}")

    def save_arrays(self, name: str, **arrays) -> Path:
        """``arrays`` as ``<name>.npz`` in this stage's folder."""
        path = self.out / f"{name}.npz"
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    def load_arrays(self, stage: str, name: str) -> dict[str, np.ndarray]:
        """The arrays an earlier stage saved as ``<name>.npz``."""
        with np.load(self.path(stage) / f"{name}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


class Runner:
    """Runs ``stages`` in order into ``run_dir``; see the module docstring for the guarantees."""

    def __init__(
        self,
        run_dir: str | os.PathLike,
        stages: Iterable[Stage],
        config: RunConfig,
        *,
        resume: bool = False,
        quiet: bool = False,
        progress: Callable[[str], None] = _no_progress,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.run_dir = Path(run_dir)
        self.stages = list(stages)
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        self.config = config
        self.fingerprint = config.fingerprint()
        self.resume = resume
        #: changes no result (Keras progress bars), so not part of the fingerprint
        self.quiet = quiet
        self.progress = progress
        self.clock = clock
        #: per stage: "done" (skipped, already finished), "ran", "failed", or absent (not reached)
        self.status: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    # -- run folder -------------------------------------------------------------------------
    def _print(self, line: str) -> None:
        self.progress(line)

    def _manifest_path(self) -> Path:
        return self.run_dir / MANIFEST

    def read_manifest(self) -> dict | None:
        p = self._manifest_path()
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{p}: unreadable run manifest ({exc}); choose a new --out") from None

    def _prepare(self) -> None:
        """Check the folder against the settings and remove what a killed run left half-done."""
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise RunError(f"{self.run_dir} exists and is not a folder")
        old = self.read_manifest()
        if old is not None:
            if not self.resume:
                raise RunError(
                    f"{self.run_dir} already holds a run; pass --resume to continue it or choose another --out"
                )
            if old.get("fingerprint") != self.fingerprint:
                before, now = old.get("config", {}), self.config.to_dict()
                diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
                shown = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in diff)
                raise RunError(
                    f"{self.run_dir} was started with other settings ({shown}); "
                    "rerun with the same settings to resume, or choose another --out"
                )
        elif self.run_dir.is_dir() and any(
            p.name != MANIFEST and not p.name.startswith(PARTIAL) and not is_leftover(p.name)
            for p in self.run_dir.iterdir()
        ):
            raise RunError(f"{self.run_dir} is not empty and holds no signbench run; choose another --out")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for p in self.run_dir.glob(PARTIAL + "*"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.run_dir.iterdir():  # temporary files of writes a kill cut short
            if p.is_file() and is_leftover(p.name):
                p.unlink(missing_ok=True)

    def is_done(self, stage: Stage) -> bool:
        marker = self.run_dir / stage.name / DONE
        if not marker.is_file():
            return False
        try:
            return json.loads(marker.read_text()).get("fingerprint") == self.fingerprint
        except (OSError, json.JSONDecodeError):
            return False

    def _write_manifest(self, started: str) -> None:
        stages = {}
        for s in self.stages:
            marker = self.run_dir / s.name / DONE
            if marker.is_file():
                done = json.loads(marker.read_text())
                stages[s.name] = {k: done[k] for k in ("status", "seconds", "finished") if k in done}
            else:
                stages[s.name] = {"status": self.status.get(s.name, "pending")}
        atomic_write_json(
            self._manifest_path(),
            {
                "fingerprint": self.fingerprint,
                "config": self.config.to_dict(),
                "started": started,
                "updated": _now(),
                "stages": stages,
            },
        )

    # -- progress ---------------------------------------------------------------------------
    def remaining_estimate(self, index: int) -> float:
        """Seconds expected for stages after ``index``, rescaled by the actual/estimated ratio so far."""
        ran = [s for s in self.stages if self.status.get(s.name) == "ran"]
        est_ran = sum(s.expected_seconds(self.config) for s in ran)
        actual = sum(self.seconds[s.name] for s in ran)
        scale = actual / est_ran if est_ran > 0 and actual > 0 else 1.0
        scale = min(max(scale, 0.1), 20.0)
        return scale * sum(s.expected_seconds(self.config) for s in self.stages[index + 1 :])

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> dict[str, dict]:
        """Run (or skip) every stage in order; return {stage: result dict}. Exceptions propagate
        after the failed stage's partial folder is removed and the manifest says where it stopped."""
        self._prepare()
        old = self.read_manifest()
        started = old.get("started", _now()) if old else _now()
        t0 = self.clock()
        n = len(self.stages)
        total_est = sum(s.expected_seconds(self.config) for s in self.stages)
        self._print(f"run folder {self.run_dir} ({n} stages, about {format_seconds(total_est)} estimated)")
        results: dict[str, dict] = {}
        redo = False  # once a stage is recomputed, every later one is too
        self._write_manifest(started)
        for i, stage in enumerate(self.stages):
            label = f"[{i + 1}/{n}] {stage.name}"
            final = self.run_dir / stage.name
            if not redo and self.resume and self.is_done(stage):
                self.status[stage.name] = "done"
                results[stage.name] = json.loads((final / DONE).read_text())["result"]
                self._print(f"{label}: already done, skipped")
                continue
            redo = True
            if final.exists():
                shutil.rmtree(final)
            partial = self.run_dir / f"{PARTIAL}{stage.name}"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            self._print(f"{label}: {stage.title or stage.name} ...")
            ctx = StageContext(self.run_dir, partial, self.config, stage.name, self.quiet, self.progress)
            s0 = self.clock()
            try:
                result = dict(stage.run(ctx) or {})
            except BaseException:
                self.status[stage.name] = "failed"
                self.seconds[stage.name] = self.clock() - s0
                shutil.rmtree(partial, ignore_errors=True)
                self._print(
                    f"{label}: FAILED after {format_seconds(self.seconds[stage.name])} "
                    f"(finished stages are kept; rerun with --resume to continue from here)"
                )
                self._write_manifest(started)
                raise
            secs = self.clock() - s0
            self.seconds[stage.name] = secs
            self.status[stage.name] = "ran"
            atomic_write_json(
                partial / DONE,
                {
                    "stage": stage.name,
                    "status": "done",
                    "fingerprint": self.fingerprint,
                    "seconds": round(secs, 3),
                    "finished": _now(),
                    "result": result,
                },
            )
            os.replace(partial, final)  # the commit point: the folder appears complete or not at all
            results[stage.name] = result
            self._write_manifest(started)
            elapsed = self.clock() - t0
            left = self.remaining_estimate(i)
            tail = f", about {format_seconds(left)} left" if i + 1 < n else ""
            self._print(
                f"{label}: done in {format_seconds(secs)} (elapsed {format_seconds(elapsed)}{tail})"
            )
        self._print(f"all {n} stages done in {format_seconds(self.clock() - t0)}")
        return results


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
