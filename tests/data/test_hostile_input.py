"""Hostile input: every failure the fuzz found (one test each), bombs and limits (run in the fuzz worker,
so that a load needing more than 1 GiB or 10 s fails the test instead of the machine), and the
"nothing silently wrong" rules (a wrong dataset is an error, not a quieter result)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import threading
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from signbench.data import DataError, load
from signbench.data.fetch import download, fetch_bytes
from signbench.data.formats.images import MAX_PIXELS, decode_image, encode_image
from signbench.data.formats.json import image_to_data_uri
from signbench.data.formats.raw import RATIO_FLOOR, gunzip
from signbench.data.formats.zip import extract_zip
from signbench.testing.fuzz import Worker
from signbench.testing.local_http import QuietHandler, serve
from signbench.testing.strategies import FuzzCase, png_bomb

HEADER4 = b"label,pixel1,pixel2,pixel3,pixel4\n"
HEADER784 = b"label," + b",".join(b"pixel%d" % i for i in range(1, 785)) + b"\n"


def _row784(label: bytes, value: bytes = b"5") -> bytes:
    return label + b"," + b",".join([value] * 784) + b"\n"


def _png(value=7, size=(4, 4), channels=1):
    return encode_image(np.full((*size, channels), value, np.uint8))


def _rejects(p, match: str, **options) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        load(p, **options)
    assert str(p) in str(info.value), str(info.value)
    return info.value


@pytest.fixture(scope="module")
def worker():
    with Worker() as w:  # 1 GiB address space, 10 s watchdog
        yield w


def _in_worker(worker, fmt, files: dict, source: str, **options):
    out = worker.run(FuzzCase(fmt, tuple(files.items()), source, options))
    assert out.status == "rejected", out
    return out.message


# ------------------------------------------------------------------------ failures the fuzz found
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("label", [b"18446744073709551616", b"9" * 5000])
def test_huge_integer_label_is_a_data_error_not_overflow(tmp_path, gz, label):
    """Was OverflowError ("Python int too large to convert to C long") or ValueError (int() over 4300 digits)."""
    data = HEADER4 + b"1,2,3,4,5\n" + label + b",1,2,3,4\n"
    p = tmp_path / ("x.csv.gz" if gz else "x.csv")
    p.write_bytes(gzip.compress(data) if gz else data)
    err = _rejects(p, "more than 18 digits")
    assert err.where == "line 3, column label"
    ds = load(p, on_error="skip")
    assert len(ds) == 1 and ds.skipped[0].where == "line 3, column label"
    assert len(load(tmp_path / "x.csv" if not gz else p, label_map="sign_mnist", on_error="skip")) == 1


@pytest.mark.parametrize("value", [b"18446744073709551616", b"9" * 5000, b"0000000000000000000007"])
def test_huge_pixel_is_a_data_error(tmp_path, value):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER4 + b"1,2," + value + b",4,5\n")
    if value.lstrip(b"0") == b"7":  # leading zeros are still the number 7
        assert load(p).images.ravel().tolist() == [2, 7, 4, 5]
        return
    err = _rejects(p, "outside 0-255")
    assert err.where == "line 2, column pixel2" and len(str(err)) < 300


def test_one_malformed_label_among_integers_is_not_a_new_class(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER4 + b"1,2,3,4,5\n3,0,0,0,0\n1x,5,5,5,5\n7,1,1,1,1\n")
    err = _rejects(p, r"label '1x' is text where the column's other labels are integers")
    assert err.where == "line 4, column label"
    ds = load(p, on_error="skip")
    assert ds.class_names == ["1", "3", "7"] and len(ds) == 3 and ds.skipped[0].where == "line 4, column label"
    # the same with text labels and one integer among them: the integer is the odd one
    p.write_bytes(HEADER4 + b"cat,2,3,4,5\ndog,0,0,0,0\n5,5,5,5,5\n")
    assert _rejects(p, "is an integer where").where == "line 4, column label"
    with pytest.raises(DataError, match="is an integer where"):
        load(p, label_map="sorted")


@pytest.mark.parametrize("fmt", ["jsonl", "base64json"])
@pytest.mark.parametrize("raw", ["1" * 5000, "[" * 100_000 + "]" * 100_000])
def test_json_too_deep_or_number_too_long_is_a_data_error(tmp_path, fmt, raw):
    """Were RecursionError and ValueError (int() over 4300 digits), also from format detection."""
    png = base64.b64encode(_png()).decode()
    p = tmp_path / "d.json"
    if fmt == "jsonl":
        p.write_text(json.dumps({"content": image_to_data_uri(_png()), "label": "a"}) + "\n"
                     + '{"content": "x.png", "label": ' + raw + "}\n")
        assert _rejects(p, "invalid JSON").where == "line 2"
    else:
        p.write_text('{"a": "' + png + '", "b": ' + raw + "}")
        _rejects(p, "invalid JSON")


def test_jsonl_path_too_long_is_a_data_error(tmp_path):
    """Was OSError ("File name too long")."""
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"content": "x" * 100_000, "label": "a"}) + "\n")
    assert _rejects(p, "cannot read image file").where == "line 1"


def test_jsonl_local_image_files_are_capped_like_downloads(tmp_path):
    (tmp_path / "big.png").write_bytes(_png() + bytes(5000))
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"content": "big.png", "label": "a"}) + "\n")
    assert _rejects(p, "over the 1000-byte cap", max_bytes=1000).where == "line 1"
    assert len(load(p)) == 1


def _zip_bytes(members: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _patch(blob: bytes, sig: bytes, offset: int, value: bytes, which: int = 0) -> bytes:
    i = -1
    for _ in range(which + 1):
        i = blob.index(sig, i + 1)
    return blob[: i + offset] + value + blob[i + offset + len(value) :]


@pytest.mark.parametrize("damage", [
    # an extra-field length that runs past the central directory entry: zipfile raised IndexError
    lambda b: _patch(b, b"PK\x01\x02", 30, b"\xff\xff"),
    # a deflated member whose data is garbage: zlib.error
    "garbage-deflate",
    # "version needed" 9.9: NotImplementedError
    lambda b: _patch(_patch(b, b"PK\x01\x02", 6, b"\x63\x00"), b"PK\x03\x04", 4, b"\x63\x00"),
    # a compression method zipfile does not know
    lambda b: _patch(_patch(b, b"PK\x01\x02", 10, b"\x63\x00"), b"PK\x03\x04", 8, b"\x63\x00"),
    # the encrypted flag: RuntimeError (password required)
    lambda b: _patch(_patch(b, b"PK\x01\x02", 8, b"\x01\x00"), b"PK\x03\x04", 6, b"\x01\x00"),
])
def test_damaged_zip_is_a_data_error(tmp_path, damage):
    members = {"A/0.png": _png(), "A/1.png": _png(9)}
    if damage == "garbage-deflate":
        blob = _zip_bytes({"A/0.png": bytes(range(256)) * 40}, zipfile.ZIP_DEFLATED)
        i = blob.index(b"PK\x03\x04") + 30 + len("A/0.png")
        blob = blob[:i] + b"\xff" * 20 + blob[i + 20 :]
    else:
        blob = damage(_zip_bytes(members))
    p = tmp_path / "d.zip"
    p.write_bytes(blob)
    _rejects(p, "unreadable zip|corrupt member")


def test_zip_member_with_an_empty_name(tmp_path):
    """Was IndexError ("string index out of range" in ZipInfo.is_dir): zipfile cuts a name at its first
    NUL byte, so a member called "\x00.png" has the name ""."""
    p = tmp_path / "d.zip"
    blob = _zip_bytes({"A/0.png": _png(), "A/1.png": _png()})
    p.write_bytes(_patch(_patch(blob, b"PK\x01\x02", 46, b"\x00", which=1), b"PK\x03\x04", 30, b"\x00", which=1))
    assert _rejects(p, "empty name").where == "member ''"


def test_zip_errors_never_show_the_temporary_folder(tmp_path):
    p = tmp_path / "d.zip"
    p.write_bytes(_zip_bytes({"Train/A/0.png": _png(), "Test/A/1.png": _png()}))
    for options, what in (({}, "several parents"), ({"split": "Valid"}, "no single split")):
        err = _rejects(p, what, **options)
        assert "signbench-zip-" not in str(err) and "/tmp" not in str(err).replace(str(tmp_path), "")


def test_zip_with_a_csv_and_unused_images_is_ambiguous(tmp_path):
    """Was a TypeError (folder options reached the CSV loader) or the images silently ignored."""
    p = tmp_path / "d.zip"
    p.write_bytes(_zip_bytes({"A/0.png": _png(), "train.csv": HEADER4 + b"1,2,3,4,5\n"}))
    _rejects(p, "image files it does not use")
    _rejects(p, "image files it does not use", split="A")
    # a JSON-lines file may point at the images beside it
    jl = json.dumps({"content": "A/0.png", "label": "a"}) + "\n"
    p.write_bytes(_zip_bytes({"A/0.png": _png(), "data.jsonl": jl.encode()}))
    assert len(load(p)) == 1


# ------------------------------------------------------------------------------- bombs and limits
def test_zip_bomb_by_ratio(tmp_path, worker):
    blob = _zip_bytes({"A/0.png": _png(), "A/bomb.png": bytes(50 << 20)}, zipfile.ZIP_DEFLATED)
    assert len(blob) < 1 << 20
    msg = _in_worker(worker, "zip", {"b.zip": blob}, "b.zip")
    assert "expands" in msg and "times" in msg and "'A/bomb.png'" in msg


def test_zip_bomb_by_declared_total(tmp_path, worker):
    blob = _zip_bytes({"A/0.png": _png(), "A/1.png": _png(8)})
    for k in range(2):  # each member declares 4 GiB - 1, compressed and not, in the central directory
        blob = _patch(blob, b"PK\x01\x02", 20, b"\xfe\xff\xff\xff" * 2, which=k)
    msg = _in_worker(worker, "zip", {"b.zip": blob}, "b.zip")
    assert "expands to over" in msg


def test_zip_member_larger_than_declared(tmp_path):
    blob = _zip_bytes({"A/0.png": _png(size=(20, 20))})
    small = struct.pack("<I", 10)
    blob = _patch(_patch(blob, b"PK\x01\x02", 24, small), b"PK\x03\x04", 22, small)
    p = tmp_path / "d.zip"
    p.write_bytes(blob)
    _rejects(p, "corrupt member|declared size")


def test_gzip_bomb(tmp_path, worker):
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts = [comp.compress(HEADER4)] + [comp.compress(bytes(1 << 20)) for _ in range(160)] + [comp.flush()]
    blob = b"".join(parts)
    assert len(blob) < 1 << 20
    msg = _in_worker(worker, "csv.gz", {"b.csv.gz": blob}, "b.csv.gz")
    assert "gzip bomb" in msg
    with pytest.raises(DataError, match="cap"):
        gunzip(gzip.compress(bytes(5000)), max_bytes=4000)
    assert len(gunzip(gzip.compress(bytes(RATIO_FLOOR // 2)))) == RATIO_FLOOR // 2  # small: no ratio check


def _png_with_size(w: int, h: int) -> bytes:
    """A PNG whose header declares w x h (the data is one tiny row: the decoder never gets there)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("w", "h", "what"), [
    (20_000, 20_000, "decompression bomb"),  # over twice Pillow's limit: DecompressionBombError
    (10_000, 10_000, "decompression bomb"),  # over Pillow's limit: its warning, as an error
    (MAX_PIXELS // 1000 + 1, 1000, "declares"),  # under Pillow's limit, over ours
    (1, 100_000_000, "decompression bomb"),  # absurd shapes too
    (2**31 - 1, 2**31 - 1, "decompression bomb|corrupt"),
    (0, 5, "corrupt|declares"),
])
def test_image_bombs_and_absurd_dimensions(tmp_path, worker, w, h, what):
    msg = _in_worker(worker, "folder", {"t/A/0.png": _png_with_size(w, h)}, "t")
    assert any(x in msg for x in what.split("|")), msg
    with pytest.raises(DataError, match=what):
        decode_image(_png_with_size(w, h), path="x.png")


