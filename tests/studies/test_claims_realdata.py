"""The course's overfitting and callback claims, asserted on the real Sign Language MNIST.

Protocol (the course's, scaled down to fit CI; fixed before measuring and applied to every seed):
for seed in 0, 1, 2: train = a seeded stratified subset of ``N_TRAIN`` = 4,800 training images (200
per class), validation = a seeded stratified 20% of the official test CSV (1,435 images), batch 128,
Adam 1e-3. Why this size: the dense models run about 4,000 images/s and the CNN about 2,100 here,
so three seeds of three models fit a few CPU-minutes; the full CSV for 20 epochs (course length)
takes ~5 minutes per CNN seed, too long for CI (see results/course_reproduction.md for that run).

Runs (each trains once per session, cached in the module fixture ``runs``):
- baseline and regularized: ``EPOCHS`` = 10 epochs.
- CNN: one run per seed that carries every callback claim. Phase 1 fits with the course's threshold
  callback (stop once train accuracy > 0.95) and the best-only ``ModelCheckpoint(val_accuracy)``;
  phase 2 continues the same model (``initial_epoch``) to ``ES_LIMIT`` = 15 epochs with
  ``EarlyStopping(monitor="loss", patience=3)`` and the same checkpoint instance. The three-model
  comparison reads the CNN's epoch-10 numbers from this joined history (they equal the previous
  uninterrupted 10-epoch run's, seed 0: train 0.9858 / val 0.7624).

A comparison holds for *every* seed with a smallest margin larger than the seed-to-seed spread
(max - min over seeds, larger of the two sides). Measured (2 shared cores, TF 2.21, Keras 3.15):

| claim (per seed 0 / 1 / 2)        | better side              | worse side (baseline)    | margins                  | spread | result |
|-----------------------------------|--------------------------|--------------------------|--------------------------|--------|--------|
| regularized gap < baseline gap    | -0.0148 / -0.0019 / -0.0075 | 0.1159 / 0.1694 / 0.1144 | 0.131 / 0.171 / 0.122 | 0.055 | holds |
| CNN val acc > baseline val acc    | 0.7624 / 0.7693 / 0.7875 | 0.5610 / 0.5331 / 0.5470 | 0.201 / 0.236 / 0.240    | 0.028  | holds |
| CNN gap < baseline gap            | 0.2235 / 0.2144 / 0.1905 | 0.1159 / 0.1694 / 0.1144 | -0.108 / -0.045 / -0.076 | 0.055  | does NOT hold (strict xfail) |

- Threshold callback: stops the CNN at epoch 8 of 10 for every seed (train acc 0.9600 / 0.9550 /
  0.9592; epoch 7: 0.9362 / 0.9335 / 0.9292). Holds.
- EarlyStopping(loss, patience=3) on the CNN: never fires in 15 epochs for any seed; training loss
  falls every epoch (epoch 15: 0.0297 / 0.0287 / 0.0364). Finding (strict xfail).
- Best-only checkpoint: reloaded val accuracy equals the history maximum for every seed (0.8007 /
  0.7798 / 0.7958). Best epoch != last only for seed 1 (epoch 14, 0.7798 > last 0.7784); for seeds
  0 and 2 val accuracy still rises at epoch 15, so "not the last" is a strict xfail over all seeds.
- Full size, seed 0 only (27,455 images, 20 epochs): CNN gap 0.1756 < baseline 0.2098 (held);
  CNN best checkpoint at epoch 4 of 20.

The measured numbers are written to ``claims_summary.json`` in a temporary folder and printed
(``pytest -s``). Cost: about 480-490 CPU-seconds (user+sys) for the file; 9-12 min wall measured on
the shared, loaded 2 cores (69-84% of one core), an estimated 4-5 min on 2 quiet cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from signbench.data.split import course_validation, stratified_subset
from signbench.seeds import derive
from signbench.train import fit
from signbench.train.callbacks import ThresholdStop, best_checkpoint, early_stopping
from signbench.train.persist import load_weights

pytestmark = pytest.mark.realdata

SEEDS = (0, 1, 2)
N_TRAIN = 4800  # 200 images per class
EPOCHS = 10  # the three-model comparison
ES_LIMIT = 15  # epoch limit of the CNN run that carries EarlyStopping and the checkpoint
BATCH = 128


@pytest.fixture(scope="module")
def real(realdata):
    from signbench.data import load_sign_mnist

    return load_sign_mnist("train", realdata), load_sign_mnist("test", realdata)


class Runs:
    """Trains each (model, seed) once per session and keeps the RunResult plus extra measurements."""

    def __init__(self, real, tmp):
        self.train, self.test = real
        self.tmp = tmp
        self.cache: dict = {}
        self.summary: dict = {}

    def data(self, seed):
        return (self.train.subset(stratified_subset(self.train.labels, N_TRAIN, seed=derive(seed, "subset"))),
                self.test.subset(course_validation(self.test.labels, seed=derive(seed, "val_split"))))

    def get(self, kind: str, seed: int):
        key = (kind, seed)
        if key not in self.cache:
            self.cache[key] = self._run(kind, seed)
        return self.cache[key]

    def _run(self, kind, seed):
        train, val = self.data(seed)
        if kind in ("baseline", "regularized"):
            r = fit(kind, train, seed=seed, epochs=EPOCHS, batch_size=BATCH, validation=val)
        elif kind == "cnn":
            r = self._cnn(train, val, seed)
        else:
            raise ValueError(kind)
        r.model = None  # keep memory flat across the module
        print(f"[claims] {kind} seed {seed}: train {r.train_accuracy:.4f} val {r.val_accuracy:.4f} "
              f"gap {r.gap:.4f} epochs {r.epochs_run} ({r.wall_time_s:.0f} s)", flush=True)
        self.summary.setdefault(kind, {})[seed] = {
            k: getattr(r, k)
            for k in ("train_accuracy", "val_accuracy", "gap", "best_val_accuracy", "best_val_epoch", "epochs_run")
        } | {k: v for k, v in r.metadata.items() if k.startswith("claims_")}
        return r

    def _cnn(self, train, val, seed):
        """One CNN run per seed, in two phases that share model, optimizer state and checkpoint.

        Phase 1: ``fit("cnn", epochs=EPOCHS)`` with the course's threshold callback and the best-only
        checkpoint; the threshold stops it. Phase 2: the same model continues (``initial_epoch``) up
        to ``ES_LIMIT`` epochs with ``EarlyStopping(monitor="loss", patience=3)`` and the same
        checkpoint instance (its ``best`` carries over, so it covers every epoch). The result's
        ``history`` is both phases joined; the three-model comparison reads epoch ``EPOCHS`` of it.
        """
        ckpt_path = self.tmp / f"cnn_{seed}.weights.h5"
        ckpt = best_checkpoint(ckpt_path)
        stop = ThresholdStop(0.95, report=print)
        r = fit("cnn", train, seed=seed, epochs=EPOCHS, batch_size=BATCH, validation=val, callbacks=[stop, ckpt])
        md = r.metadata
        md["claims_threshold_reason"] = stop.reason
        md["claims_threshold_epochs"] = r.epochs_run
        md["claims_threshold_history"] = list(r.history["accuracy"])
        es = early_stopping()
        xv, yv = val.as_float(), val.labels
        h2 = r.model.fit(
            train.as_float(), train.labels, initial_epoch=r.epochs_run, epochs=ES_LIMIT, batch_size=BATCH,
            validation_data=(xv, yv), callbacks=[es, ckpt], verbose=0, shuffle=True,
        ).history
        for k, v in h2.items():
            r.history[k] = r.history[k] + [float(x) for x in v]
        h = r.history
        r.epochs, r.epochs_run = ES_LIMIT, len(h["loss"])
        md["claims_es_epochs"] = r.epochs_run
        md["claims_es_stopped_epoch"] = int(es.stopped_epoch) + 1 if es.stopped_epoch else None
        md["claims_loss"] = [round(x, 5) for x in h["loss"]]
        md["claims_val_accuracy"] = [round(x, 5) for x in h["val_accuracy"]]
        # the course-protocol comparison numbers: epoch EPOCHS of this run
        if r.epochs_run < EPOCHS:
            raise AssertionError(f"CNN run ended at epoch {r.epochs_run} < {EPOCHS}: no epoch-{EPOCHS} numbers")
        i = EPOCHS - 1
        r.train_accuracy, r.val_accuracy = h["accuracy"][i], h["val_accuracy"][i]
        r.gap = r.train_accuracy - r.val_accuracy
        vacc = h["val_accuracy"]
        r.best_val_accuracy, r.best_val_epoch = max(vacc), int(np.argmax(vacc)) + 1
        md["claims_last_val_accuracy"] = vacc[-1]
        reloaded = load_weights(r.model, ckpt_path)
        ev = reloaded.evaluate(xv, yv, batch_size=512, verbose=0, return_dict=True)
        md["claims_reloaded_val_accuracy"] = float(ev["accuracy"])
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
        "baseline's for every seed (CNN 0.2235 / 0.2144 / 0.1905, baseline 0.1159 / 0.1694 / 0.1144; "
        "margins -0.108 / -0.045 / -0.076): the CNN fits the training set much faster while the "
        "baseline (train 0.66-0.70) has not yet overfit. At full size (27,455 images, 20 epochs, seed 0 "
        "only, results/course_reproduction.md) it held: CNN 0.1756 < baseline 0.2098 (margin 0.034). "
        "Strict: an XPASS fails the suite, so a change is noticed."
    ),
)
def test_cnn_has_a_smaller_gap_than_baseline(runs):
    diff, spread = _compare(runs, "cnn", "baseline", "gap", lower_is_better=True)
    assert np.all(diff > 0), f"CNN gap not smaller for every seed: margins {diff}"
    assert diff.min() > spread, f"smallest margin {diff.min():.4f} is within the seed spread {spread:.4f}"


@pytest.mark.parametrize("seed", SEEDS)
def test_threshold_callback_stops_before_the_epoch_limit(runs, seed):
    md = runs.get("cnn", seed).metadata
    acc = md["claims_threshold_history"]
    assert md["claims_threshold_epochs"] < EPOCHS, f"never exceeded 0.95 training accuracy in {EPOCHS} epochs: {acc}"
    assert acc[-1] > 0.95 and all(a <= 0.95 for a in acc[:-1]), f"stopped at the wrong epoch: {acc}"
    assert "cancelling training" in md["claims_threshold_reason"]


@pytest.mark.xfail(
    strict=True,
    reason="finding: EarlyStopping(monitor='loss', patience=3) on the CNN never fires within 15 epochs "
    "for any seed: training loss falls every epoch (epoch 15: 0.0297 / 0.0287 / 0.0364 for seeds "
    "0 / 1 / 2). Strict: if every seed starts stopping early, the XPASS fails the suite.",
)
def test_early_stopping_stops_before_the_epoch_limit(runs):
    fired = {}
    for seed in SEEDS:
        r = runs.get("cnn", seed)
        fired[seed] = r.epochs_run < ES_LIMIT
        if fired[seed]:
            loss = r.history["loss"]
            after = loss[r.metadata["claims_threshold_epochs"]:]  # the phase EarlyStopping watched
            assert len(after) - 1 - int(np.argmin(after)) == 3, f"seed {seed}: not 3 epochs after the best loss"
    assert all(fired.values()), f"EarlyStopping fired (seed: bool) {fired} within {ES_LIMIT} epochs"


@pytest.mark.parametrize("seed", SEEDS)
def test_best_checkpoint_reloads_the_best_val_accuracy(runs, seed):
    r = runs.get("cnn", seed)
    vacc = r.history["val_accuracy"]
    reloaded = r.metadata["claims_reloaded_val_accuracy"]
    assert reloaded == pytest.approx(max(vacc), abs=1e-6), f"reloaded {reloaded}, best {max(vacc)}: {vacc}"
    if r.best_val_epoch != len(vacc):  # only then does "best, not last" tell best-only from save-last
        assert reloaded > vacc[-1], f"reloaded {reloaded} is not above the last epoch's {vacc[-1]}"


@pytest.mark.xfail(
    strict=True,
    reason="finding: at this protocol the CNN's validation accuracy is still rising at epoch 15 for "
    "seeds 0 and 2 (best epoch = last epoch: 0.8007 and 0.7958), so 'best, not last' is exercised "
    "only for seed 1 (best 0.7798 at epoch 14 > last 0.7784: one image). Strict: an XPASS fails.",
)
def test_best_checkpoint_best_epoch_is_not_the_last_for_every_seed(runs):
    last = {s: (runs.get("cnn", s).best_val_epoch, runs.get("cnn", s).epochs_run) for s in SEEDS}
    assert all(best != n for best, n in last.values()), f"(best epoch, last epoch) per seed: {last}"
