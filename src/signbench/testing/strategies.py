"""All hypothesis strategies for signbench's tests (one module, pandas style)."""

from __future__ import annotations

import base64 as _b64
import functools
import gzip as _gzip
import io as _io
import json as _json
import posixpath
import re
import struct as _struct
import warnings
import zipfile as _zipfile
import zlib as _zlib
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SIGN_RAW = [i for i in range(25) if i != 9]


@st.composite
def image_batches(draw, *, min_n: int = 1, max_n: int = 8, sides=(1, 2, 3, 5, 28), channels=(1,)):
    """(uint8 images N x S x S x C, class indices) with pixel values covering 0, 255 and 1-3 digits."""
    n = draw(st.integers(min_n, max_n))
    side = draw(st.sampled_from(sides))
    c = draw(st.sampled_from(channels))
    images = draw(
        hnp.arrays(np.uint8, (n, side, side, c), elements=st.integers(0, 255) | st.sampled_from([0, 9, 10, 99, 100, 255]))
    )
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 23)))
    return images, labels


def sign_raw(labels: np.ndarray) -> list[int]:
    """Class indices 0-23 -> Sign Language MNIST raw labels (0-24 without 9)."""
    return [SIGN_RAW[int(i)] for i in labels]


@st.composite
def label_arrays(draw, *, max_classes: int = 6, max_per_class: int = 25, min_per_class: int = 0):
    """int64 labels with a drawn number of samples per class, in shuffled order."""
    k = draw(st.integers(1, max_classes))
    counts = draw(st.lists(st.integers(min_per_class, max_per_class), min_size=k, max_size=k))
    if sum(counts) == 0:
        counts[0] = 1
    labels = np.repeat(np.arange(k), counts)
    perm = draw(st.permutations(range(labels.size)))
    return labels[np.array(perm, dtype=np.int64)] if labels.size else labels


DEFECT_VALUES = {"non_numeric": ["fwefew", "abc", "1.2.3", "x7"], "null": [""], "out_of_range": ["256", "300", "-5", "1000"]}


@st.composite
def dirty_frames(draw, *, side: int = 3):
    """(clean rows, dirty rows, {dirty row position: reason}) as lists of string fields.

    Clean rows are distinct; defects are injected one per dirty row; duplicates copy an earlier clean row.
    """
    npix = side * side
    n = draw(st.integers(1, 12))
    rows = draw(
        st.lists(st.tuples(st.sampled_from(SIGN_RAW), st.lists(st.integers(0, 255), min_size=npix, max_size=npix)),
                 min_size=n, max_size=n, unique_by=lambda r: (r[0], tuple(r[1])))
    )
    clean = [[str(lab)] + [str(v) for v in pix] for lab, pix in rows]
    dirty = [list(r) for r in clean]
    reasons: dict[int, str] = {}
    n_defects = draw(st.integers(0, 6))
    for _ in range(n_defects):
        kind = draw(st.sampled_from(["duplicate", "non_numeric", "null", "out_of_range"]))
        src = draw(st.integers(0, len(clean) - 1))
        row = list(clean[src])
        if kind != "duplicate":
            col = draw(st.integers(1, npix))
            row[col] = draw(st.sampled_from(DEFECT_VALUES[kind]))
            pos = draw(st.integers(0, len(dirty)))
        else:
            first = next(i for i, r in enumerate(dirty) if r == clean[src])
            pos = draw(st.integers(first + 1, len(dirty)))
        dirty.insert(pos, row)
        reasons = {(k + 1 if k >= pos else k): v for k, v in reasons.items()}
        reasons[pos] = kind
    return clean, dirty, reasons


# ------------------------------------------------------------------------------------------- fuzzing
# Mutated inputs for every loaded format (the fuzz campaign of signbench.testing.fuzz). Each strategy
# builds a small valid file (or tree) and applies 1-4 drawn mutations that reach past the first check:
# structured edits of rows, fields, labels, JSON values, image chunks and archive members, and byte
# edits at positions drawn inside the body (rarely anywhere). A case is a FuzzCase (files + options),
# written out and loaded by the fuzz worker.

#: The formats the fuzz campaign covers (``csv.gz`` is the CSV loader on gzip input).
FUZZ_FORMATS = ("csv", "csv.gz", "jsonl", "base64json", "folder", "zip")


@dataclass(frozen=True)
class FuzzCase:
    """One fuzz input: files (relative path -> bytes; a None value makes a folder), the source to
    load (relative path, "." for the case folder itself), load() options, and what was done to it."""

    fmt: str
    files: tuple[tuple[str, bytes | None], ...]
    source: str
    options: dict = field(default_factory=dict)
    mutations: tuple[str, ...] = ()


