"""``signbench sota``: the beyond-the-course recipe (``cnn_plus``) on the real data."""

from __future__ import annotations

import json
from pathlib import Path

from signbench.commands import command_line

HELP = "train cnn_plus with the beyond-the-course recipe (validation from train; test touched once)"
DESCRIPTION = (
    "Train cnn_plus with the published recipe: a stratified 10% validation split carved from the train "
    "CSV only, warm-up + cosine learning rate, early stopping on the validation loss; the test CSV is read "
    "and evaluated once, after training. Prints one JSON row per seed (and appends it to --out)."
)


def add_arguments(parser) -> None:
    from signbench.studies.sota import Recipe

    parser.add_argument("--seed", type=int, action="append", help="root seed (repeat for several); default 0")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--batch-size", type=int, default=Recipe.batch_size)
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two CSVs")
    parser.add_argument("--out", type=Path, default=None,
                        help="append JSON lines here, and write the table of all its lines beside it (.md, .csv)")
    parser.add_argument("--verbose", type=int, default=0)


def run(args) -> int:
    import dataclasses

    from signbench.studies.sota import BASE_RECIPE, reproduce, write

    recipe = dataclasses.replace(BASE_RECIPE, epochs=args.epochs, batch_size=args.batch_size)
    for seed in args.seed or [0]:
        row = reproduce(seed, data_dir=args.data_dir, recipe=recipe, verbose=args.verbose)
        line = json.dumps(row, sort_keys=True)
        print(line, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as f:
                f.write(line + "\n")
            write(args.out, command=command_line(args))
    return 0
