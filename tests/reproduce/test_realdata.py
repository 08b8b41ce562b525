"""``signbench reproduce`` finds and verifies the real Sign Language MNIST by default."""

from __future__ import annotations

import json

import pytest

from signbench.cli import main

pytestmark = pytest.mark.realdata


def test_default_data_is_found_and_hash_verified(realdata, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIGNBENCH_DATA_DIR", str(realdata.parent))
    monkeypatch.setenv("SIGNBENCH_OFFLINE", "1")
    rc = main(["reproduce", "--quick", "--quiet", "--out", str(tmp_path / "run"), "--until", "data"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    r = json.loads((tmp_path / "run" / "data" / "done.json").read_text())["result"]
    assert r["origin"] == "default" and r["verified"] is True
    assert (r["train_full"], r["test"], r["num_classes"]) == (27_455, 7_172, 24)
    assert abs(r["train"] - 5000) <= 24  # --quick: a stratified subsample (within one image per class)
    assert r["sha256"]["sign_mnist_train.csv"].startswith("4c2897f19fab")