#: Field values that are not plain 0-255 integers (or are, in odd spellings), for CSV cells and labels.
CSV_TOKENS = [
    "", " ", "0", "00", "007", "255", "256", "-0", "-1", "+1", "1.0", "1.5", "1e3", "0x1f", "nan", "inf",
    "\u0661", "\u0663", "\u00bd", "\u00b2", "\x00", "\ufeff1", '"1"', '"', "'1'", "1 ", " 1", "\t1",
    "9" * 19, "9" * 20, "18446744073709551616", "9223372036854775808", "9" * 400, "9" * 5000,
    "-" + "9" * 25, "a", "fwefew", "A", "\u00e9", "\U0001d7d9", "1,2", "1\n2", "\r", "1;2", "24", "25", "9",
]
#: Bytes to insert anywhere.
HOSTILE_BYTES = [
    b"\x00", b"\r", b"\n", b"\r\n", b",", b",,", b"-", b".", b"\xef\xbb\xbf", b"\xff", b"\xfe\xff", b"\x80",
    "\u00e9".encode(), "\u0663".encode(), b"9" * 30, b'"', b"\\", b"{", b"}", b"[", b"]", b":", b" ", b"\t",
    b"\x1f\x8b", b"PK\x03\x04", b"\x89PNG",
]
#: JSON values where a label, a content string or a base64 string should be.
JSON_VALUES = [
    None, True, 0, -1, 7, 10**30, 1.5, float("inf"), "", " ", "a", "A", " a", "a ", "\u00e9", "a\u0000", "\ud800",
    "b" * 10_000, [], ["a"], {}, {"a": 1}, [[[]]],
]
#: Raw JSON text spliced in where a value goes (things json.dumps cannot produce).
JSON_RAW = [
    "1" * 5000, "-" + "9" * 5000, "1e999", "NaN", "Infinity", "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000, '"\\ud800"', '"\\u0000"', "'a'", "01", ".5", "tru", '"a' ,
]
#: Content strings for JSON-lines (other than an image's data: URI).
JSONL_CONTENT = [
    "", "data:", "data:image/png;base64,", "data:image/png;base64,!!!!", "data:image/png,%89PNG", "data:,",
    "missing.png", "../missing.png", "/nonexistent/x.png", "img/../img/0.png", "img", "http://127.0.0.1:1/x.png",
    "https://127.0.0.1:1/x.png", "ftp://127.0.0.1/x.png", "file:///etc/hostname", "C:\\x.png", "\x00",
    "data:image/png;base64," + "A" * 10_001, "javascript:alert(1)", "//127.0.0.1:1/x.png",
]


def _png(img: np.ndarray) -> bytes:
    from signbench.data.formats.images import encode_image

    return encode_image(img, "PNG")


def _jpeg(img: np.ndarray) -> bytes:
    from signbench.data.formats.images import encode_image

    return encode_image(img, "JPEG")


def _body_pos(draw, size: int, start: int) -> int:
    """A position in data[start:size] (the body), or rarely anywhere."""
    if size <= 0:
        return 0
    if start >= size or draw(st.integers(0, 9)) == 0:
        return draw(st.integers(0, size - 1))
    return start + draw(st.integers(0, size - start - 1))


def _byte_edit(draw, data: bytes, start: int = 0) -> tuple[bytes, str]:
    """One byte-level edit of ``data`` at a body position: flip, insert, delete, truncate, duplicate."""
    kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "zero", "set"]))
    if not data:
        return draw(st.sampled_from(HOSTILE_BYTES)), "insert into empty"
    i = _body_pos(draw, len(data), start)
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :], f"flip byte {i}"
    if kind == "set":
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :], f"set byte {i}"
    if kind == "insert":
        ins = draw(st.sampled_from(HOSTILE_BYTES)) * draw(st.sampled_from([1, 1, 2, 100]))
        return data[:i] + ins + data[i:], f"insert {ins[:8]!r}x{len(ins)} at {i}"
    n = draw(st.integers(1, 64))
    if kind == "delete":
        return data[:i] + data[i + n :], f"delete {n} at {i}"
    if kind == "zero":
        return data[:i] + bytes(min(n, len(data) - i)) + data[i + n :], f"zero {n} at {i}"
    if kind == "duplicate":
        return data[:i] + data[i : i + n] * 2 + data[i + n :], f"duplicate {n} at {i}"
    return data[:i], f"truncate at {i}"


# -- images --------------------------------------------------------------------------------------
def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    out, i = [], 8
    while i + 8 <= len(data):
        (n,) = _struct.unpack(">I", data[i : i + 4])
        out.append((data[i + 4 : i + 8], data[i + 8 : i + 8 + n]))
        i += 12 + n
    return out


