"""``signbench summary RUN``: one screen about a benchmark run, and whether it ran on real or synthetic data."""

from __future__ import annotations

from pathlib import Path

HELP = "one screen about a benchmark run: real or synthetic data, best runtime and training samples/s per model"
DESCRIPTION = (
    "Summarize a benchmark run (its raw JSON under results/raw/, or a results CSV) on one screen: whether "
    "its rows came from the real data or from synthetic images of the real shapes, where its rows are, "
    "the best inference runtime per model, training samples/s per model and the skipped rows by reason. "
    "`nox -s bench-cpu` and `nox -s bench-gpu` print this at the end. Nothing is measured."
)


def add_arguments(parser) -> None:
    parser.add_argument("run", type=Path, help="a run's raw JSON (results/raw/<run>.json) or a results CSV")


def run(args) -> int:
    from signbench import results
    from signbench.errors import UserError

    if not args.run.is_file():
        raise UserError(f"no such run file: {args.run}")
    if args.run.suffix == ".json":
        output_json = results.load_raw_run(args.run)
        block = output_json["signbench"]
        rows = results.rows_from_benchmark_json(output_json)
        where = [f"Raw run: {args.run}"]
        if name := block.get("results_name"):
            folder = args.run.resolve().parent.parent  # the --results-dir: the raw file sits in its raw/
            if folder.is_relative_to(Path.cwd()):
                folder = folder.relative_to(Path.cwd())
            where.append(f"Tables: {folder / f'{name}.csv'} and {folder / f'{name}.md'} ({len(rows)} rows)")
        exitstatus = block.get("exitstatus")
    else:
        rows = results.load_rows(args.run)
        where, exitstatus = [f"Table: {args.run} ({len(rows)} rows)"], None
    for line in results.summary_lines(rows, where=where, exitstatus=exitstatus):
        print(line)
    return 0
