"""`signbench data SOURCE`: JSON summary; bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import json

from signbench.cli import main


def test_summary_of_fixture(datapath, capsys):
    assert main(["data", str(datapath("small.csv.gz"))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 48 and out["num_classes"] == 24 and out["shape"] == [28, 28, 1]
    assert out["class_counts"]["A"] == 2 and out["errors"] == [] and out["format"] == "csv"


def test_bad_input_exits_2_naming_the_place(datapath, capsys):
    assert main(["data", str(datapath("dirty.csv"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dirty.csv [line 6, column pixel" in err
    assert main(["data", str(datapath("dirty.csv")), "--on-error", "skip"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["errors"]) == 6 and out["errors"][0]["where"].startswith("line 6")


def test_folder_options(datapath, capsys):
    assert main(["data", str(datapath("tree.zip")), "--split", "Test", "--target-size", "8", "8",
                 "--color-mode", "rgb"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 6 and out["shape"] == [8, 8, 3] and out["classes"] == ["A", "B", "C"]
    assert main(["data", str(datapath("small.csv")), "--split", "Test"]) == 2
    assert "--split applies" in capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    assert main(["data", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
