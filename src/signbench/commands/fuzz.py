"""``signbench fuzz``: the loaders' fuzz campaign, its counts written as a results table."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "fuzz every data loader with mutated files and write the counts to a results table"
DESCRIPTION = (
    "Feed every input format (CSV, CSV.gz, JSON-lines, base64 JSON, image folder trees, zip) mutated copies "
    "of small valid generated files (hypothesis, seeded) and check each load: a valid dataset or a DataError "
    "naming the file, in a worker process with a watchdog and a memory cap. Writes NAME.csv and NAME.md "
    "(per format: inputs tried, loaded, rejected, failed, past the format's first check; every distinct "
    "failure) into --out. Needs the test extra (hypothesis). Exit status 1 when any input failed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from signbench.testing.fuzz import DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_S

    formats = ("csv", "csv.gz", "jsonl", "base64json", "folder", "zip")
    parser.add_argument("--per-format", type=int, default=1000, metavar="N", help="inputs per format (default 1000)")
    parser.add_argument("--formats", nargs="+", choices=formats, default=list(formats), metavar="FMT",
                        help=f"formats to fuzz (default all: {' '.join(formats)})")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help="folder for NAME.csv and NAME.md (default results)")
    parser.add_argument("--name", default="fuzz", help="table name (default fuzz)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"watchdog per input, seconds (default {DEFAULT_TIMEOUT_S:g}): longer is a hang")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_BYTES >> 20, metavar="MB",
                        help=f"worker address-space cap (default {DEFAULT_MEMORY_BYTES >> 20}): more is a bomb")
    parser.add_argument("--save-failures", type=Path, default=None, metavar="DIR",
                        help="write one example input of each distinct failure under DIR")


def _metadata(args) -> dict:
    import datetime
    import platform

    from signbench import meta

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": meta.git_commit(),
        "python": platform.python_version(),
        "numpy": meta.package_version("numpy"),
        "pillow": meta.package_version("pillow"),
        "hypothesis": meta.package_version("hypothesis"),
        "cpu": meta.cpu_model(),
        "cpu_flags": meta.cpu_flags(),
        "seed": args.seed,
        "watchdog_s": args.timeout,
        "memory_cap_mb": args.memory_mb,
    }


def run(args: argparse.Namespace) -> int:
    from signbench.errors import UserError

    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise UserError("signbench fuzz needs hypothesis: python3 -m pip install -e '.[test]'") from None
    from signbench.results import markdown_table, write_table
    from signbench.testing.fuzz import Worker, campaign, save_examples

    if args.per_format < 1:
        raise UserError(f"--per-format must be at least 1, got {args.per_format}")
    command = (f"signbench fuzz --per-format {args.per_format} --seed {args.seed} --out {args.out}"
               + (f" --name {args.name}" if args.name != "fuzz" else "")
               + (f" --formats {' '.join(args.formats)}" if len(args.formats) < 6 else ""))
    meta = _metadata(args)
    rows, failure_rows = [], []
    with Worker(timeout_s=args.timeout, memory_bytes=args.memory_mb << 20) as worker:
        for fmt in args.formats:
            t0 = time.monotonic()
            counts = campaign(fmt, args.per_format, seed=args.seed, worker=worker)
            secs = time.monotonic() - t0
            rows.append({**counts.row(), "seconds": round(secs, 1)})
            print(f"{fmt}: {counts.tried} tried, {counts.loaded} loaded, {counts.rejected} rejected, "
                  f"{counts.failed} failed, {counts.past_first} past the first check ({secs:.0f} s)", flush=True)
            for key, n in counts.failures.most_common():
                case, outcome = counts.examples[key]
                failure_rows.append([fmt, n, key, outcome.message[:160], "; ".join(case.mutations)[:160]])
                print(f"  {n} x {key}", flush=True)
            if args.save_failures is not None and counts.examples:
                save_examples(counts.examples, fmt, args.save_failures)
    footer = ["## Failures", ""]
    footer += (markdown_table(["format", "inputs", "failure", "first message", "its mutations"], failure_rows)
               if failure_rows else ["None: every input loaded into a valid dataset or raised a DataError naming the file."])
    notes = [f"- {k}: {v}" for k, v in meta.items()]
    notes += ["", "Per format: inputs tried; loaded (a valid dataset); rejected (a DataError naming the file); "
              "failed (anything else: another exception, an invalid dataset, the watchdog or the memory cap); "
              "past_first_check (got past the format's first structural check: the CSV header after gunzip, the "
              "first JSON-lines object, the base64 JSON object, the class folders, the zip directory)."]
    for path in write_table(args.out, args.name, rows, title="Loader fuzz campaign", command=command, notes=notes,
                            footer=footer):
        print(path)
    return 1 if failure_rows else 0
