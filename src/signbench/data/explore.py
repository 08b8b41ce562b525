"""Exploring a dataset: a summary, class balance, and leakage between splits (exact and near duplicates).

Exact duplicates are found by hashing each image's bytes (BLAKE2b-128 of the uint8 array, shape
included), so two images are "the same" only if every pixel is equal. Near duplicates: for every
query image (a test image) its nearest reference image (a train image) by Euclidean distance on
pixels scaled to [0, 1], reported as

* ``rms``: the root-mean-square pixel difference to that nearest image (0 = identical,
  1/255 ~ 0.004 = off by one grey level everywhere);
* ``linf``: the largest single-pixel difference to it, in [0, 1];
* ``corr``: the best Pearson correlation with any reference image (brightness/contrast invariant).

:func:`near_duplicates` gives counts under several thresholds plus quantiles, so a reader sees both
"how many are copies" and "how close the typical nearest neighbour is"; :func:`leakage_report`
(``signbench leakage``) does it for the real CSVs, with the same numbers for a validation split carved
from the train CSV as the yardstick.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from signbench.data.types import LabeledImages

__all__ = [
    "class_balance", "image_hashes", "leakage", "leakage_report", "near_duplicate_groups", "near_duplicates", "nearest",
    "summary",
]


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


def summary(ds: LabeledImages, fmt: str) -> dict:
    """Count, image shape, classes, per-class counts, imbalance ratio, pixel range and skipped items."""
    bal = class_balance(ds)
    return {
        "source": ds.source,
        "format": fmt,
        "count": len(ds),
        "shape": list(ds.image_shape),
        "num_classes": ds.num_classes,
        "classes": list(ds.class_names),
        "class_counts": bal["counts"],
        "imbalance_ratio": bal["imbalance_ratio"],
        "pixel_min": int(ds.images.min()) if len(ds) else None,
        "pixel_max": int(ds.images.max()) if len(ds) else None,
        "errors": [{"path": s.path, "where": s.where, "reason": s.reason} for s in ds.skipped],
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


#: RMS thresholds (pixel scale [0, 1]) and correlation thresholds reported.
RMS_THRESHOLDS = (0.5 / 255, 2 / 255, 5 / 255, 10 / 255)
CORR_THRESHOLDS = (0.99, 0.995, 0.999)


def _flat(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    return a.reshape(a.shape[0], -1).astype(np.float32) / np.float32(255.0)


def _standardized(rows: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its norm (a constant row stays zero): Pearson correlations are then
    dot products of rows."""
    centered = rows - rows.mean(axis=1, keepdims=True)
    return centered / np.maximum(np.linalg.norm(centered, axis=1, keepdims=True), 1e-12)


def nearest(reference: np.ndarray, query: np.ndarray, *, chunk: int = 1024) -> dict[str, np.ndarray]:
    """For each query image, its nearest reference image (L2), the RMS and L-inf distances to it,
    and the best correlation with any reference image. Images are uint8 arrays N x ... ."""
    r = _flat(reference)
    q = _flat(query)
    if r.shape[1] != q.shape[1]:
        raise ValueError(f"image sizes differ: {r.shape[1]} vs {q.shape[1]} pixels")
    d = r.shape[1]
    r_sq = np.einsum("ij,ij->i", r, r)
    rc = _standardized(r)
    idx = np.empty(len(q), np.int64)
    rms = np.empty(len(q), np.float64)
    linf = np.empty(len(q), np.float64)
    corr = np.empty(len(q), np.float64)
    for s in range(0, len(q), chunk):
        qb = q[s : s + chunk]
        d2 = r_sq[None, :] - 2.0 * (qb @ r.T) + np.einsum("ij,ij->i", qb, qb)[:, None]
        j = np.argmin(d2, axis=1)
        idx[s : s + len(qb)] = j
        diff = qb - r[j]  # exact distances for the chosen pairs (no cancellation error)
        rms[s : s + len(qb)] = np.sqrt((diff.astype(np.float64) ** 2).sum(axis=1) / d)
        linf[s : s + len(qb)] = np.abs(diff).max(axis=1)
        corr[s : s + len(qb)] = (_standardized(qb) @ rc.T).max(axis=1)
    return {"index": idx, "rms": rms, "linf": linf, "corr": corr}


