"""tf.data paths (arrays, folders) and the course's ImageDataGenerator path agree on the same images."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from signbench.data import load  # noqa: E402
from signbench.data.pipeline import course_generators, from_folder, make_dataset  # noqa: E402


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def _sorted_pairs(x, y):
    flat = x.reshape(len(x), -1)
    order = np.lexsort(np.c_[flat, y].T[::-1])
    return x[order], y[order]


def test_make_dataset_normalizes_batches_and_is_seeded(datapath):
    ds = load(datapath("small.csv"))
    x, y = _collect(make_dataset(ds, batch_size=10, seed=0, shuffle=False))
    assert x.dtype == np.float32 and x.shape == (48, 28, 28, 1)
    np.testing.assert_allclose(x, ds.images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, ds.labels)
    a = _collect(make_dataset(ds, batch_size=10, seed=1))[1]
    b = _collect(make_dataset(ds, batch_size=10, seed=1))[1]
    c = _collect(make_dataset(ds, batch_size=10, seed=2))[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c) and sorted(a) == sorted(ds.labels)


def test_augmentation_changes_images_but_not_shapes(datapath):
    ds = load(datapath("small.csv"))
    x0, _ = _collect(make_dataset(ds, batch_size=48, seed=0, shuffle=False))
    x1, y1 = _collect(make_dataset(ds, batch_size=48, seed=0, shuffle=False, augment=True))
    assert x1.shape == x0.shape and np.array_equal(y1, ds.labels)
    assert not np.allclose(x0, x1) and 0.0 <= x1.min() and x1.max() <= 1.0


def test_folder_paths_match_the_loader(datapath):
    root = datapath("tree", "Train")
    ref = load(root)
    x, y = _collect(from_folder(root, batch_size=5, seed=0, shuffle=False)[0])
    np.testing.assert_allclose(x, ref.images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, ref.labels)
    # the course's generator: same images and labels (as a set; validation_split carves 20% per class)
    train, val = course_generators(root, seed=0, batch_size=128, shuffle=False)
    assert train.image_shape == (28, 28, 1) and train.class_indices == {"A": 0, "B": 1, "C": 2}
    gx = np.concatenate([train[i][0] for i in range(len(train))] + [val[i][0] for i in range(len(val))])
    gy = np.concatenate([train[i][1] for i in range(len(train))] + [val[i][1] for i in range(len(val))])
    sx, sy = _sorted_pairs(gx, gy.astype(np.int64))
    rx, ry = _sorted_pairs(ref.images / 255.0, ref.labels)
    np.testing.assert_allclose(sx, rx, atol=1e-6)
    np.testing.assert_array_equal(sy, ry)
