"""``signbench leakage``: exact and near duplicates between the real train and test CSVs."""

from __future__ import annotations

import json
from pathlib import Path

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


def run(args) -> int:
    from signbench.data.explore import leakage_report

    print(json.dumps(leakage_report(args.data_dir, seed=args.seed), indent=1))
    return 0
