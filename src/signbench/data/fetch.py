"""Downloads with timeouts, a size cap and SHA-256 verification, and the registry of known sources.

Only ``http`` and ``https`` URLs are fetched. A download that cannot reach its server, times out,
exceeds ``max_bytes`` or does not match its SHA-256 raises :class:`DataError` naming the URL; nothing
partial is left in the cache (the bytes go to a temporary file renamed into place only once verified).
:func:`fetch_pinned` is the download-once-and-pin form used for model files (ImageNet weights, Hub
modules) whose publishers give no SHA-256: the first download is checked against an MD5 when one is
published, its SHA-256 is recorded beside the file, and every later use checks that (or a pinned) hash.
Tests use a local ``http.server`` on 127.0.0.1; nothing here runs at import time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from signbench.data.locate import cache_dir as default_cache_dir
from signbench.errors import DataError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "REGISTRY",
    "Source",
    "download",
    "fetch",
    "fetch_bytes",
    "fetch_pinned",
    "sha256_file",
]

DEFAULT_TIMEOUT = 30.0  # seconds, per socket operation (connect, each read)
DEFAULT_MAX_BYTES = 2 * 1024**3
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """A dataset the course uses. ``url`` None: no direct public URL is known (see ``page``)."""

    name: str
    filename: str
    url: str | None
    sha256: str | None
    page: str
    note: str = ""


#: The course's public sources. Hashes are filled in where they are known (measured on the files);
#: a source without a hash is only fetched with ``allow_unverified=True``.
REGISTRY: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            "sign_mnist_train", "sign_mnist_train.csv", None,
            "4c2897f19fab2b0ae2a7e4fa82e969043315d9f3a1a9cc0948b576bf1189a7e5",
            "https://www.kaggle.com/datasets/datamunge/sign-language-mnist",
            "Kaggle needs a login: download there, then put the file in the cache folder; fetch verifies it.",
        ),
        Source(
            "sign_mnist_test", "sign_mnist_test.csv", None,
            "0e9d67bae23e67f40728e0b63bf15ad4bd5175947b8a9fac5dd9f17ce133c47b",
            "https://www.kaggle.com/datasets/datamunge/sign-language-mnist",
            "Kaggle needs a login: download there, then put the file in the cache folder; fetch verifies it.",
        ),
        Source(
            "malaria", "cell_images.zip", "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip", None,
            "https://lhncbc.nlm.nih.gov/LHC-research/LHC-projects/image-processing/malaria-datasheet.html",
            "NIH malaria cell images (Parasitized/Uninfected folders).",
        ),
        Source(
            "tumor", "brain_tumor.zip", None, None,
            "https://www.kaggle.com/datasets/navoneel/brain-mri-images-for-brain-tumor-detection",
            "Brain MRI yes/no folders; Kaggle needs a login.",
        ),
        Source(
            "tom_and_jerry", "tom_and_jerry.zip", None, None,
            "https://www.kaggle.com/datasets/balabaskar/tom-and-jerry-image-classification",
            "Tom & Jerry frames by character; Kaggle needs a login.",
        ),
        Source(
            "sign_language_img", "sign-language-img.zip", None, None, "the course materials",
            "The course's image-folder version of Sign Language MNIST (Train/Test/<letter>/).",
        ),
        Source(
            "databases_load_data", "databasesLoadData.zip", None, None, "the course materials",
            "The course's loading lesson: sign_mnist_json/data.json and sign_mnist_base64/data.json.",
        ),
    ]
}


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DataError(f"only http and https URLs are fetched, not {scheme or 'no scheme'!r}", path=url)


def _open(url: str, timeout: float):
    _check_url(url)
    req = urllib.request.Request(url, headers={"User-Agent": "signbench"})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - scheme checked above
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open response
        raise DataError(f"HTTP {exc.code} {exc.reason}", path=url) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"unreachable URL ({reason}); are you offline?", path=url) from None
    if urllib.parse.urlsplit(resp.geturl()).scheme.lower() not in ("http", "https"):
        resp.close()
        raise DataError("redirected to a non-http(s) URL", path=url)
    return resp


def _stream(resp, url: str, sink, max_bytes: int) -> None:
    length = resp.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise DataError(f"download is {int(length)} bytes, over the {max_bytes}-byte cap", path=url)
    total = 0
    while True:
        try:
            chunk = resp.read(_CHUNK)
        except (TimeoutError, OSError) as exc:
            raise DataError(f"download interrupted ({exc})", path=url, where=f"byte {total}") from None
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            raise DataError(f"download exceeds the {max_bytes}-byte cap", path=url, where=f"byte {total}")
        sink(chunk)
    if length is not None and length.isdigit() and total != int(length):
        raise DataError(f"truncated download: {total} of {int(length)} bytes", path=url)


def fetch_bytes(url: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = 64 * 1024**2) -> bytes:
    """The body at ``url`` (http/https only), with a timeout and a size cap."""
    parts: list[bytes] = []
    with _open(url, timeout) as resp:
        _stream(resp, url, parts.append, max_bytes)
    return b"".join(parts)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_unverified: bool = False,
) -> Path:
    """Download ``url`` to ``dest``, verified against ``sha256`` before it appears there."""
    dest = Path(dest)
    if sha256 is None and not allow_unverified:
        raise DataError("no SHA-256 to verify against; pass sha256= or allow_unverified=True", path=url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as resp:

            def sink(chunk: bytes) -> None:
                h.update(chunk)
                out.write(chunk)

            _stream(resp, url, sink, max_bytes)
        if sha256 is not None and h.hexdigest() != sha256.lower():
            raise DataError(f"SHA-256 mismatch: got {h.hexdigest()}, expected {sha256.lower()}", path=url)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def fetch(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    allow_unverified: bool = False,
    registry: dict[str, Source] | None = None,
) -> Path:
    """The registered source ``name`` as a verified file in ``cache_dir`` (default: signbench's cache).

    A file already in the cache is verified (when a hash is known) and returned without network.
    ``url`` overrides the registry's (e.g. a mirror); the hash still applies.
    """
    reg = REGISTRY if registry is None else registry
    if name not in reg:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(reg))}", path="registry", where=name)
    src = reg[name]
    dest = Path(cache_dir if cache_dir is not None else default_cache_dir()) / src.filename
    if dest.is_file():
        if src.sha256 is None or sha256_file(dest) == src.sha256:
            return dest
        raise DataError(
            f"cached file does not match SHA-256 {src.sha256}; delete it to download again", path=str(dest)
        )
    where_from = url or src.url
    if where_from is None:
        raise DataError(
            f"no direct download URL for {name!r}: get {src.filename} from {src.page} and put it at {dest}. "
            + src.note,
            path="registry", where=name,
        )
    return download(
        where_from, dest, sha256=src.sha256, timeout=timeout, max_bytes=max_bytes, allow_unverified=allow_unverified
    )


def fetch_pinned(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """``dest``, downloaded from ``url`` once and checked on every use.

    With ``sha256`` (pinned) the download is verified before it appears and every later use checks
    it. Without one, the first download is checked against ``md5`` when given (the publisher's), and
    its SHA-256 is recorded in ``<dest>.sha256``; later uses check the file against that record. A
    cached file without a pinned or recorded hash, or that does not match, is an error (delete it).
    """
    import hashlib

    dest = Path(dest)
    record = dest.with_name(dest.name + ".sha256")
    pinned = (sha256 or "").lower() or None
    if dest.is_file():
        want = pinned or (record.read_text().strip() if record.is_file() else None)
        got = sha256_file(dest)
        if want is None or got != want:
            raise DataError(
                f"cached file does not match SHA-256 {want} (got {got}); delete it to download again",
                path=str(dest),
            )
        return dest
    download(url, dest, sha256=pinned, timeout=timeout, max_bytes=max_bytes, allow_unverified=pinned is None)
    if pinned is None and md5 is not None:
        got_md5 = hashlib.md5(dest.read_bytes(), usedforsecurity=False).hexdigest()
        if got_md5 != md5:
            dest.unlink()
            raise DataError(f"MD5 mismatch: got {got_md5}, the publisher gives {md5}", path=url)
    record.write_text((pinned or sha256_file(dest)) + "\n")
    return dest
