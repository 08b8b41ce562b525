"""Decoding image bytes (PNG/JPEG/...) to uint8 arrays, and stacking them with size checks.

Hostile images are a :class:`DataError` naming the file before anything big is allocated: an image
whose header declares more than ``MAX_PIXELS`` pixels (or none), Pillow's decompression-bomb error and
warning, and whatever else Pillow raises while identifying or decoding damaged bytes.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from signbench.errors import DataError

__all__ = ["COLOR_MODES", "decode_image", "encode_image", "stack_images"]

COLOR_MODES = ("grayscale", "rgb", None)
#: The most pixels (width x height) one image may declare: a big photo fits (8192 x 8192), an absurd
#: header does not (Pillow's own bomb warning starts near 89 million).
MAX_PIXELS = 8192 * 8192
#: What Pillow may raise on damaged bytes (besides its own errors): its plugins parse headers with
#: struct, index into tables and divide by header fields.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError,
                  KeyError, TypeError, ZeroDivisionError, OverflowError)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def decode_image(
    data: bytes,
    *,
    path: str,
    where: str | None = None,
    color_mode: str | None = "grayscale",
    target_size: tuple[int, int] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """H x W x C uint8 from encoded bytes. ``color_mode`` "grayscale" (C=1), "rgb" (C=3) or None
    (keep: grayscale files give C=1, everything else C=3). ``target_size`` is (height, width)."""
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {COLOR_MODES}, got {color_mode!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels or w < 1 or h < 1:
                raise DataError(f"image declares {w} x {h} pixels (at most {max_pixels} allowed)", path=path,
                                where=where)
            img.load()  # decode now: a truncated file fails here, not later
            mode = color_mode or ("grayscale" if img.mode in ("L", "1", "I", "I;16", "F") else "rgb")
            img = img.convert("L" if mode == "grayscale" else "RGB")
            if target_size is not None:
                th, tw = target_size
                if (img.height, img.width) != (th, tw):
                    img = img.resize((tw, th), Image.Resampling.NEAREST)
    except DataError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DataError(f"decompression bomb refused ({str(exc)[:200]})", path=path, where=where) from None
    except _DECODE_ERRORS as exc:
        raise DataError(f"corrupt or truncated image ({type(exc).__name__}: {str(exc)[:200]})", path=path,
                        where=where) from None
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
