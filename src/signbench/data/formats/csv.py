"""CSV images: ``label,pixel1..pixelN`` (plain or gzip), one square grayscale image per row.

Two parsers share one contract. The fast path is vectorized numpy over the raw bytes: it finds the
separators, checks the whole file's structure at once (every row has the header's field count, only
ASCII digits between separators, 1-3 digits per pixel, every pixel <= 255) and accumulates the digits.
If any check fails it gives up and the exact slow path re-reads the file line by line, so that the
error names the line and column (or, with ``on_error="skip"``, every bad line is reported and left out).

Labels. ``label_map="sign_mnist"`` maps Sign Language MNIST's raw labels 0-24 (never 9) to 24
contiguous classes named A..Y without J; any other label is an error. ``label_map="sorted"`` makes
one class per distinct label, sorted (numerically when every label is an integer), named by the
label's text. ``"auto"`` (default) picks ``sign_mnist`` when the images are 28x28 and every label is
an integer in 0-24 other than 9, else ``sorted``; text labels in a 28x28 file (one that otherwise looks
like Sign Language MNIST) are an error unless ``label_map="sorted"`` is asked for.

Nothing silently wrong: a label column must parse one way (a text label among integers, or an integer
among text labels, is an error naming its line, not a class of its own), integer labels have at most
``MAX_LABEL_DIGITS`` digits, labels may not differ only in case, the header's pixel columns are named,
distinct and in order, and a file with no rows is an error unless ``allow_empty=True``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from signbench.data.formats.raw import read_bytes
from signbench.data.types import (
    SIGN_LETTERS,
    SIGN_RAW_TO_INDEX,
    LabeledImages,
    Skipped,
    check_class_names,
    require_images,
)
from signbench.errors import DataError
from signbench.meta import available_cores

__all__ = ["load_csv", "parse_csv_bytes", "to_csv_bytes", "LABEL_MAPS"]

LABEL_MAPS = ("auto", "sign_mnist", "sorted")

_COMMA, _LF, _CR = 44, 10, 13


def load_csv(
    path: str | Path, *, label_map: str = "auto", on_error: str = "raise", allow_empty: bool = False
) -> LabeledImages:
    """Load a ``label,pixel...`` CSV file (gzip detected by its magic bytes)."""
    return parse_csv_bytes(read_bytes(path), path=str(path), label_map=label_map, on_error=on_error,
                           allow_empty=allow_empty)


def _check_options(label_map: str, on_error: str) -> None:
    if label_map not in LABEL_MAPS:
        raise ValueError(f"label_map must be one of {LABEL_MAPS}, got {label_map!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")


def _header(data: bytes, path: str) -> tuple[int, int, bool, int]:
    """(pixels per row, image side, CRLF line ends, offset of the first data byte)."""
    if not data.strip():
        raise DataError("empty CSV file (no header)", path=path, where="line 1")
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # UTF-8 byte order mark
    nl = data.find(b"\n", start)
    end = len(data) if nl < 0 else nl
    crlf = end > start and data[end - 1] == _CR
    line = data[start : end - 1 if crlf else end]
    names = [n.strip().strip('"').strip() for n in line.decode("utf-8", "replace").split(",")]
    where = "line 1 (header)"
    if names[0].lower() != "label":
        raise DataError(f"header must start with a 'label' column, got {names[0][:40]!r}", path=path, where=where)
    npix = len(names) - 1
    side = math.isqrt(npix)
    if npix == 0 or side * side != npix:
        raise DataError(f"header has {npix} pixel columns, not a square image", path=path, where=where)
    _check_pixel_names(names[1:], path, where)
    return npix, side, crlf, len(data) if nl < 0 else nl + 1


def _check_pixel_names(names: list[str], path: str, where: str) -> None:
    """Pixel columns must all be named, and distinct; named ``pixel<k>``, they must count up from 0 or 1
    (a reordered header would silently transpose every image)."""
    for j, name in enumerate(names, start=2):
        if not name:
            raise DataError(f"column {j} of the header has no name", path=path, where=where)
    if len(set(names)) != len(names):
        dup = next(n for i, n in enumerate(names) if n in names[:i])
        raise DataError(f"column {dup[:40]!r} appears twice in the header", path=path, where=where)
    numbers = [n[5:] for n in names if n.lower().startswith("pixel") and n[5:].isascii() and n[5:].isdigit()]
    if len(numbers) == len(names):
        first = int(numbers[0])
        for j, k in enumerate(numbers):
            if first not in (0, 1) or int(k) != first + j:
                raise DataError(
                    f"pixel columns out of order: column {j + 2} is {names[j][:40]!r}, expected "
                    f"'pixel{(first if first in (0, 1) else 1) + j}'", path=path, where=where)


def parse_csv_bytes(
    data: bytes, *, path: str = "<bytes>", label_map: str = "auto", on_error: str = "raise",
    allow_empty: bool = False,
) -> LabeledImages:
    """Parse an (uncompressed) CSV held in memory. See the module docstring for the rules.

    A file with no rows (or none left after ``on_error="skip"``) is a :class:`DataError` unless
    ``allow_empty=True``."""
    _check_options(label_map, on_error)
    npix, side, crlf, start = _header(data, path)
    fast = _fast_parse_chunks(data, start, npix, crlf)
    if fast is not None:
        pixels, raw_labels = fast
        labels_text = None
        skipped: list[Skipped] = []
        lines = None
    else:
        pixels, labels_text, lines, skipped = _slow_parse(data, start, npix, path, on_error)
        raw_labels = None
    labels, class_names, keep, label_skips = _map_labels(
        raw_labels, labels_text, lines, label_map, side, path, on_error
    )
    if not keep.all():
        pixels = pixels[keep]
    if label_skips:
        skipped = sorted(skipped + label_skips, key=lambda s: int(s.where.split()[1].rstrip(",")))
    images = pixels.reshape(-1, side, side, 1)
    return require_images(LabeledImages(images, labels, class_names, source=path, skipped=skipped), allow_empty)


# ----------------------------------------------------------------------------------------- fast path
#: Bodies at least this big are parsed in pieces on a pool of one thread per core (numpy releases the GIL).
PARALLEL_MIN_BYTES = 4 << 20
#: About this many bytes per piece, so that a piece's index arrays stay small (more, smaller pieces
#: were faster on the 83 MB train CSV: 16 pieces on 2 threads ~0.18 s vs 2 pieces ~0.21-0.25 s).
PIECE_BYTES = 4 << 20
#: At most this many pieces.
MAX_CHUNKS = 16


def _fast_parse_chunks(
    data: bytes, start: int, npix: int, crlf: bool, chunks: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``_fast_parse`` over ``chunks`` pieces of the body cut at line ends, in parallel threads.

    Default: bodies of ``PARALLEL_MIN_BYTES`` or more are cut into pieces of about ``PIECE_BYTES``
    (at least one per core, at most ``MAX_CHUNKS``) parsed on one thread per core; smaller bodies are
    one piece. Every piece gets the same whole-structure checks, and a piece that fails any of them
    sends the whole file to the exact path, so the result (or the error) is the one-piece result.
    """
    size = len(data) - start
    cores = available_cores()
    if chunks is None:
        chunks = min(MAX_CHUNKS, max(cores, size // PIECE_BYTES)) if size >= PARALLEL_MIN_BYTES else 1
    bounds = [start]
    for i in range(1, max(1, chunks)):
        cut = data.find(b"\n", start + size * i // chunks)
        if cut < 0 or cut + 1 >= len(data):
            break
        if cut + 1 > bounds[-1]:
            bounds.append(cut + 1)
    if len(bounds) == 1:
        return _fast_parse(data, start, npix, crlf)
    ends = [*bounds[1:], None]  # the last piece runs to the end of the data (and gets its clean-up)
    with ThreadPoolExecutor(min(len(bounds), max(1, cores))) as pool:
        parts = list(pool.map(lambda se: _fast_parse(data, se[0], npix, crlf, end=se[1]), zip(bounds, ends, strict=True)))
    if any(part is None for part in parts):
        return None
    return np.concatenate([pp for pp, _ in parts]), np.concatenate([lab for _, lab in parts])


def _fast_parse(
    data: bytes, start: int, npix: int, crlf: bool, end: int | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(pixels uint8 N x npix, raw integer labels), or None when anything is off (the slow path decides).

    Every byte is either an ASCII digit or, if it is below ``'0'``, a separator. For the byte at each
    separator position p, four shifted views of the same buffer give the bytes at p-1..p-4 by plain
    1-byte gathers (numpy's fastest fancy-indexing path); the field's value is assembled from them.
    The whole-file checks: no byte above ``'9'``; ``N * fields-per-row`` separators; each row's
    separators are commas then the line end (LF or CR LF); every field has 1-3 digits; every pixel is
    <= 255. Labels of any length are accepted (> 3 digits are parsed per row).
    """
    nfields = npix + 1
    if len(data) <= start:
        return np.zeros((0, npix), np.uint8), np.zeros(0, np.int64)
    if end is None:  # the whole rest of the data (else a piece that ends right after a line end)
        if data.endswith((b"\n\n", b"\n\r\n")):  # blank lines at the end are not rows
            data = data.rstrip(b"\r\n")
        if data[-1] != _LF:
            data = data + (b"\r\n" if crlf else b"\n")
        end = len(data)
    size = end - start
    if size <= 0:
        return np.zeros((0, npix), np.uint8), np.zeros(0, np.int64)
    b = np.frombuffer(data, dtype=np.uint8, count=size, offset=start)
    if int(b.max()) > ord("9"):  # letters, quotes above '9', UTF-8, ...
        return None
    seps = np.flatnonzero(b < ord("0"))
    per_row = nfields + (1 if crlf else 0)  # with CR LF the LF is one more separator per row
    if seps.size == 0 or seps.size % per_row:
        return None
    n = seps.size // per_row
    # The header (>= 8 bytes: "label,p\n") precedes the body, so p-4 is always inside the buffer.
    shifted = [np.frombuffer(data, dtype=np.uint8, count=size, offset=start - k) for k in range(5)]
    # Each row's separators are nfields - 1 commas and then the line end. The line ends are checked
    # directly; then, as all n * per_row non-digit bytes are separators, exactly n * (nfields - 1)
    # commas in the body means every other separator is a comma.
    if not np.all(b[seps[per_row - 1 :: per_row]] == _LF):
        return None
    if crlf and not np.all(b[seps[nfields - 1 :: per_row]] == _CR):
        return None
    if int(np.count_nonzero(b == _COMMA)) != n * (nfields - 1):
        return None
    # Whole rows (with CR LF, the LF column too: its values are junk and left out at the end), so
    # that every array below is contiguous; the bytes before each separator: u ones, t tens, h hundreds.
    u, t, h = (shifted[k][seps].reshape(n, per_row) for k in (1, 2, 3))
    zero = np.uint8(ord("0"))
    if crlf:  # the LF right after CR: its "field" is empty (u == CR), every other field is not
        if not np.all(u[:, nfields] == _CR) or np.count_nonzero(u < zero) != n:
            return None
    elif u.min() < zero:  # an empty field (two separators in a row, or a blank line)
        return None
    tm = t >= zero  # the field has >= 2 digits
    hm = h >= zero
    hm &= tm  # >= 3 digits
    # Every digit byte belongs to exactly one field, so all fields have <= 3 digits exactly when the
    # digits counted as min(length, 3) per field add up to all the digits in the body.
    counted = n * nfields + int(np.count_nonzero(tm)) + int(np.count_nonzero(hm))
    if crlf:
        counted -= int(np.count_nonzero(tm[:, nfields])) + int(np.count_nonzero(hm[:, nfields]))
    long_ = None
    if counted != size - seps.size:
        long_ = (shifted[4][seps].reshape(n, per_row) >= zero) & hm
        if np.any(long_[:, 1:nfields]):  # a pixel with leading zeros or > 255: the slow path decides
            return None
    value = u - zero  # ones
    work = t - zero
    work *= tm
    work *= np.uint8(10)
    value += work  # + tens: 0..99, no wrap
    hundreds = h - zero
    hundreds *= hm
    pix_h = hundreds[:, 1:nfields]
    if pix_h.max(initial=0) > 2:  # a pixel >= 300
        return None
    # A pixel is > 255 exactly when hundreds == 2 and tens-and-ones > 55, i.e. when
    # hundreds * 64 + (tens-and-ones >> 1) >= 156 (no uint8 wrap: hundreds <= 2, >> 1 <= 49).
    key = value >> np.uint8(1)
    np.left_shift(hundreds, 6, out=work)
    key += work
    if key[:, 1:nfields].max(initial=0) >= 156:
        return None
    labels = value[:, 0].astype(np.int64) + 100 * hundreds[:, 0].astype(np.int64)
    hundreds *= np.uint8(100)
    value += hundreds
    pixels = value[:, 1:nfields]
    if long_ is not None and np.any(long_[:, 0]):  # long integer labels: parse those rows one by one
        row_starts = np.concatenate([[-1], seps[per_row - 1 :: per_row][:-1]]) + 1 + start
        label_ends = seps[::per_row] + start
        for i in np.flatnonzero(long_[:, 0]):
            text = data[row_starts[i] : label_ends[i]]
            if len(text.lstrip(b"0")) > MAX_LABEL_DIGITS:  # not an int64: the exact path names the line
                return None
            labels[i] = int(text)
    return np.ascontiguousarray(pixels), labels


# ----------------------------------------------------------------------------------------- slow path
def _exact_line(lineno: int, line: bytes, npix: int, bad):
    """(pixels, label text) of one line, or None after reporting its first problem with ``bad``."""
    nfields = npix + 1
    fields = line.split(b",")
    if len(fields) != nfields:
        bad(lineno, None, f"expected {nfields} fields (label + {npix} pixels), got {len(fields)}")
        return None
    stripped = [f.strip() for f in fields[1:]]
    if b"".join(stripped).isdigit() and all(stripped) and all(len(f.lstrip(b"0")) <= 3 for f in stripped):
        values = np.array([int(f) for f in stripped], dtype=np.int64)
        if values.max() <= 255:
            label = fields[0].strip().strip(b'"').strip()
            if not label:
                bad(lineno, "label", "empty label")
                return None
            try:
                return values.astype(np.uint8), label.decode("utf-8")
            except UnicodeDecodeError:
                bad(lineno, "label", f"label is not UTF-8 text: {label[:20]!r}")
                return None
    # Something is wrong with a pixel: find the first bad one to name it.
    for j, f in enumerate(stripped, start=1):
        if not f:
            bad(lineno, f"pixel{j}", "empty pixel value")
            break
        if f[:1] == b"-" and f[1:].isdigit():
            bad(lineno, f"pixel{j}", f"pixel value {_short(f)} outside 0-255")
            break
        if not f.isdigit():
            bad(lineno, f"pixel{j}", f"non-numeric pixel value {f[:20].decode('utf-8', 'replace')!r}")
            break
        if len(f.lstrip(b"0")) > 3 or int(f) > 255:
            bad(lineno, f"pixel{j}", f"pixel value {_short(f)} outside 0-255")
            break
    return None


def _short(digits: bytes) -> str:
    """A numeric field for a message: whole up to 20 characters, else its start and length."""
    text = digits.decode("ascii", "replace")
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} characters)"


def _lines(data: bytes, start: int):
    first_line = data.count(b"\n", 0, start) + 1
    for lineno, raw in enumerate(data[start:].split(b"\n"), start=first_line):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line.strip():  # a blank line (the final newline, or spacing) is not a row
            yield lineno, line


def _exact_parse(data: bytes, start: int, npix: int, path: str, on_error: str):
    """Line by line, exact: (pixels, label texts, line numbers, skipped)."""
    rows, labels, lines, skipped = [], [], [], []

    def bad(lineno: int, column: str | None, reason: str) -> None:
        where = f"line {lineno}" + (f", column {column}" if column else "")
        if on_error == "raise":
            raise DataError(reason, path=path, where=where)
        skipped.append(Skipped(path, where, reason))

    for lineno, line in _lines(data, start):
        got = _exact_line(lineno, line, npix, bad)
        if got is not None:
            rows.append(got[0])
            labels.append(got[1])
            lines.append(lineno)
    pixels = np.stack(rows) if rows else np.zeros((0, npix), np.uint8)
    return pixels, labels, lines, skipped


def _slow_parse(data: bytes, start: int, npix: int, path: str, on_error: str):
    """Exact results, fast on big files with a few bad lines: (pixels, label texts, line numbers, skipped).

    Lines that pass a cheap C-level check (right comma count, only digits after the label) go
    through the vectorized parser together, with their labels set aside; the others are checked
    one by one. If the vectorized parser rejects the cheap lines, everything is redone line by line,
    so the first error reported is always the file's first.
    """
    cheap_lines, cheap_labels, cheap_rest, exact = [], [], [], []
    for lineno, line in _lines(data, start):
        label, _, rest = line.partition(b",")
        label = label.strip().strip(b'"').strip()
        if (label and rest.count(b",") == npix - 1 and rest.replace(b",", b"").isdigit()
                and b",," not in rest and rest[:1] != b"," and rest[-1:] != b","):
            try:
                cheap_labels.append(label.decode("utf-8"))
            except UnicodeDecodeError:
                exact.append((lineno, line))
                continue
            cheap_lines.append(lineno)
            cheap_rest.append(rest)
        else:
            exact.append((lineno, line))
    if not cheap_lines:
        return _exact_parse(data, start, npix, path, on_error)
    buf = b"label,x\n" + b"".join(b"0," + r + b"\n" for r in cheap_rest)
    fast = _fast_parse(buf, 8, npix, False)
    if fast is None or len(fast[0]) != len(cheap_lines):
        return _exact_parse(data, start, npix, path, on_error)
    problems: list[Skipped] = []
    rows, labels, lines = [], [], []

    def bad(lineno: int, column: str | None, reason: str) -> None:
        problems.append(Skipped(path, f"line {lineno}" + (f", column {column}" if column else ""), reason))

    for lineno, line in exact:
        got = _exact_line(lineno, line, npix, bad)
        if got is not None:
            rows.append(got[0])
            labels.append(got[1])
            lines.append(lineno)
    if problems and on_error == "raise":
        raise DataError(problems[0].reason, path=path, where=problems[0].where)
    all_lines = np.array(cheap_lines + lines, dtype=np.int64)
    order = np.argsort(all_lines, kind="stable")
    pixels = np.concatenate([fast[0]] + ([np.stack(rows)] if rows else []))[order]
    all_labels = cheap_labels + labels
    return pixels, [all_labels[i] for i in order], all_lines[order].tolist(), problems


# ---------------------------------------------------------------------------------------- labels
#: Integer labels with more significant digits than this are refused (they do not fit an int64).
MAX_LABEL_DIGITS = 18


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _label_kind(text: str) -> str:
    """"int", "text", or "huge" (an integer label too long for int64)."""
    if not _is_int(text):
        return "text"
    return "huge" if len(text.lstrip("0")) > MAX_LABEL_DIGITS else "int"


def _label_problems(texts: list[str], label_map: str) -> dict[int, str]:
    """{row index: reason} for labels that cannot be classes: too-long integers, and (unless the map
    is sign_mnist, which names each unknown label) the rows whose label does not parse the same way as
    most of the column's (integers among text or text among integers: a malformed token must not
    become a class of its own)."""
    kinds = [_label_kind(t) for t in texts]
    problems = {i: f"integer label {t[:20]}... has more than {MAX_LABEL_DIGITS} digits"
                for i, (t, k) in enumerate(zip(texts, kinds, strict=True)) if k == "huge"}
    if label_map == "sign_mnist":
        return problems
    ints = sum(k == "int" for k in kinds)
    txt = sum(k == "text" for k in kinds)
    if ints and txt:
        first = next(k for k in kinds if k != "huge")
        major = "int" if ints > txt or (ints == txt and first == "int") else "text"
        for i, (t, k) in enumerate(zip(texts, kinds, strict=True)):
            if k not in (major, "huge"):
                problems[i] = (
                    f"label {t[:40]!r} is {'text' if k == 'text' else 'an integer'} where the column's other "
                    f"labels are {'integers' if major == 'int' else 'text'} ({ints} integer, {txt} text labels)"
                )
    return problems


def _map_labels(raw, texts, lines, label_map, side, path, on_error):
    """(labels int64, class names, keep mask, skipped) for integer (fast) or text (slow) labels."""
    if raw is None:  # slow path: label texts with their line numbers
        line_of, text_of = (lambda i: lines[i]), (lambda i: texts[i])
        problems = _label_problems(texts, label_map)
        ok = [i for i in range(len(texts)) if i not in problems]
        all_int = all(_is_int(texts[i]) for i in ok)
        raw_arr = np.array([int(texts[i]) for i in ok], dtype=np.int64) if all_int else None
    else:  # fast path: it accepts no blank lines, so data row i is on line i + 2
        line_of, text_of = (lambda i: int(i) + 2), (lambda i: str(int(raw[i])))
        problems, ok, all_int, raw_arr = {}, None, True, raw
    if problems and on_error == "raise":
        i = min(problems)
        raise DataError(problems[i], path=path, where=f"line {line_of(i)}, column label")
    skips = [Skipped(path, f"line {line_of(i)}, column label", problems[i]) for i in sorted(problems)]
    n = len(texts) if raw is None else raw.size
    keep = np.ones(n, bool)
    keep[list(problems)] = False
    kept_texts = [texts[i] for i in ok] if raw is None else None
    if label_map == "auto":
        if all_int:
            looks_sign = side == 28 and (raw_arr.size == 0 or (raw_arr.max() <= 24 and not np.any(raw_arr == 9)))
            label_map = "sign_mnist" if looks_sign else "sorted"
        elif side == 28:  # text labels in a file shaped like Sign Language MNIST: only when asked
            i = ok[0]
            raise DataError(
                f"text label {texts[i][:40]!r} in a 28x28 file that otherwise looks like Sign Language MNIST; "
                "pass label_map='sorted' to make one class per distinct label",
                path=path, where=f"line {line_of(i)}, column label",
            )
        else:
            label_map = "sorted"
    if label_map == "sign_mnist":
        if all_int:
            idx = np.where((raw_arr >= 0) & (raw_arr <= 24), SIGN_RAW_TO_INDEX[np.clip(raw_arr, 0, 255)], -1)
        else:
            idx = np.array(
                [SIGN_RAW_TO_INDEX[int(t)] if _is_int(t) and len(t) < 4 and int(t) <= 24 else -1 for t in kept_texts],
                np.int64,
            )
        rows = np.flatnonzero(keep)  # kept row -> its row index
        bad = rows[np.flatnonzero(idx < 0)]
        if bad.size and on_error == "raise":
            i = int(bad[0])
            raise DataError(
                f"unknown Sign Language MNIST label {text_of(i)[:40]!r} (expected 0-24 without 9)",
                path=path, where=f"line {line_of(i)}, column label",
            )
        skips += [
            Skipped(path, f"line {line_of(i)}, column label",
                    f"unknown Sign Language MNIST label {text_of(i)[:40]!r}")
            for i in bad
        ]
        keep[bad] = False
        return idx[idx >= 0].astype(np.int64), list(SIGN_LETTERS), keep, skips
    # sorted: one class per distinct label
    if all_int:
        uniq, inv = np.unique(raw_arr, return_inverse=True)
        names = [str(int(u)) for u in uniq]
    else:
        names = sorted(set(kept_texts))
        check_class_names(names, path=path, what="labels")
        lookup = {n: i for i, n in enumerate(names)}
        inv = np.array([lookup[t] for t in kept_texts], dtype=np.int64)
    inv = np.asarray(inv, dtype=np.int64).reshape(-1)
    return inv, names, keep, skips


# ---------------------------------------------------------------------------------------- writing
def to_csv_bytes(
    images: np.ndarray, labels: Iterable, *, crlf: bool = False, header: bool = True
) -> bytes:
    """Serialize N x H x W (x 1) uint8 images and their raw labels as ``label,pixel1..`` CSV bytes."""
    images = np.asarray(images)
    n = images.shape[0]
    flat = images.reshape(n, -1)
    end = "\r\n" if crlf else "\n"
    out = []
    if header:
        out.append("label," + ",".join(f"pixel{i}" for i in range(1, flat.shape[1] + 1)))
    for lab, row in zip(labels, flat.tolist(), strict=True):
        out.append(f"{lab}," + ",".join(map(str, row)))
    return (end.join(out) + end).encode()
