"""The course's cleaning lesson on a dirty CSV, as a function with a report.

Each row is dropped for the first reason that applies, in this order: ``null`` (an empty field),
``non_numeric`` (e.g. the course's ``"fwefew"``), ``out_of_range`` (a pixel outside 0-255 or not a
whole number), ``bad_label`` (a label that is not an integer, or with ``label_map="sign_mnist"`` not a
Sign Language MNIST label), then ``duplicate`` (an exact copy of an earlier kept row). What remains is
coerced to uint8 pixels / int64 labels and normalized to [0, 1] float32. Cleaning is idempotent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from signbench.data.formats.raw import read_bytes
from signbench.data.types import SIGN_LETTERS, SIGN_RAW_TO_INDEX, LabeledImages
from signbench.errors import DataError

__all__ = ["REASONS", "CleanReport", "CleanResult", "clean", "clean_frame"]

REASONS = ("null", "non_numeric", "out_of_range", "bad_label", "duplicate")


@dataclass
class CleanReport:
    rows_in: int
    rows_out: int
    counts: dict[str, int]
    #: (line in the file, reason) for every dropped row; line 1 is the header
    dropped: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows_in": self.rows_in, "rows_out": self.rows_out, "counts": dict(self.counts),
                "dropped": [list(d) for d in self.dropped]}


@dataclass
class CleanResult:
    frame: pd.DataFrame  # the kept rows, coerced (label int64, pixels uint8)
    data: LabeledImages  # the same rows as images
    x: np.ndarray  # images normalized to [0, 1] float32
    report: CleanReport


def clean_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, CleanReport]:
    """Drop the bad rows of a ``label,pixel...`` frame (any dtypes). Keeps the index (the file line)."""
    if df.shape[1] < 2 or str(df.columns[0]).strip().lower() != "label":
        raise DataError("expected a 'label' column followed by pixel columns", path="<frame>", where="columns")
    values = df.to_numpy(dtype=object)
    missing = pd.isna(values)
    text = np.where(missing, "", values).astype(str)
    stripped = np.char.strip(text)
    null = stripped == ""
    # one vectorized conversion over all cells (column-wise pandas calls are 100x slower at 785 columns)
    num = pd.to_numeric(pd.Series(stripped.ravel()), errors="coerce").to_numpy(float).reshape(stripped.shape)
    non_numeric = np.isnan(num) & ~null
    with np.errstate(invalid="ignore"):
        pix = num[:, 1:]
        out_of_range = ~np.isnan(pix) & ((pix < 0) | (pix > 255) | (pix % 1 != 0))
        lab = num[:, 0]
        bad_label = (np.isnan(lab) | (lab < 0) | (lab % 1 != 0)) & ~null[:, 0] & ~non_numeric[:, 0]
    reason = pd.Series(pd.NA, index=df.index, dtype="object")
    for name, mask in (
        ("null", null.any(axis=1)),
        ("non_numeric", non_numeric.any(axis=1)),
        ("out_of_range", out_of_range.any(axis=1)),
        ("bad_label", bad_label),
    ):
        reason = reason.mask(reason.isna() & mask, name)
    ok = reason.isna().to_numpy()
    labels = num[ok, 0].astype(np.int64)
    pixels = num[ok, 1:].astype(np.uint8)
    keys = pd.Series([lab.tobytes() + row.tobytes() for lab, row in zip(labels, pixels, strict=True)], dtype=object)
    dup = keys.duplicated(keep="first").to_numpy()
    ok_index = df.index[ok]
    reason.loc[ok_index[dup]] = "duplicate"
    kept = pd.DataFrame(pixels[~dup], index=ok_index[~dup], columns=list(df.columns[1:]))
    kept.insert(0, df.columns[0], labels[~dup])
    dropped = [(int(i), str(r)) for i, r in reason.dropna().items()]
    counts = {r: 0 for r in REASONS}
    for _, r in dropped:
        counts[r] += 1
    return kept, CleanReport(len(df), len(kept), counts, dropped)


def clean(source: str | Path | pd.DataFrame, *, label_map: str = "auto") -> CleanResult:
    """Clean a dirty CSV (path, plain or gzip) or frame; see the module docstring."""
    if isinstance(source, pd.DataFrame):
        df, where = source, "<frame>"
    else:
        where = str(source)
        raw = read_bytes(source)
        try:
            df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"unreadable CSV ({exc})", path=where) from None
        df.index = df.index + 2  # the file's line numbers (header is line 1)
    kept, report = clean_frame(df)
    raw_labels = kept.iloc[:, 0].to_numpy(np.int64)
    side = int(round((kept.shape[1] - 1) ** 0.5))
    if side * side != kept.shape[1] - 1:
        raise DataError(f"{kept.shape[1] - 1} pixel columns is not a square image", path=where, where="header")
    looks_sign = side == 28 and (raw_labels.size == 0 or (raw_labels.max() <= 24 and not np.any(raw_labels == 9)))
    if label_map == "sign_mnist" or (label_map == "auto" and looks_sign):
        idx = SIGN_RAW_TO_INDEX[np.clip(raw_labels, 0, 255)] if raw_labels.size else raw_labels
        bad = np.flatnonzero((raw_labels > 24) | (idx < 0))
        if bad.size:
            for i in bad:
                report.dropped.append((int(kept.index[i]), "bad_label"))
            report.counts["bad_label"] += int(bad.size)
            report.dropped.sort()
            keep = np.ones(len(kept), bool)
            keep[bad] = False
            kept, raw_labels, idx = kept[keep], raw_labels[keep], idx[keep]
            report.rows_out = len(kept)
        labels, names = idx, list(SIGN_LETTERS)
    else:
        uniq, labels = np.unique(raw_labels, return_inverse=True)
        names = [str(u) for u in uniq]
    images = kept.iloc[:, 1:].to_numpy(np.uint8).reshape(-1, side, side, 1)
    data = LabeledImages(images, np.asarray(labels, np.int64).reshape(-1), names, source=where)
    return CleanResult(kept, data, data.as_float(), report)
