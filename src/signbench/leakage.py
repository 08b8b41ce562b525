"""Near-duplicate leakage between two image sets (e.g. the train and test CSVs), numpy only.

Exact duplicates come from :func:`signbench.explore.leakage` (byte hashes). This module adds the
near ones: for every query image (a test image) it finds its nearest reference image (a train
image) by Euclidean distance on pixels scaled to [0, 1], and reports

* ``rms``: the root-mean-square pixel difference to that nearest image (0 = identical,
  1/255 ~ 0.004 = off by one grey level everywhere);
* ``linf``: the largest single-pixel difference to it, in [0, 1];
* ``corr``: the best Pearson correlation with any reference image (brightness/contrast invariant).

``near_duplicates(train, test)`` returns counts under several thresholds plus quantiles, so a
reader can see both "how many are copies" and "how close the typical nearest neighbour is".
``signbench leakage`` (``python -m signbench.leakage``) prints it for the real CSVs, together with
the same numbers for a validation split carved from the train CSV, as the yardstick.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["nearest", "near_duplicates", "report"]

#: RMS thresholds (pixel scale [0, 1]) and correlation thresholds reported.
RMS_THRESHOLDS = (0.5 / 255, 2 / 255, 5 / 255, 10 / 255)
CORR_THRESHOLDS = (0.99, 0.995, 0.999)


def _flat(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    return a.reshape(a.shape[0], -1).astype(np.float32) / np.float32(255.0)


def nearest(reference: np.ndarray, query: np.ndarray, *, chunk: int = 1024) -> dict[str, np.ndarray]:
    """For each query image, its nearest reference image (L2), the RMS and L-inf distances to it,
    and the best correlation with any reference image. Images are uint8 arrays N x ... ."""
    r = _flat(reference)
    q = _flat(query)
    if r.shape[1] != q.shape[1]:
        raise ValueError(f"image sizes differ: {r.shape[1]} vs {q.shape[1]} pixels")
    d = r.shape[1]
    r_sq = np.einsum("ij,ij->i", r, r)
    rc = r - r.mean(axis=1, keepdims=True)
    rc /= np.maximum(np.linalg.norm(rc, axis=1, keepdims=True), 1e-12)
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
        qc = qb - qb.mean(axis=1, keepdims=True)
        qc /= np.maximum(np.linalg.norm(qc, axis=1, keepdims=True), 1e-12)
        corr[s : s + len(qb)] = (qc @ rc.T).max(axis=1)
    return {"index": idx, "rms": rms, "linf": linf, "corr": corr}


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


def report(data_dir: Path | None = None, *, seed: int = 0, val_fraction: float = 0.1) -> dict:
    """Exact and near duplicates between the real train and test CSVs, plus the same for a
    validation split carved from the train CSV (the split the ``sota`` recipe uses)."""
    from signbench.data import load
    from signbench.data.locate import TEST_CSV, TRAIN_CSV, real_data_dir
    from signbench.explore import leakage
    from signbench.sota import split_train_val

    data_dir = Path(data_dir) if data_dir else real_data_dir()
    train = load(data_dir / TRAIN_CSV)
    test = load(data_dir / TEST_CSV)
    exact = leakage(train, test)
    exact.pop("pairs")
    tr, va = split_train_val(train.labels, val_fraction, seed)
    return {
        "exact": exact,
        "test_vs_train": near_duplicates(train.images, test.images,
                                         reference_labels=train.labels, query_labels=test.labels),
        "val_vs_rest_of_train": near_duplicates(train.images[tr], train.images[va],
                                                reference_labels=train.labels[tr], query_labels=train.labels[va]),
    }


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two CSVs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split")


def run(args) -> int:
    print(json.dumps(report(args.data_dir, seed=args.seed), indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
