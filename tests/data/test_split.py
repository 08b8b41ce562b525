"""Splits partition the data, are reproducible by seed and keep class proportions within one sample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signbench.data import load
from signbench.data.split import (
    PRESETS,
    allocate,
    course_validation,
    few_shot,
    holdout,
    kfold,
    random_subset,
    split,
    split_indices,
    stratified_subset,
)
from signbench.testing.strategies import label_arrays


@given(labels=label_arrays(), preset=st.sampled_from(sorted(PRESETS)), stratify=st.booleans(),
       seed=st.integers(0, 2**31 - 2))
def test_split_properties(labels, preset, stratify, seed):
    s = split_indices(labels, preset, stratify=stratify, seed=seed)
    parts = [s.train, s.val, s.test]
    allidx = np.concatenate(parts)
    assert np.array_equal(np.sort(allidx), np.arange(labels.size))  # partition: no overlap, nothing lost
    again = split_indices(labels, preset, stratify=stratify, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(parts, [again.train, again.val, again.test], strict=True))
    ratios = PRESETS[preset]
    for k, part in enumerate(parts):
        assert abs(part.size - ratios[k] * labels.size) <= (len(np.unique(labels)) if stratify else 1)
        if stratify:
            for c in np.unique(labels):
                n_c = int(np.sum(labels == c))
                assert abs(int(np.sum(labels[part] == c)) - ratios[k] * n_c) < 1


def test_seed_changes_the_split():
    labels = np.repeat(np.arange(4), 50)
    a = split_indices(labels, seed=0).train
    assert not np.array_equal(a, split_indices(labels, seed=1).train)


def test_presets_and_errors():
    assert allocate(10, (0.7, 0.15, 0.15)).tolist() == [7, 2, 1] or allocate(10, (0.7, 0.15, 0.15)).sum() == 10
    with pytest.raises(ValueError, match="unknown preset"):
        split_indices(np.zeros(3), "50/50", seed=0)
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(np.zeros(3), (0.5, 0.2, 0.2), seed=0)


@pytest.mark.parametrize("stratified", [True, False])
def test_kfold(stratified):
    labels = np.repeat(np.arange(3), [10, 20, 30])
    folds = kfold(labels, 5, stratified=stratified, seed=0)
    vals = np.concatenate([v for _, v in folds])
    assert np.array_equal(np.sort(vals), np.arange(60))
    for tr, va in folds:
        assert not set(tr) & set(va) and tr.size + va.size == 60
        if stratified:
            assert np.bincount(labels[va]).tolist() == [2, 4, 6]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold(labels, 5, stratified=stratified, seed=0),
                                                          strict=True))


def test_split_datasets(datapath):
    ds = load(datapath("small.csv"))
    train, val, test = split(ds, "60/20/20", seed=3)
    assert len(train) + len(val) + len(test) == len(ds) and train.class_names == ds.class_names


def test_holdout_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(24), 50)
    tr, va = holdout(labels, 0.1, seed=0)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(labels)
    assert np.all(np.bincount(labels[va], minlength=24) == 5)
    np.testing.assert_array_equal(va, holdout(labels, 0.1, seed=0)[1])
    assert not np.array_equal(va, holdout(labels, 0.1, seed=1)[1])
    with pytest.raises(ValueError):
        holdout(labels, 0.0, seed=0)


@given(labels=label_arrays(), n=st.integers(1, 400), seed=st.integers(0, 2**31 - 2))
def test_stratified_subset_keeps_each_class_share(labels, n, seed):
    idx = stratified_subset(labels, n, seed=seed)
    assert np.array_equal(idx, np.unique(idx))  # sorted, no repeats
    if n >= labels.size:
        assert idx.size == labels.size
        return
    frac = n / labels.size
    for c in np.unique(labels):
        assert abs(int(np.sum(labels[idx] == c)) - frac * int(np.sum(labels == c))) < 1
    assert np.array_equal(idx, stratified_subset(labels, n, seed=seed))


def test_course_validation_is_a_stratified_fifth():
    labels = np.repeat(np.arange(24), [300 + k for k in range(24)])
    val = course_validation(labels, seed=3)
    for c in range(24):
        assert abs(int(np.sum(labels[val] == c)) - 0.2 * int(np.sum(labels == c))) < 1


def test_few_shot_and_random_subset():
    labels = np.repeat(np.arange(3), [5, 6, 7])
    order = few_shot(labels, 4, seed=1)
    assert np.bincount(labels[order]).tolist() == [4, 4, 4] and len(set(order)) == 12
    assert not np.array_equal(order, np.sort(order))  # shuffled: the order is the training order
    with pytest.raises(ValueError, match="fewer than per_class"):
        few_shot(labels, 6, seed=1)
    with pytest.raises(ValueError, match="class 3 has 0 rows"):
        few_shot(labels, 1, seed=1, num_classes=4)
    sub = random_subset(18, 5, seed=2)
    assert sub.size == 5 and np.array_equal(sub, np.unique(sub)) and np.array_equal(random_subset(18, None, seed=2), np.arange(18))


def test_group_holdout_holds_out_whole_groups_seeded():
    from signbench.data.split import group_holdout

    groups = np.repeat(np.arange(50), np.random.default_rng(0).integers(1, 6, size=50))
    kept, held = group_holdout(groups, 0.2, seed=3)
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(groups.size))  # a partition
    assert not set(groups[kept]) & set(groups[held])  # no group on both sides
    assert len(set(groups[held])) == 10  # a fifth of the groups
    again = group_holdout(groups, 0.2, seed=3)
    assert np.array_equal(again[1], held) and not np.array_equal(group_holdout(groups, 0.2, seed=4)[1], held)
    with pytest.raises(ValueError):
        group_holdout(groups, 1.0, seed=0)
