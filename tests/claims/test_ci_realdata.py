"""The course's claims at the ci size on the real data: every verdict that is stable across numerics
(results/claims_ci_stability.csv) must come out as committed (results/claims_ci.csv), in either direction,
so a change is noticed; the real callbacks stop where the histories say."""

from __future__ import annotations

import csv

import pytest

from signbench.claims.declared import CLAIMS

pytestmark = pytest.mark.realdata


def _read(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def measured(realdata, tmp_path_factory):
    from signbench.claims.measure import Data
    from signbench.claims.run import run_claims
    from signbench.data.load import load_sign_mnist

    data = Data(load_sign_mnist("train", realdata), load_sign_mnist("test", realdata))
    work = tmp_path_factory.mktemp("claims_ci")
    return run_claims("ci", data, work), work


@pytest.fixture(scope="module")
def committed(pytestconfig):
    results = pytestconfig.rootpath / "results"
    stable = {(r["claim"], r["metric"]) for r in _read(results / "claims_ci_stability.csv") if r["stable"] == "True"}
    return {(r["claim"], r["metric"]): r for r in _read(results / "claims_ci.csv")}, stable


def test_every_declared_claim_is_measured(measured):
    rows, _ = measured
    assert {r["claim"] for r in rows} == {c.name for c in CLAIMS}


def test_stable_verdicts_are_as_committed(measured, committed):
    rows, _ = measured
    table, stable = committed
    assert stable, "results/claims_ci_stability.csv lists no stable verdict"
    got = {(r["claim"], r["metric"]): r for r in rows}
    changed = {k: (table[k]["verdict"], got[k]["verdict"], round(got[k]["effect_mean"], 4))
               for k in stable if got[k]["verdict"] != table[k]["verdict"]}
    assert not changed, f"verdicts changed (committed, now, effect): {changed}"


def test_the_real_callbacks_stop_where_the_history_says(measured):
    rows, _ = measured
    notes = [r["note"] for r in rows if r["metric"] in ("early_stop_loss", "early_stop_val_loss", "threshold_stop")]
    assert notes and all(n.endswith("agrees") for n in notes), notes
