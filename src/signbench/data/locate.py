"""Where the real Sign Language MNIST CSVs are found on this machine."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "TRAIN_CSV", "TEST_CSV", "real_data_dir", "cache_dir"]

#: The checkout this package runs from (src layout: src/signbench/data/locate.py -> repo root).
REPO_ROOT = Path(__file__).resolve().parents[3]
TRAIN_CSV = "sign_mnist_train.csv.gz"
TEST_CSV = "sign_mnist_test.csv.gz"


def cache_dir() -> Path:
    """Download cache: $SIGNBENCH_CACHE, else ~/.cache/signbench."""
    return Path(os.environ.get("SIGNBENCH_CACHE", Path.home() / ".cache" / "signbench"))


def real_data_dir() -> Path:
    """$SIGNBENCH_DATA_DIR/sign-language-mnist, defaulting to ../shared/data seen from the repo root."""
    base = Path(os.environ.get("SIGNBENCH_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    return base / "sign-language-mnist"
