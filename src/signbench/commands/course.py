"""``signbench course``: the course's three models on the real data, next to the course's numbers."""

from __future__ import annotations

from pathlib import Path

from signbench.commands import command_line

HELP = "train the course's three models on the real data; write results/course_reproduction.*"
DESCRIPTION = (
    "Train the course's baseline, regularized and CNN models on the full real training CSV for 20 epochs "
    "(the course's protocol: validation = a seeded stratified 20% of the test CSV, test = all of it), "
    "evaluate the best-only checkpoint, and write course_reproduction.csv and .md next to the numbers the "
    "course printed. It trains at full length: the longest of the commands after reproduce."
)


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with sign_mnist_train.csv.gz / sign_mnist_test.csv.gz (default: real data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--models", nargs="+", default=["baseline", "regularized", "cnn"],
                        choices=["baseline", "regularized", "cnn"])
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on a seeded stratified subset of this many images (smoke runs)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the tables")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/course"),
                        help="checkpoints, per-model RunResult JSON and learning curves")


def run(args) -> int:
    from signbench.data.load import load_sign_mnist
    from signbench.data.split import stratified_subset
    from signbench.seeds import derive
    from signbench.studies.course_table import run_course_table

    train = load_sign_mnist("train", args.data_dir)
    test = load_sign_mnist("test", args.data_dir)
    if args.train_limit:
        train = train.subset(stratified_subset(train.labels, args.train_limit, seed=derive(args.seed, "subset")))
    run_course_table(
        train, test, seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, models=args.models,
        out_dir=args.out, run_dir=args.run_dir, command=command_line(args),
        report=lambda line: print(line, flush=True),
    )
    print(f"wrote {args.out / 'course_reproduction.csv'} and .md")
    return 0
