"""The generator of ``fixtures/``: small generated files (< 1 MB in all), never any of the real data.

``signbench fixtures [--out fixtures] [--seed 0]`` writes them.

Files: ``small.csv`` (+ ``small.csv.gz``): 48 Sign-MNIST-shaped rows (2 per letter), CRLF like the
real files; ``dirty.csv`` + ``dirty_manifest.json``: generated rows with exactly the course lesson's
defects injected (exact duplicates, ``fwefew``, nulls, out-of-range values) and the list of them;
``data.jsonl``: JSON-lines with data: URIs and one relative path; ``base64.json``; ``tree/``: an image
folder tree ``Train|Test/<letter>/*.png``; ``tree.zip``: that tree zipped. Output is byte-for-byte
reproducible for a given seed.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from signbench.data.formats.csv import to_csv_bytes
from signbench.data.formats.images import encode_image
from signbench.data.formats.json import image_to_data_uri
from signbench.data.types import SIGN_LETTERS, SIGN_RAW_LABELS
from signbench.seeds import rng

__all__ = ["DEFECTS", "band_images", "block_images", "dirty_rows", "make_images", "square_images", "write_fixtures",
           "write_sign_csv"]

DEFECTS = ("duplicate", "non_numeric", "null", "out_of_range")


def make_images(n: int, seed: int, side: int = 28, classes: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """n smooth-ish uint8 images (a per-class blob plus noise) and class indices, cycling the classes."""
    g = rng(seed, "fixture-images")
    labels = np.arange(n) % classes
    yy, xx = np.mgrid[0:side, 0:side]
    images = np.empty((n, side, side, 1), np.uint8)
    for i, c in enumerate(labels):
        cy, cx = (c * 7) % side, (c * 11) % side
        blob = 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 6.0**2))
        noise = g.integers(0, 40, size=(side, side))
        images[i, :, :, 0] = np.clip(blob + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def write_sign_csv(path: str | Path, images: np.ndarray, labels) -> Path:
    """Write ``images`` (N x 28 x 28 (x 1) uint8) with their class indices ``labels`` (0-23) as a CSV in the
    Sign Language MNIST layout (``label,pixel1..pixel784``, raw labels 0-24 without 9, CRLF line ends);
    gzipped when ``path`` ends in ``.gz``. Folders are made as needed."""
    import gzip

    from signbench.data.formats.csv import to_csv_bytes
    from signbench.data.types import SIGN_RAW_LABELS

    path = Path(path)
    raw = to_csv_bytes(images, [SIGN_RAW_LABELS[int(k)] for k in labels], crlf=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def square_images(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two learnable classes of uint8 28x28x1 images: a bright 8x8 square on the left (class 0) or on the
    right (class 1) of noise; and their class indices."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 2, size=n)
    x = g.integers(0, 30, size=(n, 28, 28, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        col = 4 if c == 0 else 16
        x[i, 10:18, col : col + 8, 0] = 230
    return x, y


def band_images(n: int, seed: int, classes: int = 3, shape=(8, 8, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Tiny learnable uint8 images (``shape``) of ``classes`` classes in turn: each lights up its own band of
    three rows over noise; and their class indices."""
    g = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = g.integers(0, 60, size=(n, *shape)).astype(np.uint8)
    for c in range(classes):
        x[y == c, 2 * c : 2 * c + 3] += 150
    return x, y


