"""Where the real Sign Language MNIST CSVs and the download cache are, for any kind of install.

The data folder is, in this order: ``$SIGNBENCH_DATA_DIR/sign-language-mnist`` (when the variable is
set, it is the answer, found or not, so that errors name it); ``../shared/data/sign-language-mnist``
seen from the current directory (a checkout with the shared folder beside it, as CI has); then
``sign-language-mnist`` in the download cache. Nothing depends on where the package itself is
installed, so an editable and a regular install find the same data.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_SUBDIR", "TEST_CSV", "TRAIN_CSV", "cache_dir", "candidate_dirs", "real_data_dir"]

DATA_SUBDIR = "sign-language-mnist"
TRAIN_CSV = "sign_mnist_train.csv.gz"
TEST_CSV = "sign_mnist_test.csv.gz"


def cache_dir() -> Path:
    """Download cache: $SIGNBENCH_CACHE, else ~/.cache/signbench."""
    return Path(os.environ.get("SIGNBENCH_CACHE", Path.home() / ".cache" / "signbench"))


def candidate_dirs() -> list[Path]:
    """The folders searched for the CSVs, in order (see the module docstring)."""
    env = os.environ.get("SIGNBENCH_DATA_DIR")
    if env:
        return [Path(env) / DATA_SUBDIR]
    return [Path.cwd().parent / "shared" / "data" / DATA_SUBDIR, cache_dir() / DATA_SUBDIR]


def real_data_dir() -> Path:
    """The first candidate folder that holds the train CSV, else the first candidate (for messages)."""
    dirs = candidate_dirs()
    return next((d for d in dirs if (d / TRAIN_CSV).is_file()), dirs[0])
