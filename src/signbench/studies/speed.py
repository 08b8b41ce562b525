"""The training-speed study: each speed option of ``fit`` against plain ``fit``, in processes of their own.

The options themselves are :class:`signbench.train.options.FitOptions` (they live with ``fit``); this
module only declares the candidates the study measures (:data:`PRESETS`) and drives the worker
processes that train them. Some options (oneDNN, thread pools) are fixed when TensorFlow is imported,
so plain ``fit`` and a candidate cannot share a process: ``bench/bench_speed.py`` starts two workers,
one per preset, each with its own environment, and alternates them one epoch at a time, so both see
the same machine load.

Worker protocol (``python -m signbench.commands.worker speed --data D.npz --preset P --seed S``):
``D.npz`` holds uint8 ``x``, integer ``y``, ``num_classes`` and optionally ``x_test``/``y_test``. Each
command is one line on stdin; each answer is one line on stdout that starts with ``SIGNBENCH-WORKER ``
followed by JSON (anything else on stdout is ignored by :class:`Worker`). Commands:

``prepare MODEL [ROWS]``  seed, build and compile MODEL for the preset, run one untimed epoch (tracing)
                   on the first ROWS rows of ``x`` (default all; ``epoch`` trains on the same rows);
                   answers ``{"loss", "onednn", "intra_threads", "inter_threads", "flops_per_sample",
                   "label", "batch_size", "rows"}`` (threads: ``None`` = TensorFlow's default).
``epoch``          one more epoch of the same model on the same input; answers ``{"epoch_seconds",
                   "fit_seconds", "loss"}`` (epoch_seconds timed inside ``fit``; fit_seconds around it).
``use P``          switch to preset P, which must need the same process (same oneDNN setting and thread
                   pools, see :func:`process_settings`); ``prepare`` again before ``epoch``.
                   Answers ``{"preset": P}``.
``full MODEL E [SEED]``  ``fit`` for E epochs on all of ``x`` (seed SEED, default the worker's
                   ``--seed``), evaluated on ``x_test``: ``{"seconds", "epoch_seconds",
                   "train_accuracy", "test_accuracy"}``.
``quit``           exit 0.

An error answers ``{"error": "..."}`` and the worker exits 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from signbench.train.options import BASE_BATCH, FAST, FitOptions

__all__ = ["PREFIX", "PRESETS", "RECOMMENDED", "Candidate", "Worker", "WorkerPool", "process_settings", "serve"]

PREFIX = "SIGNBENCH-WORKER "


@dataclass(frozen=True)
class Candidate:
    """One configuration the study measures: fit's options and the batch size they train at."""

    options: FitOptions
    batch_size: int = BASE_BATCH

    def label(self) -> str:
        parts = [] if self.options.label() == "plain fit" else self.options.label().split(" + ")
        if self.batch_size != BASE_BATCH:
            parts.insert(1 if self.options.pipeline == "uint8" else 0,
                         f"batch {self.batch_size} ({self.options.lr_scaling} LR)")
        return " + ".join(parts) or "plain fit"


#: Every candidate, plain included, trains without TensorFlow's op determinism (Keras refuses XLA
#: under it), so all are measured alike; larger batches scale the learning rate linearly from 128.
_PLAIN = FitOptions(deterministic=False)
_FAST = replace(FAST, deterministic=False)
_LINEAR = replace(_PLAIN, lr_scaling="linear")

#: The candidates the bench measures, each against plain fit in the same run.
PRESETS: dict[str, Candidate] = {
    "plain": Candidate(_PLAIN),
    "uint8": Candidate(replace(_PLAIN, pipeline="uint8")),
    "batch512": Candidate(_LINEAR, 512),
    "uint8+batch512": Candidate(replace(_LINEAR, pipeline="uint8"), 512),
    "xla": Candidate(replace(_PLAIN, jit_compile=True)),
    "bf16": Candidate(replace(_PLAIN, precision="mixed_bfloat16")),
    "uint8+xla": Candidate(replace(_PLAIN, pipeline="uint8", jit_compile=True)),
    "uint8+batch512+xla": Candidate(replace(_LINEAR, pipeline="uint8", jit_compile=True), 512),
    "all": Candidate(replace(_LINEAR, pipeline="uint8", jit_compile=True, precision="mixed_bfloat16"), 512),
    "fused": Candidate(replace(_PLAIN, conv="fused")),
    "onednn": Candidate(replace(_PLAIN, onednn=True)),
    "fused+onednn": Candidate(replace(_PLAIN, conv="fused", onednn=True)),
    "fused+onednn+batch512": Candidate(replace(_LINEAR, conv="fused", onednn=True), 512),
    "fused+onednn+batch1024": Candidate(replace(_LINEAR, conv="fused", onednn=True), 1024),
    "adam": Candidate(replace(_PLAIN, optimizer="fused")),
    "spe16": Candidate(replace(_PLAIN, steps_per_execution=16)),
    "fast": Candidate(_FAST),
    "fast+batch256": Candidate(replace(_FAST, lr_scaling="linear"), 256),
    "fast+batch512": Candidate(replace(_FAST, lr_scaling="linear"), 512),
    # Thread settings (2 cores here: TensorFlow's default is 2 intra-op and 2 inter-op threads).
    "inter1": Candidate(replace(_PLAIN, inter_threads=1)),
    "fast+inter1": Candidate(replace(_FAST, inter_threads=1)),
    "fast+intra1": Candidate(replace(_FAST, intra_threads=1)),
}

#: The preset ``bench_speed_full_length`` and the docs recommend (``signbench.train.options.FAST``).
RECOMMENDED = "fast"


