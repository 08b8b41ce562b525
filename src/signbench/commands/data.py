"""``signbench data SOURCE``: load a dataset and print a JSON summary."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "load a dataset (CSV, JSON, image folder, zip) and print a JSON summary"
DESCRIPTION = (
    "Load SOURCE with signbench's loaders and print its summary as JSON: count, image shape, classes, "
    "images per class, imbalance ratio, pixel range and, with --on-error skip, every item left out. "
    "Bad input stops with one line naming the file and the row, key or archive member."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from signbench.data.load import FORMATS

    parser.add_argument("source", help="CSV(.gz), JSON(-lines), image folder, .zip, or keras:cifar100")
    parser.add_argument("--format", choices=list(FORMATS), default=None, help="override format detection")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="skip: load the good items and list the bad ones under 'errors'")
    parser.add_argument("--split", default=None, help="folder: split folder (Train/Test); keras: train/test")
    parser.add_argument("--color-mode", choices=("grayscale", "rgb"), default=None, help="image formats")
    parser.add_argument("--target-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="image formats: resize to H x W")
    parser.add_argument("--label-mode", choices=("fine", "coarse"), default=None, help="keras:cifar100")


def run(args: argparse.Namespace) -> int:
    from signbench.data.explore import summary
    from signbench.data.load import detect_format, load
    from signbench.errors import UserError

    fmt = args.format or detect_format(args.source)
    options = {}
    if args.split is not None:
        if fmt not in ("folder", "zip", "keras"):
            raise UserError("--split applies to folders, zips and keras datasets")
        options["split"] = args.split
    if args.color_mode is not None:
        options["color_mode"] = args.color_mode
    if args.target_size is not None:
        options["target_size"] = tuple(args.target_size)
    if args.label_mode is not None:
        options["label_mode"] = args.label_mode
    ds = load(args.source, format=fmt, on_error=args.on_error, **options)
    json.dump(summary(ds, fmt), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
