"""Zip archives: safe extraction, and loading an archive of any other format.

:func:`load_zip` extracts into a temporary folder and loads the one data file (or the image tree) it
holds with the loader it is given, so errors name ``archive.zip!member``. No member may land outside
the target folder. Rejected (a :class:`DataError` naming the archive and the member): absolute paths, drive letters,
``..`` components, symbolic links, two members that land on the same path (the second would silently
replace the first), zip bombs (entries whose total uncompressed size exceeds ``max_bytes``, or a member
that expands more than ``max_ratio`` times its compressed size; sizes are checked while extracting too,
so a member cannot expand beyond what its header declares), and members whose data is corrupt (CRC
mismatch, bad compressed data, an unsupported method or encryption). An unreadable or damaged archive
directory is a DataError too, whatever the zipfile module raises for it.
"""

from __future__ import annotations

import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from signbench.data.formats.images import IMAGE_SUFFIXES
from signbench.data.types import LabeledImages
from signbench.errors import DataError

__all__ = ["extract_zip", "load_zip", "safe_member_path"]

#: Files inside an archive that are data files of another format (else: an image tree).
DATA_SUFFIXES = (".csv", ".csv.gz", ".json", ".jsonl", ".ndjson")

#: The most an archive may expand to on disk, all members together.
DEFAULT_MAX_BYTES = 4 * 1024**3
#: The most a member may expand relative to its compressed size (deflate tops out near 1032:1 on
#: zeros; real CSVs and images compress about 2-10:1). Members under RATIO_FLOOR bytes are exempt.
DEFAULT_MAX_RATIO = 200
RATIO_FLOOR = 1 << 20
#: What the zipfile module may raise on a damaged archive (its directory, headers or member data).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, IndexError, KeyError,
               struct.error, NotImplementedError, RuntimeError, OverflowError, UnicodeDecodeError, zlib.error)


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


def _copy_capped(src, out, limit: int, what: str, archive: str, where: str) -> int:
    """Copy ``src`` to ``out`` but never more than ``limit`` bytes; returns the bytes copied."""
    done = 0
    while chunk := src.read(1 << 20):
        done += len(chunk)
        if done > limit:
            raise DataError(what, path=archive, where=where)
        out.write(chunk)
    return done


def extract_zip(path: str | Path, target: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                max_ratio: float = DEFAULT_MAX_RATIO) -> Path:
    """Extract the zip at ``path`` into ``target`` (created if needed); returns ``target``."""
    archive = str(path)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except _ZIP_ERRORS as exc:
        raise DataError(f"unreadable zip archive ({type(exc).__name__}: {str(exc)[:200]})", path=archive) from None
    with zf:
        total = 0
        plan = []
        seen: dict[Path, str] = {}
        for info in infos:
            where = f"member {info.filename!r}"
            if not info.filename.strip("/"):  # e.g. a name that starts with a NUL byte (zipfile cuts it there)
                raise DataError("member with an empty name", path=archive, where=where)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise DataError("symbolic links are not extracted", path=archive, where=where)
            dest = safe_member_path(info.filename, target, archive=archive)
            if dest in seen and not info.is_dir():
                raise DataError(f"two members land on the same path (the other is {seen[dest]!r})", path=archive,
                                where=where)
            seen[dest] = info.filename
            total += info.file_size
            if total > max_bytes:
                raise DataError(f"archive expands to over {max_bytes} bytes", path=archive, where=where)
            if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
                raise DataError(
                    f"member expands {info.file_size / max(info.compress_size, 1):.0f} times (over the {max_ratio:g}:1 "
                    "cap for a zip bomb)", path=archive, where=where)
            plan.append((info, dest))
        for info, dest in plan:
            where = f"member {info.filename!r}"
            try:
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    _copy_capped(src, out, info.file_size, "member expands beyond its declared size", archive, where)
            except DataError:
                raise
            except _ZIP_ERRORS as exc:
                raise DataError(f"corrupt member ({type(exc).__name__}: {str(exc)[:200]})", path=archive,
                                where=where) from None
    return target


def _may_reference_images(f: Path) -> bool:
    """Whether a data file can point at image files beside it: JSON-lines (``content`` paths)."""
    name = f.name.lower()
    if name.endswith((".jsonl", ".ndjson")):
        return True
    if not name.endswith(".json"):
        return False
    with f.open("rb") as fh:
        first = fh.readline(1 << 16).strip()
    return first.startswith(b"{") and b'"content"' in first


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
            elif len(data_files) == 1 and images and not _may_reference_images(data_files[0]):
                raise DataError(
                    f"archive holds a data file ({data_files[0].relative_to(root)}) and {len(images)} image files "
                    f"it does not use (e.g. {images[0].relative_to(root)}); which is the dataset?", path=str(path))
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
            raise DataError(str(exc).replace(prefix, shown).replace(str(root), str(path))) from None
        ds.source = ds.source.replace(prefix, shown).replace(str(root), str(path))
        ds.skipped = [replace(s, path=s.path.replace(prefix, shown), reason=s.reason.replace(prefix, shown))
                      for s in ds.skipped]
        return ds
