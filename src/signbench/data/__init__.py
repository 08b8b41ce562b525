"""Data stage: one entry point (:func:`load`) and one result type (:class:`LabeledImages`)."""

from signbench.data.load import detect_format, load, load_sign_mnist
from signbench.data.types import SIGN_LETTERS, DataError, LabeledImages, Skipped, sign_label_to_index

__all__ = [
    "DataError",
    "LabeledImages",
    "SIGN_LETTERS",
    "Skipped",
    "detect_format",
    "load",
    "load_sign_mnist",
    "sign_label_to_index",
]
