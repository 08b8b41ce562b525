"""``signbench reproduce``: every course stage end to end into one run folder, with a report."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

HELP = "run every course stage end to end into one run folder, with a report"
DESCRIPTION = (
    "Run the course from data to deployment: load and verify the data, clean, explore, split, train the "
    "baseline, regularized and CNN models with the course's callbacks, tune with Hyperband, save and reload "
    "every format, transfer a pretrained backbone, convert to TFLite and time inference, and write "
    "report.md / report.html / results.csv into the run folder. Each finished stage is kept: a killed run "
    "continues with --resume. One line per stage start and end shows the time left."
)

DEFAULT_OUT = Path("runs") / "reproduce"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from signbench.reproduce.stages import STAGE_NAMES

    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--data", metavar="PATH",
        help="a CSV pair (folder with *train*/*test* CSVs, or the train CSV), one CSV, an image folder "
        "tree (Train/ and Test/ used as the split) or a .zip; default: the real Sign Language MNIST "
        "($SIGNBENCH_DATA_DIR, else ../shared/data, else the download cache)",
    )
    src.add_argument("--dataset", metavar="NAME", help="a dataset from signbench's registry (fetched, verified)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"run folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="the same stages at a small size (a few minutes on a laptop CPU)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed run in --out; finished stages are not recomputed")
    parser.add_argument("--quiet", action="store_true", help="no Keras progress bars (stage lines stay)")
    parser.add_argument("--full-tune", action="store_true",
                        help="the course's Hyperband budget (max_epochs 20, all training images) instead of "
                        "the small default")
    parser.add_argument("--seed", type=int, default=0, help="root seed; every stage derives its own (default 0)")
    parser.add_argument("--until", choices=STAGE_NAMES, metavar="STAGE",
                        help=f"stop after this stage (one of: {', '.join(STAGE_NAMES)})")


def run(args: argparse.Namespace) -> int:
    from signbench.reproduce.config import RunConfig
    from signbench.reproduce.source import resolve

    config = RunConfig.make(resolve(args.data, args.dataset), quick=args.quick, full_tune=args.full_tune,
                            seed=args.seed)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from signbench.reproduce.report import publish
    from signbench.reproduce.runner import Runner
    from signbench.reproduce.stages import build_stages

    runner = Runner(args.out, build_stages(args.until), config, resume=args.resume, quiet=args.quiet,
                    progress=lambda line: print(line, flush=True))
    runner.run()
    if publish(Path(args.out)):
        print(f"report: {Path(args.out) / 'report.md'} and {Path(args.out) / 'report.html'}", flush=True)
        with (Path(args.out) / "results.csv").open() as f:
            rows = list(csv.DictReader(f))

        def fmt(r, k):
            v = r.get(k)
            return f"{float(v):.4f}" if v not in (None, "") else "-"

        for r in rows:
            print(f"  {r['name']:<22} train {fmt(r, 'train_accuracy')}  val {fmt(r, 'val_accuracy')}  "
                  f"test {fmt(r, 'test_accuracy')}   (course: {fmt(r, 'course_train')} / {fmt(r, 'course_val')}"
                  f" / {fmt(r, 'course_test')})", flush=True)
    return 0
