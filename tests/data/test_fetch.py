"""Downloads and the registry, against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from signbench.data import REGISTRY, DataError, fetch, load
from signbench.data.fetch import Source, download, fetch_bytes
from signbench.data.formats.images import encode_image
from signbench.testing import local_http
from signbench.testing.local_http import QuietHandler, serve

PAYLOAD = b"hello signbench " * 1000
PNG = encode_image(np.full((4, 4, 1), 9, np.uint8))


class Handler(QuietHandler):
    def do_GET(self):  # noqa: N802
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on purpose (cap, timeout)
            pass

    def _get(self):
        if self.path == "/ok":
            body = PAYLOAD
        elif self.path == "/img.png":
            body = PNG
        elif self.path == "/slow":
            time.sleep(2)
            body = PAYLOAD
        elif self.path == "/liar":  # promises more than it sends
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD) * 2))
            self.end_headers()
            self.wfile.write(PAYLOAD)
            return
        elif self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        else:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    with serve(handler=Handler) as base:
        yield base


@pytest.fixture
def closed_port_url():
    return local_http.closed_port_url("/x")


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verifies_and_lands_atomically(server, tmp_path):
    dest = download(f"{server}/ok", tmp_path / "d" / "ok.bin", sha256=SHA)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(DataError, match="SHA-256 mismatch") as info:
        download(f"{server}/ok", tmp_path / "bad.bin", sha256="0" * 64)
    assert f"{server}/ok" in str(info.value)
    assert not list(tmp_path.glob("bad.bin*"))  # nothing partial left behind
    with pytest.raises(DataError, match="no SHA-256"):
        download(f"{server}/ok", tmp_path / "x.bin", sha256=None)
    assert download(f"{server}/ok", tmp_path / "x.bin", sha256=None, allow_unverified=True).is_file()


def test_size_cap_truncation_http_errors(server, tmp_path):
    with pytest.raises(DataError, match="over the 100-byte cap"):
        download(f"{server}/ok", tmp_path / "a", sha256=SHA, max_bytes=100)
    with pytest.raises(DataError, match="truncated download|interrupted"):
        fetch_bytes(f"{server}/liar", timeout=2)
    with pytest.raises(DataError, match="HTTP 404") as info:
        fetch_bytes(f"{server}/missing")
    assert "/missing" in str(info.value)
    with pytest.raises(DataError, match="not allowed|non-http"):
        fetch_bytes(f"{server}/to-file")
    assert not list(tmp_path.iterdir())


def test_offline_fails_fast_and_clearly(closed_port_url, server):
    t = time.monotonic()
    with pytest.raises(DataError, match="unreachable URL") as info:
        fetch_bytes(closed_port_url, timeout=2)
    assert closed_port_url in str(info.value)
    with pytest.raises(DataError, match="unreachable URL|interrupted"):
        fetch_bytes(f"{server}/slow", timeout=0.3)  # the server answers after 2 s
    assert time.monotonic() - t < 1.9


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "/etc/passwd"])
def test_only_http_and_https(url, tmp_path):
    with pytest.raises(DataError, match="only http and https"):
        download(url, tmp_path / "x", sha256=SHA)


def test_fetch_registry(server, tmp_path):
    reg = {"demo": Source("demo", "demo.bin", f"{server}/ok", SHA, "local test server")}
    p = fetch("demo", tmp_path, registry=reg)
    assert p == tmp_path / "demo.bin" and p.read_bytes() == PAYLOAD
    assert fetch("demo", tmp_path, registry=reg, url="http://127.0.0.1:1/never") == p  # cached: no network
    p.write_bytes(b"tampered")
    with pytest.raises(DataError, match="does not match SHA-256") as info:
        fetch("demo", tmp_path, registry=reg)
    assert str(p) in str(info.value)
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        fetch("nope", tmp_path)


def test_registry_knows_the_course_sources(tmp_path):
    assert {"sign_mnist_train", "sign_mnist_test", "malaria", "tumor", "tom_and_jerry", "sign_language_img",
            "databases_load_data"} <= set(REGISTRY)
    assert REGISTRY["sign_mnist_train"].sha256.startswith("4c2897f1")
    with pytest.raises(DataError, match="no direct download URL.*kaggle") as info:
        fetch("sign_mnist_train", tmp_path)
    assert str(tmp_path / "sign_mnist_train.csv") in str(info.value)


def test_jsonl_with_http_content(server, tmp_path, closed_port_url):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"content": f"{server}/img.png", "label": "a"}) + "\n")
    ds = load(p)
    assert len(ds) == 1 and int(ds.images.max()) == 9
    p.write_text(p.read_text() + json.dumps({"content": closed_port_url, "label": "b"}) + "\n")
    with pytest.raises(DataError, match="unreachable URL") as info:
        load(p)
    assert f"{p} [line 2]" in str(info.value)
    assert len(load(p, on_error="skip")) == 1
