"""The command-line layer: one module per ``signbench`` subcommand.

Each module has ``HELP`` (one line for ``signbench --help``), ``DESCRIPTION`` (the subcommand's own
help text), ``add_arguments(parser)`` and ``run(args) -> int``. Argument parsing and printing happen
here and in :mod:`signbench.cli` only; the library modules they call return data.
"""


def command_line(args) -> str:
    """The command a table records as its producer: ``signbench`` and the arguments
    :func:`signbench.cli.main` was given (``args.argv``; ``sys.argv`` is another program's when ``main`` is
    called from Python, e.g. a test)."""
    import shlex

    return "signbench " + shlex.join(args.argv)