def _png_join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        parts.append(_struct.pack(">I", len(body)) + kind + body + _struct.pack(">I", _zlib.crc32(kind + body)))
    return b"".join(parts)


@functools.lru_cache(maxsize=4)
def png_bomb(side: int) -> bytes:
    """A valid grayscale PNG of side x side black pixels: a few KB that decode to side**2 bytes."""
    comp = _zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + the row's pixels
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = _struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return _png_join([(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b"")])


@st.composite
def image_mutation(draw, data: bytes) -> tuple[bytes, str]:
    """One mutation of an encoded image: inside a PNG chunk (CRC fixed, so the decoder sees it), the
    header's dimensions, bit depth or colour type, a decompression bomb in IDAT, or raw byte edits."""
    chunks = _png_chunks(data)
    kind = draw(st.sampled_from(["bytes", "dims", "ihdr", "idat", "bomb", "chunks"] if chunks else ["bytes", "sof"]))
    if kind == "bytes":
        edited, what = _byte_edit(draw, data, start=8)
        return edited, f"image {what}"
    if kind == "sof":  # JPEG frame header dimensions
        i = data.find(b"\xff\xc0")
        if i < 0:
            return data[: len(data) // 2], "image truncated at half"
        h, w = draw(st.sampled_from([0, 1, 65535, 30000])), draw(st.sampled_from([0, 1, 65535, 30000]))
        return data[: i + 5] + _struct.pack(">HH", h, w) + data[i + 9 :], f"jpeg size {h}x{w}"
    ihdr = chunks[0][1]
    if kind == "dims":
        w, h = (draw(st.sampled_from([0, 1, 3, 29, 10_000, 40_000, 2**31 - 1, 2**32 - 1])) for _ in range(2))
        chunks[0] = (b"IHDR", _struct.pack(">II", w, h) + ihdr[8:])
        return _png_join(chunks), f"png size {w}x{h}"
    if kind == "ihdr":
        j = draw(st.integers(8, 12))
        v = draw(st.integers(0, 255))
        chunks[0] = (b"IHDR", ihdr[:j] + bytes([v]) + ihdr[j + 1 :])
        return _png_join(chunks), f"png IHDR byte {j} = {v}"
    idats = [k for k, (t, _) in enumerate(chunks) if t == b"IDAT"]
    if kind == "idat" and idats:
        k = idats[0]
        body, what = _byte_edit(draw, chunks[k][1])
        chunks[k] = (b"IDAT", body)
        return _png_join(chunks), f"png IDAT {what}"
    if kind == "bomb":  # declared big, and the compressed rows really expand to it
        side = draw(st.sampled_from([2_000, 6_000, 12_000]))
        return png_bomb(side), f"png bomb {side}x{side}"
    op = draw(st.sampled_from(["drop", "dup", "swap", "unknown"]))
    k = draw(st.integers(0, len(chunks) - 1))
    if op == "drop":
        del chunks[k]
    elif op == "dup":
        chunks.insert(k, chunks[k])
    elif op == "swap" and len(chunks) > 1:
        j = (k + 1) % len(chunks)
        chunks[k], chunks[j] = chunks[j], chunks[k]
    else:
        chunks.insert(k, (draw(st.sampled_from([b"tEXt", b"zzZz", b"IHDR", b"PLTE", b"tRNS"])), b"\x00" * 4))
    return _png_join(chunks), f"png chunk {op} {k}"


@st.composite
def _encoded_images(draw, n_min: int = 1, n_max: int = 5):
    """[(encoded bytes, side)] of small generated images, PNG or JPEG, one size per batch."""
    n = draw(st.integers(n_min, n_max))
    side = draw(st.sampled_from([1, 3, 8, 28]))
    channels = draw(st.sampled_from([1, 1, 3]))
    fmt = draw(st.sampled_from(["png", "png", "jpg"]))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    out = []
    for _ in range(n):
        img = g.integers(0, 256, (side, side, channels), dtype=np.uint8)
        out.append((_png(img) if fmt == "png" else _jpeg(img), fmt))
    return out


# -- CSV -----------------------------------------------------------------------------------------
@st.composite
def csv_texts(draw) -> tuple[bytes, dict, list[str]]:
    """(mutated CSV bytes, load options, mutations) from a small valid ``label,pixel..`` file."""
    n = draw(st.integers(1, 6))
    side = draw(st.sampled_from([1, 2, 3, 28, 28]))
    npix = side * side
    kind = draw(st.sampled_from(["sign", "sign", "digits", "text"]))
    g = np.random.default_rng(draw(st.integers(0, 2**16)))
    labels = {"sign": [str(SIGN_RAW[i]) for i in g.integers(0, 24, n)],
              "digits": [str(i) for i in g.integers(0, 10, n)],
              "text": [str(x) for x in g.choice(["cat", "dog", "bird"], n)]}[kind]
    rows = [[lab] + [str(v) for v in g.integers(0, 256, npix)] for lab in labels]
    header = ["label"] + [f"pixel{i}" for i in range(1, npix + 1)]
    crlf = draw(st.booleans())
    done = []
    nbytes = 0
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["field", "field", "field", "label", "label", "row", "header", "bytes", "bytes"]))
        if op == "bytes":
            nbytes += 1
        elif op in ("field", "label") and rows:
            r = draw(st.integers(0, len(rows) - 1))
            if not rows[r]:
                rows[r].append("")
            c = 0 if op == "label" else draw(st.integers(0, len(rows[r]) - 1))
            tok = draw(st.sampled_from(CSV_TOKENS))
            rows[r][c] = tok
            done.append(f"row {r} column {c} = {tok[:12]!r}{'...' if len(tok) > 12 else ''}")
        elif op == "row" and rows:
            r = draw(st.integers(0, len(rows) - 1))
            what = draw(st.sampled_from(["drop", "dup", "blank", "extra", "missing", "empty", "swap"]))
            if what == "drop":
                del rows[r]
            elif what == "dup":
                rows.insert(r, list(rows[r]))
            elif what == "blank":
                rows.insert(r, [""])
            elif what == "extra":
                rows[r].append(draw(st.sampled_from(["0", "", "255"])))
            elif what == "missing" and len(rows[r]) > 1:
                rows[r].pop()
            elif what == "empty":
                rows[r] = [""] * len(rows[r])
            else:
                j = draw(st.integers(0, len(rows) - 1))
                rows[r], rows[j] = rows[j], rows[r]
            done.append(f"row {r} {what}")
        elif op == "header":
            what = draw(st.sampled_from(["rename", "drop", "dup", "Label", "quote", "bom", "shuffle", "zero-based"]))
            c = draw(st.integers(0, len(header) - 1))
            if what == "rename":
                header[c] = draw(st.sampled_from(["x", "", "pixel0", "pixel1", "label", "pixel99999"]))
            elif what == "drop" and len(header) > 1:
                del header[c]
            elif what == "dup":
                header.insert(c, header[c])
            elif what == "Label":
                header[0] = "Label"
            elif what == "quote":
                header = [f'"{h}"' for h in header]
            elif what == "bom":
                header[0] = "\ufeff" + header[0]
            elif what == "shuffle" and npix > 1:
                header[1], header[2] = header[2], header[1]
            elif what == "zero-based":
                header = ["label"] + [f"pixel{i}" for i in range(npix)]
            done.append(f"header {what} {c}")
    end = "\r\n" if crlf else "\n"
    text = (end.join(",".join(r) for r in [header, *rows]) + end).encode("utf-8", "surrogatepass")
    body_start = text.find(b"\n") + 1
    for _ in range(nbytes):
        text, what = _byte_edit(draw, text, start=body_start)
        done.append(what)
    options = {}
    lm = draw(st.sampled_from(["auto", "auto", "auto", "sorted", "sign_mnist"]))
    if lm != "auto":
        options["label_map"] = lm
    if draw(st.integers(0, 3)) == 0:
        options["on_error"] = "skip"
    return text, options, done


