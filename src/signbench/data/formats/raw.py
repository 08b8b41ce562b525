"""Reading a file's bytes, transparently gunzipping, with errors that name the file."""

from __future__ import annotations

import zlib
from pathlib import Path

from signbench.errors import DataError

__all__ = ["GZIP_MAGIC", "gunzip", "read_bytes"]

GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, *, path: str = "<bytes>") -> bytes:
    """Decompress every member of a gzip stream with one ``zlib`` call per member.

    ``zlib.decompress`` on the whole buffer is faster than the ``gzip`` module's streaming reader
    (no 8 KiB read loop, no per-chunk CRC bookkeeping in Python). A truncated or corrupt stream is a
    :class:`DataError` naming the file and the byte offset of the bad member.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(data[pos:] if pos else data))
        except zlib.error as exc:
            raise DataError(f"corrupt gzip stream ({exc})", path=path, where=f"byte {pos}") from None
        if not d.eof:
            raise DataError("truncated gzip stream (unexpected end of file)", path=path, where=f"byte {pos}")
        rest = d.unused_data
        if not rest.strip(b"\x00"):  # trailing zero padding is allowed, as in the gzip tool
            break
        if not rest.startswith(GZIP_MAGIC):
            raise DataError("trailing garbage after gzip stream", path=path, where=f"byte {len(data) - len(rest)}")
        pos = len(data) - len(rest)
    return out[0] if len(out) == 1 else b"".join(out)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when they start with the gzip magic number."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    data = p.read_bytes()
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, path=str(p))
    return data
