"""The course's claims at the ci size on the real data: every verdict that is stable across numerics
(results/claims_ci_stability.csv) must come out as committed (results/claims_ci.csv), in either direction,
so a change is noticed; the real callbacks stop where the histories say.

One test class per claim family, each measuring only its family's runs: pyproject's ``--dist loadscope``
hands each class to the next free xdist worker, so the families are measured side by side (this file is
collected right after bench/, see pyproject's testpaths) instead of one after another on one worker."""

from __future__ import annotations

import csv

import pytest

from signbench.claims.declared import CALLBACK_EVENTS, CLAIMS, FAMILIES


def _read(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def committed(pytestconfig):
    results = pytestconfig.rootpath / "results"
    stable = {(r["claim"], r["metric"]) for r in _read(results / "claims_ci_stability.csv") if r["stable"] == "True"}
    return {(r["claim"], r["metric"]): r for r in _read(results / "claims_ci.csv")}, stable


@pytest.fixture(scope="module")
def data(realdata):
    """The real train and test CSVs, loaded once per worker (two families may share one)."""
    from signbench.claims.measure import Data
    from signbench.data.load import load_sign_mnist

    return Data(load_sign_mnist("train", realdata), load_sign_mnist("test", realdata))


class _Family:
    """The checks for one family (``family``); the subclasses below name them."""

    family: str

    @property
    def names(self) -> set[str]:
        return {c.name for c in CLAIMS if c.family == self.family}

    @pytest.fixture(scope="class")
    def measured(self, data, tmp_path_factory):
        from signbench.claims.run import run_claims

        return run_claims("ci", data, tmp_path_factory.mktemp(f"claims_ci_{self.family}"), names=sorted(self.names))

    def test_every_claim_of_the_family_is_measured(self, measured):
        assert {r["claim"] for r in measured} == self.names

    def test_stable_verdicts_are_as_committed(self, measured, committed):
        table, stable = committed
        mine = {(r["claim"], r["metric"]) for r in measured}
        assert stable & mine, f"results/claims_ci_stability.csv lists no stable verdict of {self.family}"
        got = {(r["claim"], r["metric"]): r for r in measured}
        changed = {k: (table[k]["verdict"], got[k]["verdict"], round(got[k]["effect_mean"], 4))
                   for k in stable & mine if got[k]["verdict"] != table[k]["verdict"]}
        assert not changed, f"verdicts changed (committed, now, effect): {changed}"
        assert {k for k in stable if k[0] in self.names} <= mine


@pytest.mark.realdata
class TestCourseModels(_Family):
    family = "course_models"

    def test_the_real_callbacks_stop_where_the_history_says(self, measured):
        notes = [r["note"] for r in measured if r["metric"] in CALLBACK_EVENTS]
        # a callback whose history predicts a stop is confirmed by a run with it alone; one predicted never to
        # stop gets no run (it would repeat the measured run, every epoch) and the note says so
        assert notes and all(n.endswith(": agrees") or n.endswith("predicts no stop: no confirming run")
                             for n in notes), notes


@pytest.mark.realdata
class TestAugmentation(_Family):
    family = "augmentation"


@pytest.mark.realdata
class TestTransfer(_Family):
    family = "transfer"


def test_every_family_has_its_class():  # no real data needed: it runs in the fixture tier too
    assert {c.family for c in (TestCourseModels, TestAugmentation, TestTransfer)} == set(FAMILIES)