def test_a_real_png_bomb_is_refused_before_decoding(worker):
    bomb = png_bomb(12_000)  # 144 million pixels in a few hundred KB
    assert len(bomb) < 1 << 20
    msg = _in_worker(worker, "folder", {"t/A/0.png": bomb}, "t")
    assert "decompression bomb" in msg


def test_jpeg_with_absurd_dimensions(worker):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="JPEG")
    blob = buf.getvalue()
    i = blob.index(b"\xff\xc0")
    blob = blob[: i + 5] + struct.pack(">HH", 65_000, 65_000) + blob[i + 9 :]
    msg = _in_worker(worker, "folder", {"t/A/0.jpg": blob}, "t")
    assert "bomb" in msg or "declares" in msg


def test_jsonl_gigantic_line(tmp_path, worker):
    good = json.dumps({"content": image_to_data_uri(_png()), "label": "a"})
    huge = json.dumps({"content": "data:image/png;base64," + "A" * (20 << 20), "label": "a"})
    msg = _in_worker(worker, "jsonl", {"d.jsonl": (good + "\n" + huge + "\n").encode()}, "d.jsonl")
    assert "line longer than" in msg and "[line 2]" in msg
    p = tmp_path / "d.jsonl"
    p.write_text(good + "\n" + good + "\n")
    assert len(load(p)) == 2
    assert _rejects(p, "line longer than", max_line_bytes=100).where == "line 1"


