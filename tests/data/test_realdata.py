"""Claims on the real Sign Language MNIST CSVs (skipped with a reason only when the data is absent)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from signbench.data import SIGN_LETTERS, load, load_sign_mnist
from signbench.data.formats.raw import read_bytes
from signbench.data.locate import TEST_CSV, TRAIN_CSV

pytestmark = pytest.mark.realdata

PUBLISHED = {
    TRAIN_CSV: (27_455, "4c2897f19fab2b0ae2a7e4fa82e969043315d9f3a1a9cc0948b576bf1189a7e5"),
    TEST_CSV: (7_172, "0e9d67bae23e67f40728e0b63bf15ad4bd5175947b8a9fac5dd9f17ce133c47b"),
}


@pytest.fixture(scope="module")
def real(realdata):
    return {"train": load_sign_mnist("train", realdata), "test": load_sign_mnist("test", realdata)}


@pytest.mark.parametrize("name", [TRAIN_CSV, TEST_CSV])
def test_published_rows_classes_range_and_hash(realdata, name):
    rows, sha = PUBLISHED[name]
    raw = read_bytes(realdata / name)
    assert hashlib.sha256(raw).hexdigest() == sha
    ds = load(realdata / name)
    assert len(ds) == rows and ds.images.shape == (rows, 28, 28, 1) and ds.images.dtype == np.uint8
    assert ds.class_names == SIGN_LETTERS and ds.num_classes == 24
    assert set(np.unique(ds.labels)) == set(range(24))
    assert int(ds.images.min()) == 0 and int(ds.images.max()) == 255
    assert ds.skipped == []


def test_fast_parser_matches_pandas(realdata):
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(realdata / TEST_CSV)
    ds = load(realdata / TEST_CSV)
    np.testing.assert_array_equal(ds.images.reshape(len(ds), -1), df.iloc[:, 1:].to_numpy())
    raw = df["label"].to_numpy()
    np.testing.assert_array_equal(ds.labels, np.where(raw > 9, raw - 1, raw))


def test_leakage_between_real_train_and_test(real):
    from signbench.data.explore import class_balance, leakage

    r = leakage(real["train"], real["test"])
    assert r["train_count"] == 27_455 and r["test_count"] == 7_172
    print(json.dumps({k: v for k, v in r.items() if k != "pairs"}))
    # The README's claim: no test image is an exact copy of a train image, and no split repeats one.
    assert r["leaked_test_images"] == 0 and r["train_duplicates"] == 0 and r["test_duplicates"] == 0
    bal = class_balance(real["train"])
    assert bal["empty_classes"] == [] and bal["imbalance_ratio"] >= 1.0


def test_cli_on_real_train(realdata, capsys):
    from signbench.cli import main

    assert main(["data", str(realdata / TRAIN_CSV)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 27_455 and out["num_classes"] == 24