@st.composite
def csv_cases(draw, *, gz: bool = False) -> FuzzCase:
    text, options, done = draw(csv_texts())
    name = "data.csv"
    if gz:
        name = "data.csv.gz"
        blob = _gzip.compress(text, mtime=0)
        op = draw(st.sampled_from(["none", "none", "bytes", "truncate", "garbage", "members", "zeros", "flags"]))
        if op == "bytes":
            blob, what = _byte_edit(draw, blob, start=10)
            done.append(f"gzip {what}")
        elif op == "truncate":
            blob = blob[: draw(st.integers(0, len(blob)))]
            done.append("gzip truncated")
        elif op == "garbage":
            blob += draw(st.sampled_from([b"garbage", b"\x1f\x8b", b"\x1f\x8b\x08\x00", b"\x00\x00\x01"]))
            done.append("gzip trailing garbage")
        elif op == "members":
            cut = draw(st.integers(0, len(text)))
            blob = _gzip.compress(text[:cut], mtime=0) + _gzip.compress(text[cut:], mtime=0)
            done.append(f"gzip two members cut at {cut}")
        elif op == "zeros":
            blob += bytes(draw(st.integers(1, 600)))
            done.append("gzip zero padding")
        elif op == "flags":
            blob = blob[:3] + bytes([draw(st.integers(1, 255))]) + blob[4:]
            done.append("gzip header flags")
    else:
        blob = text
    return FuzzCase("csv.gz" if gz else "csv", ((name, blob),), name, options, tuple(done))


