"""Image folder trees: one subfolder per class, under any depth of split folders (``Train/``, ``Test/``).

The class folders are the folders that hold image files directly; their names are the class names
(sorted). When they sit under more than one split folder (``Train/A``, ``Test/A``) pass
``split="Train"``: merging splits silently would leak test images into training.

Nothing is left out silently: class folders whose names differ only in case or spaces (``A`` and ``a``,
which merge on a case-insensitive file system), an image file outside any class folder, and a file in a
class folder that is not an image (other than hidden files and the system's ``Thumbs.db`` /
``desktop.ini``) are errors (``on_error="skip"`` lists the files instead); so is a tree whose images all
fail to decode, unless ``allow_empty=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signbench.data.formats.images import IMAGE_SUFFIXES, decode_image, stack_images
from signbench.data.types import LabeledImages, Skipped, check_class_names, require_images
from signbench.errors import DataError

__all__ = ["find_class_folders", "load_folder", "write_folder"]


#: Files a class folder may hold besides images: left out without a word (hidden files too).
SYSTEM_FILES = ("thumbs.db", "desktop.ini")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def _is_system_file(p: Path) -> bool:
    return p.name.startswith(".") or p.name.lower() in SYSTEM_FILES


def find_class_folders(root: Path, split: str | None = None) -> tuple[Path, list[Path]]:
    """(the folder whose subfolders are the classes, those class folders sorted by name)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if split is not None:
        base = root / split
        if not base.is_dir():  # e.g. inside an archive's top folder: look deeper, but only one match
            matches = [p for p in root.rglob(split) if p.is_dir()]
            if len(matches) != 1:
                found = sorted({str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()})[:20]
                raise DataError(
                    f"no single split folder {split!r} (folders: {', '.join(found) or 'none'})", path=str(root)
                )
            base = matches[0]
        root = base
    parents: set[Path] = set()
    for p in root.rglob("*"):
        if _is_image(p):
            parents.add(p.parent.parent)
    parents.discard(root.parent)  # images directly in root: no class folder
    if not parents:
        raise DataError("no class folders with images (expected <class>/<image>.png)", path=str(root))
    if len(parents) > 1:
        names = sorted(str(p.relative_to(root)) for p in parents)
        raise DataError(
            f"class folders under several parents ({', '.join(names)}); pass split= to choose one",
            path=str(root),
        )
    base = parents.pop()
    classes = sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    check_class_names([c.name for c in classes], path=str(base), what="class folders")
    return base, classes


def _strays(root: Path, base: Path) -> list[Path]:
    """Image files in ``base`` or above it (up to ``root``): outside every class folder."""
    out, d = [], base
    while True:
        out += sorted(p for p in d.iterdir() if _is_image(p))
        if d == root or root not in d.parents:
            return out
        d = d.parent


def load_folder(
    root: str | Path,
    *,
    split: str | None = None,
    color_mode: str | None = "grayscale",
    target_size: tuple[int, int] | None = None,
    on_error: str = "raise",
    allow_empty: bool = False,
) -> LabeledImages:
    base, classes = find_class_folders(Path(root), split)
    images, labels, places, skipped = [], [], [], []

    def bad(f: Path, reason: str) -> None:
        if on_error == "raise":
            raise DataError(reason, path=str(f))
        skipped.append(Skipped(str(f), "file", reason))

    for f in _strays(Path(root) if split is None else base, base):
        bad(f, f"image file outside any class folder (the class folders are in {base})")
    for idx, cls in enumerate(classes):
        entries = sorted(cls.iterdir(), key=lambda p: p.name)
        files = [p for p in entries if _is_image(p)]
        if not files:
            raise DataError("empty class folder (no images)", path=str(cls))
        for f in entries:
            if f.is_file() and not _is_image(f) and not _is_system_file(f):
                bad(f, f"not an image file (suffix {f.suffix or 'none'!r}; images are {', '.join(IMAGE_SUFFIXES)})")
        for f in files:
            try:
                img = decode_image(f.read_bytes(), path=str(f), color_mode=color_mode, target_size=target_size)
            except DataError as exc:
                if on_error == "raise":
                    raise
                skipped.append(Skipped(str(f), "file", str(exc)))
                continue
            images.append(img)
            labels.append(idx)
            places.append((str(f), None))
    arr = stack_images(images, places)
    ds = LabeledImages(arr, np.array(labels, np.int64), [c.name for c in classes], source=str(base),
                       skipped=skipped)
    return require_images(ds, allow_empty)


def write_folder(ds: LabeledImages, root: str | Path, *, format: str = "png") -> Path:
    """Write ``ds`` as ``root/<class>/<index>.png`` (lossless; only classes that occur); returns ``root``."""
    from signbench.data.formats.images import encode_image

    root = Path(root)
    for i, (img, lab) in enumerate(zip(ds.images, ds.labels, strict=True)):
        folder = root / ds.class_names[int(lab)]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:06d}.{format}").write_bytes(encode_image(img, format.upper()))
    return root
