"""The ``signbench`` command. Each subcommand lives in the module that implements its stage.

A module named in ``COMMANDS`` provides ``add_arguments(parser)`` and ``run(args) -> int``; it is
imported only when its subcommand runs, so ``signbench --help`` stays fast. Errors a user can fix
(bad path, bad data, no network) print one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("signbench.results", "compare two benchmark runs (raw JSON or results CSV), flag regressions"),
    "data": ("signbench.data.summary", "load a dataset and print a JSON summary"),
    "course": ("signbench.course_table", "train the course's three models on the real data, write results/course_reproduction.*"),
    "reproduce": ("signbench.reproduce.cli", "run every course stage end to end into one run folder, with a report"),
    "sota": ("signbench.sota", "train cnn_plus with the beyond-the-course recipe (val split from train; test touched once)"),
    "tables": ("signbench.tables", "write a stored benchmark run's tables (NAME.csv, NAME.md) again from its raw JSON"),
    "tune": ("signbench.distributed.tuning", "hyperparameter search: in-process, or a KerasTuner chief + N workers"),
    "transfer": ("signbench.transfer", "pretrain a backbone on letters A-M, transfer it to N-Y, model-selection table"),
}


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _parser(commands: dict[str, tuple[str, str]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in commands.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    # Only import the chosen subcommand's module (plus none for --help of the top level).
    chosen = {k: v for k, v in COMMANDS.items() if k in argv[:1]} or COMMANDS
    parser = _parser(chosen)
    args = parser.parse_args(argv)
    from signbench.data.types import DataError

    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (UserError, DataError, FileNotFoundError, PermissionError, ConnectionError, TimeoutError) as exc:
        print(f"signbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"signbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    # Run through the imported module so its UserError is the one the stage modules raise.
    from signbench.cli import main as _main

    sys.exit(_main())
