"""``signbench claims``: the course's claims as verdicts with confidence intervals."""

from __future__ import annotations

import json
import time
from pathlib import Path

from signbench.commands import command_line

HELP = "measure the course's claims over seeds; write verdicts with confidence intervals"
DESCRIPTION = (
    "Measure every claim of the course (regularization, the CNN, augmentation, transfer learning, the "
    "callbacks, int8 conversion) over seeds, paired by seed, and judge each with a 95% confidence interval "
    "against the smallest effect that counts: holds, fails or inconclusive. --size ci is the small protocol "
    "the tests run; --size full is the course's (all training images, 20 epochs). Runs are stored per "
    "family, arm and seed under --work, so a stopped run continues where it was. Writes claims_SIZE.csv, "
    ".md, .json and .png into --out. With --stability DIR..., compares the claims_ci.json of runs made under "
    "other numerics (threads, oneDNN) instead of measuring."
)


def add_arguments(parser) -> None:
    parser.add_argument("--size", default="ci", help="ci, full, or one rung of the families' ladders (r0, r1, r2)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per arm (default: the protocol's)")
    parser.add_argument("--claim", action="append", default=None, help="only this claim (repeat for several)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the tables")
    parser.add_argument("--work", type=Path, default=Path("runs/claims"), help="per-run results, for resuming")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding the two real CSVs")
    parser.add_argument("--fresh", action="store_true", help="measure again even where a stored run exists")
    parser.add_argument("--intra-threads", type=int, default=None,
                        help="TensorFlow intra-op threads for this run (a run parameter, recorded; oneDNN is set "
                        "by TF_ENABLE_ONEDNN_OPTS=0/1 in the environment)")
    parser.add_argument("--stability", type=Path, nargs="+", metavar="DIR", default=None,
                        help="folders each holding a claims_ci.json made under other numerics: compare them")


def run(args) -> int:
    from signbench.claims import run as claims
    from signbench.errors import UserError

    command = command_line(args)
    if args.stability:
        runs, sizes = {}, set()
        for d in args.stability:
            found = sorted(p for p in d.glob("claims_*.json") if not p.stem.endswith("_stability"))
            if len(found) != 1:
                raise UserError(f"{d}: expected one claims_SIZE.json, found {[p.name for p in found] or 'none'}")
            sizes.add(found[0].stem.removeprefix("claims_"))
            runs[d.name] = json.loads(found[0].read_text())["rows"]
        if len(sizes) != 1:
            raise UserError(f"the runs compared must be of one size, got {sorted(sizes)}")
        size = sizes.pop()
        rows = claims.stability(runs)
        from signbench.results import write_table

        for path in write_table(args.out, f"claims_{size}_stability", rows, command=command,
                                title=f"Claims under {len(runs)} numerics: are the {size} verdicts stable?"):
            print(path)
        return 0 if all(r["stable"] for r in rows) else 1
    from signbench.claims.measure import Data
    from signbench.data.load import load_sign_mnist

    if args.intra_threads:
        from signbench.train.tf_speed import configure_threads

        configure_threads(intra=args.intra_threads)  # before TensorFlow's first op

    start = time.perf_counter()
    data = Data(load_sign_mnist("train", args.data_dir), load_sign_mnist("test", args.data_dir))
    try:
        rows = claims.run_claims(args.size, data, args.work, names=args.claim, seeds=args.seeds,
                                 resume=not args.fresh, progress=lambda line: print(line, flush=True))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for r in rows:
        print(f"{r['verdict']:>12}  {r['claim']} ({r['metric']}): {r['effect_mean']:+.4f} "
              f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]", flush=True)
    for path in claims.write(rows, args.out, args.size, command=command, wall_s=time.perf_counter() - start):
        print(path)
    return 0
