"""Decoding image bytes (PNG/JPEG/...) to uint8 arrays, and stacking them with size checks."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from signbench.errors import DataError

__all__ = ["COLOR_MODES", "decode_image", "encode_image", "stack_images"]

COLOR_MODES = ("grayscale", "rgb", None)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def decode_image(
    data: bytes,
    *,
    path: str,
    where: str | None = None,
    color_mode: str | None = "grayscale",
    target_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """H x W x C uint8 from encoded bytes. ``color_mode`` "grayscale" (C=1), "rgb" (C=3) or None
    (keep: grayscale files give C=1, everything else C=3). ``target_size`` is (height, width)."""
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {COLOR_MODES}, got {color_mode!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            img.load()  # decode now: a truncated file fails here, not later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise DataError(f"corrupt or truncated image ({exc})", path=path, where=where) from None
    mode = color_mode or ("grayscale" if img.mode in ("L", "1", "I", "I;16", "F") else "rgb")
    img = img.convert("L" if mode == "grayscale" else "RGB")
    if target_size is not None:
        h, w = target_size
        if (img.height, img.width) != (h, w):
            img = img.resize((w, h), Image.Resampling.NEAREST)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def encode_image(image: np.ndarray, format: str = "PNG") -> bytes:
    """Encode an H x W x C (C = 1 or 3) uint8 array; PNG is lossless."""
    arr = np.asarray(image, dtype=np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=format)
    return buf.getvalue()


def stack_images(images: list[np.ndarray], places: list[tuple[str, str | None]]) -> np.ndarray:
    """One N x H x W x C array; mixed sizes are an error naming the first odd one (pass target_size)."""
    if not images:
        return np.zeros((0, 1, 1, 1), np.uint8)
    first = images[0].shape
    for img, (path, where) in zip(images, places, strict=True):
        if img.shape != first:
            raise DataError(
                f"image size {img.shape[:2]} differs from the first image's {first[:2]}; "
                "pass target_size=(height, width) to resize",
                path=path, where=where,
            )
    return np.stack(images)
