"""Reading a file's bytes, transparently gunzipping, with errors that name the file."""

from __future__ import annotations

import zlib
from pathlib import Path

from signbench.errors import DataError

__all__ = ["GZIP_MAGIC", "gunzip", "iter_lines", "read_bytes"]

GZIP_MAGIC = b"\x1f\x8b"


#: The most a gzip file may expand to.
MAX_GUNZIP_BYTES = 4 * 1024**3
#: Past RATIO_FLOOR bytes of output, a stream that expands more than this many times its compressed
#: size so far is a gzip bomb (deflate tops out near 1032:1; the real CSVs are about 3.5:1).
MAX_GUNZIP_RATIO = 200
RATIO_FLOOR = 64 * 1024**2
#: Output per zlib call (the caps are checked between calls, so memory stays bounded).
_OUT_STEP = 64 * 1024**2


def gunzip(data: bytes, *, path: str = "<bytes>", max_bytes: int = MAX_GUNZIP_BYTES,
           max_ratio: float = MAX_GUNZIP_RATIO) -> bytes:
    """Decompress every member of a gzip stream, in a few big ``zlib`` calls per member.

    ``zlib`` on the whole buffer is faster than the ``gzip`` module's streaming reader (no 8 KiB read
    loop, no per-chunk CRC bookkeeping in Python). A truncated or corrupt stream is a
    :class:`DataError` naming the file and the byte offset of the bad member; so is a gzip bomb (more
    than ``max_bytes`` out, or, past ``RATIO_FLOOR`` bytes, more than ``max_ratio`` times the input
    read so far), stopped before it fills the memory.
    """
    out: list[bytes] = []
    total = 0
    pos = 0
    view = memoryview(data)
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        buf = view[pos:]
        try:
            while not d.eof:
                before = len(buf)
                piece = d.decompress(buf, _OUT_STEP)
                buf = d.unconsumed_tail
                if not piece and (not buf or len(buf) == before):  # out of input (or stuck): truncated
                    break
                out.append(piece)
                total += len(piece)
                if total > max_bytes:
                    raise DataError(f"gzip stream expands beyond the {max_bytes}-byte cap (a gzip bomb?)",
                                    path=path, where=f"byte {pos}")
                if total > RATIO_FLOOR and total > max_ratio * (len(data) - len(buf)):
                    raise DataError(f"gzip stream expands over {max_ratio:g} times its size (a gzip bomb?)",
                                    path=path, where=f"byte {pos}")
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


def iter_lines(path: str | Path, *, max_line_bytes: int):
    """(line number, line bytes) of a text file, gunzipped when it is gzip; a line longer than
    ``max_line_bytes`` is a :class:`DataError` naming it, raised before the line is held whole."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    with p.open("rb") as f:
        gz = f.read(2) == GZIP_MAGIC
        f.seek(0)
        lines = iter(read_bytes(p).split(b"\n")) if gz else iter(lambda: f.readline(max_line_bytes + 1), b"")
        for lineno, line in enumerate(lines, start=1):
            if len(line.rstrip(b"\n")) > max_line_bytes:
                raise DataError(f"line longer than {max_line_bytes} bytes", path=str(p), where=f"line {lineno}")
            yield lineno, line
