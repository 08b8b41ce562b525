"""The course's overfitting and callback claims, asserted on the real Sign Language MNIST.

Protocol (course's, scaled down to fit CI): for each seed, a seeded stratified subset of
``N_TRAIN`` training images (same 24-class proportions), validation = a seeded stratified 20% of the
official test CSV (1,435 images), batch 128. Each (model, seed) trains once per session (cached in a
module fixture); a comparison holds for *every* seed with a margin larger than the seed-to-seed
spread (max - min over seeds) of the quantities compared, measured in the same run. The measured
numbers are written to ``claims_summary.json`` in a temporary folder and printed (``pytest -s``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from signbench.callbacks import ThresholdStop, best_checkpoint, early_stopping
from signbench.course_table import course_split, stratified_subset
from signbench.persist import load_weights
from signbench.train import fit

pytestmark = pytest.mark.realdata

SEEDS = (0, 1, 2)
N_TRAIN = 4800  # 200 images per class
EPOCHS = 10  # the three-model comparison
ES_LIMIT = 60  # epoch limit for the EarlyStopping run (baseline; cheap)
BATCH = 128


@pytest.fixture(scope="module")
def real(realdata):
    from signbench.data import load_sign_mnist

    return load_sign_mnist("train", realdata), load_sign_mnist("test", realdata)


class Runs:
    """Trains each (kind, seed) once and keeps the RunResult plus extra measurements."""

    def __init__(self, real, tmp):
        self.train, self.test = real
        self.tmp = tmp
        self.cache: dict = {}
        self.summary: dict = {}

    def data(self, seed):
        return stratified_subset(self.train, N_TRAIN, seed), course_split(self.test, seed)

    def get(self, kind: str, seed: int):
        key = (kind, seed)
        if key not in self.cache:
            self.cache[key] = self._run(kind, seed)
        return self.cache[key]

    def _run(self, kind, seed):
        train, val = self.data(seed)
        ckpt = self.tmp / f"{kind}_{seed}.weights.h5"
        if kind in ("baseline", "regularized", "cnn"):
            r = fit(kind, train, seed=seed, epochs=EPOCHS, batch_size=BATCH, validation=val)
        elif kind == "threshold":  # the CNN run again, with the course's threshold callback
            cb = ThresholdStop(0.95, print_fn=print)
            r = fit("cnn", train, seed=seed, epochs=EPOCHS, batch_size=BATCH, validation=val, callbacks=[cb])
            r.metadata["threshold_reason"] = cb.reason
        elif kind == "early":  # baseline with EarlyStopping(loss, 3) and a best-only checkpoint
            cbs = [early_stopping(), best_checkpoint(ckpt)]
            r = fit("baseline", train, seed=seed, epochs=ES_LIMIT, batch_size=BATCH, validation=val, callbacks=cbs)
            reloaded = load_weights(r.model, ckpt)
            ev = reloaded.evaluate(val.as_float(), val.labels, batch_size=512, verbose=0, return_dict=True)
            r.metadata["reloaded_val_accuracy"] = float(ev["accuracy"])
        else:
            raise ValueError(kind)
        r.model = None  # keep memory flat across the module
        print(f"[claims] {kind} seed {seed}: train {r.train_accuracy:.4f} val {r.val_accuracy} "
              f"gap {r.gap} epochs {r.epochs_run} ({r.wall_time_s:.0f} s)", flush=True)
        self.summary.setdefault(kind, {})[seed] = {
            k: getattr(r, k)
            for k in ("train_accuracy", "val_accuracy", "gap", "best_val_accuracy", "best_val_epoch", "epochs_run")
        } | {k: v for k, v in r.metadata.items() if k in ("threshold_reason", "reloaded_val_accuracy")}
        return r


@pytest.fixture(scope="module")
def runs(real, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("claims")
    r = Runs(real, tmp)
    yield r
    out = tmp / "claims_summary.json"
    out.write_text(json.dumps(r.summary, indent=1, sort_keys=True, default=str))
    print(f"\nclaims summary ({out}):\n{out.read_text()}")


def _spread(values):
    return float(np.max(values) - np.min(values))


def _compare(runs, better, worse, attr, *, lower_is_better):
    """Per-seed differences (positive = claim holds) and the seed spread of each side."""
    a = np.array([getattr(runs.get(better, s), attr) for s in SEEDS])
    b = np.array([getattr(runs.get(worse, s), attr) for s in SEEDS])
    diff = (b - a) if lower_is_better else (a - b)
    spread = max(_spread(a), _spread(b))
    runs.summary.setdefault("claims", {})[f"{better} vs {worse}: {attr}"] = {
        better: a.tolist(), worse: b.tolist(), "per_seed_margin": diff.tolist(), "seed_spread": spread,
    }
    return diff, spread


def test_regularized_has_a_smaller_gap_than_baseline(runs):
    diff, spread = _compare(runs, "regularized", "baseline", "gap", lower_is_better=True)
    assert np.all(diff > 0), f"regularized gap not smaller for every seed: margins {diff}"
    assert diff.min() > spread, f"smallest margin {diff.min():.4f} is within the seed spread {spread:.4f}"


def test_cnn_has_a_higher_val_accuracy_than_baseline(runs):
    diff, spread = _compare(runs, "cnn", "baseline", "val_accuracy", lower_is_better=False)
    assert np.all(diff > 0), f"CNN val accuracy not higher for every seed: margins {diff}"
    assert diff.min() > spread, f"smallest margin {diff.min():.4f} is within the seed spread {spread:.4f}"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "finding: at this CI size (4,800 images, 10 epochs) the CNN's train-val gap is LARGER than the "
        "baseline's (seed 0: CNN train 0.9858 / val 0.7624, gap 0.2235; baseline train 0.6769 / val "
        "0.5610, gap 0.1159): the CNN fits the training set much faster while the baseline has not yet "
        "overfit. The course's claim shows only near convergence (full data, 20 epochs: see "
        "results/course_reproduction.md). Strict: an XPASS fails the suite, so a change is noticed."
    ),
)
def test_cnn_has_a_smaller_gap_than_baseline(runs):
    diff, spread = _compare(runs, "cnn", "baseline", "gap", lower_is_better=True)
    assert np.all(diff > 0), f"CNN gap not smaller for every seed: margins {diff}"
    assert diff.min() > spread, f"smallest margin {diff.min():.4f} is within the seed spread {spread:.4f}"


@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_callback_stops_before_the_epoch_limit(runs, seed):
    r = runs.get("threshold", seed)
    acc = r.history["accuracy"]
    assert r.epochs_run < EPOCHS, f"never exceeded 0.95 training accuracy in {EPOCHS} epochs: {acc}"
    assert acc[-1] > 0.95 and all(a <= 0.95 for a in acc[:-1])
    assert "cancelling training" in r.metadata["threshold_reason"]
    # deterministic: the stopped run is exactly the prefix of the uninterrupted CNN run
    full = runs.get("cnn", seed).history["accuracy"]
    assert acc == full[: r.epochs_run]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "finding: EarlyStopping(monitor='loss', patience=3) on the baseline never fires within 60 "
        "epochs at this size (seed 0: training loss falls every epoch, 0.1071 -> 0.0801 over epochs "
        "55-60). Strict: if every seed starts stopping early, the XPASS fails the suite."
    ),
)
def test_early_stopping_stops_before_the_epoch_limit(runs):
    for seed in SEEDS:
        r = runs.get("early", seed)
        loss = r.history["loss"]
        assert r.epochs_run < ES_LIMIT, f"seed {seed}: EarlyStopping(loss, patience=3) never fired in {ES_LIMIT} epochs"
        best = int(np.argmin(loss))
        assert r.epochs_run - 1 - best == 3, "stopped other than 3 epochs after the best training loss"


@pytest.mark.parametrize("seed", SEEDS)
def test_best_checkpoint_reloads_the_best_val_accuracy_not_the_last(runs, seed):
    r = runs.get("early", seed)
    vacc = r.history["val_accuracy"]
    reloaded = r.metadata["reloaded_val_accuracy"]
    assert reloaded == pytest.approx(max(vacc), abs=1e-6)
    assert r.best_val_epoch != r.epochs_run, "best epoch was the last one: the claim is not exercised"
    assert reloaded - vacc[-1] > 0, f"reloaded {reloaded} is not above the last epoch's {vacc[-1]}"
