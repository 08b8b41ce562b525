"""Data: one entry point (:func:`load`) and one result type (:class:`LabeledImages`); cleaning,
splits, exploration and (TensorFlow) input pipelines in their own modules.

Formats (detected from the source): CSV (plain or gzip), JSON-lines, base64 JSON, image folder trees,
zip archives of those, and Keras's cached datasets (``"keras:cifar100"``). ``fetch(name)`` downloads
a registered source and verifies its SHA-256. Bad input raises :class:`DataError` naming the place.
"""

from signbench.data.fetch import REGISTRY, fetch
from signbench.data.load import FORMATS, detect_format, load, load_sign_mnist
from signbench.data.types import SIGN_LETTERS, LabeledImages, Skipped, sign_label_to_index
from signbench.errors import DataError

__all__ = [
    "DataError",
    "FORMATS",
    "LabeledImages",
    "REGISTRY",
    "SIGN_LETTERS",
    "Skipped",
    "detect_format",
    "fetch",
    "load",
    "load_sign_mnist",
    "sign_label_to_index",
]
