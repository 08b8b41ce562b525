"""``signbench compare OLD NEW``: the regression gate on two benchmark runs' raw rounds."""

from __future__ import annotations

from pathlib import Path

HELP = "compare two benchmark runs on their raw rounds; exit 1 on a significant regression"
DESCRIPTION = (
    "Compare two benchmark runs (raw JSON files, or run names under --raw-dir) benchmark by benchmark on "
    "their raw round times: a one-sided Mann-Whitney U test of 'slower (or faster) by more than the minimum "
    "effect', with the ratio of medians and its bootstrap 95%% interval. Only like with like: both runs on "
    "the same kind of device (device, CPU flags, backend), each benchmark on the same kind of data (real or "
    "synthetic). Prints the regressions and improvements and exits 1 when there is a significant regression, "
    "2 when the runs cannot be compared. OLD may be 'last': the newest other run under --raw-dir from the same "
    "kind of device as NEW that timed at least half of its benchmarks (else any of them); exit 0 with a "
    "message when there is none."
)


def add_arguments(parser) -> None:
    parser.add_argument("old", help="baseline run: a raw JSON file, a run name under --raw-dir, or 'last'")
    parser.add_argument("new", help="candidate run: a raw JSON file or a run name under --raw-dir")
    parser.add_argument("--raw-dir", type=Path, default=Path("results/raw"),
                        help="where run names are looked up (default results/raw)")
    parser.add_argument(
        "--min-effect", "--threshold", dest="min_effect", type=float, default=0.10,
        help="smallest change that counts, as a fraction of the old median (default 0.10 = 10%%)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    parser.add_argument("--all", action="store_true", help="print every matched benchmark, not only changes")


def _line(v) -> str:
    from signbench.results import _fmt

    head = f"{v.status.upper() if v.status == 'regression' else v.status:14s} {v.label}"
    if v.status in ("not comparable",) or v.n_old == 0 or v.n_new == 0:
        return f"{head}: {v.note}"
    text = f"{head}: median {_fmt(v.old_median)} -> {_fmt(v.new_median)} {v.unit} (x{v.ratio:.3f}"
    if v.ci_low == v.ci_low:  # not nan
        text += f", 95% CI x{v.ci_low:.3f}-x{v.ci_high:.3f}"
    if v.p_slower == v.p_slower:
        p = v.p_slower if v.ratio >= 1 else v.p_faster
        text += f", p={p:.2g}"
    return text + f"; {v.n_old} vs {v.n_new} rounds{', ' + v.note if v.note else ''})"


def run(args) -> int:
    from signbench.errors import UserError
    from signbench.review import regress

    if args.min_effect < 0 or not 0 < args.alpha < 1:
        raise UserError(f"need --min-effect >= 0 and 0 < --alpha < 1, got {args.min_effect} and {args.alpha}")
    new_path = regress.resolve_run(args.new, args.raw_dir)
    new = regress.load_run(new_path)
    if args.old == "last":
        old_path = regress.latest_like(new, args.raw_dir, exclude=new_path)
        if old_path is None:
            kind = regress.run_kind(new)
            print(f"no other run under {args.raw_dir} from this kind of device ({kind['device']}, CPU flags "
                  f"{kind['cpu_flags'] or 'none'}, backend {kind['backend']}) to compare {new_path.name} with")
            return 0
    else:
        old_path = regress.resolve_run(args.old, args.raw_dir)
    old = regress.load_run(old_path)
    try:
        verdicts = regress.compare_runs(old, new, min_effect=args.min_effect, alpha=args.alpha)
    except regress.NotComparable as exc:
        raise UserError(str(exc)) from None
    if not verdicts:
        raise UserError(f"no benchmark in common between {old_path} and {new_path}")
    kind = regress.run_kind(new)
    print(f"{old_path.name} -> {new_path.name}: {kind['device']} (CPU flags {kind['cpu_flags'] or 'none'}), "
          f"backend {kind['backend']}; minimum effect {args.min_effect:.0%}, alpha {args.alpha}")
    shown = ("regression", "improvement", "not comparable")
    for v in verdicts:
        if args.all or v.status in shown:
            print(_line(v))
    counts = {s: sum(v.status == s for v in verdicts) for s in
              ("regression", "improvement", "unchanged", "too few rounds", "not comparable")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" among {len(verdicts)} matched benchmarks")
    return 1 if counts["regression"] else 0
