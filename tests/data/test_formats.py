"""JSON-lines, base64 JSON, folder trees and zips: round trips and every error kind."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from PIL import Image

from signbench.data import DataError, detect_format, load
from signbench.data.formats.folder import write_folder
from signbench.data.formats.images import decode_image, encode_image
from signbench.data.formats.json import image_to_data_uri
from signbench.data.formats.zip import extract_zip
from signbench.data.types import LabeledImages
from signbench.testing.strategies import image_batches

NAMES = [f"c{i:02d}" for i in range(24)]


def _ds(images, labels):
    return LabeledImages(images, labels, NAMES)


def _compact(ds):
    """Drop unused classes (folder/JSON loaders only know the classes that occur)."""
    used = sorted(set(ds.labels.tolist()))
    remap = {old: new for new, old in enumerate(used)}
    return [ds.class_names[i] for i in used], np.array([remap[x] for x in ds.labels.tolist()])


@given(batch=image_batches(sides=(1, 4, 28), channels=(1, 3)))
def test_image_base64_round_trip(batch):
    images, _ = batch
    mode = "grayscale" if images.shape[-1] == 1 else "rgb"
    for img in images:
        text = base64.b64encode(encode_image(img)).decode()
        back = decode_image(base64.b64decode(text), path="x", color_mode=mode)
        np.testing.assert_array_equal(back, img)


@settings(max_examples=10)
@given(batch=image_batches(max_n=5, sides=(2, 28)))
def test_folder_and_zip_round_trip(tmp_path_factory, batch):
    images, labels = batch
    ds = _ds(images, labels)
    root = tmp_path_factory.mktemp("tree")
    write_folder(ds, root / "data" / "Train")
    back = load(root / "data")
    names, lab = _compact(ds)
    assert back.class_names == names
    # the loader orders by class folder, then file name (= original index)
    order = np.lexsort((np.arange(len(ds)), lab))
    np.testing.assert_array_equal(back.images, images[order])
    np.testing.assert_array_equal(back.labels, lab[order])
    z = root / "tree.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((root / "data").rglob("*.png")):
            zf.write(f, f.relative_to(root).as_posix())
    zback = load(z)
    np.testing.assert_array_equal(zback.images, back.images)
    np.testing.assert_array_equal(zback.labels, back.labels)
    assert zback.source.startswith(f"{z}!")


def test_fixture_formats_load(datapath):
    jl = load(datapath("data.jsonl"))
    assert detect_format(datapath("data.jsonl")) == "jsonl" and len(jl) == 7 and jl.class_names == ["a", "b", "c"]
    b64 = load(datapath("base64.json"))
    assert detect_format(datapath("base64.json")) == "base64json" and len(b64) == 3
    np.testing.assert_array_equal(jl.images[:3], b64.images)  # same generated images in both files
    train = load(datapath("tree"), split="Train")
    assert len(train) == 12 and train.class_names == ["A", "B", "C"]
    # the JSON-lines relative path points at tree/Train/A/000.png
    np.testing.assert_array_equal(jl.images[6], train.images[0])
    zipped = load(datapath("tree.zip"), split="Train")
    np.testing.assert_array_equal(zipped.images, train.images)
    rgb = load(datapath("tree"), split="Test", color_mode="rgb", target_size=(14, 10))
    assert rgb.images.shape == (6, 14, 10, 3)


# ------------------------------------------------------------------------------------------ errors
def _png(value=7, size=(4, 4)):
    return encode_image(np.full((*size, 1), value, np.uint8))


def test_jsonl_errors_name_the_line(tmp_path):
    good = json.dumps({"content": image_to_data_uri(_png()), "label": "a"})
    cases = [
        ("{not json", "invalid JSON"),
        (json.dumps({"label": "a"}), "missing key 'content'"),
        (json.dumps({"content": image_to_data_uri(_png())}), "missing key 'label'"),
        (json.dumps({"content": "data:image/png;base64,@@@@", "label": "a"}), "bad base64"),
        (json.dumps({"content": image_to_data_uri(_png()[:30]), "label": "a"}), "corrupt or truncated image"),
        (json.dumps({"content": "nope/missing.png", "label": "a"}), "not found"),
        (json.dumps({"content": "ftp://example.com/x.png", "label": "a"}), "unsupported URL scheme"),
        (json.dumps({"content": image_to_data_uri(_png(size=(5, 5))), "label": "a"}), "differs from the first"),
        (json.dumps([1, 2]), "expected an object"),
    ]
    for line, what in cases:
        p = tmp_path / "d.jsonl"
        p.write_text(good + "\n\n" + line + "\n")
        with pytest.raises(DataError, match=what) as info:
            load(p, format="jsonl")
        assert str(p) in str(info.value) and "[line 3]" in str(info.value), what
    p.write_text(good + "\n" + json.dumps({"content": "x.png", "label": "a"}) + "\n" + good + "\n")
    ds = load(p, format="jsonl", on_error="skip")
    assert len(ds) == 2 and [s.where for s in ds.skipped] == ["line 2"]
    p.write_text(good + "\n")
    with pytest.raises(DataError, match="unknown label 'a'") as info:
        load(p, format="jsonl", class_names=["b"])
    assert "[line 1]" in str(info.value)


def test_base64_json_errors_name_the_key(tmp_path):
    p = tmp_path / "b.json"
    good = base64.b64encode(_png()).decode()
    p.write_text(json.dumps({"a": good, "b": "!!notbase64!!"}))
    with pytest.raises(DataError, match="bad base64") as info:
        load(p)
    assert "[key 'b']" in str(info.value) and str(p) in str(info.value)
    p.write_text(json.dumps({"a": good, "c": [good, base64.b64encode(b"not an image").decode()]}))
    with pytest.raises(DataError, match="corrupt or truncated image") as info:
        load(p)
    assert "[key 'c'[1]]" in str(info.value)
    ds = load(p, on_error="skip")
    assert len(ds) == 2 and ds.skipped[0].where == "key 'c'[1]"
    p.write_text('{"a": ')
    with pytest.raises(DataError, match="invalid JSON"):
        load(p, format="base64json")
    p.write_text(json.dumps({"a": 5}))
    with pytest.raises(DataError, match="expected a base64 string"):
        load(p, format="base64json")


def test_folder_errors(tmp_path):
    root = tmp_path / "t"
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    (root / "A" / "0.png").write_bytes(_png())
    with pytest.raises(DataError, match="empty class folder") as info:
        load(root)
    assert str(root / "B") in str(info.value)
    (root / "B" / "1.png").write_bytes(_png(size=(6, 6)))
    with pytest.raises(DataError, match="differs from the first") as info:
        load(root)
    assert str(root / "B" / "1.png") in str(info.value)
    assert load(root, target_size=(4, 4)).images.shape == (2, 4, 4, 1)
    (root / "B" / "2.png").write_bytes(_png()[:40])
    with pytest.raises(DataError, match="corrupt or truncated image") as info:
        load(root, target_size=(4, 4))
    assert str(root / "B" / "2.png") in str(info.value)
    ds = load(root, target_size=(4, 4), on_error="skip")
    assert len(ds) == 2 and ds.skipped[0].path == str(root / "B" / "2.png")
    with pytest.raises(DataError, match="no single split folder 'Valid'"):
        load(root, split="Valid")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load(empty)


def test_truncated_jpeg_is_an_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)).save(buf, format="JPEG")
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "x.jpg").write_bytes(buf.getvalue()[:-200])
    with pytest.raises(DataError, match="truncated"):
        load(tmp_path)


def _zip(path, members: dict[str, bytes], symlink: str | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")


@pytest.mark.parametrize("evil", ["../escape.png", "/abs/escape.png", "a/../../escape.png", "C:/x.png", "..\\x.png"])
def test_zip_members_never_land_outside(tmp_path, evil):
    z = tmp_path / "evil.zip"
    _zip(z, {"A/0.png": _png(), evil: _png()})
    target = tmp_path / "out" / "inner"
    with pytest.raises(DataError, match="escapes the target folder") as info:
        extract_zip(z, target)
    assert str(z) in str(info.value) and repr(evil) in str(info.value)
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "out" / "escape.png").exists()
    with pytest.raises(DataError, match="escapes"):
        load(z)


def test_zip_symlink_unreadable_and_corrupt_member(tmp_path):
    z = tmp_path / "l.zip"
    _zip(z, {"A/0.png": _png()}, symlink="A/link.png")
    with pytest.raises(DataError, match="symbolic links") as info:
        extract_zip(z, tmp_path / "o")
    assert "'A/link.png'" in str(info.value)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DataError, match="unreadable zip") as info:
        load(bad)
    assert str(bad) in str(info.value)
    c = tmp_path / "c.zip"
    with zipfile.ZipFile(c, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("A/0.png", _png() * 3)
    blob = bytearray(c.read_bytes())
    i = blob.index(b"\x89PNG") + 10
    blob[i] ^= 0xFF
    c.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="corrupt member") as info:
        extract_zip(c, tmp_path / "o2")
    assert "'A/0.png'" in str(info.value)


def test_zip_bomb_cap(tmp_path):
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("A/0.bin", bytes(200_000))
    with pytest.raises(DataError, match="expands to over"):
        extract_zip(z, tmp_path / "o", max_bytes=100_000)


def test_zip_of_a_csv_and_error_paths_name_the_archive(tmp_path, datapath):
    z = tmp_path / "csv.zip"
    bad = datapath("dirty.csv").read_bytes()
    _zip(z, {"folder/dirty.csv": bad})
    with pytest.raises(DataError, match=r"line 6") as info:
        load(z)
    assert f"{z}!folder/dirty.csv" in str(info.value)
    ds = load(z, on_error="skip")
    assert ds.skipped and all(s.path == f"{z}!folder/dirty.csv" for s in ds.skipped)
    two = tmp_path / "two.zip"
    _zip(two, {"a.csv": bad, "b.csv": bad})
    with pytest.raises(DataError, match="2 data files"):
        load(two)


def test_unknown_format(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\x00\x01\x02")
    with pytest.raises(DataError, match="cannot tell the format"):
        load(p)
