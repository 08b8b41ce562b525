"""Keras datasets from a fake local Keras cache (no network): shapes, label names, absent cache."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from signbench.data import DataError, load
from signbench.data.formats.keras import label_names


def _batch(n, seed):
    g = np.random.default_rng(seed)
    return {
        b"data": g.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"fine_labels": g.integers(0, 100, size=n).tolist(),
        b"coarse_labels": g.integers(0, 20, size=n).tolist(),
    }


def test_label_names_json():
    fine, coarse = label_names("cifar100", "fine"), label_names("cifar100", "coarse")
    assert len(fine) == len(set(fine)) == 100 and len(coarse) == len(set(coarse)) == 20
    assert fine[0] == "apple" and fine[-1] == "worm" and coarse[0] == "aquatic_mammals"


@pytest.mark.parametrize("layout", ["keras3", "keras2"])
def test_cifar100_from_extracted_cache(tmp_path, layout):
    folder = tmp_path / ("cifar-100-python-target/cifar-100-python" if layout == "keras3" else "cifar-100-python")
    folder.mkdir(parents=True)
    b = _batch(5, 0)
    (folder / "train").write_bytes(pickle.dumps(b))
    (folder / "test").write_bytes(pickle.dumps(_batch(3, 1)))
    ds = load("keras:cifar100", cache_dir=tmp_path)
    assert ds.images.shape == (5, 32, 32, 3) and ds.num_classes == 100
    # channels-last: pixel (0, 0) of image 0 is data[0][0], data[0][1024], data[0][2048]
    assert ds.images[0, 0, 0].tolist() == [b[b"data"][0, 0], b[b"data"][0, 1024], b[b"data"][0, 2048]]
    assert ds.labels.tolist() == b[b"fine_labels"]
    coarse = load("keras:cifar100", cache_dir=tmp_path, split="test", label_mode="coarse")
    assert len(coarse) == 3 and coarse.num_classes == 20


def test_cifar100_tar_is_hash_checked(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = pickle.dumps(_batch(2, 0))
        info = tarfile.TarInfo("cifar-100-python/train")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    (tmp_path / "cifar-100-python.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="SHA-256 mismatch") as info:
        load("keras:cifar100", cache_dir=tmp_path)
    assert "cifar-100-python.tar.gz" in str(info.value)


def test_absent_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="not in the Keras cache and nothing is downloaded") as info:
        load("keras:cifar100")
    assert str(tmp_path / "empty" / "datasets") in str(info.value)


def test_corrupt_batch(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a CIFAR batch") as info:
        load("keras:cifar100", cache_dir=tmp_path)
    assert str(folder / "train") in str(info.value)
