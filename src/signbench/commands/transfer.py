"""``signbench transfer {pretrain,compare,select}``: the transfer lesson on letters A-M -> N-Y."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

HELP = "pretrain a backbone on letters A-M, transfer it to N-Y, write the model-selection table"
DESCRIPTION = (
    "pretrain: train a small backbone on letters A-M of the real train CSV and save it (weights file and "
    "SavedModel). compare: for each seed, the frozen pretrained backbone + a new head against the same "
    "network from scratch on a few images per letter N-Y. select: the course's precision-vs-complexity "
    "table (course CNN, this backbone, MobileNetV2, InceptionV3-mixed7) into model_selection.csv/.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pretrain", "compare", "select"],
                        help="pretrain a backbone on letters A-M; compare transfer vs scratch on N-Y; "
                             "select: write the model-selection table")
    parser.add_argument("--work", type=Path, default=Path("runs/transfer"),
                        help="where the pretrained backbone is written/read (default runs/transfer)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="table folder (select)")
    parser.add_argument("--data-dir", type=Path, default=None, help="real data folder (default: located)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="compare: seeds")
    parser.add_argument("--per-class", type=int, default=5, help="target samples per class")
    parser.add_argument("--epochs", type=int, default=100, help="few-shot epochs (28x28 models)")
    parser.add_argument("--batch-size", type=int, default=16, help="few-shot batch size")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--big-epochs", type=int, default=10, help="few-shot epochs for the 32/150 px models")
    parser.add_argument("--val-rows", type=int, default=1500,
                        help="target validation rows drawn from the test CSV's letters N-Y (0: all)")
    parser.add_argument("--no-inception", action="store_true", help="select: leave InceptionV3 out")


def run(args) -> int:
    from signbench.data.load import load_sign_mnist
    from signbench.errors import UserError
    from signbench.studies.model_selection import model_selection, write
    from signbench.train.transfer import (
        SOURCE_LETTERS,
        compare,
        letters_subset,
        pretrain_backbone,
        save_backbone,
        target_data,
    )

    weights = args.work / "backbone.weights.h5"
    if args.action == "pretrain":
        source = letters_subset(load_sign_mnist("train", args.data_dir), SOURCE_LETTERS)
        pre = pretrain_backbone(source, seed=args.seed, epochs=args.pretrain_epochs)
        paths = save_backbone(pre.backbone, args.work)
        print(json.dumps({"source_letters": "".join(SOURCE_LETTERS), "source_rows": len(source),
                          "train_accuracy": pre.train_accuracy, **{k: str(v) for k, v in paths.items()}}))
        return 0
    if not weights.is_file():
        raise UserError(f"{weights} not found; run `signbench transfer pretrain --work {args.work}` first")
    train, val = target_data(args.data_dir, args.val_rows, args.seed)
    if args.action == "compare":
        for r in compare(weights, train, val, seeds=args.seeds, per_class=args.per_class, epochs=args.epochs,
                         batch_size=args.batch_size):
            print(json.dumps(r))
        return 0
    source = letters_subset(load_sign_mnist("train", args.data_dir), SOURCE_LETTERS)
    rows = model_selection(weights, train, val, source=source, work_dir=args.work, seed=args.seed,
                           per_class=args.per_class, epochs=args.epochs, batch_size=args.batch_size,
                           big_epochs=args.big_epochs, pretrain_epochs=args.pretrain_epochs,
                           inception=not args.no_inception)
    paths = write(rows, args.out, command="signbench " + shlex.join(sys.argv[1:]))
    print(Path(paths[1]).read_text())
    return 0
