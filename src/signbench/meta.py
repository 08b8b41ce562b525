"""Run metadata recorded with every result row: seed, git commit, versions, backend, device, CPU flags,
threads and whether TensorFlow runs its oneDNN kernels."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import subprocess
from importlib import metadata as _md
from pathlib import Path

__all__ = [
    "CPU_FLAGS", "available_cores", "cpu_flags", "cpu_model", "device_name", "git_commit", "on_accelerator",
    "onednn_state", "package_version", "run_metadata", "thread_count",
]

#: The CPU features that change how the kernels compute (and so the float rounding): recorded per row.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "avx_vnni")


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
    if start is None and not _in_git(here):  # an installed (non-editable) package: the working copy
        here = Path.cwd()
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


def _in_git(path: Path) -> bool:
    return any((p / ".git").exists() for p in (path, *path.parents))


@functools.cache
def cpu_flags() -> str:
    """The :data:`CPU_FLAGS` this CPU has, space-separated in that order ('' where unknown)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return " ".join(f for f in CPU_FLAGS if f in have)
    except OSError:
        pass
    return ""


def onednn_state() -> str:
    """"on" / "off" when TensorFlow is loaded in this process (oneDNN is fixed at its import), else "n/a".

    Never imports TensorFlow itself: a process that has not loaded it has no oneDNN setting.
    """
    import sys

    if "tensorflow" not in sys.modules:
        return "n/a"
    try:
        from tensorflow.python.util import _pywrap_util_port

        return "on" if _pywrap_util_port.IsMklEnabled() else "off"
    except Exception:  # noqa: BLE001 - a TensorFlow without the switch
        return "n/a"


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
        "cpu_flags": cpu_flags(),
        "threads": thread_count(),
        "onednn": onednn_state(),
    }
    row.update(extra)
    return row
