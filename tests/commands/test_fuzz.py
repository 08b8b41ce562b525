"""``signbench fuzz``: a small campaign end to end, its table and its exit status."""

from __future__ import annotations

import csv

from signbench.cli import main


def test_fuzz_command_writes_the_counts_table(tmp_path, capsys):
    rc = main(["fuzz", "--per-format", "12", "--formats", "csv", "base64json", "--out", str(tmp_path),
               "--name", "f", "--save-failures", str(tmp_path / "failures")])
    out = capsys.readouterr().out
    assert rc == 0, out
    with (tmp_path / "f.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["format"] for r in rows] == ["csv", "base64json"]
    for r in rows:
        assert int(r["tried"]) == 12 == int(r["loaded"]) + int(r["rejected"]) + int(r["failed"])
        assert int(r["failed"]) == 0 and int(r["past_first_check"]) <= 12
    md = (tmp_path / "f.md").read_text()
    assert "Produced by: `signbench fuzz --per-format 12 --seed 0 --out" in md and "--formats csv base64json" in md
    assert "None: every input loaded" in md and "git_commit" in md
    from signbench.meta import cpu_flags

    assert f"- cpu_flags: {cpu_flags()}\n" in md  # the CPU the campaign ran on, as every result says
    assert not (tmp_path / "failures").exists()  # nothing failed, nothing saved


def test_fuzz_command_refuses_a_bad_count(tmp_path, capsys):
    assert main(["fuzz", "--per-format", "0", "--out", str(tmp_path)]) == 2
    assert "at least 1" in capsys.readouterr().err
