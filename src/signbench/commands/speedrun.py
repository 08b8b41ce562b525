"""``signbench speedrun``: time to accuracy, the recipe against the course CNN in the same run."""

from __future__ import annotations

from pathlib import Path

from signbench.commands import command_line

HELP = "time to accuracy: the speedrun recipe over seeds against the course CNN, timed in the same run"
DESCRIPTION = (
    "Train the speedrun recipe (declared in signbench.studies.speedrun) on the train CSV for each seed, then "
    "read the test CSV once; in the same run, train the reference (the course CNN, plain fit, 20 epochs, "
    "batch 128) the same way. Converts each seed's model to int8 TFLite (its accuracy) and times seed 0's "
    "one-image latency interleaved with the course CNN's int8 model. Writes speedrun.csv/.md/.json and "
    "speedrun_latency.csv/.md in --out. With --validate, the test CSV is not read: the declared candidates "
    "train on the train CSV less a fifth of its near-duplicate groups and are scored on that held-out fifth "
    "(speedrun_validation.csv/.md/.json; round N > 1: speedrun_validation_N.*), and the declared rules pick the "
    "next rung and, where int8 latency is timed, the deployable model."
)


def add_arguments(parser) -> None:
    from signbench.studies.speedrun import ROUNDS, RUNGS

    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--rung", choices=[r.name for r in RUNGS], default=RUNGS[0].name,
                        help="the ladder's rung (A first; B only if A misses the accuracy goal; C and D: the picks of validation "
                             "round 2's speed and deployable rules; E and F: rounds 3 and 4's deployable picks)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the tables")
    parser.add_argument("--stem", default="speedrun", help="file name stem of the tables (default speedrun)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two CSVs")
    parser.add_argument("--no-reference", action="store_true", help="skip the course CNN reference (ratio is NaN)")
    parser.add_argument("--reference-epochs", type=int, default=None,
                        help="override the reference's 20 epochs (a smoke run, not the protocol)")
    parser.add_argument("--no-int8", action="store_true", help="skip int8 conversion and latency (TensorFlow only)")
    parser.add_argument("--latency-rounds", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=None, help="override the rung's epochs (a smoke run, not the recipe)")
    parser.add_argument("--train-subset", type=int, default=None,
                        help="train on the first N training images (a smoke run, not the recipe)")
    parser.add_argument("--validate", action="store_true",
                        help="choose the next rung: every declared candidate on a held-out fifth of the train CSV's "
                             "near-duplicate groups (the test CSV is not read); --rung is unused")
    parser.add_argument("--round", type=int, choices=sorted(ROUNDS), default=min(ROUNDS),
                        help="with --validate: which declared round of candidates (default 1, the first)")
    parser.add_argument("--verbose", type=int, default=0)


def run(args) -> int:
    import dataclasses

    from signbench.data.load import load_sign_mnist
    from signbench.studies.speedrun import (
        REFERENCE_EPOCHS,
        ROUNDS,
        TWIN_RULE_ROUNDS,
        SpeedrunConfig,
        rung,
        validate,
        write,
        write_validation,
    )
    from signbench.studies.speedrun import run as speedrun

    recipe = rung(args.rung)
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)

    def load(split: str):
        data = load_sign_mnist(split, args.data_dir)
        if split == "train" and args.train_subset:
            data = data.subset(range(min(args.train_subset, len(data))))
        return data

    config = SpeedrunConfig(seeds=tuple(range(args.seeds)), recipe=recipe, with_reference=not args.no_reference,
                            reference_epochs=args.reference_epochs or REFERENCE_EPOCHS, int8=not args.no_int8,
                            latency_rounds=args.latency_rounds, verbose=args.verbose)
    command = command_line(args)
    if args.validate:
        candidates = ROUNDS[args.round] if args.epochs is None else tuple(
            dataclasses.replace(r, epochs=args.epochs) for r in ROUNDS[args.round])
        found = validate(load("train"), candidates, config, progress=lambda msg: print(msg, flush=True),
                         twins=args.round in TWIN_RULE_ROUNDS)
        default = "speedrun_validation" + ("" if args.round == min(ROUNDS) else f"_{args.round}")
        stem = default if args.stem == "speedrun" else args.stem
        for p in write_validation(args.out, found, command=command, stem=stem):
            print(p)
        print(f"chosen: {found['chosen']}; deployable: {found['deployable']}")
        return 0
    result = speedrun(load, config, progress=lambda msg: print(msg, flush=True))
    paths = write(args.out, result, command=command, stem=args.stem, recipe=recipe)
    s = result.summary()
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()))
    for p in paths:
        print(p)
    return 0
