"""Exploring a dataset: class balance, and exact-duplicate leakage within and between splits.

Duplicates are found by hashing each image's bytes (BLAKE2b-128 of the uint8 array, shape included),
so two images are "the same" only if every pixel is equal.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

from signbench.data.types import LabeledImages

__all__ = ["class_balance", "image_hashes", "leakage"]


def class_balance(ds: LabeledImages) -> dict:
    """Counts per class, their share, and the imbalance ratio (largest / smallest non-empty class)."""
    counts = ds.class_counts()
    n = max(len(ds), 1)
    nonzero = [c for c in counts.values() if c > 0]
    return {
        "count": len(ds),
        "counts": counts,
        "shares": {k: v / n for k, v in counts.items()},
        "min_class": min(counts, key=counts.get) if counts else None,
        "max_class": max(counts, key=counts.get) if counts else None,
        "imbalance_ratio": (max(nonzero) / min(nonzero)) if nonzero else float("nan"),
        "empty_classes": [k for k, v in counts.items() if v == 0],
    }


def image_hashes(images: np.ndarray) -> list[bytes]:
    """One 16-byte digest per image (its shape and bytes)."""
    arr = np.ascontiguousarray(images)
    shape = repr(arr.shape[1:]).encode()
    return [hashlib.blake2b(shape + row.tobytes(), digest_size=16).digest() for row in arr]


def _groups(hashes: list[bytes]) -> dict[bytes, list[int]]:
    g: dict[bytes, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        g[h].append(i)
    return g


def leakage(train: LabeledImages, test: LabeledImages) -> dict:
    """Exact duplicates within each split and between them (``test`` images also present in ``train``).

    ``pairs`` lists (test index, train indices); ``label_conflicts`` counts leaked test images whose
    train copies carry a different label.
    """
    gtr = _groups(image_hashes(train.images))
    gte = _groups(image_hashes(test.images))
    pairs = [(i, gtr[h]) for h, idx in gte.items() if h in gtr for i in idx]
    pairs.sort()
    conflicts = sum(
        1 for i, tr in pairs if any(train.class_names[train.labels[j]] != test.class_names[test.labels[i]] for j in tr)
    )
    return {
        "train_count": len(train),
        "test_count": len(test),
        "train_duplicates": sum(len(v) - 1 for v in gtr.values()),
        "test_duplicates": sum(len(v) - 1 for v in gte.values()),
        "leaked_test_images": len(pairs),
        "leaked_fraction": len(pairs) / max(len(test), 1),
        "label_conflicts": conflicts,
        "pairs": [(int(i), [int(j) for j in tr]) for i, tr in pairs],
    }
