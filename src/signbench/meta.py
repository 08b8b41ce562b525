"""Run metadata recorded with every result row: seed, git commit, versions, backend, device, threads."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
from importlib import metadata as _md
from pathlib import Path

__all__ = ["available_cores", "cpu_model", "device_name", "git_commit", "on_accelerator", "package_version", "run_metadata", "thread_count"]


@functools.cache
def git_commit(start: str | os.PathLike | None = None) -> str:
    """The commit of the checkout this package runs from ('unknown' outside git), '+dirty' if changed.

    A copy of the tree shipped elsewhere (e.g. to a remote GPU runner, whose ``.git`` may be missing
    or stale) can name its commit in ``$SIGNBENCH_GIT_COMMIT``; it is recorded with a ``+export``
    suffix so it is never taken for a checked-out commit.
    """
    if os.environ.get("SIGNBENCH_GIT_COMMIT"):
        return os.environ["SIGNBENCH_GIT_COMMIT"].strip() + "+export"
    here = Path(start) if start else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, timeout=10,
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return _md.version(name)
    except _md.PackageNotFoundError:
        return "absent"


def thread_count() -> int:
    """Threads TensorFlow may use for ops (intra-op), or the CPU count when TF picks the default."""
    try:
        import tensorflow as tf

        n = tf.config.threading.get_intra_op_parallelism_threads()
        if n:
            return int(n)
    except Exception:  # noqa: BLE001 - TF absent or not importable: fall back to the OS view
        pass
    return available_cores()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def device_name() -> str:
    """The accelerator name if Keras's backend sees one, else the CPU model."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                return str(getattr(dev, "device_kind", dev))
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", gpus[0].name)
    except Exception:  # noqa: BLE001
        pass
    return cpu_model()


def on_accelerator() -> bool:
    """True when Keras's backend runs on a GPU/TPU here (``device_name`` is not the CPU model)."""
    return device_name() != cpu_model()


def run_metadata(seed: int | None = None, **extra) -> dict:
    """Everything a result row must carry to be reproducible and comparable."""
    try:
        import keras

        backend = keras.backend.backend()
    except Exception:  # noqa: BLE001
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    row = {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "tensorflow": package_version("tensorflow"),
        "keras": package_version("keras"),
        "litert": package_version("ai-edge-litert"),
        "backend": backend,
        "device": device_name(),
        "cpu": cpu_model(),
        "threads": thread_count(),
    }
    row.update(extra)
    return row
