"""``signbench data SOURCE``: load a dataset and print a JSON summary.

Count, image shape, classes, per-class counts, imbalance ratio, pixel range and (with
``--on-error skip``) every skipped item. Bad input exits 2 with one line naming the place.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_arguments", "run", "summarize"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from signbench.data.load import FORMATS

    parser.add_argument("source", help="CSV(.gz), JSON(-lines), image folder, .zip, or keras:cifar100")
    parser.add_argument("--format", choices=FORMATS, default=None, help="override format detection")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip: load the good items and list the bad ones under 'errors'")
    parser.add_argument("--split", default=None, help="folder: split folder (Train/Test); keras: train/test")
    parser.add_argument("--color-mode", choices=("grayscale", "rgb"), default=None, help="image formats")
    parser.add_argument("--target-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="image formats: resize to H x W")
    parser.add_argument("--label-mode", choices=("fine", "coarse"), default=None, help="keras:cifar100")


def summarize(ds, fmt: str) -> dict:
    from signbench.explore import class_balance

    bal = class_balance(ds)
    return {
        "source": ds.source,
        "format": fmt,
        "count": len(ds),
        "shape": list(ds.image_shape),
        "num_classes": ds.num_classes,
        "classes": list(ds.class_names),
        "class_counts": bal["counts"],
        "imbalance_ratio": bal["imbalance_ratio"],
        "pixel_min": int(ds.images.min()) if len(ds) else None,
        "pixel_max": int(ds.images.max()) if len(ds) else None,
        "errors": [{"path": s.path, "where": s.where, "reason": s.reason} for s in ds.skipped],
    }


def run(args: argparse.Namespace) -> int:
    from signbench.data.load import detect_format, load

    fmt = args.format or detect_format(args.source)
    options = {}
    if args.split is not None:
        if fmt not in ("folder", "zip", "keras"):
            from signbench.cli import UserError

            raise UserError("--split applies to folders, zips and keras datasets")
        options["split"] = args.split
    if args.color_mode is not None:
        options["color_mode"] = args.color_mode
    if args.target_size is not None:
        options["target_size"] = tuple(args.target_size)
    if args.label_mode is not None:
        options["label_mode"] = args.label_mode
    ds = load(args.source, format=fmt, on_error=args.on_error, **options)
    json.dump(summarize(ds, fmt), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0

