"""Where the reproduction's data comes from: ``--data PATH``, ``--dataset NAME`` or the default.

Resolution happens before anything heavy is imported, so a missing file or an offline machine
without data stops the command at once with one line saying what to do.

- ``--data`` takes a CSV pair (a folder holding ``*train*.csv[.gz]`` and ``*test*.csv[.gz]``, or the
  train CSV whose sibling test CSV has the same name with ``test``), one CSV, an image folder tree
  (with ``Train``/``Test`` subfolders used as the split, else one set), or a ``.zip`` of any of these.
  A single set gets a seeded, stratified 20% held out as its test split.
- ``--dataset`` names an entry of :mod:`signbench.data`'s registry, fetched (hash-verified) into the
  download cache; ``sign_mnist`` names the real CSV pair (registry entries ``sign_mnist_train`` and
  ``sign_mnist_test``).
- By default: the real Sign Language MNIST from the folders :mod:`signbench.data.locate` searches
  (``$SIGNBENCH_DATA_DIR``, else ``../shared/data`` seen from the current directory, else the download
  cache), else a verified download; with
  ``SIGNBENCH_OFFLINE=1`` or no network that last step fails with the message that says how to point
  the command at the CSVs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from signbench.data.locate import DATA_SUBDIR, TEST_CSV, TRAIN_CSV, cache_dir, candidate_dirs
from signbench.errors import UserError
from signbench.reproduce.config import DataSpec

__all__ = ["NoDataError", "resolve", "HOW_TO_POINT", "known_sha256"]

#: The registry's entries for the real CSVs, and the names ``--dataset`` accepts for the pair.
SIGN_REGISTRY_NAMES = ("sign_mnist_train", "sign_mnist_test")
SIGN_REGISTRY_FILES = ("sign_mnist_train.csv", "sign_mnist_test.csv")
SIGN_ALIASES = ("sign_mnist", "sign-language-mnist", "sign_language_mnist")


def known_sha256() -> dict[str, str]:
    """Published SHA-256 of the UNCOMPRESSED files, by file name (from :data:`signbench.data.REGISTRY`)."""
    from signbench.data.fetch import REGISTRY

    return {s.filename: s.sha256 for s in REGISTRY.values() if s.sha256}

HOW_TO_POINT = (
    "pass --data FOLDER with sign_mnist_train.csv(.gz) and sign_mnist_test.csv(.gz) in it, "
    "or set SIGNBENCH_DATA_DIR to the folder that holds sign-language-mnist/"
)

_CSV = re.compile(r"\.csv(\.gz)?$", re.IGNORECASE)


class NoDataError(UserError):
    """No data could be found or fetched; the message says how to provide it."""


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
        csvs = [f for f in p.iterdir() if _is_csv(f)]
        if len(csvs) == 1 and not any(f.is_dir() for f in p.iterdir()):
            return DataSpec("single", str(csvs[0]), None, origin, verify)
        return DataSpec("single", str(p), None, origin, verify)
    if _is_csv(p):
        name = p.name
        if "train" in name.lower():
            sibling = p.with_name(re.sub("train", "test", name, flags=re.IGNORECASE))
            if sibling.is_file():
                return DataSpec("csv-pair", str(p), str(sibling), origin, verify)
        return DataSpec("single", str(p), None, origin, verify)
    if p.suffix.lower() == ".zip":
        return DataSpec("zip", str(p), None, origin, verify)
    return DataSpec("single", str(p), None, origin, verify)


def _default_folders() -> list[Path]:
    return list(dict.fromkeys([*candidate_dirs(), cache_dir() / DATA_SUBDIR, cache_dir()]))


def _pair_at(folder: Path) -> tuple[Path, Path] | None:
    """The real CSV pair in ``folder``: the repo's ``.csv.gz`` names or the registry's ``.csv`` ones."""
    for train, test in ((TRAIN_CSV, TEST_CSV), (SIGN_REGISTRY_FILES[0], SIGN_REGISTRY_FILES[1])):
        if (folder / train).is_file() and (folder / test).is_file():
            return folder / train, folder / test
    return None


def _offline() -> bool:
    return os.environ.get("SIGNBENCH_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _fetch(name: str) -> Path:
    """A registry entry as a verified file in the cache (offline: only if it is already there)."""
    from signbench.data.fetch import REGISTRY, fetch

    if name in REGISTRY and _offline() and not (cache_dir() / REGISTRY[name].filename).is_file():
        raise ConnectionError(f"SIGNBENCH_OFFLINE is set and {name} is not in the cache {cache_dir()}")
    return Path(fetch(name, cache_dir()))  # unknown names and hash mismatches raise DataError


def resolve(data: str | None, dataset: str | None) -> DataSpec:
    """Turn the command line's data options into a :class:`DataSpec` (or raise NoDataError/DataError)."""
    if data and dataset:
        raise NoDataError("give either --data or --dataset, not both")
    if data:
        return from_path(data)
    if dataset:
        if dataset in SIGN_ALIASES:
            return _sign_mnist(f"--dataset {dataset}")
        try:
            path = _fetch(dataset)
        except (ConnectionError, TimeoutError) as exc:
            raise NoDataError(
                f"--dataset {dataset}: not in the cache {cache_dir()} and could not be downloaded ({exc}); "
                "download it elsewhere and pass --data PATH"
            ) from None
        return from_path(path, origin=f"--dataset {dataset}")
    return _sign_mnist("default")


def _sign_mnist(origin: str) -> DataSpec:
    """The real CSV pair: the data folder or the cache, else fetched (verified) through the registry."""
    for folder in _default_folders():
        pair = _pair_at(folder)
        if pair:
            return DataSpec("csv-pair", str(pair[0]), str(pair[1]), origin, True)
    looked = ", ".join(dict.fromkeys(str(f) for f in _default_folders()))
    try:
        train, test = (_fetch(n) for n in SIGN_REGISTRY_NAMES)
    except (ConnectionError, TimeoutError, OSError, ValueError) as exc:  # DataError is a ValueError
        raise NoDataError(
            f"no Sign Language MNIST data (looked in {looked}; download failed: {_first_line(exc)}); {HOW_TO_POINT}"
        ) from None
    return DataSpec("csv-pair", str(train), str(test), origin, True)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
