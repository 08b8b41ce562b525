"""Safe zip extraction: no member may land outside the target folder.

Rejected (a :class:`DataError` naming the archive and the member): absolute paths, drive letters,
``..`` components, symbolic links, entries whose total uncompressed size exceeds ``max_bytes`` (zip
bombs), and members whose data is corrupt (CRC mismatch). An unreadable archive is a DataError too.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from signbench.data.types import DataError

__all__ = ["extract_zip", "safe_member_path"]

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