# -- JSON ----------------------------------------------------------------------------------------
def _loads_obj(text: str) -> dict | None:
    """The JSON object in ``text``, or None (a mutated line need not be one)."""
    try:
        obj = _json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _splice(obj_text: str, key: str, raw: str) -> str:
    """Replace the value of ``key`` in a one-level JSON object's text by the raw text ``raw``."""
    return _json.dumps({k: ("\x00MARK\x00" if k == key else v) for k, v in _json.loads(obj_text).items()}).replace(
        '"\\u0000MARK\\u0000"', raw
    )


@st.composite
def jsonl_cases(draw) -> FuzzCase:
    """JSON-lines {"content": <data: URI or relative path>, "label": ...}, then mutated."""
    imgs = draw(_encoded_images())
    g_labels = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=len(imgs), max_size=len(imgs)))
    files: dict[str, bytes | None] = {}
    objs = []
    for k, ((blob, fmt), lab) in enumerate(zip(imgs, g_labels, strict=True)):
        if draw(st.integers(0, 4)) == 0:
            files[f"img/{k}.{fmt}"] = blob
            objs.append({"content": f"img/{k}.{fmt}", "label": lab})
        else:
            mime = "image/png" if fmt == "png" else "image/jpeg"
            objs.append({"content": f"data:{mime};base64," + _b64.b64encode(blob).decode(), "label": lab})
    lines = [_json.dumps(o) for o in objs]
    done = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["label", "content", "image", "image", "raw", "keys", "line", "bytes"]))
        r = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            op = "bytes"
        if op in ("label", "content"):  # one key of the line's object set to an odd value
            values = st.sampled_from(JSON_VALUES)
            v = draw(values if op == "label" else st.sampled_from(JSONL_CONTENT) | values)
            o = _loads_obj(lines[r])
            if isinstance(o, dict):
                o[op] = v
                lines[r] = _json.dumps(o)
            done.append(f"line {r} {op} = {str(v)[:12 if op == 'label' else 20]!r}")
        elif op == "image":
            o = _loads_obj(lines[r])
            c = o.get("content") if isinstance(o, dict) else None
            head, _, payload = c.partition(",") if isinstance(c, str) else ("", "", "")
            try:
                decoded = _b64.b64decode(payload, validate=True) if head.endswith(";base64") else None
            except ValueError:
                decoded = None
            if decoded is not None:
                blob, what = draw(image_mutation(decoded))
                o["content"] = head + "," + _b64.b64encode(blob).decode()
                lines[r] = _json.dumps(o)
                done.append(f"line {r} {what}")
            elif isinstance(c, str) and c in files:
                files[c], what = draw(image_mutation(files[c]))
                done.append(f"{c} {what}")
        elif op == "raw":
            key = draw(st.sampled_from(["label", "content"]))
            raw = draw(st.sampled_from(JSON_RAW))
            try:
                lines[r] = _splice(lines[r], key, raw)
            except (ValueError, AttributeError, RecursionError):
                lines[r] = raw
            done.append(f"line {r} {key} = raw {raw[:12]!r}")
        elif op == "keys":
            what = draw(st.sampled_from(["dup-label", "dup-content", "drop-label", "drop-content", "extra", "array",
                                         "string", "null", "nested"]))
            o = _loads_obj(lines[r])
            if o is None:
                continue
            if what.startswith("dup-"):
                k = what[4:]
                lines[r] = lines[r][:-1] + f', "{k}": ' + _json.dumps("zz" if k == "label" else "missing.png") + "}"
            elif what.startswith("drop-"):
                o.pop(what[5:], None)
                lines[r] = _json.dumps(o)
            elif what == "extra":
                o["extra"] = [1, 2]
                lines[r] = _json.dumps(o)
            elif what == "array":
                lines[r] = _json.dumps([o])
            elif what == "string":
                lines[r] = _json.dumps(_json.dumps(o))
            elif what == "null":
                lines[r] = "null"
            else:
                lines[r] = _json.dumps({"data": o})
            done.append(f"line {r} {what}")
        elif op == "line":
            what = draw(st.sampled_from(["drop", "dup", "blank", "join", "split", "crlf", "bom", "huge"]))
            if what == "drop":
                del lines[r]
            elif what == "dup":
                lines.insert(r, lines[r])
            elif what == "blank":
                lines.insert(r, draw(st.sampled_from(["", " ", "\t", "\r"])))
            elif what == "join" and r + 1 < len(lines):
                lines[r : r + 2] = [lines[r] + lines[r + 1]]
            elif what == "split":
                cut = draw(st.integers(0, len(lines[r])))
                lines[r : r + 1] = [lines[r][:cut], lines[r][cut:]]
            elif what == "crlf":
                lines[r] += "\r"
            elif what == "bom":
                lines[0] = "\ufeff" + lines[0]
            else:
                lines.insert(r, _json.dumps({"content": "x" * draw(st.sampled_from([10**5, 10**6, 5 * 10**6])),
                                             "label": "a"}))
            done.append(f"line {r} {what}")
    text = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    if "bytes" in [d.split()[0] for d in done] or draw(st.integers(0, 3)) == 0 or not done:
        first_end = text.find(b"\n") + 1
        text, what = _byte_edit(draw, text, start=first_end)
        done.append(what)
    files["data.jsonl"] = text
    options = {"on_error": "skip"} if draw(st.integers(0, 3)) == 0 else {}
    if draw(st.integers(0, 4)) == 0:
        options["target_size"] = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    return FuzzCase("jsonl", tuple(files.items()), "data.jsonl", options, tuple(done))


