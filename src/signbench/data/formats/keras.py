"""Keras datasets read from Keras's local cache, never downloaded here.

``cifar100`` (``label_mode`` "fine": 100 classes, "coarse": 20 superclasses), with the human label
names from ``label_names.json`` shipped in this package. The cache is ``$KERAS_HOME/datasets``
(default ``~/.keras/datasets``), in any of the layouts Keras leaves there: the extracted folder
(``cifar-100-python-target/cifar-100-python/`` in Keras 3, ``cifar-100-python/`` before) or the
downloaded ``.tar.gz`` (read in memory, SHA-256 checked). An absent cache is a :class:`DataError`
that says how to fill it (``keras.datasets.cifar100.load_data()`` on a machine with internet).

The batches are Python pickles, exactly as Keras reads them; only load a cache you trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from signbench.data.types import LabeledImages, require_images
from signbench.errors import DataError

__all__ = ["KERAS_DATASETS", "keras_cache_dir", "label_names", "load_keras", "load_keras_dataset"]

KERAS_DATASETS = ("cifar100",)
CIFAR100_TAR = "cifar-100-python.tar.gz"
CIFAR100_SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


@cache
def _names() -> dict:
    return json.loads(resources.files("signbench.data.formats").joinpath("label_names.json").read_text())


def label_names(dataset: str, label_mode: str = "fine") -> list[str]:
    try:
        return list(_names()[dataset][label_mode])
    except KeyError:
        raise ValueError(f"no label names for {dataset!r} / {label_mode!r}") from None


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _unpickle(data: bytes, *, path: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = pickle.loads(data, encoding="bytes")  # noqa: S301 - Keras's own cache, as keras reads it
        x = np.asarray(d[b"data"], dtype=np.uint8)
        y = np.asarray(d[label_key.encode()], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"not a CIFAR batch ({type(exc).__name__}: {exc})", path=path) from None
    if x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or y.shape != (x.shape[0],):
        raise DataError(f"unexpected CIFAR batch shapes {x.shape}, {y.shape}", path=path)
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), y


def _cifar100_bytes(root: Path, split: str) -> tuple[bytes, str]:
    for folder in (root / "cifar-100-python-target" / "cifar-100-python", root / "cifar-100-python"):
        if (folder / split).is_file():
            return (folder / split).read_bytes(), str(folder / split)
    for tar in (root / CIFAR100_TAR, root / "cifar-100-python-target.tar.gz"):
        if tar.is_file():
            blob = tar.read_bytes()
            if hashlib.sha256(blob).hexdigest() != CIFAR100_SHA256:
                raise DataError(f"SHA-256 mismatch (expected {CIFAR100_SHA256})", path=str(tar))
            try:
                with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tf:
                    member = tf.extractfile(f"cifar-100-python/{split}")
                    return member.read(), f"{tar}!cifar-100-python/{split}"
            except (tarfile.TarError, KeyError, OSError, AttributeError) as exc:
                raise DataError(f"unreadable archive ({exc})", path=str(tar), where=f"member {split}") from None
    raise DataError(
        "CIFAR-100 is not in the Keras cache and nothing is downloaded here; on a machine with internet run "
        "`python -c 'import keras; keras.datasets.cifar100.load_data()'` (or set KERAS_HOME)",
        path=str(root),
    )


def load_keras_dataset(
    name: str, *, split: str = "train", label_mode: str = "fine", cache_dir: str | Path | None = None
) -> LabeledImages:
    """A Keras dataset from the local Keras cache. ``split`` "train" or "test"."""
    if name not in KERAS_DATASETS:
        raise ValueError(f"unknown Keras dataset {name!r}; known: {KERAS_DATASETS}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    root = Path(cache_dir) if cache_dir is not None else keras_cache_dir()
    data, where = _cifar100_bytes(root, split)
    images, labels = _unpickle(data, path=where, label_key=f"{label_mode}_labels")
    names = label_names(name, label_mode)
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise DataError(f"label outside 0-{len(names) - 1}", path=where)
    return LabeledImages(images, labels, names, source=where)


def load_keras(source: str, *, on_error: str = "raise", allow_empty: bool = False, **options) -> LabeledImages:
    """``load("keras:cifar100", ...)``: :func:`load_keras_dataset` by its ``keras:`` name (a cached
    batch is all or nothing, so ``on_error`` has nothing to skip). An empty batch is a DataError
    unless ``allow_empty``."""
    return require_images(load_keras_dataset(str(source).removeprefix("keras:"), **options), allow_empty)
