"""Class balance and exact-duplicate leakage."""

from __future__ import annotations

import numpy as np

from signbench.data import LabeledImages, load
from signbench.data.explore import class_balance, leakage


def test_class_balance(datapath):
    ds = load(datapath("small.csv"))
    b = class_balance(ds)
    assert b["count"] == 48 and b["imbalance_ratio"] == 1.0 and b["empty_classes"] == []
    sub = ds.subset(np.r_[0:30])
    b = class_balance(sub)
    assert b["imbalance_ratio"] == 2.0 and b["counts"]["A"] == 2 and b["counts"]["Y"] == 1


def test_leakage_finds_exact_copies_only(datapath):
    ds = load(datapath("small.csv"))
    test_images = ds.images[[3, 5, 7]].copy()
    test_images[2, 0, 0, 0] ^= 1  # one pixel differs: not a duplicate
    test = LabeledImages(test_images, np.array([ds.labels[3], 0, ds.labels[7]]), ds.class_names)
    r = leakage(ds, test)
    assert r["leaked_test_images"] == 2 and r["pairs"] == [(0, [3]), (1, [5])]
    assert r["label_conflicts"] == (0 if ds.labels[5] == 0 else 1)
    dup = LabeledImages(np.concatenate([ds.images, ds.images[:2]]), np.concatenate([ds.labels, ds.labels[:2]]),
                        ds.class_names)
    assert leakage(dup, test)["train_duplicates"] == 2