@st.composite
def base64json_cases(draw) -> FuzzCase:
    """{"<label>": "<base64 image>" | [<base64 image>, ...]}, then mutated."""
    imgs = draw(_encoded_images(2, 5))
    obj: dict = {}
    for k, (blob, _) in enumerate(imgs):
        key = "abc"[k % 3]
        text = _b64.b64encode(blob).decode()
        if key in obj:
            obj[key] = (obj[key] if isinstance(obj[key], list) else [obj[key]]) + [text]
        else:
            obj[key] = [text] if draw(st.booleans()) else text
    done = []
    raw_text = None
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(obj, dict):
            break
        op = draw(st.sampled_from(["value", "image", "image", "image", "b64", "b64", "dupkey", "key", "raw", "shape"]))
        keys = list(obj)
        key = draw(st.sampled_from(keys)) if keys else "a"
        if op == "value":
            obj[key] = draw(st.sampled_from(JSON_VALUES))
            done.append(f"key {key!r} = {str(obj[key])[:12]!r}")
        elif op in ("image", "b64") and keys:
            v = obj[key]
            items = v if isinstance(v, list) else [v]
            j = draw(st.integers(0, max(len(items) - 1, 0)))
            if items and isinstance(items[j], str):
                try:
                    blob = _b64.b64decode(items[j])
                except ValueError:
                    continue
                if op == "image":
                    blob, what = draw(image_mutation(blob))
                    new = _b64.b64encode(blob).decode()
                else:
                    what = draw(st.sampled_from(["urlsafe", "newlines", "nopad", "junk", "spaces"]))
                    new = _b64.b64encode(blob).decode()
                    new = {"urlsafe": _b64.urlsafe_b64encode(blob).decode(), "newlines": "\n".join(
                        new[i : i + 76] for i in range(0, len(new), 76)), "nopad": new.rstrip("="),
                        "junk": new[:10] + "*" + new[10:], "spaces": " " + new + " "}[what]
                items[j] = new
                obj[key] = items if isinstance(v, list) else items[0]
                done.append(f"key {key!r}[{j}] {what}")
        elif op == "dupkey":
            raw_text = "dup"
            done.append("duplicate key")
        elif op == "key":
            new_key = draw(st.sampled_from(["", " ", "A", "a ", "\u00e9", "a\u0000", "1", "__proto__", "b" * 500]))
            if keys:
                obj[new_key] = obj.pop(key)
            done.append(f"key {key!r} renamed {new_key!r}")
        elif op == "raw":
            raw_text = draw(st.sampled_from(JSON_RAW))
            done.append(f"value raw {raw_text[:12]!r}")
        else:
            what = draw(st.sampled_from(["list", "nested", "empty", "string", "number"]))
            obj = {"list": [obj], "nested": {"data": obj}, "empty": {}, "string": "x", "number": 5}[what]
            done.append(f"top level {what}")
    text = _json.dumps(obj, indent=draw(st.sampled_from([None, 1])))
    if raw_text == "dup" and isinstance(obj, dict) and obj:
        k0 = next(iter(obj))
        text = text.rstrip().rstrip("}") + f", {_json.dumps(k0)}: {_json.dumps(obj[k0])}" + "}"
    elif raw_text is not None and raw_text != "dup":
        text = '{"a": ' + raw_text + "}"
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 5)) == 0:
        data, what = _byte_edit(draw, data, start=1)
        done.append(what)
    options = {"on_error": "skip"} if draw(st.integers(0, 3)) == 0 else {}
    return FuzzCase("base64json", (("data.json", data),), "data.json", options, tuple(done))


