"""Seeds: one root seed split into named sub-seeds (AlgoPerf style), and seeding the frameworks.

``derive(root, "split")`` and ``derive(root, "init")`` are independent, stable across runs and
platforms (they hash the name, not Python's salted ``hash``), so adding a new consumer of randomness
never shifts the seeds of the existing ones. :func:`seed_everything` seeds Python, NumPy and the
Keras backend (and, on TensorFlow, turns op determinism on or off).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["derive", "rng", "seed_everything"]

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


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the Keras backend (``keras.utils.set_random_seed``).

    On the TensorFlow backend ``deterministic`` turns TensorFlow's op determinism on (same seed, data
    and machine give identical histories and weights) or off (Keras refuses XLA while it is on); the
    switch is process-wide. Other backends have nothing to switch.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    import keras

    keras.utils.set_random_seed(int(seed))
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework import config as tf_config  # TF-only switch

        if deterministic:
            tf_config.enable_op_determinism()
        elif tf_config.is_op_determinism_enabled():
            tf_config.disable_op_determinism()
