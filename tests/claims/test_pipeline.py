"""The claims pipeline end to end on tiny synthetic data: every family measured, stored per seed and read
back on resume, one verdict row per claim and metric, tables and the forest plot written, stability."""

from __future__ import annotations

import json

import numpy as np
import pytest

from signbench.claims.declared import CALLBACK_EVENTS, CLAIMS, FAMILIES, Protocol
from signbench.claims.measure import Data, early_stop_epoch, measure_family, threshold_epoch
from signbench.claims.run import COLUMNS, stability, verdict_rows, write
from signbench.data.types import SIGN_LETTERS, LabeledImages
from signbench.testing.contracts import check_png

pytestmark = pytest.mark.untraced  # tiny models, few steps: tracing would cost more than the steps (signbench.testing)


def _synthetic(per_class: int, seed: int) -> LabeledImages:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(24), per_class)
    images = rng.integers(0, 60, (len(labels), 28, 28, 1)).astype(np.uint8)
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 6)
        images[i, 2 + 6 * r: 7 + 6 * r, 2 + 4 * c: 5 + 4 * c] = 230
    return LabeledImages(images, labels, list(SIGN_LETTERS), "synthetic")


TINY = {"course_models": Protocol("tiny", 2, 2, train_size=240),
        "augmentation": Protocol("tiny", 2, 2, train_size=96),
        "transfer": Protocol("tiny", 2, 2, per_class=2, pretrain_epochs=1)}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    work = tmp_path_factory.mktemp("claims")
    data = Data(_synthetic(14, 0), _synthetic(8, 1))
    return work, data, {f: measure_family(f, p, [0, 1], data, work) for f, p in TINY.items()}


def test_every_claim_gets_its_rows(measured, tmp_path):
    _, _, results = measured
    rows = verdict_rows(CLAIMS, results, TINY)
    gap_claims = [c for c in CLAIMS if c.metric == "gap"]
    assert len(rows) == len(CLAIMS) + len(gap_claims)  # gap claims carry the course's history gap too
    for r in rows:
        assert r["verdict"] in ("holds", "fails", "inconclusive") and r["n_seeds"] == 2
        assert r["ci_low"] <= r["effect_mean"] <= r["ci_high"] or r["kind"] == "event"
        assert r["git_commit"] and r["cpu_flags"] is not None and r["protocol"].startswith("tiny")
        assert len(json.loads(r["values_a"])) == 2
    csv_path, md_path, json_path, png = write(rows, tmp_path, "tiny", command="signbench claims --size tiny",
                                              wall_s=12.3)
    assert csv_path.read_text().splitlines()[0].split(",") == COLUMNS
    md = md_path.read_text()
    # how long it took: each family's stored training time (every arm, every seed) and the invocation's wall time
    for f, fam in results.items():
        want = round(sum(r["seconds"] for arm, runs in fam.items() if arm != "confirm" for r in runs), 1)
        assert want > 0 and {r["family_train_seconds"] for r in rows if r["family"] == f} == {want}
        assert f"{f} {want:.0f} s" in md
    assert "this invocation 12 s wall" in md
    assert "regularization_smaller_gap" in md and "Podemos notar" in md and "signbench claims --size tiny" in md
    assert json.loads(json_path.read_text())["rows"][0]["claim"] == rows[0]["claim"]
    check_png(png)


def test_runs_are_stored_and_resumed(measured, monkeypatch):
    work, data, results = measured
    stored = sorted(p.relative_to(work).as_posix() for p in work.rglob("seed*.json"))
    assert "course_models/tiny/cnn/seed1.json" in stored and "transfer/tiny/scratch/seed0.json" in stored
    import signbench.claims.measure as m

    monkeypatch.setattr(m, "_course_run", lambda *a: pytest.fail("a stored run was measured again"))
    monkeypatch.setattr(m, "_transfer_runs", lambda *a: pytest.fail("a stored run was measured again"))
    again = measure_family("course_models", TINY["course_models"], [0, 1], data, work)
    assert again["cnn"][1]["val_accuracy"] == results["course_models"]["cnn"][1]["val_accuracy"]


def test_arms_of_a_seed_are_paired_and_the_cnn_carries_the_callback_facts(measured):
    _, _, results = measured
    cm = results["course_models"]
    assert {r["num_train"] for r in cm["baseline"]} == {240} and cm["cnn"][0]["num_val"] == cm["baseline"][0]["num_val"]
    cnn = cm["cnn"][0]
    assert cnn["checkpoint_saved_epoch"] == cnn["checkpoint_best_epoch"]
    assert cnn["checkpoint_reloaded_val"] == cnn["checkpoint_best_val"]
    assert 0 <= cnn["int8_test_accuracy"] <= 1 and 0 <= cnn["test_accuracy"] <= 1
    confirm = cm["confirm"][0]
    assert sorted(confirm) == sorted(CALLBACK_EVENTS)  # one run per callback, that callback alone
    rows = {r["metric"]: r for r in verdict_rows(CLAIMS, results, TINY) if r["metric"] in CALLBACK_EVENTS}
    for event, cf in confirm.items():  # each real callback stops where the history said it would
        assert cf["predicted"] == cm["cnn"][0][event], cf
        if cf["predicted"] is None:  # no stop predicted: no run, and the note says so
            assert cf["agrees"] is None and cf["stopped_at"] is None, cf
            assert rows[event]["note"] == "seed 0's history predicts no stop: no confirming run"
        else:
            assert cf["agrees"] and cf["stopped_at"] == cf["predicted"], cf
            assert rows[event]["note"].startswith("the real callback alone, seed 0: stopped at epoch ")
            assert rows[event]["note"].endswith(": agrees")
    t = results["transfer"]["transfer"][0]
    assert t["source_heldout_accuracy"] is not None and t["early_epoch"] == 1