# -- folders and zips ----------------------------------------------------------------------------
def renamed(path: str, suffix: str) -> str:
    """``path`` with its file extension replaced by ``suffix``; a dot file such as ``.DS_Store`` has no
    extension (``posixpath.splitext``), so its whole name is kept (never an empty name: a folder path)."""
    return posixpath.splitext(path)[0] + suffix


@st.composite
def tree_files(draw) -> tuple[dict[str, bytes | None], dict, list[str]]:
    """({relative path: bytes or None for a folder}, load options, mutations) of an image tree."""
    imgs = draw(_encoded_images(2, 6))
    splits = draw(st.sampled_from([None, None, ("Train",), ("Train", "Test")]))
    prefix = draw(st.sampled_from(["", "", "top/"]))
    files: dict[str, bytes | None] = {}
    classes = ["A", "B", "C"]
    for k, (blob, fmt) in enumerate(imgs):
        split = f"{splits[k % len(splits)]}/" if splits else ""
        files[f"{prefix}{split}{classes[k % 3]}/{k}.{fmt}"] = blob
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, v in files.items() if v is not None and "/" in p]
        op = draw(st.sampled_from(["image", "image", "rename", "junk", "case", "empty", "stray", "nested", "size",
                                   "zero", "dirname"]))
        p = draw(st.sampled_from(paths)) if paths else None
        if op == "image" and p:
            files[p], what = draw(image_mutation(files[p]))
            done.append(f"{p} {what}")
        elif op == "rename" and p:
            suffix = draw(st.sampled_from([".txt", ".PNG", ".jpeg", "", ".png.bak", ".gif", ".webp", ".bmp"]))
            files[renamed(p, suffix)] = files.pop(p)
            done.append(f"{p} renamed *{suffix}")
        elif op == "junk" and p:
            name = draw(st.sampled_from(["Thumbs.db", ".DS_Store", "notes.txt", "desktop.ini", "._0.png", "x.csv"]))
            files[p.rsplit("/", 1)[0] + "/" + name] = b"junk\x00"
            done.append(f"junk {name}")
        elif op == "case" and p:
            folder, name = p.rsplit("/", 1)
            parent, _, cls = folder.rpartition("/")
            twin = (parent + "/" if parent else "") + draw(st.sampled_from([cls.lower(), cls + " ", " " + cls]))
            files[f"{twin}/{name}"] = files[p]
            done.append(f"class twin {twin!r}")
        elif op == "empty" and p:
            parent = p.rsplit("/", 1)[0].rpartition("/")[0]
            files[(parent + "/" if parent else "") + "Z"] = None
            done.append("empty class folder")
        elif op == "stray" and p:
            folder = p.rsplit("/", 2)[0] if p.count("/") >= 2 else ""
            files[(folder + "/" if folder else "") + "stray.png"] = files[p]
            done.append("image outside class folders")
        elif op == "nested" and p:
            folder, name = p.rsplit("/", 1)
            files[f"{folder}/sub/{name}"] = files.pop(p)
            done.append(f"{p} moved into a subfolder")
        elif op == "size" and p:
            files[p] = _png(np.zeros((draw(st.integers(1, 40)), draw(st.integers(1, 40)), 1), np.uint8))
            done.append(f"{p} other size")
        elif op == "zero" and p:
            files[p] = b""
            done.append(f"{p} zero bytes")
        elif op == "dirname" and p:
            files[p.rsplit("/", 1)[0] + "/dir.png"] = None
            done.append("a folder named dir.png")
    options = {}
    if splits and (len(splits) > 1 or draw(st.booleans())):
        options["split"] = draw(st.sampled_from([*splits, "Valid"]))
    if draw(st.integers(0, 3)) == 0:
        options["on_error"] = "skip"
    if draw(st.integers(0, 3)) == 0:
        options["target_size"] = (draw(st.integers(1, 30)), draw(st.integers(1, 30)))
    if draw(st.integers(0, 4)) == 0:
        options["color_mode"] = draw(st.sampled_from(["rgb", None]))
    return files, options, done


@st.composite
def folder_cases(draw) -> FuzzCase:
    files, options, done = draw(tree_files())
    return FuzzCase("folder", tuple(("tree/" + p, v) for p, v in files.items()), "tree", options, tuple(done))


