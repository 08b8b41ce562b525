"""``signbench tables RAW --name NAME``: write a stored run's tables again from its raw JSON.

A benchmark run with ``--results-dir DIR`` keeps its pytest-benchmark JSON under ``DIR/raw/`` and
writes ``DIR/NAME.csv`` and ``DIR/NAME.md`` from it. This command rebuilds those two tables from the
raw file alone (same rows, same metadata, the run's own command on top), e.g. after a fix to how
tables are formatted, without rerunning the benchmark. Nothing is measured here.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    parser.add_argument("raw", type=Path, help="a run's raw JSON, e.g. results/raw/<run>.json")
    parser.add_argument("--name", required=True, help="table name: writes DIR/NAME.csv and DIR/NAME.md")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write (default: the folder above the raw file's raw/ folder)")


def run(args) -> int:
    from signbench import results
    from signbench.cli import UserError
    from signbench.data.types import DataError

    if not args.raw.is_file():
        raise UserError(f"no such raw run file: {args.raw}")
    try:
        output_json = json.loads(args.raw.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc})", path=str(args.raw)) from None
    block = output_json.get("signbench") if isinstance(output_json, dict) else None
    if not isinstance(block, dict) or "meta" not in block:
        raise DataError("not a signbench raw run (no 'signbench' block with run metadata)", path=str(args.raw))
    rows = results.rows_from_benchmark_json(output_json)
    out_dir = args.results_dir or args.raw.resolve().parent.parent
    for path in results.write_tables(rows, out_dir, args.name, command=block.get("command", "")):
        print(path)
    return 0
