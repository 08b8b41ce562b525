"""Where the reproduction's data comes from: ``--data PATH``, ``--dataset NAME`` or the default.

Resolution happens before anything heavy is imported, so a missing file or an offline machine
without data stops the command at once with one line saying what to do.

- ``--data`` takes a CSV pair (a folder holding ``*train*.csv[.gz]`` and ``*test*.csv[.gz]``, or the
  train CSV whose sibling test CSV has the same name with ``test``), one CSV, an image folder tree
  (with ``Train``/``Test`` subfolders used as the split, else one set), or a ``.zip`` of any of these.
  A single set gets a seeded, stratified 20% held out as its test split.
- ``--dataset`` names an entry of :mod:`signbench.data`'s registry, fetched (hash-verified) into the
  download cache.
- By default: the real Sign Language MNIST from ``$SIGNBENCH_DATA_DIR`` (default ``../shared/data``
  seen from the repo root), else the download cache, else a verified download; with
  ``SIGNBENCH_OFFLINE=1`` or no network that last step fails with the message that says how to point
  the command at the CSVs.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from signbench.data.locate import TEST_CSV, TRAIN_CSV, cache_dir, real_data_dir

__all__ = ["DataSpec", "NoDataError", "resolve", "HOW_TO_POINT", "KNOWN_SHA256"]

#: SHA-256 of the UNCOMPRESSED real CSVs (DEVELOPERS.md / the data README).
KNOWN_SHA256 = {
    "sign_mnist_train.csv": "4c2897f19fab2b0ae2a7e4fa82e969043315d9f3a1a9cc0948b576bf1189a7e5",
    "sign_mnist_test.csv": "0e9d67bae23e67f40728e0b63bf15ad4bd5175947b8a9fac5dd9f17ce133c47b",
}

HOW_TO_POINT = (
    "pass --data FOLDER with sign_mnist_train.csv(.gz) and sign_mnist_test.csv(.gz) in it, "
    "or set SIGNBENCH_DATA_DIR to the folder that holds sign-language-mnist/"
)

_CSV = re.compile(r"\.csv(\.gz)?$", re.IGNORECASE)


class NoDataError(Exception):
    """No data could be found or fetched; the message says how to provide it."""


@dataclass(frozen=True)
class DataSpec:
    """What the data stage loads. ``kind``: "csv-pair", "folder-pair" (train/test), or "single"."""

    kind: str
    train: str
    test: str | None = None
    origin: str = "--data"  # "--data", "--dataset NAME", "default"
    verify: bool = False  # check the published SHA-256 of the real CSVs
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _is_csv(p: Path) -> bool:
    return p.is_file() and bool(_CSV.search(p.name))


def _pair_in_folder(folder: Path) -> tuple[Path, Path] | None:
    csvs = sorted(p for p in folder.iterdir() if _is_csv(p))
    train = [p for p in csvs if "train" in p.name.lower()]
    test = [p for p in csvs if "test" in p.name.lower()]
    if len(train) == 1 and len(test) == 1:
        return train[0], test[0]
    if len(train) > 1 or len(test) > 1:
        names = ", ".join(p.name for p in csvs)
        raise NoDataError(f"{folder}: more than one train or test CSV ({names}); pass the train CSV itself")
    return None


def _split_folders(folder: Path) -> tuple[Path, Path] | None:
    subs = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    train = subs.get("train") or subs.get("training")
    test = subs.get("test") or subs.get("testing")
    return (train, test) if train and test else None


def from_path(path: str | os.PathLike, *, origin: str = "--data", verify: bool = False) -> DataSpec:
    p = Path(path).expanduser()
    if not p.exists():
        raise NoDataError(f"{origin} {path}: no such file or folder")
    p = p.resolve()
    if p.is_dir():
        pair = _pair_in_folder(p)
        if pair:
            return DataSpec("csv-pair", str(pair[0]), str(pair[1]), origin, verify)
        split = _split_folders(p)
        if split:
            return DataSpec("folder-pair", str(split[0]), str(split[1]), origin, verify)
        if not any(p.iterdir()):
            raise NoDataError(f"{origin} {path}: the folder is empty")
        return DataSpec("single", str(p), None, origin, verify)
    if _is_csv(p):
        name = p.name
        if "train" in name.lower():
            sibling = p.with_name(re.sub("train", "test", name, flags=re.IGNORECASE))
            if sibling.is_file():
                return DataSpec("csv-pair", str(p), str(sibling), origin, verify)
        return DataSpec("single", str(p), None, origin, verify)
    return DataSpec("single", str(p), None, origin, verify)


def _default_folders() -> list[Path]:
    return [real_data_dir(), cache_dir() / "sign-language-mnist"]


def _offline() -> bool:
    return os.environ.get("SIGNBENCH_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _fetch(name: str) -> Path:
    """Fetch a registry entry into the cache (hash-verified by the registry)."""
    try:
        from signbench.data import registry
    except ImportError as exc:  # pragma: no cover - the registry is part of signbench.data
        raise NoDataError(f"--dataset {name}: the dataset registry is not available ({exc})") from None
    if name not in registry.names():
        raise NoDataError(f"--dataset {name}: unknown dataset; known: {', '.join(registry.names())}")
    if _offline():
        raise ConnectionError(f"SIGNBENCH_OFFLINE is set, not downloading {name}")
    return Path(registry.fetch(name, cache_dir()))


def resolve(data: str | None, dataset: str | None) -> DataSpec:
    """Turn the command line's data options into a :class:`DataSpec` (or raise NoDataError)."""
    if data and dataset:
        raise NoDataError("give either --data or --dataset, not both")
    if data:
        return from_path(data)
    if dataset:
        folder = _cached_dataset(dataset)
        if folder is None:
            try:
                folder = _fetch(dataset)
            except (ConnectionError, TimeoutError, OSError) as exc:
                raise NoDataError(
                    f"--dataset {dataset}: not in the cache {cache_dir()} and could not be downloaded "
                    f"({exc}); download it elsewhere and pass --data PATH"
                ) from None
        return from_path(folder, origin=f"--dataset {dataset}", verify=_is_sign_mnist(dataset))
    for folder in _default_folders():
        if (folder / TRAIN_CSV).is_file() and (folder / TEST_CSV).is_file():
            return DataSpec("csv-pair", str(folder / TRAIN_CSV), str(folder / TEST_CSV), "default", True)
    looked = " and ".join(str(f) for f in _default_folders())
    try:
        folder = _fetch_sign_mnist()
    except (ConnectionError, TimeoutError, OSError, NoDataError) as exc:
        raise NoDataError(
            f"no Sign Language MNIST data (looked in {looked}; download failed: {exc}); {HOW_TO_POINT}"
        ) from None
    return DataSpec("csv-pair", str(folder / TRAIN_CSV), str(folder / TEST_CSV), "download", True)


def _is_sign_mnist(name: str) -> bool:
    return "sign" in name.lower() and "mnist" in name.lower()


def _cached_dataset(name: str) -> Path | None:
    """A registry entry already in the cache: ``cache_dir()/NAME`` (file or folder)."""
    for cand in (cache_dir() / name,):
        if cand.exists():
            return cand
    if _is_sign_mnist(name):
        for folder in _default_folders():
            if (folder / TRAIN_CSV).is_file() and (folder / TEST_CSV).is_file():
                return folder
    return None


def _fetch_sign_mnist() -> Path:
    """Download both real CSVs (verified) into ``cache_dir()/sign-language-mnist``."""
    if _offline():
        raise ConnectionError("SIGNBENCH_OFFLINE is set")
    try:
        from signbench.data import registry
    except ImportError as exc:
        raise NoDataError(f"the dataset registry is not available ({exc})") from None
    fetched = registry.fetch_sign_mnist(cache_dir()) if hasattr(registry, "fetch_sign_mnist") else None
    if fetched is None:
        raise NoDataError("the registry cannot download the Sign Language MNIST CSVs")
    return Path(fetched)
