"""The command-line layer: one module per ``signbench`` subcommand.

Each module has ``HELP`` (one line for ``signbench --help``), ``DESCRIPTION`` (the subcommand's own
help text), ``add_arguments(parser)`` and ``run(args) -> int``. Argument parsing and printing happen
here and in :mod:`signbench.cli` only; the library modules they call return data.
"""
