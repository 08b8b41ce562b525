"""``signbench leakage``: exact and near duplicates between the real train and test CSVs."""

from __future__ import annotations

import json
from pathlib import Path

from signbench.commands import command_line

HELP = "exact and near-duplicate images shared by the real train and test CSVs"
DESCRIPTION = (
    "Compare the real Sign Language MNIST train and test CSVs image by image: exact duplicates (byte "
    "hashes) and near duplicates (nearest train image per test image: RMS and max pixel difference, "
    "best correlation), with the same numbers for a validation split carved from the train CSV as the "
    "yardstick. Prints JSON."
)


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two CSVs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this file (with run metadata)")


def run(args) -> int:
    from signbench.atomic import atomic_write_json
    from signbench.data.explore import leakage_report
    from signbench.meta import run_metadata

    report = leakage_report(args.data_dir, seed=args.seed)
    print(json.dumps(report, indent=1))
    if args.out:
        atomic_write_json(args.out, {**report, "command": command_line(args),
                                     "metadata": run_metadata(args.seed)})
    return 0
