"""``signbench pareto``: every 24-letter model x runtime, accuracy against one-image latency, the front."""

from __future__ import annotations

from pathlib import Path

from signbench.commands import command_line

HELP = "accuracy against one-image latency for every model x runtime, with the Pareto front"
DESCRIPTION = (
    "Train every 24-letter model (the course's baseline, regularized and cnn with the course's protocol, "
    "cnn_plus with the sota recipe, the speedrun ladder's rung that met the accuracy goal, and its rung built for deployment, whose int8 "
    "TFLite is the deployable model) "
    "on the train CSV, convert each to TFLite float32, float16, dynamic and "
    "int8 (int8 calibrated on train images), and measure, in one run, each model under each runtime "
    "(Keras call, tf.function, the four TFLite modes through Predictor): test accuracy on the whole test "
    "CSV and one-image p50/p99 latency, all pairs timed interleaved. Writes pareto.csv, pareto.md and "
    "pareto.png (the Pareto front over accuracy and p50 marked) under --out. --epochs and --train-limit "
    "make a smoke run (the page says so); the published table uses neither."
)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def add_arguments(parser) -> None:
    from signbench.studies.pareto import MODELS, Timing

    parser.add_argument("--out", type=Path, required=True, help="folder for pareto.csv, pareto.md and pareto.png")
    parser.add_argument("--seed", type=int, default=0, help="root seed (training, calibration, timing order)")
    parser.add_argument("--rounds", type=int, default=Timing.rounds,
                        help="timed rounds; each round times every model x runtime once (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=Timing.warmup, help="untimed rounds first (default %(default)s)")
    parser.add_argument("--models", type=_names, default=None,
                        help=f"comma-separated subset of {','.join(e.name for e in MODELS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="smoke runs only: train every model this many epochs instead of its protocol's")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="smoke runs only: train on a seeded stratified subset of this many images")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two CSVs")


def run(args) -> int:
    import logging

    from signbench.data.load import load_sign_mnist
    from signbench.errors import UserError
    from signbench.studies import pareto

    try:
        pareto.select(args.models)
        timing = pareto.Timing(rounds=args.rounds, warmup=args.warmup)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if (args.epochs is not None and args.epochs < 1) or (args.train_limit is not None and args.train_limit < 1):
        raise UserError("--epochs and --train-limit must be at least 1")
    logging.getLogger("absl").setLevel(logging.WARNING)  # the TFLite converter's INFO line, 24 times
    train = load_sign_mnist("train", args.data_dir)
    test = load_sign_mnist("test", args.data_dir)
    rows = pareto.run(train, test, args.out, seed=args.seed, models=args.models, timing=timing,
                      budget=pareto.TrainBudget(args.epochs, args.train_limit),
                      command=command_line(args), log=lambda line: print(line, flush=True))
    on = [f"{r['model']} ({r['runtime']})" for r in rows if r["on_front"]]
    print(f"wrote {args.out / 'pareto.csv'}, .md and .png; front: {', '.join(on)}")
    return 0
