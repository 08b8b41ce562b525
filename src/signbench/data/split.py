"""Every split of the project, seeded: ratio presets, stratified subsets and hold-outs, the course's
validation split, few-shot draws, (stratified) k-fold, and a hold-out of whole groups.

One allocation rule serves every stratified split (:func:`split_indices`): each class is allocated on
its own (largest-remainder rounding), so every part holds each class within one sample of its exact
share, and the parts partition the indices. scikit-learn's splitters give that guarantee for two-way
splits only, so the rule is ours; k-fold is scikit-learn's. Every function takes the ``seed`` it
draws with; callers derive it from their root seed by name (``signbench.seeds.derive``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, KFold, StratifiedKFold

from signbench.data.types import LabeledImages
from signbench.seeds import derive, rng

__all__ = [
    "PRESETS", "Split", "allocate", "course_validation", "few_shot", "group_holdout", "holdout", "kfold", "random_subset", "split",
    "split_indices", "stratified_subset",
]

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
    if len(r) not in (2, 3):
        raise ValueError("need two or three ratios (train, val[, test])")
    r = (*r, 0.0) if len(r) == 2 else r
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


def holdout(labels, fraction: float, *, seed: int, stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) sorted index arrays: ``fraction`` of the rows held out (per class when stratified)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    s = split_indices(labels, (1.0 - fraction, fraction), stratify=stratify, seed=seed)
    return s.train, s.val


def group_holdout(groups, fraction: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) sorted index arrays: ``fraction`` of the groups held out whole (scikit-learn's
    ``GroupShuffleSplit``), so no group has rows on both sides (e.g. the near-duplicate groups of
    :func:`signbench.data.explore.near_duplicate_groups`)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    groups = np.asarray(groups)
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=derive(seed, "group_holdout"))
    kept, held = next(splitter.split(np.zeros(groups.size), groups=groups))
    return np.sort(kept).astype(np.int64), np.sort(held).astype(np.int64)


def stratified_subset(labels, n: int | None, *, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of about ``n`` rows with the class proportions kept (within
    one row per class); all indices when ``n`` is None or not smaller than the data."""
    labels = np.asarray(labels)
    if n is None or n >= labels.size:
        return np.arange(labels.size)
    frac = n / labels.size
    return split_indices(labels, (frac, 1.0 - frac), stratify=True, seed=seed).train


def course_validation(test_labels, *, seed: int, fraction: float = 0.2) -> np.ndarray:
    """The course's validation set: a seeded, stratified ``fraction`` of the official test CSV (the
    course validates on rows it also tests on; signbench reproduces that and says so)."""
    return holdout(test_labels, fraction, seed=seed)[1]


def few_shot(labels, per_class: int, *, seed: int, num_classes: int | None = None) -> np.ndarray:
    """``per_class`` rows of each of the ``num_classes`` classes (default: up to the largest label) drawn
    without replacement, in a seeded shuffled order (the order is the training order); a class with
    fewer rows is an error."""
    labels = np.asarray(labels)
    g = rng(seed, "few_shot")
    picks = []
    for k in range(num_classes if num_classes is not None else (int(labels.max()) + 1 if labels.size else 0)):
        idx = np.flatnonzero(labels == k)
        if len(idx) < per_class:
            raise ValueError(f"class {k} has {len(idx)} rows, fewer than per_class={per_class}")
        picks.append(g.choice(idx, per_class, replace=False))
    order = np.concatenate(picks) if picks else np.zeros(0, np.int64)
    g.shuffle(order)
    return order


def random_subset(n_total: int, n: int | None, *, seed: int, name: str = "val_rows") -> np.ndarray:
    """Sorted indices of ``n`` of ``n_total`` rows drawn uniformly without replacement (all when None)."""
    if not n or n >= n_total:
        return np.arange(n_total)
    return np.sort(rng(seed, name).choice(n_total, n, replace=False))