class _Endless(QuietHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()  # no Content-Length: the body never ends
        try:
            while True:
                self.wfile.write(b"\x00" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def endless_url():
    with serve(handler=_Endless) as base:
        yield f"{base}/forever"


def _bounded(fn):
    """Run fn in a thread; a hang detector (generous), not a timing assertion."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "still reading an endless stream: the size cap did not cut it"
    return box


def test_endless_http_stream_is_cut_by_the_size_cap(endless_url, tmp_path):
    box = _bounded(lambda: fetch_bytes(endless_url, max_bytes=2 << 20))
    assert isinstance(box.get("error"), DataError) and "cap" in str(box["error"]) and endless_url in str(box["error"])
    dest = tmp_path / "d" / "x.bin"
    box = _bounded(lambda: download(endless_url, dest, sha256="0" * 64, max_bytes=2 << 20))
    assert isinstance(box.get("error"), DataError) and "cap" in str(box["error"])
    assert not dest.exists() and not list(dest.parent.glob("*"))  # nothing partial left
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"content": endless_url, "label": "a"}) + "\n")
    box = _bounded(lambda: load(p, max_bytes=1 << 20))
    assert isinstance(box.get("error"), DataError) and f"{p} [line 1]" in str(box["error"])


# --------------------------------------------------------------------------- nothing silently wrong
def test_no_loader_returns_zero_images_unless_asked(tmp_path):
    cases = {}
    cases["header.csv"] = HEADER4
    cases["allbad.csv"] = HEADER4 + b"1,2,x,4,5\n"
    cases["allbad.jsonl"] = (json.dumps({"content": "missing.png", "label": "a"}) + "\n").encode()
    cases["allbad.json"] = json.dumps({"a": "!!!"}).encode()
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        _rejects(p, "no images", on_error="skip")
        assert len(load(p, on_error="skip", allow_empty=True)) == 0
    tree = tmp_path / "tree"
    (tree / "A").mkdir(parents=True)
    (tree / "A" / "0.png").write_bytes(b"not a png")
    _rejects(tree, "no images", on_error="skip")
    assert len(load(tree, on_error="skip", allow_empty=True)) == 0
    z = tmp_path / "h.zip"
    z.write_bytes(_zip_bytes({"data/h.csv": HEADER4}))
    _rejects(z, "no images")
    assert len(load(z, allow_empty=True)) == 0


def test_text_labels_in_a_sign_mnist_shaped_file_only_when_asked(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER784 + _row784(b"A") + _row784(b"B"))
    err = _rejects(p, "label_map='sorted'")
    assert err.where == "line 2, column label"
    assert load(p, label_map="sorted").class_names == ["A", "B"]
    p.write_bytes(HEADER4 + b"A,1,2,3,4\nB,1,2,3,4\n")  # not 28x28: text labels are classes
    assert load(p).class_names == ["A", "B"]


def test_labels_that_differ_only_in_case_are_one_class_spelled_two_ways(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER4 + b"cat,1,2,3,4\nCat,1,2,3,4\n")
    _rejects(p, "differ only in case")
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps({"content": image_to_data_uri(_png()), "label": lab}) + "\n" for lab in "aA"))
    _rejects(p, "differ only in case")
    assert load(p, class_names=["A", "a"]).class_names == ["A", "a"]  # named by the caller: their choice


def test_class_folders_that_differ_only_in_case(tmp_path):
    for name in ("A", "a", "B"):
        (tmp_path / "t" / name).mkdir(parents=True)
        (tmp_path / "t" / name / "0.png").write_bytes(_png())
    err = _rejects(tmp_path / "t", "'A' and 'a' differ only in case")
    assert "class folders" in str(err)


def test_csv_rows_disagree_with_the_header(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(HEADER4 + b"1,2,3,4,5,6,7,8,9,10\n2,1,2,3,4,5,6,7,8,9\n")  # every row has 9 pixels
    assert _rejects(p, "expected 5 fields").where == "line 2"
    p.write_bytes(HEADER4 + b"1,2,3\n")
    assert _rejects(p, "expected 5 fields").where == "line 2"


@pytest.mark.parametrize(("header", "what"), [
    (b"label,pixel2,pixel1,pixel3,pixel4\n", "out of order"),  # would transpose every image silently
    (b"label,pixel1,pixel1,pixel3,pixel4\n", "appears twice"),
    (b"label,pixel1,pixel2,pixel3,\n", "has no name"),
    (b"label,pixel5,pixel6,pixel7,pixel8\n", "out of order"),
])
def test_csv_header_pixel_columns(tmp_path, header, what):
    p = tmp_path / "x.csv"
    p.write_bytes(header + b"1,2,3,4,5\n")
    assert _rejects(p, what).where == "line 1 (header)"
    p.write_bytes(b"label,pixel0,pixel1,pixel2,pixel3\n1,2,3,4,5\n")  # zero-based names are fine
    assert len(load(p)) == 1


def test_duplicate_keys_in_base64_json_and_json_lines(tmp_path):
    png = base64.b64encode(_png()).decode()
    p = tmp_path / "b.json"
    p.write_text('{"a": "' + png + '", "b": "' + png + '", "a": "' + png + '"}')
    err = _rejects(p, "key 'a' appears twice")
    assert err.where == "key 'a'"
    p = tmp_path / "d.jsonl"
    line = json.dumps({"content": image_to_data_uri(_png()), "label": "a"})
    p.write_text(line + "\n" + line[:-1] + ', "label": "b"}\n')
    assert _rejects(p, "appears twice").where == "line 2"


def test_base64_json_label_with_no_images(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"a": [base64.b64encode(_png()).decode()], "b": []}))
    assert _rejects(p, "empty list").where == "key 'b'"
    ds = load(p, on_error="skip")
    assert ds.class_names == ["a"] and ds.skipped[0].where == "key 'b'"


def test_empty_labels_are_not_a_class(tmp_path):
    uri = image_to_data_uri(_png())
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps({"content": uri, "label": lab}) + "\n" for lab in ["a", " "]))
    assert _rejects(p, "empty label").where == "line 2"
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"a": base64.b64encode(_png()).decode(), "": base64.b64encode(_png()).decode()}))
    assert _rejects(p, "empty label").where == "key ''"
    assert load(p, on_error="skip").class_names == ["a"]


def test_jsonl_labels_mixing_integers_and_strings(tmp_path):
    uri = image_to_data_uri(_png())
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps({"content": uri, "label": lab}) + "\n" for lab in [1, 2, "2", 3]))
    assert _rejects(p, "is a string where the other labels are integers").where == "line 3"
    ds = load(p, on_error="skip")
    assert ds.class_names == ["1", "2", "3"] and len(ds) == 3


def test_folder_files_outside_classes_and_non_images(tmp_path):
    t = tmp_path / "t"
    for name in ("A", "B"):
        (t / name).mkdir(parents=True)
        (t / name / "0.png").write_bytes(_png())
    (t / "A" / "Thumbs.db").write_bytes(b"junk")  # system files are not data: no word
    (t / "A" / ".DS_Store").write_bytes(b"junk")
    assert len(load(t)) == 2
    (t / "stray.png").write_bytes(_png())
    _rejects(t, "outside any class folder")
    (t / "stray.png").unlink()
    (t / "B" / "1.tif").write_bytes(_png())
    err = _rejects(t, "not an image file")
    assert str(t / "B" / "1.tif") in str(err)
    ds = load(t, on_error="skip")
    assert len(ds) == 2 and ds.skipped[0].path == str(t / "B" / "1.tif")


def test_zip_members_landing_on_the_same_path(tmp_path):
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("A/0.png", _png(1))
        zf.writestr("A/0.png", _png(2))
    p = tmp_path / "d.zip"
    p.write_bytes(buf.getvalue())
    _rejects(p, "land on the same path")
    p.write_bytes(_zip_bytes({"A/0.png": _png(1), "A//0.png": _png(2)}))
    _rejects(p, "land on the same path")
    with pytest.raises(DataError, match="land on the same path"):
        extract_zip(p, tmp_path / "out")
