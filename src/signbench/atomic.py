"""Atomic file writes shared by every stage: readers see the old file or the whole new one, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_json", "dumps", "is_leftover"]

#: atomic_write's temporary files: ``.<name>.<random>.tmp`` beside the target.
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"


def is_leftover(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_write`'s temporary files (what a killed writer leaves)."""
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX) and name.count(".") >= 3


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: str | bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder (fsynced, usual file mode).

    ``overwrite=True`` renames over any existing file (``os.replace``); ``overwrite=False`` links the
    finished file into place and raises ``FileExistsError`` rather than replace another run's file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists: never replaces another run's file
            os.unlink(tmp)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # a failed write names no file: name ours
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(obj: Any) -> Any:
    """json.dumps default: numpy scalars/arrays, paths and objects with ``to_dict`` become plain JSON."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """Indented JSON (numpy values and paths converted) with a final newline."""
    return json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """:func:`atomic_write` of :func:`dumps` (obj)."""
    return atomic_write(path, dumps(obj))
