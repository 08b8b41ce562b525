"""``signbench compare OLD NEW``: flag benchmark regressions between two runs."""

from __future__ import annotations

HELP = "compare two benchmark runs (raw JSON or results CSV) and flag regressions"
DESCRIPTION = (
    "Match the measurements of two benchmark runs (a raw JSON file under results/raw/ or a results CSV) "
    "by model, runtime, batch size and metric, print the ones that got worse by more than --threshold, "
    "and exit 1 when there is any."
)


def add_arguments(parser) -> None:
    parser.add_argument("old", help="baseline run: raw JSON under results/raw/ or a results CSV")
    parser.add_argument("new", help="candidate run, same formats")
    parser.add_argument(
        "--threshold", type=float, default=0.10,
        help="flag a metric that got worse by more than this fraction (default 0.10 = 10%%)",
    )
    parser.add_argument("--all", action="store_true", help="print every matched row, not only regressions")


def run(args) -> int:
    from signbench.errors import UserError
    from signbench.results import _fmt, compare, load_rows

    if args.threshold < 0:
        raise UserError(f"--threshold must be >= 0, got {args.threshold}")
    table = compare(load_rows(args.old), load_rows(args.new), threshold=args.threshold)
    if not table:
        raise UserError(f"no measurements in common between {args.old} and {args.new}")
    flagged = [t for t in table if t["regression"]]
    for t in table if args.all else flagged:
        mark = "REGRESSION" if t["regression"] else "ok"
        print(
            f"{mark:10s} {t['model']}/{t['runtime']}/batch {t['batch_size']} {t['metric']}: "
            f"{_fmt(t['old'])} -> {_fmt(t['new'])} {t['unit']} ({t['change']:+.1%})"
        )
    print(f"{len(flagged)} regression(s) beyond {args.threshold:.0%} among {len(table)} matched measurements")
    return 1 if flagged else 0
