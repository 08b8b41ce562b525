"""``signbench reproduce``: every course stage end to end into one run folder, with a report.

Stages: data (load + verify), clean, explore, split, train baseline / regularized / cnn (course
callbacks), tune, save-reload, transfer, deploy (TFLite + inference benchmark), report. The run
folder (``--out``, default ``runs/reproduce``) gets one subfolder per finished stage, a
``manifest.json``, and at the end ``report.md``, ``report.html`` (images embedded), ``results.csv``
and ``results.json``. A killed run continues with ``--resume``; finished stages are not recomputed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from signbench.reproduce.stages import STAGE_NAMES

__all__ = ["add_arguments", "run", "DEFAULT_OUT"]

DEFAULT_OUT = Path("runs") / "reproduce"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--data", metavar="PATH",
        help="a CSV pair (folder with *train*/*test* CSVs, or the train CSV), one CSV, an image folder "
        "tree (Train/ and Test/ used as the split) or a .zip; default: the real Sign Language MNIST "
        "from $SIGNBENCH_DATA_DIR (default ../shared/data) or the download cache",
    )
    src.add_argument("--dataset", metavar="NAME", help="a dataset from signbench's registry (fetched, verified)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"run folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="the same stages at a small size (about two minutes on 2 CPU cores)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed run in --out; finished stages are not recomputed")
    parser.add_argument("--quiet", action="store_true", help="no Keras progress bars (stage lines stay)")
    parser.add_argument("--full-tune", action="store_true",
                        help="the course's Hyperband budget (max_epochs 10, all training images) instead of "
                        "the small default")
    parser.add_argument("--seed", type=int, default=0, help="root seed; every stage derives its own (default 0)")
    parser.add_argument("--until", choices=STAGE_NAMES, metavar="STAGE",
                        help=f"stop after this stage (one of: {', '.join(STAGE_NAMES)})")


def config_from_args(args: argparse.Namespace, spec) -> dict:
    """The settings a run is fingerprinted by (not --out, --resume, --quiet or --until)."""
    from signbench.reproduce.stages import profile

    return {
        "data": spec.to_dict(),
        "quick": bool(args.quick),
        "full_tune": bool(args.full_tune),
        "seed": int(args.seed),
        "profile": profile(quick=bool(args.quick), full_tune=bool(args.full_tune)),
    }


def run(args: argparse.Namespace) -> int:
    from signbench.cli import UserError
    from signbench.reproduce.source import NoDataError, resolve

    try:
        spec = resolve(args.data, args.dataset)
    except NoDataError as exc:
        raise UserError(str(exc)) from None
    config = config_from_args(args, spec)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from signbench.reproduce.build import publish
    from signbench.reproduce.runner import RunError, Runner
    from signbench.reproduce.stages import build_stages

    # quiet changes no result, so it is an option (seen by stages), not part of the fingerprint
    runner = Runner(args.out, build_stages(args.until), config, resume=args.resume,
                    options={"quiet": bool(args.quiet)})
    try:
        runner.run()
    except RunError as exc:
        raise UserError(str(exc)) from None
    written = publish(Path(args.out))
    if written:
        print(f"report: {Path(args.out) / 'report.md'} and {Path(args.out) / 'report.html'}", flush=True)
        _print_table(Path(args.out))
    return 0


def _print_table(run_dir: Path) -> None:
    import csv

    with (run_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    def fmt(r, k):
        v = r.get(k)
        return f"{float(v):.4f}" if v not in (None, "") else "-"

    for r in rows:

        print(f"  {r['name']:<22} train {fmt(r, 'train_accuracy')}  val {fmt(r, 'val_accuracy')}  "
              f"test {fmt(r, 'test_accuracy')}   (course: {fmt(r, 'course_train')} / {fmt(r, 'course_val')}"
              f" / {fmt(r, 'course_test')})", file=sys.stdout, flush=True)
