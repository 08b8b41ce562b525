"""Train with one ``signbench.speed`` preset in a process of its own, driven line by line.

Some speed options (oneDNN, thread pools) are fixed when TensorFlow is imported, so a benchmark that
compares them with plain ``fit`` cannot build both in one process. ``bench/bench_speed.py`` starts two
workers, one per preset, each with its own environment (:func:`signbench.speed.onednn_env`), and
alternates them one epoch at a time, so both see the same machine load.

Protocol: ``python -m signbench.speed_worker --data D.npz --preset P --seed S``. ``D.npz`` holds uint8
``x``, integer ``y``, ``num_classes`` and optionally ``x_test``/``y_test``. Each command is one line on
stdin; each answer is one line on stdout that starts with ``SIGNBENCH-WORKER `` followed by JSON
(anything else on stdout, e.g. a library's print, is ignored by :class:`Worker`). Commands:

``prepare MODEL``  seed, build and compile MODEL for the preset, run one untimed epoch (tracing);
                   answers ``{"loss", "onednn", "intra_threads", "inter_threads", "flops_per_sample",
                   "label", "batch_size"}`` (threads: ``None`` = TensorFlow's default).
``epoch``          one epoch; answers ``{"epoch_seconds", "fit_seconds", "loss"}`` (epoch_seconds is
                   timed inside ``fit`` by :class:`signbench.callbacks.EpochTimer`; fit_seconds around it).
``full MODEL E [SEED]``  :func:`signbench.speed.fast_fit` for E epochs on all of ``x`` (seed SEED, default
                   the worker's ``--seed``), evaluated on ``x_test``:
                   ``{"seconds", "epoch_seconds", "train_accuracy", "test_accuracy"}``.
``quit``           exit 0.

An error answers ``{"error": "..."}`` and the worker exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PREFIX = "SIGNBENCH-WORKER "

__all__ = ["Worker", "main"]


def _answer(obj: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m signbench.speed_worker", description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import numpy as np

    from signbench.callbacks import EpochTimer
    from signbench.speed import PRESETS, fast_fit, onednn_enabled, prepare, thread_settings

    if args.preset not in PRESETS:
        _answer({"error": f"unknown preset {args.preset!r}; choose one of {', '.join(PRESETS)}"})
        return 1
    options = PRESETS[args.preset]  # its thread pools are set by prepare, before TensorFlow's first op
    with np.load(args.data) as d:
        data = {k: d[k] for k in d.files}
    x8, y, num_classes = data["x"], data["y"], int(data["num_classes"])
    model = kwargs = None
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                return 0
            if cmd[0] == "prepare":
                from signbench.flops import train_flops_per_sample

                model, kwargs = prepare(cmd[1], x8, y, seed=args.seed, options=options, num_classes=num_classes)
                loss = model.fit(**kwargs, epochs=1).history["loss"][0]
                intra, inter = thread_settings()
                _answer({"loss": float(loss), "onednn": onednn_enabled(), "label": options.label(),
                         "intra_threads": intra, "inter_threads": inter,
                         "batch_size": options.batch_size, "flops_per_sample": float(train_flops_per_sample(model))})
            elif cmd[0] == "epoch":
                import time

                timer = EpochTimer()
                t = time.perf_counter()
                loss = model.fit(**kwargs, epochs=1, callbacks=[timer]).history["loss"][0]
                _answer({"epoch_seconds": timer.seconds[0], "fit_seconds": time.perf_counter() - t, "loss": float(loss)})
            elif cmd[0] == "full":
                test = (data["x_test"], data["y_test"]) if "x_test" in data else None
                seed = int(cmd[3]) if len(cmd) > 3 else args.seed
                out = fast_fit(cmd[1], (x8, y), seed=seed, epochs=int(cmd[2]), options=options, test=test)
                _answer({k: out[k] for k in ("seconds", "epoch_seconds", "train_accuracy", "test_accuracy") if k in out})
            else:
                raise ValueError(f"unknown command {line.strip()!r}")
        except Exception as e:  # answer, then stop: the driver must not wait forever
            _answer({"error": f"{type(e).__name__}: {e}"})
            return 1
    return 0


class Worker:
    """Start and drive a worker process (see the module docstring). Use as a context manager."""

    def __init__(self, data: Path, preset: str, *, seed: int = 0, env: dict | None = None):
        from signbench.speed import PRESETS, onednn_env

        self.preset = preset
        env = onednn_env(PRESETS[preset], env)  # KeyError for an unknown preset, before opening anything
        self._stderr = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signbench.speed_worker", "--data", str(data), "--preset", preset, "--seed", str(seed)],
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


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
