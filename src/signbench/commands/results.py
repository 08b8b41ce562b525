"""``signbench results``: render the results index (results/index.md and results/index.html)."""

from __future__ import annotations

from pathlib import Path

HELP = "render results/index.md and results/index.html from the committed tables (one screen per question)"
DESCRIPTION = (
    "Read the tables under the results folder (CSV, JSONL and the raw benchmark JSON) and write index.md, "
    "index.html and their charts (index/*.png) there: one screen per question (the course's claims, "
    "overfitting, accuracy and latency per runtime, training speed options, time to accuracy, data loading, "
    "CPU against GPU, history), each a short table, a chart, the producing command and the run's metadata. "
    "Nothing is measured; the same tables give the same files. --rebuild-history first writes history.csv "
    "again from raw/."
)


def add_arguments(parser) -> None:
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="the results folder to read and write (default: results)")
    parser.add_argument("--rebuild-history", action="store_true",
                        help="first write RESULTS_DIR/history.csv again from every raw run under RESULTS_DIR/raw")


def run(args) -> int:
    from signbench.errors import UserError
    from signbench.review import history, index

    if not args.results_dir.is_dir():
        raise UserError(f"no results folder {args.results_dir}")
    if args.rebuild_history:
        print(history.rebuild(args.results_dir))
    for path in index.render(args.results_dir):
        print(path)
    return 0
