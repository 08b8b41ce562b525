"""Child processes for the distributed modes: free ports, process groups, reaping.

Every child starts in its own session (so its process group can be signalled as a whole, TF's
helper threads and any grandchildren included) with its output in a log file, and every launcher
reaps its children in a ``finally`` block: SIGTERM to the group, a short grace period, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Child", "free_port", "reap", "start", "tail"]

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` now (the OS picks it; the socket is closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    """One started child process: its name, the Popen handle and its log file."""

    name: str
    proc: subprocess.Popen
    log: Path
    _log_fh: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child's whole process group (no-op once the child has been reaped)."""
        if self.proc.returncode is not None:
            return  # reaped: its pid (and so its group id) may belong to someone else by now
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None


def start(name: str, args: list[str], env: Mapping[str, str], log: Path, cwd: str | os.PathLike | None = None) -> Child:
    """Start ``python -m ...`` style ``args`` (``sys.executable`` prepended) in a new session."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log, "wb")  # noqa: SIM115 - closed by reap()
    proc = subprocess.Popen(
        [sys.executable, *args],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Child(name, proc, log, fh)


def reap(children: Iterable[Child], grace_s: float = 5.0) -> dict[str, int]:
    """Terminate every child's process group, wait, kill what is left; return name -> exit status."""
    children = list(children)
    for c in children:
        if c.poll() is None:
            c.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for c in children:
        try:
            c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for c in children:
        if c.poll() is None:
            c.signal(signal.SIGKILL)
            try:
                c.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable process
                pass
        c.close_log()
    return {c.name: c.proc.returncode for c in children}


def tail(path: Path, n: int = 4000) -> str:
    """The last ``n`` characters of a log file ('' when absent)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace")


def child_env(extra: Mapping[str, str], threads: int | None = None) -> dict[str, str]:
    """The parent's environment plus ``extra``; ``threads`` caps TF's intra/inter-op thread pools."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env["PYTHONUNBUFFERED"] = "1"
    if threads:
        env["TF_NUM_INTRAOP_THREADS"] = str(threads)
        env["TF_NUM_INTEROP_THREADS"] = str(threads)
    env.update(extra)
    return env
