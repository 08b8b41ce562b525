"""``signbench fixtures``: regenerate the small generated test files under fixtures/."""

from __future__ import annotations

from pathlib import Path

HELP = "regenerate the test fixtures (small generated files, never real data)"
DESCRIPTION = (
    "Write the files the tests read from fixtures/: small Sign-MNIST-shaped CSVs (plain and gzipped), a "
    "dirty CSV with the course's defects and their list, JSON-lines and base64 JSON files, an image folder "
    "tree and its zip. Byte-for-byte reproducible for a given seed; none of it is real data."
)


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, default=Path("fixtures"), help="folder to write (default ./fixtures)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from signbench.testing.fixtures import write_fixtures

    for f in write_fixtures(args.out, args.seed):
        print(f)
    return 0
