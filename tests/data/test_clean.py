"""clean(): drops exactly the injected defects, keeps only valid rows, is idempotent."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given

from signbench.data.clean import REASONS, clean, clean_frame
from signbench.testing.strategies import dirty_frames


def _frame(rows, npix):
    df = pd.DataFrame(rows, columns=["label"] + [f"pixel{i}" for i in range(1, npix + 1)], dtype="object")
    df.index = df.index + 2
    return df


@given(case=dirty_frames())
def test_clean_drops_exactly_the_injected_defects(case):
    clean_rows, dirty, reasons = case
    npix = len(clean_rows[0]) - 1
    kept, report = clean_frame(_frame(dirty, npix))
    assert report.dropped == sorted((pos + 2, r) for pos, r in reasons.items())
    assert report.rows_in == len(dirty) and report.rows_out == len(clean_rows)
    assert sum(report.counts.values()) == len(reasons) and set(report.counts) == set(REASONS)
    # only valid rows remain, and they are the clean rows in order, coerced
    assert kept.to_numpy().tolist() == [[int(v) for v in r] for r in clean_rows]
    assert kept.iloc[:, 1:].dtypes.eq(np.uint8).all() and kept.iloc[:, 0].dtype == np.int64
    again, report2 = clean_frame(kept)  # idempotent
    assert report2.dropped == [] and again.equals(kept)


def test_clean_the_dirty_fixture_like_the_course(datapath):
    manifest = json.loads(datapath("dirty_manifest.json").read_text())
    res = clean(datapath("dirty.csv"))
    assert res.report.dropped == [(d["line"], d["reason"]) for d in manifest["defects"]]
    assert res.report.rows_out == manifest["clean_rows"] == len(res.data)
    assert all(res.report.counts[r] == 2 for r in ("duplicate", "non_numeric", "null", "out_of_range"))
    assert res.x.dtype == np.float32 and 0.0 <= res.x.min() and res.x.max() <= 1.0
    np.testing.assert_allclose(res.x * 255, res.data.images, atol=1e-4)
    assert res.data.num_classes == 24  # Sign MNIST raw labels -> letters
    assert clean(res.frame).report.dropped == []


def test_bad_labels_are_dropped_with_their_reason():
    rows = [["3", "1", "2", "3", "4"], ["x", "1", "2", "3", "4"], ["2.5", "0", "0", "0", "0"], ["-1", "0", "0", "0", "1"]]
    kept, report = clean_frame(_frame(rows, 4))
    assert report.dropped == [(3, "non_numeric"), (4, "bad_label"), (5, "bad_label")]
    res = clean(_frame([["3", "1", "2", "3", "4"], ["9", "1", "1", "1", "1"]], 4), label_map="sign_mnist")
    assert res.report.dropped == [(3, "bad_label")] and len(res.data) == 1