def block_images(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28x28 uint8 images, ``per_class`` of each of the 24 classes: one bright block per class at a
    class-specific place, plus noise (a small model learns them in a few epochs); and their class indices."""
    g = np.random.default_rng(seed)
    labels = np.repeat(np.arange(24), per_class)
    images = g.integers(0, 70, (len(labels), 28, 28), dtype=np.int64)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 6)
        images[i, 2 + 6 * r : 7 + 6 * r, 2 + 4 * c : 5 + 4 * c] += 150
    return np.clip(images, 0, 255).astype(np.uint8), labels


def dirty_rows(images: np.ndarray, raw_labels: list, seed: int, per_defect: int = 2):
    """CSV text lines (header first) with ``per_defect`` rows of each defect injected at seeded places,
    and the manifest: {"clean_rows": n, "defects": [{"line": k, "reason": r}, ...]}."""
    g = rng(seed, "dirty")
    flat = images.reshape(images.shape[0], -1)
    rows = [[str(lab)] + [str(v) for v in r] for lab, r in zip(raw_labels, flat.tolist(), strict=True)]
    out = [list(r) for r in rows]
    reasons = [None] * len(out)
    for kind in DEFECTS:
        for _ in range(per_defect):
            if kind == "duplicate":
                row = list(rows[int(g.integers(len(rows)))])
            else:
                row = list(rows[int(g.integers(len(rows)))])
                col = 1 + int(g.integers(flat.shape[1]))
                row[col] = {"non_numeric": "fwefew", "null": "", "out_of_range": str(int(g.choice([256, 300, -5])))}[kind]
            pos = int(g.integers(len(out) + 1))
            # a duplicate must come after its original so that "keep the first" keeps the original
            if kind == "duplicate":
                orig = next(i for i, r in enumerate(out) if r == row)
                pos = int(g.integers(orig + 1, len(out) + 1))
            out.insert(pos, row)
            reasons.insert(pos, kind)
    header = "label," + ",".join(f"pixel{i}" for i in range(1, flat.shape[1] + 1))
    lines = [header] + [",".join(r) for r in out]
    manifest = {
        "clean_rows": len(rows),
        "defects": [{"line": i + 2, "reason": r} for i, r in enumerate(reasons) if r is not None],
    }
    return lines, manifest


def _zip_tree(tree: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(tree.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(str(p.relative_to(tree.parent)), date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, p.read_bytes())


def write_fixtures(out: str | Path, seed: int = 0) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    images, classes = make_images(48, seed)
    raw = [SIGN_RAW_LABELS[c] for c in classes]
    csv_bytes = to_csv_bytes(images, raw, crlf=True)
    (out / "small.csv").write_bytes(csv_bytes)
    (out / "small.csv.gz").write_bytes(gzip.compress(csv_bytes, mtime=0))
    written += [out / "small.csv", out / "small.csv.gz"]

    dimages, dclasses = make_images(30, seed + 1)
    lines, manifest = dirty_rows(dimages, [SIGN_RAW_LABELS[c] for c in dclasses], seed)
    (out / "dirty.csv").write_text("\n".join(lines) + "\n")
    (out / "dirty_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    written += [out / "dirty.csv", out / "dirty_manifest.json"]

    tree = out / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    timages, tclasses = make_images(18, seed + 2, classes=3)
    for i, (img, c) in enumerate(zip(timages, tclasses, strict=True)):
        split = "Train" if i < 12 else "Test"
        d = tree / split / SIGN_LETTERS[c]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:03d}.png").write_bytes(encode_image(img))
    written.append(tree)
    _zip_tree(tree, out / "tree.zip")
    written.append(out / "tree.zip")

    jimages, jclasses = make_images(6, seed + 3, classes=3)
    jl = []
    for img, c in zip(jimages, jclasses, strict=True):
        jl.append(json.dumps({"content": image_to_data_uri(encode_image(img)), "label": SIGN_LETTERS[c].lower()}))
    jl.append(json.dumps({"content": "tree/Train/A/000.png", "label": "a"}))
    (out / "data.jsonl").write_text("\n".join(jl) + "\n")
    b64 = {SIGN_LETTERS[c].lower(): base64.b64encode(encode_image(img)).decode()
           for img, c in zip(jimages[:3], jclasses[:3], strict=True)}
    (out / "base64.json").write_text(json.dumps(b64, indent=1) + "\n")
    written += [out / "data.jsonl", out / "base64.json"]
    return written
