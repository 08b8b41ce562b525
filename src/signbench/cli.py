"""The ``signbench`` command: one subcommand per module of :mod:`signbench.commands`.

A subcommand's module is imported only when that subcommand runs (``signbench --help`` imports each
module for its help line only, and none of them imports TensorFlow at module level). Errors a user can
fix (bad path, bad data, no network) print one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

#: subcommand -> its module under signbench.commands
COMMANDS: dict[str, str] = {
    "reproduce": "reproduce",
    "claims": "claims",
    "course": "course",
    "sota": "sota",
    "speedrun": "speedrun",
    "pareto": "pareto",
    "transfer": "transfer",
    "tune": "tune",
    "data": "data",
    "leakage": "leakage",
    "compare": "compare",
    "results": "results",
    "tables": "tables",
    "summary": "summary",
    "fixtures": "fixtures",
    "fuzz": "fuzz",
}

DESCRIPTION = (
    "signbench reproduces a TensorFlow/Keras course on Sign Language MNIST and measures it: every stage "
    "of the course as tested library code, its claims checked, accuracy and latency tables in results/."
)
EPILOG = (
    "Start with `signbench reproduce --quick` (every course stage at a small size, a few minutes) or "
    "`signbench reproduce` (the course's sizes). `signbench COMMAND --help` explains each command."
)


#: errno values that mean "no room to write": a full disk, a file-size limit, a quota.
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _module(name: str):
    return importlib.import_module(f"signbench.commands.{COMMANDS[name]}")


def _parser(names) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signbench", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in names:
        mod = _module(name)
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION)
        mod.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from signbench.errors import DataError, UserError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    # Only import the chosen subcommand's module (every module for the top-level --help).
    chosen = [argv[0]] if argv[:1] and argv[0] in COMMANDS else list(COMMANDS)
    args = _parser(chosen).parse_args(argv)
    args.argv = list(argv)  # what this call was given (sys.argv is another program's when called from Python)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library reports through logging
    try:
        return int(_module(args.command).run(args) or 0)
    except (UserError, DataError, FileNotFoundError, PermissionError, ConnectionError, TimeoutError) as exc:
        print(f"signbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"signbench {args.command}: error: cannot write{where}: {exc.strerror} (the disk is full or a "
              "file-size limit is reached; files written before are unchanged)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"signbench {args.command}: interrupted", file=sys.stderr)
        return 130