def _zip_bytes(members: list[tuple[str, bytes | None]], method: int) -> bytes:
    buf = _io.BytesIO()
    with warnings.catch_warnings(), _zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are on purpose
        for name, data in members:
            info = _zipfile.ZipInfo(name if data is not None else name.rstrip("/") + "/", (2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data if data is not None else b"")
    return buf.getvalue()


_ZIP_SIGS = {b"PK\x03\x04": 30, b"PK\x01\x02": 46, b"PK\x05\x06": 22}


@st.composite
def zip_damage(draw, blob: bytes) -> tuple[bytes, str]:
    """One edit of a zip's structure: a field of a local header, central directory entry or the end
    record (sizes, counts, offsets, name lengths, flags, method), or bytes anywhere."""
    sig = draw(st.sampled_from(list(_ZIP_SIGS)))
    where = [m.start() for m in re.finditer(re.escape(sig), blob)]
    if not where or draw(st.integers(0, 4)) == 0:
        what = draw(st.sampled_from(["bytes", "truncate", "prefix", "append"]))
        if what == "bytes":
            edited, w = _byte_edit(draw, blob)
            return edited, f"zip {w}"
        if what == "truncate":
            cut = draw(st.integers(0, len(blob)))
            return blob[:cut], f"zip truncated at {cut}"
        if what == "prefix":
            return b"MZ" + bytes(100) + blob, "zip with a prefix"
        return blob + b"PK\x05\x06" + bytes(10), "zip trailing end record"
    i = draw(st.sampled_from(where))
    size = _ZIP_SIGS[sig]
    off = draw(st.integers(4, size - 2))
    width = draw(st.sampled_from([1, 2, 4]))
    value = draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 2**20, 99, 12, 8, 0x41]))
    width = min(width, size - off)
    patch = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return blob[: i + off] + patch + blob[i + off + width :], f"zip {sig[2:4].hex()} at {i} +{off} = {value}"


@st.composite
def zip_cases(draw) -> FuzzCase:
    """A zip of an image tree, a CSV, a JSON-lines or a base64 JSON file (each maybe mutated inside),
    then damaged: member data, names, local headers, the central directory, the end record."""
    inner = draw(st.sampled_from(["tree", "tree", "csv", "jsonl", "base64json"]))
    method = draw(st.sampled_from([_zipfile.ZIP_STORED, _zipfile.ZIP_DEFLATED]))
    if inner == "tree":
        files, options, done = draw(tree_files())
        members = list(files.items())
    elif inner == "csv":
        text, options, done = draw(csv_texts())
        members = [("data/train.csv", text)]
    else:
        case = draw(jsonl_cases() if inner == "jsonl" else base64json_cases())
        members, options, done = [(f"data/{p}", v) for p, v in case.files], dict(case.options), list(case.mutations)
    done = [f"{inner}: {d}" for d in done]
    for _ in range(draw(st.integers(0, 2))):
        what = draw(st.sampled_from(["evil", "dup", "macosx", "second", "dirs", "bomb"]))
        if what == "evil":
            name = draw(st.sampled_from(["../evil.png", "/abs.png", "A/../../x.png", "C:/x.png", "..\\x.png",
                                         "A/./0.png", "A//0.png", "\x00.png", "A/\u00e9.png"]))
            members.append((name, members[0][1] if members else b""))
        elif what == "dup" and members:
            members.append(members[draw(st.integers(0, len(members) - 1))])
        elif what == "macosx" and members:
            members.append(("__MACOSX/" + members[0][0], b"\x00\x05\x16\x07"))
        elif what == "second":
            members.append(("other.csv", b"label,pixel1\n1,2\n"))
        elif what == "dirs":
            members.append(("emptydir", None))
        else:
            members.append(("A/bomb.png", bytes(draw(st.sampled_from([10**6, 10**7])))))
        done.append(f"member {what}")
    blob = _zip_bytes(members, method)
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.integers(0, 2)) == 0:  # a byte edit inside a member's data
            starts = [m.start() for m in re.finditer(b"PK\x03\x04", blob)]
            if starts:
                i = draw(st.sampled_from(starts)) + 30
                end = blob.find(b"PK", i + 1)
                end = len(blob) if end < 0 else end
                if end > i:
                    j = draw(st.integers(i, end - 1))
                    blob = blob[:j] + bytes([blob[j] ^ draw(st.integers(1, 255))]) + blob[j + 1 :]
                    done.append(f"zip member byte {j}")
                    continue
        blob, what = draw(zip_damage(blob))
        done.append(what)
    return FuzzCase("zip", (("data.zip", blob),), "data.zip", options, tuple(done))


def fuzz_cases(fmt: str):
    """The strategy of mutated inputs for ``fmt`` (one of :data:`FUZZ_FORMATS`)."""
    return {
        "csv": csv_cases(), "csv.gz": csv_cases(gz=True), "jsonl": jsonl_cases(), "base64json": base64json_cases(),
        "folder": folder_cases(), "zip": zip_cases(),
    }[fmt]
