"""``load(source)``: the one entry point. The format is detected from the source.

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
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

from signbench.data.locate import TEST_CSV, TRAIN_CSV, real_data_dir
from signbench.data.types import DataError, LabeledImages

__all__ = ["FORMATS", "detect_format", "load", "load_sign_mnist"]

FORMATS = ("csv", "jsonl", "base64json", "folder", "zip", "keras")
_DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".ndjson")


def _json_kind(p: Path) -> str:
    with p.open("rb") as f:
        first = f.readline(1 << 20).strip()
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
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


def _load_zip(path: Path, on_error: str, options: dict) -> LabeledImages:
    from signbench.data.archive import extract_zip
    from signbench.data.images import IMAGE_SUFFIXES

    with tempfile.TemporaryDirectory(prefix="signbench-zip-") as tmp:
        root = Path(tmp)
        prefix = str(root) + "/"
        shown = f"{path}!"
        extract_zip(path, root)
        files = [f for f in root.rglob("*") if f.is_file() and "__MACOSX" not in f.parts]
        images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
        data_files = [f for f in files if f.name.lower().endswith(_DATA_SUFFIXES)]
        try:
            if images and not data_files:
                target = root
            elif len(data_files) == 1:
                target = data_files[0]
            else:
                names = sorted(str(f.relative_to(root)) for f in data_files)
                raise DataError(
                    f"archive holds {len(data_files)} data files ({', '.join(names[:10])}) "
                    + ("and images; " if images else "; ")
                    + "extract it with signbench.data.archive.extract_zip and load one",
                    path=str(path),
                )
            ds = load(target, on_error=on_error, **options)
        except DataError as exc:
            raise DataError(str(exc).replace(prefix, shown)) from None
        ds.source = ds.source.replace(prefix, shown).replace(str(root), str(path))
        ds.skipped = [replace(s, path=s.path.replace(prefix, shown)) for s in ds.skipped]
        return ds


def load(source: str | Path, *, format: str | None = None, on_error: str = "raise", **options) -> LabeledImages:
    """Load ``source`` into :class:`LabeledImages`. ``format`` overrides detection.

    ``on_error="skip"`` returns the good items and lists every bad one in ``.skipped``; the default
    raises :class:`DataError` naming the file and the row / key / member. Other keyword options go
    to the format's loader: csv ``label_map``; image formats ``color_mode``, ``target_size``
    (folder also ``split``; JSON also ``class_names``); keras ``split``, ``label_mode``, ``cache_dir``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    fmt = format or detect_format(source)
    if fmt == "csv":
        from signbench.data.csv_reader import load_csv

        return load_csv(source, on_error=on_error, **options)
    if fmt == "jsonl":
        from signbench.data.jsonfmt import load_jsonl

        return load_jsonl(source, on_error=on_error, **options)
    if fmt == "base64json":
        from signbench.data.jsonfmt import load_base64_json

        return load_base64_json(source, on_error=on_error, **options)
    if fmt == "folder":
        from signbench.data.folder import load_folder

        return load_folder(source, on_error=on_error, **options)
    if fmt == "zip":
        return _load_zip(Path(source), on_error, options)
    if fmt == "keras":
        from signbench.data.keras_datasets import load_keras_dataset

        name = str(source).removeprefix("keras:")
        return load_keras_dataset(name, **options)
    raise ValueError(f"unknown format {fmt!r}; known: {FORMATS}")


def load_sign_mnist(split: str = "train", data_dir: str | Path | None = None) -> LabeledImages:
    """The real Sign Language MNIST CSV (``split`` "train" or "test") from ``data_dir``.

    ``data_dir`` defaults to :func:`signbench.data.locate.real_data_dir`.
    """
    names = {"train": TRAIN_CSV, "test": TEST_CSV}
    if split not in names:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    d = Path(data_dir) if data_dir is not None else real_data_dir()
    return load(d / names[split], format="csv", label_map="sign_mnist")
