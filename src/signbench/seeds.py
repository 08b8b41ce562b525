"""One root seed split into named sub-seeds (AlgoPerf style).

``derive(root, "split")`` and ``derive(root, "init")`` are independent, stable across runs and
platforms (they hash the name, not Python's salted ``hash``), so adding a new consumer of randomness
never shifts the seeds of the existing ones.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive", "rng"]

_MASK = (1 << 31) - 1  # keep sub-seeds in the range every framework accepts


def derive(root: int, name: str) -> int:
    """Return the sub-seed called ``name`` of ``root`` (an int in [0, 2**31 - 1))."""
    if not isinstance(root, int | np.integer) or isinstance(root, bool):
        raise TypeError(f"seed must be an int, got {type(root).__name__}")
    digest = hashlib.sha256(f"{int(root)}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & _MASK


def rng(root: int, name: str) -> np.random.Generator:
    """A numpy Generator seeded with the sub-seed ``name`` of ``root``."""
    return np.random.default_rng(derive(root, name))
