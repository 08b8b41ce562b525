"""The settings of one ``signbench reproduce`` run, typed: :class:`RunConfig` (what the data is, quick or
full, the root seed, and the :class:`Profile` of sizes every stage uses).

A run folder is fingerprinted by its :class:`RunConfig` (:meth:`RunConfig.fingerprint`), so a resumed
run never mixes settings. Options that change no result (``--quiet``, ``--until``) are not part of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

__all__ = ["DataSpec", "Profile", "RunConfig"]


@dataclass(frozen=True)
class DataSpec:
    """What the data stage loads. ``kind``: "csv-pair", "folder-pair" (train/test), "single" or "zip"."""

    kind: str
    train: str
    test: str | None = None
    origin: str = "--data"  # "--data", "--dataset NAME", "default"
    verify: bool = False  # check the published SHA-256 of the real CSVs
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """Every size the stages use (see :meth:`for_run`)."""

    epochs: int
    train_limit: int | None  # stratified subsample of the train set, at load
    tune_max_epochs: int
    tune_limit: int | None  # stratified subsample for the search (None: all)
    tune_retrain_epochs: int
    transfer_pretrain_epochs: int
    transfer_shots: int  # target-task training images per class
    transfer_epochs: int
    latency_runs: int
    calibration_size: int
    batch_size: int = 128
    val_fraction: float = 0.2  # of the official test set, the course's protocol
    transfer_pretrain_limit: int | None = None
    misclassified_shown: int = 32

    @classmethod
    def for_run(cls, *, quick: bool, full_tune: bool) -> Profile:
        """``quick`` runs the same stages, small; ``full_tune`` is the course's Hyperband budget
        (max_epochs 20, factor 3, on all training images) instead of the small default."""
        return cls(
            epochs=3 if quick else 20,
            train_limit=5000 if quick else None,
            tune_max_epochs=20 if full_tune else (2 if quick else 3),
            tune_limit=None if quick or full_tune else 6000,  # quick: its 5000 images; default: 6000 of all
            tune_retrain_epochs=3 if quick else 20,
            transfer_pretrain_epochs=3 if quick else 10,
            transfer_shots=10 if quick else 20,
            transfer_epochs=10 if quick else 30,
            latency_runs=50 if quick else 500,
            calibration_size=64 if quick else 256,
        )


@dataclass(frozen=True)
class RunConfig:
    """The settings a run folder is fingerprinted by."""

    data: DataSpec
    quick: bool
    full_tune: bool
    seed: int
    profile: Profile

    @classmethod
    def make(cls, data: DataSpec, *, quick: bool = False, full_tune: bool = False, seed: int = 0) -> RunConfig:
        return cls(data, bool(quick), bool(full_tune), int(seed), Profile.for_run(quick=quick, full_tune=full_tune))

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        """A short stable hash of the settings (any change makes a different run)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