def test_a_callback_predicted_to_stop_is_confirmed_by_a_run_with_it_alone(tmp_path):
    """The confirming run itself (the tiny fixture's 2 epochs predict no stop, so it runs none): with 8 epochs
    the CNN's training accuracy passes 0.95 (0.975 at epoch 6, 0.996 at 8, seed 0 on this data), and the
    ThresholdStop run alone stops at the epoch the measured history predicted; stored per event."""
    data, protocol = Data(_synthetic(14, 0), _synthetic(8, 1)), Protocol("stop", 1, 8, train_size=240)
    cm = measure_family("course_models", protocol, [0], data, tmp_path)
    cf = cm["confirm"][0]["threshold_stop"]
    assert cf["predicted"] is not None and cf["predicted"] == cm["cnn"][0]["threshold_stop"], cf
    assert cf["stopped_early"] and cf["stopped_at"] == cf["predicted"] and cf["agrees"] is True, cf
    assert (tmp_path / "course_models" / "stop" / "confirm" / "threshold_stop" / "seed0.json").is_file()
    rows = verdict_rows([c for c in CLAIMS if c.metric == "threshold_stop"], {"course_models": cm},
                        {"course_models": protocol})
    assert rows[0]["note"] == (f"the real callback alone, seed 0: stopped at epoch {cf['predicted']}, the history "
                               f"predicted {cf['predicted']}: agrees")


def test_keras_early_stopping_rule_by_hand():
    assert early_stop_epoch([1.0, 0.9, 0.8, 0.7], 3) is None
    assert early_stop_epoch([1.0, 0.9, 0.95, 0.92, 0.91], 3) == 5  # no improvement on 0.9 for 3 epochs
    assert early_stop_epoch([0.5, 0.5, 0.5, 0.5], 3) == 4  # equal is not an improvement
    assert threshold_epoch([0.5, 0.95, 0.951]) == 3  # strictly above 0.95


def test_early_stopping_rule_matches_keras():
    """The history rule predicts the epoch at which Keras' own EarlyStopping stops the same run."""
    import keras

    from signbench.train.fit import fit

    data = _synthetic(4, 3)
    probe = fit("baseline", data, seed=5, epochs=12, validation=_synthetic(2, 4))
    want = early_stop_epoch(probe.history["val_loss"], 1)
    real = fit("baseline", data, seed=5, epochs=12, validation=_synthetic(2, 4),
               callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)])
    assert real.epochs_run == (want or 12)


def test_stability_flags_disagreement():
    a = [{"claim": "x", "metric": "gap", "verdict": "holds"}, {"claim": "y", "metric": "gap", "verdict": "fails"}]
    b = [{"claim": "x", "metric": "gap", "verdict": "holds"}, {"claim": "y", "metric": "gap", "verdict": "holds"}]
    out = {r["claim"]: r for r in stability({"t1": a, "t2": b})}
    assert out["x"]["stable"] and out["x"]["verdict"] == "holds"
    assert not out["y"]["stable"] and out["y"]["verdict"] == "inconclusive"


def test_stability_command_compares_runs_of_one_size(tmp_path, capsys):
    from signbench.cli import main

    a = [{"claim": "x", "metric": "gap", "verdict": "holds"}]
    b = [{"claim": "x", "metric": "gap", "verdict": "fails"}]
    for name, rows in (("t2-off", a), ("t1-on", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "claims_r1.json").write_text(json.dumps({"rows": rows}))
    rc = main(["claims", "--stability", str(tmp_path / "t2-off"), str(tmp_path / "t1-on"), "--out", str(tmp_path / "s")])
    assert rc == 1  # one verdict differs
    md = (tmp_path / "s" / "claims_r1_stability.md").read_text()
    assert "are the r1 verdicts stable?" in md and "Claims under 2 numerics" in md
    (tmp_path / "t1-on" / "claims_ci.json").write_text(json.dumps({"rows": b}))
    assert main(["claims", "--stability", str(tmp_path / "t2-off"), str(tmp_path / "t1-on"),
                 "--out", str(tmp_path / "s")]) == 2  # two files in one folder: which one? a user error
    assert "expected one claims_SIZE.json" in capsys.readouterr().err


def test_every_claim_is_declared_completely():
    names = [c.name for c in CLAIMS]
    assert len(names) == len(set(names))
    for c in CLAIMS:
        assert c.family in FAMILIES and c.kind in ("superiority", "presence", "non-inferiority", "event")
        assert c.statement and c.section and c.direction in (1, -1)
        assert (c.arm_b is None) == (c.kind in ("presence", "event"))
        assert c.source == "signbench" or c.translation, c.name
