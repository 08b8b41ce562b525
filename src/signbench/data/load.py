"""``load(source)``: the one entry point. The format is detected from the source."""

from __future__ import annotations

from pathlib import Path

from signbench.data.locate import TEST_CSV, TRAIN_CSV, real_data_dir
from signbench.data.types import LabeledImages

__all__ = ["FORMATS", "detect_format", "load", "load_sign_mnist"]

FORMATS = ("csv",)


def detect_format(source: str | Path) -> str:
    """The format name of ``source``: by suffix, then (for files) by a look at the first bytes."""
    name = str(source).lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    p = Path(source)
    if p.is_file():
        head = p.open("rb").read(64)
        if head[:2] == b"\x1f\x8b" or head.lstrip(b"\xef\xbb\xbf").lower().startswith(b"label,"):
            return "csv"
    raise ValueError(f"cannot tell the format of {source}; pass format= (one of {FORMATS})")


def load(source: str | Path, *, format: str | None = None, on_error: str = "raise", **options) -> LabeledImages:
    """Load ``source`` into :class:`LabeledImages`. ``format`` overrides detection.

    ``on_error="skip"`` returns the good items and lists every bad one in ``.skipped``; the default
    raises :class:`DataError` naming the file and the row / key / member.
    """
    fmt = format or detect_format(source)
    if fmt == "csv":
        from signbench.data.csv_reader import load_csv

        return load_csv(source, on_error=on_error, **options)
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
