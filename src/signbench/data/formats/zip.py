"""Zip archives: safe extraction, and loading an archive of any other format.

:func:`load_zip` extracts into a temporary folder and loads the one data file (or the image tree) it
holds with the loader it is given, so errors name ``archive.zip!member``. No member may land outside
the target folder. Rejected (a :class:`DataError` naming the archive and the member): absolute paths, drive letters,
``..`` components, symbolic links, entries whose total uncompressed size exceeds ``max_bytes`` (zip
bombs), and members whose data is corrupt (CRC mismatch). An unreadable archive is a DataError too.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from signbench.data.formats.images import IMAGE_SUFFIXES
from signbench.data.types import LabeledImages
from signbench.errors import DataError

__all__ = ["extract_zip", "load_zip", "safe_member_path"]

#: Files inside an archive that are data files of another format (else: an image tree).
DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".ndjson")

DEFAULT_MAX_BYTES = 8 * 1024**3


def safe_member_path(name: str, target: Path, *, archive: str) -> Path:
    """Where member ``name`` goes under ``target``; DataError if that would be outside it."""
    norm = name.replace("\\", "/")
    pure = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in pure.parts:
        raise DataError("member path escapes the target folder", path=archive, where=f"member {name!r}")
    dest = (target / pure).resolve()
    root = target.resolve()
    if dest != root and root not in dest.parents:
        raise DataError("member path escapes the target folder", path=archive, where=f"member {name!r}")
    return dest


def extract_zip(path: str | Path, target: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Extract the zip at ``path`` into ``target`` (created if needed); returns ``target``."""
    archive = str(path)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DataError(f"unreadable zip archive ({exc})", path=archive) from None
    with zf:
        infos = zf.infolist()
        total = 0
        plan = []
        for info in infos:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DataError("symbolic links are not extracted", path=archive, where=f"member {info.filename!r}")
            dest = safe_member_path(info.filename, target, archive=archive)
            total += info.file_size
            if total > max_bytes:
                raise DataError(f"archive expands to over {max_bytes} bytes", path=archive,
                                where=f"member {info.filename!r}")
            plan.append((info, dest))
        for info, dest in plan:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise DataError(f"corrupt member ({exc})", path=archive, where=f"member {info.filename!r}") from None
    return target


def load_zip(path: str | Path, loader: Callable[..., LabeledImages], *, on_error: str = "raise",
             **options) -> LabeledImages:
    """Extract ``path`` into a temporary folder and ``loader`` its one data file, or its image tree.

    An archive with several data files is an error naming them (load one of them after
    :func:`extract_zip`). Paths in errors and ``skipped`` name the archive (``archive.zip!member``).
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="signbench-zip-") as tmp:
        root = Path(tmp)
        prefix = str(root) + "/"
        shown = f"{path}!"
        extract_zip(path, root)
        files = [f for f in root.rglob("*") if f.is_file() and "__MACOSX" not in f.parts]
        images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
        data_files = [f for f in files if f.name.lower().endswith(DATA_SUFFIXES)]
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
                    + "extract it with signbench.data.formats.zip.extract_zip and load one",
                    path=str(path),
                )
            ds = loader(target, on_error=on_error, **options)
        except DataError as exc:
            raise DataError(str(exc).replace(prefix, shown)) from None
        ds.source = ds.source.replace(prefix, shown).replace(str(root), str(path))
        ds.skipped = [replace(s, path=s.path.replace(prefix, shown)) for s in ds.skipped]
        return ds
