"""The one result type every loader returns, and Sign Language MNIST's label set.

Every loader raises :class:`signbench.errors.DataError` on bad input.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

from signbench.errors import DataError

__all__ = [
    "LabeledImages",
    "check_class_names",
    "require_images",
    "Skipped",
    "SIGN_LETTERS",
    "SIGN_RAW_LABELS",
    "SIGN_RAW_TO_INDEX",
    "sign_label_to_index",
]

#: Sign Language MNIST's 24 classes: A..Y without J (label 9) and Z (label 25, never present).
SIGN_LETTERS: list[str] = [c for c in string.ascii_uppercase[:25] if c != "J"]
#: The dataset's raw labels in class order: 0-24 without 9 (J needs motion, Z is absent).
SIGN_RAW_LABELS: tuple[int, ...] = tuple(k for k in range(25) if k != 9)
#: Raw label (0-255) -> class index 0-23, or -1 for a byte that is not a Sign Language MNIST label.
SIGN_RAW_TO_INDEX = np.full(256, -1, dtype=np.int64)
SIGN_RAW_TO_INDEX[list(SIGN_RAW_LABELS)] = np.arange(len(SIGN_RAW_LABELS))


def sign_label_to_index(label: int) -> int:
    """Map the dataset's raw label (0-24, never 9) to a contiguous class index 0-23."""
    index = int(SIGN_RAW_TO_INDEX[label]) if 0 <= label <= 24 else -1
    if index < 0:
        raise KeyError(label)
    return index


@dataclass(frozen=True)
class Skipped:
    """One item left out by ``on_error="skip"``: where it was and why."""

    path: str
    where: str
    reason: str


@dataclass
class LabeledImages:
    """Images (uint8, N x H x W x C), labels (int64, 0-based) and the class names they index."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    source: str = ""
    skipped: list[Skipped] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.images.dtype != np.uint8:
            raise TypeError(f"images must be uint8, got {self.images.dtype}")
        if self.images.ndim != 4:
            raise ValueError(f"images must be N x H x W x C, got shape {self.images.shape}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"{self.images.shape[0]} images but labels have shape {self.labels.shape}"
            )
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError("labels must index class_names")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, index) -> LabeledImages:
        """The rows at ``index`` (an index array or boolean mask), same class names."""
        return LabeledImages(self.images[index], self.labels[index], list(self.class_names), self.source)

    def as_float(self) -> np.ndarray:
        """Images scaled to [0, 1] float32, the course's ``/ 255``."""
        return self.images.astype(np.float32) / np.float32(255.0)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}


def require_images(ds: LabeledImages, allow_empty: bool = False) -> LabeledImages:
    """``ds``, unless it holds no image and the caller did not ask for that (``allow_empty``): then a
    :class:`DataError` naming the source (and, when every item was bad, the first bad one)."""
    if len(ds) or allow_empty:
        return ds
    if ds.skipped:
        first = ds.skipped[0]
        raise DataError(
            f"no images: all {len(ds.skipped)} items were bad (the first, {first.path} [{first.where}]: "
            f"{first.reason}); pass allow_empty=True to accept an empty dataset", path=ds.source)
    raise DataError("no images (pass allow_empty=True to accept an empty dataset)", path=ds.source)


def check_class_names(names: list[str], *, path: str, what: str = "classes") -> None:
    """Class names that differ only in case or surrounding spaces (``A`` and ``a``, ``cat`` and ``cat ``)
    are a :class:`DataError`: one class spelled two ways (or two folders that merge on a case-insensitive
    file system), never two classes by accident."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.strip().casefold()
        if key in seen:
            raise DataError(
                f"{what} {seen[key]!r} and {name!r} differ only in case or spaces: one class spelled two ways?",
                path=path)
        seen[key] = name