def process_settings(preset: str) -> tuple:
    """What a preset fixes for its whole process: (oneDNN, intra-op threads, inter-op threads). Presets with
    the same settings can share a worker (``use``); others cannot."""
    o = PRESETS[preset].options
    return (o.onednn, o.intra_threads, o.inter_threads)


def serve(data_path: Path, preset: str, seed: int, lines: Iterable[str], answer: Callable[[dict], None]) -> int:
    """The worker's loop: answer each command line (see the module docstring); return the exit status."""
    import numpy as np

    from signbench.studies.flops import train_flops_per_sample
    from signbench.train.fit import TrainInput, fit
    from signbench.train.tf_speed import onednn_enabled, thread_settings

    if preset not in PRESETS:
        answer({"error": f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}"})
        return 1
    cand = PRESETS[preset]  # its thread pools are set by fit, before TensorFlow's first op
    with np.load(data_path) as d:
        data = {k: d[k] for k in d.files}
    x8, y, num_classes = data["x"], data["y"], int(data["num_classes"])
    model = inp = None
    for line in lines:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                return 0
            if cmd[0] == "use":
                if cmd[1] not in PRESETS or process_settings(cmd[1]) != process_settings(preset):
                    raise ValueError(f"preset {cmd[1]!r} cannot share this {preset!r} worker's process")
                cand, model, inp = PRESETS[cmd[1]], None, None
                answer({"preset": cmd[1]})
            elif cmd[0] == "prepare":
                rows = int(cmd[2]) if len(cmd) > 2 else len(y)
                inp = TrainInput(x8[:rows], y[:rows], num_classes)
                run = fit(cmd[1], inp, seed=seed, epochs=1, batch_size=cand.batch_size, options=cand.options)
                model = run.model
                intra, inter = thread_settings()
                answer({"loss": run.history["loss"][0], "onednn": onednn_enabled(), "label": cand.label(),
                        "intra_threads": intra, "inter_threads": inter, "batch_size": cand.batch_size,
                        "rows": len(inp.labels),
                        "flops_per_sample": float(train_flops_per_sample(model))})
            elif cmd[0] == "epoch":
                if model is None:
                    raise ValueError("'epoch' before 'prepare'")
                run = fit(model, inp, seed=None, epochs=1, batch_size=cand.batch_size,
                          options=replace(_PLAIN, pipeline=cand.options.pipeline))
                answer({"epoch_seconds": run.epoch_seconds[0], "fit_seconds": run.wall_time_s,
                        "loss": run.history["loss"][0]})
            elif cmd[0] == "full":
                test = (data["x_test"], data["y_test"]) if "x_test" in data else None
                run_seed = int(cmd[3]) if len(cmd) > 3 else seed
                run = fit(cmd[1], TrainInput(x8, y, num_classes), seed=run_seed, epochs=int(cmd[2]),
                          batch_size=cand.batch_size, options=cand.options, test=test)
                answer({"seconds": run.wall_time_s, "epoch_seconds": float(sum(run.epoch_seconds)),
                        "train_accuracy": run.train_accuracy,
                        **({"test_accuracy": run.test_accuracy} if test is not None else {})})
            else:
                raise ValueError(f"unknown command {line.strip()!r}")
        except Exception as e:  # answer, then stop: the driver must not wait forever
            answer({"error": f"{type(e).__name__}: {e}"})
            return 1
    return 0


class Worker:
    """Start and drive a worker process (see the module docstring). Use as a context manager."""

    def __init__(self, data: Path, preset: str, *, seed: int = 0, env: dict | None = None):
        from signbench.train.tf_speed import onednn_env

        self.preset = preset
        env = onednn_env(PRESETS[preset].options.onednn, env)  # KeyError for an unknown preset, first
        self._stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signbench.commands.worker", "speed", "--data", str(data), "--preset", preset,
             "--seed", str(seed)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env,
        )

    def ask(self, command: str) -> dict:
        """Send one command; return its answer. Raises RuntimeError if the worker failed or exited."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                out = json.loads(line[len(PREFIX):])
                if "error" in out:
                    raise RuntimeError(f"worker {self.preset!r}, command {command!r}: {out['error']}")
                return out
        code = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:]
        raise RuntimeError(f"worker {self.preset!r} exited (code {code}) during {command!r}; stderr ends:\n{tail}")

    def use(self, preset: str) -> Worker:
        """Switch this worker to ``preset`` (one that :func:`process_settings` says can share it)."""
        if preset != self.preset:
            self.ask(f"use {preset}")
            self.preset = preset
        return self

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self._stderr):
            try:
                f.close()
            except OSError:  # a broken pipe to a worker that already died
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WorkerPool:
    """One worker per role and process setting (:func:`process_settings`), reused across presets:
    ``get(P, role)`` is a worker switched to P. Roles keep apart workers that must hold models at the
    same time (the plain side and the candidate of one comparison). For smoke runs, where starting
    TensorFlow costs more than the training; a measured comparison starts its own workers. Use as a
    context manager (closes them all)."""

    def __init__(self, data: Path, *, seed: int = 0):
        self.data, self.seed = data, seed
        self._workers: dict[tuple, Worker] = {}

    def get(self, preset: str, role: str = "candidate") -> Worker:
        key = (role, process_settings(preset))
        if key in self._workers and self._workers[key].proc.poll() is not None:  # it failed: start afresh
            self._workers.pop(key).close()
        if key not in self._workers:
            self._workers[key] = Worker(self.data, preset, seed=self.seed)
        return self._workers[key].use(preset)

    def close(self) -> None:
        for w in self._workers.values():
            w.close()
        self._workers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
