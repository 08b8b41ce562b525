"""Near-duplicate detection between two image sets (signbench.data.explore)."""

from __future__ import annotations

import numpy as np

from signbench.data.explore import near_duplicates, nearest


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28, 1)).astype(np.uint8)


def test_finds_exact_and_near_copies_and_their_partners():
    ref = _images(50, 0)
    far = _images(5, 1)
    exact = ref[[3]]
    near = ref[[7]].astype(np.int16)
    near[0, :5, :5, 0] += 3  # a few pixels off by 3 grey levels
    near = np.clip(near, 0, 255).astype(np.uint8)
    bright = np.clip(ref[[11]].astype(np.int16) + 20, 0, 255).astype(np.uint8)  # brightness shift
    query = np.concatenate([exact, near, bright, far])
    nn = nearest(ref, query, chunk=3)
    assert nn["index"][0] == 3 and nn["rms"][0] == 0 and nn["linf"][0] == 0
    assert nn["index"][1] == 7 and 0 < nn["rms"][1] <= 2 / 255 and nn["linf"][1] <= 3 / 255 + 1e-7
    assert nn["corr"][2] > 0.99  # found by correlation even though the RMS distance is large
    assert np.all(nn["rms"][3:] > 50 / 255) and np.all(nn["corr"][3:] < 0.5)
    out = near_duplicates(ref, query, reference_labels=np.arange(50), query_labels=np.array([3, 7, 11, 0, 0, 0, 0, 0]))
    assert out["exact"] == 1
    assert out["rms_at_most"]["0.5/255"] == 1 and out["rms_at_most"]["2/255"] == 2
    assert out["corr_at_least"]["0.99"] == 3
    assert out["query_count"] == 8 and out["reference_count"] == 50


def test_rejects_mismatched_sizes():
    import pytest

    with pytest.raises(ValueError):
        nearest(_images(3, 0), np.zeros((2, 14, 14, 1), np.uint8))


def test_near_duplicate_groups_join_chains_of_near_copies_and_nothing_else():
    from signbench.data.explore import near_duplicate_groups

    base = _images(6, 2)
    shifted = np.clip(base[[0]].astype(np.int16) + 25, 0, 255).astype(np.uint8)  # a view of image 0 (corr 1)
    step = base[[1]].astype(np.int16)
    step[0, :3] = 255 - step[0, :3]  # image 1 with its top rows inverted: a near copy of it ...
    step2 = step.copy()
    step2[0, 3:6] = 255 - step2[0, 3:6]  # ... and a near copy of that one, further from image 1 itself
    images = np.concatenate([base, shifted, step.astype(np.uint8), step2.astype(np.uint8)])
    corr = lambda a, b: np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]  # noqa: E731
    min_corr = (corr(images[1], images[7]) + corr(images[1], images[8])) / 2  # 1~7 and 7~8 join, 1~8 would not
    assert corr(images[7], images[8]) >= min_corr > corr(images[1], images[8])
    groups = near_duplicate_groups(images, min_corr=min_corr, chunk=4)
    assert groups.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 1]  # numbered by first appearance; the chain is one group
    assert near_duplicate_groups(images, min_corr=1.01).tolist() == list(range(9))  # nothing is that close
