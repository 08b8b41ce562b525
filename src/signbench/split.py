"""Seeded splits: ratio presets (70/15/15, 60/20/20, 90/5/5), stratified or not, and (stratified) k-fold.

Stratified ratio splits allocate each class on its own (largest-remainder rounding), so every split
holds each class within one sample of its exact share; the splits partition the indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from signbench.data.types import LabeledImages
from signbench.seeds import derive, rng

__all__ = ["PRESETS", "Split", "allocate", "kfold", "split", "split_indices"]

PRESETS: dict[str, tuple[float, float, float]] = {
    "70/15/15": (0.70, 0.15, 0.15),
    "60/20/20": (0.60, 0.20, 0.20),
    "90/5/5": (0.90, 0.05, 0.05),
}


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def apply(self, ds: LabeledImages) -> tuple[LabeledImages, LabeledImages, LabeledImages]:
        return ds.subset(self.train), ds.subset(self.val), ds.subset(self.test)


def _ratios(ratios) -> tuple[float, ...]:
    r = PRESETS[ratios] if isinstance(ratios, str) else tuple(float(x) for x in ratios)
    if isinstance(ratios, str) and ratios not in PRESETS:
        raise ValueError(f"unknown preset {ratios!r}; known: {list(PRESETS)}")
    if not r or any(x < 0 for x in r) or abs(sum(r) - 1) > 1e-9:
        raise ValueError(f"ratios must be non-negative and sum to 1, got {r}")
    return r


def allocate(n: int, ratios) -> np.ndarray:
    """Integer counts summing to n, each within 1 of n * ratio (largest remainder)."""
    exact = np.asarray(ratios, float) * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def split_indices(labels, ratios="70/15/15", *, stratify: bool = True, seed: int) -> Split:
    """Index arrays (sorted) for train / val / test."""
    if isinstance(ratios, str) and ratios not in PRESETS:
        raise ValueError(f"unknown preset {ratios!r}; known: {list(PRESETS)}")
    r = _ratios(ratios)
    if len(r) != 3:
        raise ValueError("need three ratios (train, val, test)")
    labels = np.asarray(labels)
    g = rng(seed, "split")
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify else [np.arange(labels.size)]
    parts: list[list[np.ndarray]] = [[], [], []]
    # Per class: the floor of each exact share, then each class's leftover samples (< 3) go one per
    # split to the splits with a fractional share whose overall total lags its target the most, so
    # every class is within one sample of its share and the split sizes stay close to the ratios.
    target = np.asarray(r) * labels.size
    total = np.zeros(3)
    plans = []
    for idx in groups:
        exact = np.asarray(r) * idx.size
        counts = np.floor(exact).astype(np.int64)
        total += counts
        plans.append((idx, exact, counts))
    for ci in g.permutation(len(plans)):
        idx, exact, counts = plans[ci]
        for _ in range(idx.size - int(counts.sum())):
            room = (exact - counts) > 0
            k = int(np.argmax(np.where(room, target - total, -np.inf)))
            counts[k] += 1
            total[k] += 1
    for idx, _, counts in plans:
        perm = g.permutation(idx)
        for k, piece in enumerate(np.split(perm, np.cumsum(counts)[:-1])):
            parts[k].append(piece)
    out = [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]
    return Split(*(o.astype(np.int64) for o in out))


def split(ds: LabeledImages, ratios="70/15/15", *, stratify: bool = True, seed: int):
    """(train, val, test) LabeledImages."""
    return split_indices(ds.labels, ratios, stratify=stratify, seed=seed).apply(ds)


def kfold(labels, k: int = 5, *, stratified: bool = True, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train indices, validation indices) pairs, shuffled with ``seed`` (scikit-learn's splitters)."""
    labels = np.asarray(labels)
    s = derive(seed, "kfold")
    splitter = (StratifiedKFold if stratified else KFold)(n_splits=k, shuffle=True, random_state=s)
    return [(tr.astype(np.int64), va.astype(np.int64)) for tr, va in splitter.split(np.zeros(labels.size), labels)]
