"""``load(source)``: the one entry point. The format is detected from the source, and each format's
loader is an entry of :data:`FORMATS` (a ``{name: loader}`` registry).

========== ===================================================================================
format      source
========== ===================================================================================
csv         ``*.csv`` / ``*.csv.gz`` (or any file starting with ``label,`` or gzip magic)
jsonl       ``*.json`` / ``*.jsonl`` whose first line is an object with a ``content`` key
base64json  ``*.json`` holding one object ``{"<label>": "<base64 image>"}``
folder      a directory: ``[split/...]<class>/<image>``
zip         ``*.zip`` (or zip magic) of any of the above, extracted safely into a temporary folder
keras       ``"keras:cifar100"`` (options ``split``, ``label_mode``, ``cache_dir``)
========== ===================================================================================

Every loader takes ``(source, *, on_error="raise", **options)`` and returns :class:`LabeledImages`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from signbench.data.formats.csv import load_csv
from signbench.data.formats.folder import load_folder
from signbench.data.formats.json import load_base64_json, load_jsonl
from signbench.data.formats.keras import load_keras
from signbench.data.formats.zip import load_zip
from signbench.data.locate import TEST_CSV, TRAIN_CSV, real_data_dir
from signbench.data.types import LabeledImages
from signbench.errors import DataError

__all__ = ["FORMATS", "detect_format", "load", "load_sign_mnist"]


def _zip(source, *, on_error: str = "raise", **options) -> LabeledImages:
    return load_zip(source, load, on_error=on_error, **options)


#: format name -> loader
FORMATS: dict[str, Callable[..., LabeledImages]] = {
    "csv": load_csv,
    "jsonl": load_jsonl,
    "base64json": load_base64_json,
    "folder": load_folder,
    "zip": _zip,
    "keras": load_keras,
}


def _json_kind(p: Path) -> str:
    with p.open("rb") as f:
        first = f.readline(1 << 20).strip()
    try:
        obj = json.loads(first)
    except (ValueError, RecursionError):  # invalid, too deep, a number too long to convert
        return "base64json"  # a multi-line JSON document (or junk: its loader names the error)
    return "jsonl" if isinstance(obj, dict) and "content" in obj else "base64json"


def detect_format(source: str | Path) -> str:
    """The format name of ``source``: by kind (folder), suffix, then by the first bytes."""
    s = str(source)
    if s.startswith("keras:"):
        return "keras"
    p = Path(source)
    if p.is_dir():
        return "folder"
    name = s.lower()
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    with p.open("rb") as f:
        head = f.read(64)
    if name.endswith(".zip") or head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if name.endswith((".csv", ".csv.gz")) or head[:2] == b"\x1f\x8b":
        return "csv"
    if name.endswith((".json", ".jsonl", ".ndjson")) or head.lstrip()[:1] == b"{":
        return _json_kind(p)
    if head.lstrip(b"\xef\xbb\xbf").lower().startswith(b"label,"):
        return "csv"
    raise DataError(f"cannot tell the format; pass format= (one of {', '.join(FORMATS)})", path=s)


def load(source: str | Path, *, format: str | None = None, on_error: str = "raise", **options) -> LabeledImages:
    """Load ``source`` into :class:`LabeledImages`. ``format`` overrides detection.

    ``on_error="skip"`` returns the good items and lists every bad one in ``.skipped``; the default
    raises :class:`DataError` naming the file and the row / key / member. A load with no image left is
    a DataError too unless ``allow_empty=True`` (every loader takes it). Other keyword options go
    to the format's loader: csv ``label_map``; image formats ``color_mode``, ``target_size``
    (folder also ``split``; JSON also ``class_names``); keras ``split``, ``label_mode``, ``cache_dir``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    fmt = format or detect_format(source)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {tuple(FORMATS)}")
    return FORMATS[fmt](source, on_error=on_error, **options)


def load_sign_mnist(split: str = "train", data_dir: str | Path | None = None) -> LabeledImages:
    """The real Sign Language MNIST CSV (``split`` "train" or "test") from ``data_dir``.

    ``data_dir`` defaults to :func:`signbench.data.locate.real_data_dir`.
    """
    names = {"train": TRAIN_CSV, "test": TEST_CSV}
    if split not in names:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = Path(data_dir) if data_dir is not None else real_data_dir()
    return load(d / names[split], format="csv", label_map="sign_mnist")
