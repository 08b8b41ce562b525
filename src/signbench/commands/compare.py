"""``signbench compare OLD NEW``: flag benchmark regressions between two runs."""

from __future__ import annotations

HELP = "compare two benchmark runs (raw JSON or results CSV) and flag regressions"
DESCRIPTION = (
    "Match the measurements of two benchmark runs (a raw JSON file under results/raw/ or a results CSV) "
    "by model, runtime, batch size, metric and data, print the ones that got worse by more than --threshold, "
    "and exit 1 when there is any. Rows on synthetic data are never compared with rows on the real data."
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
    from signbench.results import _fmt, compare, data_of, load_rows

    if args.threshold < 0:
        raise UserError(f"--threshold must be >= 0, got {args.threshold}")
    old, new = load_rows(args.old), load_rows(args.new)
    table = compare(old, new, threshold=args.threshold)
    kinds = {"old": {data_of(r) for r in old}, "new": {data_of(r) for r in new}}
    if not table:
        if old and new and not kinds["old"] & kinds["new"]:
            raise UserError(
                f"not compared: {args.old} holds rows on {' and '.join(sorted(kinds['old']))} data and {args.new} "
                f"on {' and '.join(sorted(kinds['new']))} data; synthetic and real rows are never compared"
            )
        raise UserError(f"no measurements in common between {args.old} and {args.new}")
    for kind in sorted(kinds["new"] - kinds["old"]):
        left = sum(data_of(r) == kind for r in new)
        print(f"not compared: {left} row(s) of {args.new} on {kind} data ({args.old} has none; "
              "synthetic and real rows are never compared)")
    flagged = [t for t in table if t["regression"]]
    for t in table if args.all else flagged:
        mark = "REGRESSION" if t["regression"] else "ok"
        print(
            f"{mark:10s} {t['model']}/{t['runtime']}/batch {t['batch_size']} {t['metric']}: "
            f"{_fmt(t['old'])} -> {_fmt(t['new'])} {t['unit']} ({t['change']:+.1%})"
        )
    print(f"{len(flagged)} regression(s) beyond {args.threshold:.0%} among {len(table)} matched measurements")
    return 1 if flagged else 0
