"""fixtures/ is exactly what `python -m signbench.fixtures` generates, and stays small."""

from __future__ import annotations

from signbench.fixtures import main
from signbench.testing import FIXTURES


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixtures_are_regenerated_byte_for_byte(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--seed", "0"]) == 0
    fresh, committed = _files(tmp_path), _files(FIXTURES)
    assert sorted(fresh) == sorted(committed)
    assert [k for k in fresh if fresh[k] != committed[k]] == []
    assert sum(map(len, committed.values())) < 1_000_000
