"""fixtures/ is exactly what `signbench fixtures` generates, and stays small."""

from __future__ import annotations

from signbench.cli import main


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixtures_are_regenerated_byte_for_byte(tmp_path, pytestconfig, capsys):
    assert main(["fixtures", "--out", str(tmp_path), "--seed", "0"]) == 0
    fresh, committed = _files(tmp_path), _files(pytestconfig.rootpath / "fixtures")
    assert sorted(fresh) == sorted(committed)
    assert [k for k in fresh if fresh[k] != committed[k]] == []
    assert sum(map(len, committed.values())) < 1_000_000
