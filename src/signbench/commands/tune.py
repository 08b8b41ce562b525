"""``signbench tune``: hyperparameter search in this process, or a KerasTuner chief plus N workers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "hyperparameter search: in-process Hyperband, or a KerasTuner chief + N workers"
DESCRIPTION = (
    "Hyperparameter search over the course hypermodel. --workers 0 runs Hyperband in this process and "
    "retrains the best model; --workers N starts a KerasTuner chief and N workers on 127.0.0.1 (a worker "
    "that dies hands its trial to the others); --print-env HOST prints how to start them on several hosts "
    "instead. Prints the oracle's summary as JSON."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=0, help="worker processes (0: in-process search)")
    p.add_argument("--tuner", choices=("hyperband", "random"), default="hyperband")
    p.add_argument("--max-trials", type=int, default=10, help="random search: number of trials")
    p.add_argument("--epochs", type=int, default=2, help="random search: epochs per trial")
    p.add_argument("--max-epochs", type=int, default=10, help="hyperband: most epochs of one trial")
    p.add_argument("--factor", type=int, default=3, help="hyperband reduction factor")
    p.add_argument("--hyperband-iterations", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="sign_mnist",
                   help="'sign_mnist' (the real training CSV), 'synthetic' (tiny, for smoke runs) or a CSV path")
    p.add_argument("--synthetic-n", type=int, default=256, help="examples of --data synthetic")
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument("--directory", default=None, help="project folder parent (default: the signbench cache)")
    p.add_argument("--project", default="signbench_tune")
    p.add_argument("--resume", action="store_true", help="continue the search in the project folder")
    p.add_argument("--threads", type=int, default=None, help="TF threads per worker process")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds before the search is abandoned")
    p.add_argument("--retrain-epochs", type=int, default=20, help="--workers 0: epochs to retrain the best model")
    p.add_argument("--print-env", metavar="CHIEF_HOST", default=None,
                   help="write the spec and print the commands for a multi-host run; start nothing")
    p.add_argument("--port", type=int, default=None, help="oracle port (default: a free one)")


def _spec(args):
    from signbench.data.locate import cache_dir
    from signbench.distributed.tuning import SearchSpec

    if args.data in ("sign_mnist", "synthetic"):
        data = {"kind": args.data}
        if args.data == "synthetic":
            data.update(n=args.synthetic_n, image_size=8, num_classes=3)
    else:
        data = {"kind": "csv", "path": str(Path(args.data).resolve())}
    return SearchSpec(
        directory=str(Path(args.directory or cache_dir() / "tune").resolve()), project_name=args.project,
        tuner=args.tuner, max_trials=args.max_trials, epochs=args.epochs, max_epochs=args.max_epochs,
        factor=args.factor, hyperband_iterations=args.hyperband_iterations, batch_size=args.batch_size,
        seed=args.seed, data=data, validation_split=args.validation_split,
    )


def run(args) -> int:
    from signbench.distributed.tuning import SPEC, LocalSearch, _check_data, host_recipe, in_process_search
    from signbench.errors import UserError

    if args.workers < 0:
        raise UserError("--workers must be >= 0")
    spec = _spec(args)
    if args.print_env:
        if args.workers < 1:
            raise UserError("--print-env needs --workers N >= 1")
        spec.project_dir.mkdir(parents=True, exist_ok=True)
        spec.save(spec.project_dir / SPEC)
        print(host_recipe(spec, args.workers, args.print_env, args.port or 8000))
        return 0
    _check_data(spec)  # here, not for --print-env: the data need only exist on the worker hosts
    if args.workers == 0:
        if spec.tuner != "hyperband":
            raise UserError("the in-process search (--workers 0) is Hyperband; drop --tuner random")
        print(json.dumps(in_process_search(spec, retrain_epochs=args.retrain_epochs), indent=1, default=str))
        return 0
    with LocalSearch(spec, args.workers, port=args.port, threads=args.threads, overwrite=not args.resume) as search:
        search.start()
        print(f"oracle on {search.host}:{search.port}; logs in {search.logs}", file=sys.stderr, flush=True)
        summary = search.wait(args.timeout)
    print(json.dumps(summary, indent=1, default=str))
    if summary["incomplete"]:
        print(f"signbench tune: {len(summary['incomplete'])} trials did not complete: {summary['incomplete']}",
              file=sys.stderr)
        return 1
    return 0