def near_duplicate_groups(images: np.ndarray, *, min_corr: float = 0.99, chunk: int = 1024) -> np.ndarray:
    """A group number per image (0..G-1, numbered by first appearance): the connected components of the
    graph joining every two images whose Pearson correlation is at least ``min_corr``.

    In float64: the train CSV has 8 pairs within 1e-6 of a correlation of 0.99, close enough for float32
    rounding (which differs between CPUs and BLAS kernels) to move them across the threshold, and so
    change the groups from one machine to another; float64 gave the same 1,347 groups as float32 on the
    machine that ran the validation, in 18 s instead of 8."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    x = _standardized(np.asarray(images).reshape(len(images), -1).astype(np.float64))
    n = len(x)
    rows, cols = [], []
    for s in range(0, n, chunk):
        i, j = np.nonzero(x[s : s + chunk] @ x.T >= min_corr)
        rows.append(i + s)
        cols.append(j)
    r, c = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (rows, cols))
    _, labels = connected_components(coo_matrix((np.ones(r.size, np.int8), (r, c)), shape=(n, n)), directed=False)
    _, first = np.unique(labels, return_index=True)
    order = np.empty(first.size, np.int64)
    order[np.argsort(first)] = np.arange(first.size)
    return order[labels]


def near_duplicates(reference, query, *, reference_labels=None, query_labels=None) -> dict:
    """Counts of query images with a near-duplicate in ``reference`` (see module doc), quantiles
    of the nearest RMS distance, and (given labels) how often the nearest image has the same label."""
    nn = nearest(reference, query)
    n = len(nn["rms"])
    out = {
        "query_count": int(n),
        "reference_count": int(len(reference)),
        "exact": int(np.sum(nn["linf"] == 0)),
        "rms_at_most": {f"{t * 255:g}/255": int(np.sum(nn["rms"] <= t)) for t in RMS_THRESHOLDS},
        "corr_at_least": {f"{t:g}": int(np.sum(nn["corr"] >= t)) for t in CORR_THRESHOLDS},
        "nearest_rms_quantiles_x255": {
            f"q{int(p * 100)}": float(np.quantile(nn["rms"], p) * 255) for p in (0.01, 0.1, 0.5, 0.9)
        },
        "nearest_corr_median": float(np.median(nn["corr"])),
    }
    if reference_labels is not None and query_labels is not None:
        same = np.asarray(reference_labels)[nn["index"]] == np.asarray(query_labels)
        out["nearest_same_label"] = float(same.mean()) if n else float("nan")
    return out


def leakage_report(data_dir: Path | None = None, *, seed: int = 0, val_fraction: float = 0.1) -> dict:
    """Exact and near duplicates between the real train and test CSVs, plus the same for a
    validation split carved from the train CSV (the split the ``sota`` recipe uses)."""
    from signbench.data.load import load_sign_mnist
    from signbench.data.split import holdout
    from signbench.seeds import derive

    train = load_sign_mnist("train", data_dir)
    test = load_sign_mnist("test", data_dir)
    exact = leakage(train, test)
    exact.pop("pairs")
    tr, va = holdout(train.labels, val_fraction, seed=derive(seed, "split"))  # the sota recipe's split
    return {
        "exact": exact,
        "test_vs_train": near_duplicates(train.images, test.images,
                                         reference_labels=train.labels, query_labels=test.labels),
        "val_vs_rest_of_train": near_duplicates(train.images[tr], train.images[va],
                                                reference_labels=train.labels[tr], query_labels=train.labels[va]),
    }
