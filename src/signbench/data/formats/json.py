"""The course's two JSON formats.

* JSON-lines (``sign_mnist_json/data.json``): one object per line,
  ``{"content": <http(s) URL | local path | data: URI>, "label": "b"}``. Local paths are relative to
  the JSON file's folder; URLs are fetched with a timeout and a size cap (http/https only).
* base64 JSON (``sign_mnist_base64/data.json``): one object ``{"<label>": "<base64 png/jpeg>"}``
  (a list of base64 strings per label is accepted too).

Class names are the sorted distinct labels unless ``class_names`` is given (then any other label is
an error). Errors name the file and the line (JSON-lines) or the key (base64 JSON).

Nothing silently wrong: a key given twice in one object (JSON keeps the last one, dropping the first's
images), a JSON-lines label column mixing integers and strings, labels that differ only in case or
spaces, a label with an empty list of images, and a file with no images (unless ``allow_empty=True``)
are errors. Invalid JSON of any kind (too deep, too long a number) is a DataError naming the line; a
JSON-lines line longer than ``max_line_bytes`` is refused before it is parsed.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from pathlib import Path

import numpy as np

from signbench.data.formats.images import decode_image, stack_images
from signbench.data.formats.raw import iter_lines, read_bytes
from signbench.data.types import LabeledImages, Skipped, check_class_names, require_images
from signbench.errors import DataError

__all__ = ["MAX_LINE_BYTES", "load_base64_json", "load_jsonl", "decode_base64", "image_to_data_uri", "parse_json"]

#: The longest JSON-lines line read (a data: URI of a big photo fits; a runaway line does not).
MAX_LINE_BYTES = 16 * 1024**2


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _DuplicateKey(dup)
    return dict(pairs)


class _DuplicateKey(Exception):
    pass


def parse_json(text: bytes | str, *, path: str, where: str | None = None):
    """``json.loads`` with every failure a :class:`DataError` naming ``path`` and ``where``: invalid
    or too deeply nested JSON, numbers too long to convert, and a key given twice in one object."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        raise DataError(f"key {exc.args[0]!r} appears twice in one object (JSON would keep only the last)",
                        path=path, where=where if where is not None else f"key {exc.args[0]!r}") from None
    except RecursionError:
        raise DataError("invalid JSON (nested too deeply)", path=path, where=where) from None
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise DataError(f"invalid JSON ({str(exc)[:200]})", path=path,
                        where=where if where is not None else f"line {line or '?'}") from None


def decode_base64(text: str, *, path: str, where: str) -> bytes:
    if not isinstance(text, str):
        raise DataError(f"expected a base64 string, got {type(text).__name__}", path=path, where=where)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataError(f"bad base64 ({exc})", path=path, where=where) from None


