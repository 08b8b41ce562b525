"""Entry point of the child processes signbench starts (not a user command):

    python -m signbench.commands.worker tune --spec SPEC.json           # a KerasTuner chief or worker
    python -m signbench.commands.worker data-parallel --strategy ... --out FILE.npz
    python -m signbench.commands.worker speed --data D.npz --preset P --seed S

Each role is a library function (:func:`signbench.distributed.tuning.process_main`,
:func:`signbench.distributed.data_parallel.run_process`, :func:`signbench.studies.speed.serve`); this
module only parses the arguments and, for ``speed``, writes the answers to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m signbench.commands.worker",
                                 description="a child process of signbench (started by signbench itself)")
    sub = ap.add_subparsers(dest="role", required=True)
    t = sub.add_parser("tune", help="one chief or worker process of a distributed search")
    t.add_argument("--spec", required=True, help="SearchSpec JSON written by the launcher")
    d = sub.add_parser("data-parallel", help="train one model data-parallel and save weights/losses")
    d.add_argument("--strategy", default="single", help="comma list of single, mirrored, multiworker (in order)")
    d.add_argument("--devices", type=int, default=2, help="logical CPU devices for 'mirrored' (no GPU)")
    d.add_argument("--out", required=True, type=Path)
    d.add_argument("--model", default="baseline")
    d.add_argument("--data", default="synthetic", help="'synthetic', 'sign_mnist' or a CSV path")
    d.add_argument("--n", type=int, default=64, help="examples (synthetic: generated; real: first n)")
    d.add_argument("--image-size", type=int, default=8)
    d.add_argument("--num-classes", type=int, default=3)
    d.add_argument("--global-batch", type=int, default=16)
    d.add_argument("--epochs", type=int, default=2)
    d.add_argument("--learning-rate", type=float, default=1e-3)
    d.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("speed", help="train one speed-study preset, driven line by line on stdin")
    s.add_argument("--data", required=True, type=Path)
    s.add_argument("--preset", required=True)
    s.add_argument("--seed", type=int, default=0)
    return ap


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    if args.role == "tune":
        from signbench.distributed.tuning import process_main

        return process_main(args.spec)
    if args.role == "data-parallel":
        from signbench.distributed.data_parallel import run_process

        kinds = [k.strip() for k in args.strategy.split(",") if k.strip()]
        run_process(kinds, args.out, devices=args.devices, model=args.model, data=args.data, n=args.n,
                    image_size=args.image_size, num_classes=args.num_classes, global_batch=args.global_batch,
                    epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed)
        return 0
    from signbench.studies.speed import PREFIX, serve

    def answer(obj: dict) -> None:
        sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
        sys.stdout.flush()

    code = serve(args.data, args.preset, args.seed, sys.stdin, answer)
    # Every answer is flushed and the worker writes no file, so skip the interpreter's teardown: with
    # TensorFlow loaded it takes about 3 s on 2 cores (a benchmark starts dozens of these workers).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
