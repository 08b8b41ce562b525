"""``signbench tables RAW --name NAME``: write a stored run's tables again from its raw JSON."""

from __future__ import annotations

from pathlib import Path

HELP = "write a stored benchmark run's tables (NAME.csv, NAME.md) again from its raw JSON"
DESCRIPTION = (
    "A benchmark run with --results-dir DIR keeps its raw pytest-benchmark JSON under DIR/raw/ and writes "
    "DIR/NAME.csv and DIR/NAME.md from it. This rebuilds those two tables from the raw file alone (same "
    "rows, same metadata, the run's own command on top), e.g. after a change to how tables are formatted. "
    "Nothing is measured."
)


def add_arguments(parser) -> None:
    parser.add_argument("raw", type=Path, help="a run's raw JSON, e.g. results/raw/<run>.json")
    parser.add_argument("--name", required=True, help="table name: writes DIR/NAME.csv and DIR/NAME.md")
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where to write (default: the folder above the raw file's raw/ folder)")


def run(args) -> int:
    from signbench import results
    from signbench.errors import UserError

    try:
        output_json = results.load_raw_run(args.raw)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    rows = results.rows_from_benchmark_json(output_json)
    out_dir = args.results_dir or args.raw.resolve().parent.parent
    command = output_json["signbench"].get("command", "")
    for path in results.write_tables(rows, out_dir, args.name, command=command):
        print(path)
    return 0