def image_to_data_uri(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(png).decode()


def _content_bytes(content, *, base: Path, path: str, where: str, timeout: float, max_bytes: int) -> bytes:
    if not isinstance(content, str) or not content:
        raise DataError("'content' must be a non-empty string", path=path, where=where)
    if content.startswith("data:"):
        header, sep, payload = content.partition(",")
        if not sep:
            raise DataError("data: URI without a comma", path=path, where=where)
        if header.endswith(";base64"):
            return decode_base64(payload, path=path, where=where)
        return urllib.parse.unquote_to_bytes(payload)
    scheme = urllib.parse.urlsplit(content).scheme.lower()
    if scheme in ("http", "https"):
        from signbench.data.fetch import fetch_bytes

        try:
            return fetch_bytes(content, timeout=timeout, max_bytes=max_bytes)
        except DataError as exc:
            raise DataError(f"{exc}", path=path, where=where) from None
    if len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise DataError(f"unsupported URL scheme {scheme!r} (http, https, data: or a local path)", path=path,
                        where=where)
    try:
        p = Path(content)
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise DataError(f"image file {content[:200]!r} not found", path=path, where=where)
        with p.open("rb") as f:  # capped like a download: a path may name an endless file (/proc/...)
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise DataError(f"image file {content[:200]!r} is over the {max_bytes}-byte cap", path=path, where=where)
        return data
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, unreadable
        raise DataError(f"cannot read image file {content[:200]!r} ({str(exc)[:200]})", path=path,
                        where=where) from None


def _label_kinds(images, raw_labels, places, path, skipped, on_error):
    """Labels as strings, after refusing the ones whose kind (integer or string) differs from most."""
    n_int = sum(isinstance(lab, int) for lab in raw_labels)
    n_str = len(raw_labels) - n_int
    if not (n_int and n_str):
        return images, [str(lab) for lab in raw_labels], places
    major = int if n_int > n_str or (n_int == n_str and isinstance(raw_labels[0], int)) else str
    out = ([], [], [])
    for img, lab, place in zip(images, raw_labels, places, strict=True):
        if not isinstance(lab, major):
            reason = (f"label {lab!r} is {'a string' if major is int else 'an integer'} where the other labels are "
                      f"{'integers' if major is int else 'strings'} ({n_int} integer, {n_str} string labels)")
            if on_error == "raise":
                raise DataError(reason, path=place[0], where=place[1])
            skipped.append(Skipped(place[0], place[1] or "", reason))
            continue
        for part, value in zip(out, (img, str(lab), place), strict=True):
            part.append(value)
    return out


def _finish(images, raw_labels, places, class_names, path, skipped, on_error, allow_empty):
    images, raw_labels, places = _label_kinds(images, raw_labels, places, path, skipped, on_error)
    if class_names is None:
        class_names = sorted(set(raw_labels))
        check_class_names(class_names, path=path, what="labels")
    lookup = {n: i for i, n in enumerate(class_names)}
    keep_img, keep_lab, keep_places = [], [], []
    for img, lab, place in zip(images, raw_labels, places, strict=True):
        if lab not in lookup:
            reason = f"unknown label {lab!r} (class names: {', '.join(class_names)})"
            if on_error == "raise":
                raise DataError(reason, path=place[0], where=place[1])
            skipped.append(Skipped(place[0], place[1] or "", reason))
            continue
        keep_img.append(img)
        keep_lab.append(lookup[lab])
        keep_places.append(place)
    arr = stack_images(keep_img, keep_places)
    ds = LabeledImages(arr, np.array(keep_lab, np.int64), list(class_names), source=path, skipped=skipped)
    return require_images(ds, allow_empty)


def load_jsonl(
    path: str | Path,
    *,
    color_mode: str | None = "grayscale",
    target_size: tuple[int, int] | None = None,
    class_names: list[str] | None = None,
    on_error: str = "raise",
    timeout: float = 30.0,
    max_bytes: int = 16 * 1024**2,
    max_line_bytes: int = MAX_LINE_BYTES,
    allow_empty: bool = False,
) -> LabeledImages:
    """Load a JSON-lines file of ``{"content": ..., "label": ...}`` objects."""
    path = Path(path)
    name = str(path)
    images, labels, places, skipped = [], [], [], []
    for lineno, line in iter_lines(path, max_line_bytes=max_line_bytes):
        if not line.strip():
            continue
        where = f"line {lineno}"

        def decode(line=line, where=where):
            obj = parse_json(line, path=name, where=where)
            if not isinstance(obj, dict):
                raise DataError(f"expected an object, got {type(obj).__name__}", path=name, where=where)
            for key in ("content", "label"):
                if key not in obj:
                    raise DataError(f"missing key {key!r}", path=name, where=where)
            label = obj["label"]
            if not isinstance(label, str | int) or isinstance(label, bool):
                raise DataError(f"label must be a string or integer, got {label!r}", path=name, where=where)
            if isinstance(label, str) and not label.strip():
                raise DataError(f"empty label {label!r}", path=name, where=where)
            data = _content_bytes(
                obj["content"], base=path.parent, path=name, where=where, timeout=timeout, max_bytes=max_bytes
            )
            return decode_image(data, path=name, where=where, color_mode=color_mode, target_size=target_size), label

        _keep_or_skip(decode, (images, labels, places, skipped), name, where, on_error)
    return _finish(images, labels, places, class_names, name, skipped, on_error, allow_empty)


def _keep_or_skip(decode, into: tuple[list, list, list, list], name: str, where: str, on_error: str) -> None:
    """Append ``decode()``'s (image, label) and its place to ``into`` = (images, labels, places, skipped);
    a ``DataError`` is raised again with ``on_error="raise"``, else recorded as skipped."""
    images, labels, places, skipped = into
    try:
        img, label = decode()
    except DataError as exc:
        if on_error == "raise":
            raise
        skipped.append(Skipped(name, where, str(exc)))
        return
    images.append(img)
    labels.append(label)
    places.append((name, where))


def load_base64_json(
    path: str | Path,
    *,
    color_mode: str | None = "grayscale",
    target_size: tuple[int, int] | None = None,
    class_names: list[str] | None = None,
    on_error: str = "raise",
    allow_empty: bool = False,
) -> LabeledImages:
    """Load ``{"<label>": "<base64 image>" | [<base64 image>, ...]}``."""
    name = str(path)
    obj = parse_json(read_bytes(path), path=name)
    if not isinstance(obj, dict):
        raise DataError(f"expected an object of label -> base64 image, got {type(obj).__name__}", path=name)
    images, labels, places, skipped = [], [], [], []
    for key, value in obj.items():
        if not key.strip() or (isinstance(value, list) and not value):
            reason = f"empty label {key!r}" if not key.strip() else "an empty list: a label without images"
            if on_error == "raise":
                raise DataError(reason, path=name, where=f"key {key!r}")
            skipped.append(Skipped(name, f"key {key!r}", reason))
            continue
        values = value if isinstance(value, list) else [value]
        for j, item in enumerate(values):
            where = f"key {key!r}" + (f"[{j}]" if isinstance(value, list) else "")

            def decode(item=item, where=where, key=key):
                data = decode_base64(item, path=name, where=where)
                return decode_image(data, path=name, where=where, color_mode=color_mode, target_size=target_size), key

            _keep_or_skip(decode, (images, labels, places, skipped), name, where, on_error)
    return _finish(images, labels, places, class_names, name, skipped, on_error, allow_empty)
