"""CSV loading: round trips, fast path == exact slow path, every error kind names the line/column."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from signbench.data import SIGN_LETTERS, DataError, load
from signbench.data.formats.csv import (
    _exact_parse,
    _fast_parse,
    _fast_parse_chunks,
    _header,
    _slow_parse,
    parse_csv_bytes,
    to_csv_bytes,
)
from signbench.testing.strategies import image_batches, sign_raw

HEADER4 = b"label,pixel1,pixel2,pixel3,pixel4\n"


@given(batch=image_batches(), crlf=st.booleans(), final_newline=st.booleans())
@example(batch=(np.full((1, 28, 28, 1), 255, np.uint8), np.array([23])), crlf=True, final_newline=True)
@example(batch=(np.zeros((2, 1, 1, 1), np.uint8), np.array([0, 0])), crlf=False, final_newline=False)
def test_csv_round_trip(batch, crlf, final_newline):
    images, labels = batch
    data = to_csv_bytes(images, sign_raw(labels), crlf=crlf)
    if not final_newline:
        data = data.rstrip(b"\r\n")
    ds = parse_csv_bytes(data, label_map="sign_mnist")
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.class_names == SIGN_LETTERS
    # the fast path took it (no fallback), and the exact slow path agrees
    npix, _, is_crlf, start = _header(data, "x")
    fast = _fast_parse(data, start, npix, is_crlf)
    assert fast is not None
    slow_pixels, slow_labels, _, skipped = _exact_parse(data, start, npix, "x", "raise")
    np.testing.assert_array_equal(fast[0], slow_pixels)
    assert [str(x) for x in fast[1]] == slow_labels and not skipped


MUTATION_BYTES = st.sampled_from([b"0", b"2", b"5", b"6", b"9", b",", b"\n", b"\r", b" ", b"-", b".", b"a", b"", b"00"])


@given(batch=image_batches(max_n=4, sides=(1, 2, 3)), crlf=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 10**6), MUTATION_BYTES), min_size=1, max_size=3))
def test_fast_path_never_accepts_what_the_exact_path_rejects(batch, crlf, edits):
    images, labels = batch
    data = bytearray(to_csv_bytes(images, sign_raw(labels), crlf=crlf))
    npix, _, is_crlf, start = _header(bytes(data), "x")
    for pos, new in edits:  # replace one body byte by 0-2 bytes
        i = start + pos % max(len(data) - start, 1)
        data[i : i + 1] = new
    data = bytes(data)
    fast = _fast_parse(data, start, npix, is_crlf)
    if fast is None:
        return  # the exact path decides (covered by the error tests)
    pixels, labels_, lines, skipped = _exact_parse(data, start, npix, "x", "raise")  # must not raise
    np.testing.assert_array_equal(fast[0], pixels)
    assert fast[1].tolist() == [int(x) for x in labels_]


@given(batch=image_batches(min_n=1, max_n=9, sides=(1, 2, 3)), crlf=st.booleans(),
       final_newline=st.booleans(), chunks=st.integers(2, 5),
       edits=st.lists(st.tuples(st.integers(0, 10**6), MUTATION_BYTES), min_size=0, max_size=2))
@example(batch=(np.zeros((3, 1, 1, 1), np.uint8), np.array([0, 1, 2])), crlf=False, final_newline=True,
         chunks=3, edits=[(10**6, b"\n")])  # a blank line that may fall on a cut
def test_parallel_chunks_equal_the_one_piece_fast_path(batch, crlf, final_newline, chunks, edits):
    """Big files are parsed in pieces cut at line ends (one thread each): same result, or same
    refusal (None sends the file to the exact path), as one piece."""
    images, labels = batch
    data = bytearray(to_csv_bytes(images, sign_raw(labels), crlf=crlf))
    if not final_newline:
        data = bytearray(bytes(data).rstrip(b"\r\n"))
    npix, _, is_crlf, start = _header(bytes(data), "x")
    for pos, new in edits:
        i = start + pos % max(len(data) - start, 1)
        data[i : i + 1] = new
    data = bytes(data)
    one = _fast_parse(data, start, npix, is_crlf)
    many = _fast_parse_chunks(data, start, npix, is_crlf, chunks=chunks)
    if many is None:  # the exact path then decides; it must agree with the one-piece result if any
        if one is not None:
            pixels, labels_, _, _ = _exact_parse(data, start, npix, "x", "raise")
            np.testing.assert_array_equal(one[0], pixels)
        return
    assert one is not None, "the pieces accepted what the one-piece parse refused"
    np.testing.assert_array_equal(many[0], one[0])
    np.testing.assert_array_equal(many[1], one[1])


@given(batch=image_batches(min_n=2, max_n=6, sides=(1, 2)), crlf=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 10**6), MUTATION_BYTES), min_size=0, max_size=3))
def test_two_lane_slow_path_equals_the_line_by_line_path(batch, crlf, edits):
    images, labels = batch
    data = bytearray(to_csv_bytes(images, sign_raw(labels), crlf=crlf))
    npix, _, is_crlf, start = _header(bytes(data), "x")
    for pos, new in edits:
        i = start + pos % max(len(data) - start, 1)
        data[i : i + 1] = new
    data = bytes(data)
    for mode in ("raise", "skip"):
        try:
            want = _exact_parse(data, start, npix, "x", mode)
        except DataError as exc:
            with pytest.raises(DataError) as info:
                _slow_parse(data, start, npix, "x", mode)
            assert str(info.value) == str(exc)
            continue
        got = _slow_parse(data, start, npix, "x", mode)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1:] == want[1:]


def test_plain_and_gzip_fixtures_agree(datapath):
    a, b = load(datapath("small.csv")), load(datapath("small.csv.gz"))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert len(a) == 48 and a.class_names == SIGN_LETTERS and a.class_counts() == {c: 2 for c in SIGN_LETTERS}


def test_multi_member_gzip(tmp_path, datapath):
    raw = datapath("small.csv").read_bytes()
    head, tail = raw[:5000], raw[5000:]
    p = tmp_path / "two.csv.gz"
    p.write_bytes(gzip.compress(head) + gzip.compress(tail))
    np.testing.assert_array_equal(load(p).images, load(datapath("small.csv")).images)


def test_sorted_label_map_for_other_csvs():
    data = HEADER4 + b"7,1,2,3,4\n3,0,0,0,0\n7,9,9,9,9\n"
    ds = parse_csv_bytes(data)
    assert ds.class_names == ["3", "7"] and ds.labels.tolist() == [1, 0, 1]
    # numeric sort, not text sort; 28x28 with label 9 is not Sign MNIST -> sorted, too
    data = HEADER4 + b"10,1,2,3,4\n9,0,0,0,0\n"
    assert parse_csv_bytes(data).class_names == ["9", "10"]


def test_text_labels_and_long_integer_labels():
    ds = parse_csv_bytes(HEADER4 + b"cat,1,2,3,4\ndog,0,0,0,0\ncat,5,5,5,5\n")
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1, 0]
    ds = parse_csv_bytes(HEADER4 + b"123456,1,2,3,4\n7,0,0,0,0\n")
    assert ds.class_names == ["7", "123456"]
    ds = parse_csv_bytes(HEADER4 + b"999,1,2,3,4\n300,0,0,0,0\n256,0,0,0,0\n")
    assert ds.class_names == ["256", "300", "999"] and ds.labels.tolist() == [2, 1, 0]


def test_auto_picks_sign_mnist_only_for_28x28():
    row = b"3," + b",".join([b"1"] * 784) + b"\n"
    header = b"label," + b",".join(b"pixel%d" % i for i in range(1, 785)) + b"\n"
    assert parse_csv_bytes(header + row).class_names == SIGN_LETTERS
    assert parse_csv_bytes(header + row, label_map="sorted").class_names == ["3"]
    assert parse_csv_bytes(HEADER4 + b"3,1,1,1,1\n").class_names == ["3"]


def test_leading_zeros_and_spaces_take_the_exact_path():
    ds = parse_csv_bytes(HEADER4 + b"1, 001,0255,7 ,0\n")
    assert ds.images.ravel().tolist() == [1, 255, 7, 0]


# ------------------------------------------------------------------------------------------ errors
ERRORS = [
    (HEADER4 + b"1,2,3,4\n", "line 2", "expected 5 fields"),
    (HEADER4 + b"1,2,3,4,5\n1,2,3,4,5,6\n", "line 3", "expected 5 fields"),
    (HEADER4 + b"1,2,3,4\n1,2,3,4,5,6\n", "line 2", "expected 5 fields"),  # separators add up; rows don't
    (HEADER4 + b"1,2;3,4,5\n", "line 2", "expected 5 fields"),
    (HEADER4 + b"1,2,fwefew,4,5\n", "line 2, column pixel2", "non-numeric"),
    (HEADER4 + b"1,2,3,4.5,5\n", "line 2, column pixel3", "non-numeric"),
    (HEADER4 + b"1,2,3,256,5\n", "line 2, column pixel3", "outside 0-255"),
    (HEADER4 + b"1,2,3,-1,5\n", "line 2, column pixel3", "outside 0-255"),
    (HEADER4 + b"1,2,,4,5\n", "line 2, column pixel2", "empty pixel"),
    (HEADER4 + b",2,3,4,5\n", "line 2, column label", "empty label"),
    (b"pixel1,pixel2\n1,2\n", "line 1 (header)", "'label' column"),
    (b"label,pixel1,pixel2\n1,2,3\n", "line 1 (header)", "not a square"),
    (b"", "line 1", "empty CSV"),
]


@pytest.mark.parametrize(("data", "where", "what"), ERRORS)
def test_csv_errors_name_the_place(tmp_path, data, where, what):
    p = tmp_path / "bad.csv"
    p.write_bytes(data)
    with pytest.raises(DataError, match=what) as info:
        load(p)
    assert str(p) in str(info.value) and f"[{where}]" in str(info.value)
    assert info.value.where == where and info.value.path == str(p)


def test_unknown_sign_label_names_line_and_column(tmp_path):
    header = b"label," + b",".join(b"pixel%d" % i for i in range(1, 785)) + b"\r\n"
    row = lambda lab: lab + b"," + b",".join([b"5"] * 784) + b"\r\n"  # noqa: E731
    p = tmp_path / "s.csv"
    p.write_bytes(header + row(b"3") + row(b"9") + row(b"24"))
    with pytest.raises(DataError, match="unknown Sign Language MNIST label '9'") as info:
        load(p, label_map="sign_mnist")
    assert info.value.where == "line 3, column label"
    ds = load(p, label_map="sign_mnist", on_error="skip")
    assert len(ds) == 2 and ds.labels.tolist() == [3, 23]
    assert [(s.where, "'9'" in s.reason) for s in ds.skipped] == [("line 3, column label", True)]
    p.write_bytes(header + row(b"x"))
    with pytest.raises(DataError, match="unknown Sign Language MNIST label 'x'"):
        load(p, label_map="sign_mnist")


def test_skip_returns_good_rows_and_reports_every_bad_one(datapath):
    import json

    manifest = json.loads(datapath("dirty_manifest.json").read_text())
    ds = load(datapath("dirty.csv"), on_error="skip")
    bad_lines = sorted(d["line"] for d in manifest["defects"] if d["reason"] != "duplicate")
    assert [int(s.where.split()[1].rstrip(",")) for s in ds.skipped] == bad_lines
    n_dups = sum(d["reason"] == "duplicate" for d in manifest["defects"])
    assert len(ds) == manifest["clean_rows"] + n_dups  # duplicates are valid rows: clean() drops them
    with pytest.raises(DataError, match=r"line 6, column pixel\d+"):
        load(datapath("dirty.csv"))


def test_truncated_and_corrupt_gzip(tmp_path, datapath):
    blob = datapath("small.csv.gz").read_bytes()
    p = tmp_path / "t.csv.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="truncated gzip") as info:
        load(p)
    assert str(p) in str(info.value)
    p.write_bytes(blob[:20] + bytes(100) + blob[120:])
    with pytest.raises(DataError, match="corrupt gzip"):
        load(p)
    p.write_bytes(blob + b"garbage!")
    with pytest.raises(DataError, match="trailing garbage"):
        load(p)


def test_bad_options_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="label_map"):
        parse_csv_bytes(HEADER4, label_map="nope")
    with pytest.raises(ValueError, match="on_error"):
        load(tmp_path / "x.csv", on_error="ignore")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.csv")


def test_trailing_blank_lines_keep_the_fast_path():
    data = HEADER4 + b"1,2,3,4,5\n\n\n"
    npix, _, crlf, start = _header(data, "x")
    assert _fast_parse(data, start, npix, crlf) is not None
    assert len(parse_csv_bytes(data)) == 1
    assert len(parse_csv_bytes(HEADER4 + b"\n\n", allow_empty=True)) == 0


def test_header_only_is_an_empty_dataset_only_when_asked(tmp_path):
    ds = parse_csv_bytes(HEADER4, allow_empty=True)
    assert len(ds) == 0 and ds.images.shape == (0, 2, 2, 1)
    p = tmp_path / "empty.csv"
    p.write_bytes(HEADER4 + b"\n")
    with pytest.raises(DataError, match="no images") as info:
        load(p)
    assert str(p) in str(info.value)
    assert len(load(p, allow_empty=True)) == 0
