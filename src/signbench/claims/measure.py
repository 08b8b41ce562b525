"""Measuring the claims' families: one run per (family protocol, arm, seed), each stored as JSON so that
a long run continues where it stopped (``resume``).

Every arm of one seed trains on the same images, is validated on the same rows and starts from the same
initial-weight seed (paired by seed). Training is :func:`signbench.train.fit` with :data:`OPTIONS`: the
speed options whose maths equals plain fit (fused conv+pool, fused Adam, 16 steps per call, the uint8
pipeline); oneDNN and the thread counts are whatever the process has (run parameters, recorded).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signbench.atomic import atomic_write_json
from signbench.claims.declared import CALLBACK_EVENTS, FAMILIES, Protocol
from signbench.data.types import LabeledImages
from signbench.seeds import derive
from signbench.train.options import FitOptions

__all__ = ["ARMS", "OPTIONS", "Data", "confirm_callbacks", "early_stop_epoch", "measure_family", "threshold_epoch"]

#: fit's options for every claims run (same maths as plain fit; see the module docstring).
OPTIONS = FitOptions(pipeline="uint8", conv="fused", optimizer="fused", steps_per_execution=16)
#: Training images scored in inference mode for the gap (a fixed stratified sample).
TRAIN_EVAL_MAX = 5000
#: Rows of the test CSV's letters N-Y the transfer family validates on.
TRANSFER_VAL_ROWS = 1500

#: family -> arm -> (course model name, builder arguments); the transfer arms are built in their runner.
ARMS: dict[str, dict[str, tuple[str, dict]]] = {
    "course_models": {"baseline": ("baseline", {}), "regularized": ("regularized", {}), "cnn": ("cnn", {}),
                      "dropout": ("regularized", {"l2": 0.0}), "l2": ("regularized", {"dropout": 0.0})},
    "augmentation": {"cnn_small": ("cnn", {}), "cnn_augmented": ("cnn", {})},
    "transfer": {"transfer": ("", {}), "scratch": ("", {})},
}


@dataclass(frozen=True)
class Data:
    """The real data every family draws from."""

    train: LabeledImages
    test: LabeledImages


def early_stop_epoch(values: list[float], patience: int, mode: str = "min") -> int | None:
    """The 1-based epoch at which Keras' ``EarlyStopping(patience=patience)`` on these per-epoch values
    would stop training (no improvement for ``patience`` epochs in a row), or None if it would not."""
    best, wait = math.inf if mode == "min" else -math.inf, 0
    for i, v in enumerate(values):
        better = v < best if mode == "min" else v > best
        if better:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return i + 1
    return None


def threshold_epoch(accuracy: list[float], threshold: float = 0.95) -> int | None:
    """The 1-based epoch at whose end ``ThresholdStop(threshold)`` stops training, or None."""
    return next((i + 1 for i, a in enumerate(accuracy) if a > threshold), None)


def _kernel_norm(model) -> float:
    """Sum of squared Dense kernel weights, nested models included (what L2 penalizes)."""
    import keras

    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel") and len(w.shape) == 2]
    return float(sum(float(np.sum(np.square(keras.ops.convert_to_numpy(w)))) for w in kernels))


class _CheckpointWatch:
    """Records the epoch at which a best-only ModelCheckpoint last saved (its ``best`` improved)."""

    def __new__(cls, checkpoint):
        import keras

        class Watch(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.saved_epoch, self._best = None, checkpoint.best

            def on_epoch_end(self, epoch, logs=None):
                if checkpoint.best != self._best:
                    self._best, self.saved_epoch = checkpoint.best, epoch + 1

        return Watch()


def _paths(work: Path, family: str, protocol: Protocol, arm: str, seed: int) -> Path:
    return work / family / protocol.name / arm / f"seed{seed}.json"


def _course_run(arm: str, family: str, data: Data, protocol: Protocol, seed: int, work: Path) -> dict:
    from signbench.data.split import course_validation, stratified_subset
    from signbench.train.callbacks import best_checkpoint
    from signbench.train.fit import evaluate, fit

    name, kwargs = ARMS[family][arm]
    subset_name = "claims/subset" if family == "course_models" else "claims/small_subset"
    train = data.train.subset(stratified_subset(data.train.labels, protocol.train_size, seed=derive(seed, subset_name)))
    val = data.test.subset(course_validation(data.test.labels, seed=derive(seed, "claims/val")))
    train_eval = train.subset(stratified_subset(train.labels, TRAIN_EVAL_MAX, seed=derive(seed, "claims/train_eval")))
    ckpt_path = work / "checkpoints" / f"{family}-{protocol.name}-{arm}-{seed}.weights.h5"
    ckpt = best_checkpoint(ckpt_path)
    watch = _CheckpointWatch(ckpt)
    options = FitOptions(**{**OPTIONS.__dict__, "augment": arm == "cnn_augmented"})
    # Only the CNN needs validation after every epoch (its checkpoint and val_loss stopping); the other arms
    # are validated once, after training (the same number: inference does not change the weights).
    per_epoch = arm == "cnn"
    run = fit(name, train, seed=derive(seed, "claims/init"), epochs=protocol.epochs,
              validation=val if per_epoch else None, callbacks=[ckpt, watch] if per_epoch else [],
              options=options, **kwargs)
    model = run.model
    h = run.history
    val_acc = h["val_accuracy"][-1] if per_epoch else evaluate(model, val)[1]
    train_acc = evaluate(model, train_eval)[1]
    out = {
        "arm": arm, "seed": seed, "protocol": protocol.name, "num_train": len(train), "num_val": len(val),
        "val_accuracy": val_acc, "train_accuracy": train_acc, "gap": train_acc - val_acc,
        "train_accuracy_history": h["accuracy"][-1], "gap_history": h["accuracy"][-1] - val_acc,
        "kernel_norm": _kernel_norm(model),
        "history": h, "options": run.options, "seconds": run.wall_time_s, "metadata": run.metadata,
    }
    if arm == "cnn":
        best_val = max(h["val_accuracy"])
        model.load_weights(ckpt_path)  # the best-only checkpoint, back into the same architecture
        reloaded = evaluate(model, val)[1]
        out.update(
            early_stop_loss=early_stop_epoch(h["loss"], 3, "min"),
            early_stop_val_loss=early_stop_epoch(h["val_loss"], 3, "min"),
            threshold_stop=threshold_epoch(h["accuracy"]),
            checkpoint_saved_epoch=watch.saved_epoch,
            checkpoint_best_epoch=int(np.argmax(h["val_accuracy"])) + 1,  # the first epoch with the maximum
            checkpoint_best_val=best_val, checkpoint_reloaded_val=reloaded,
        )
        out.update(_int8(model, train, data.test, seed))
    ckpt_path.unlink(missing_ok=True)
    return out


def confirm_callbacks(data: Data, protocol: Protocol, seed: int, work: Path, predicted: dict) -> dict[str, dict]:
    """event -> seed ``seed``'s CNN trained again with that event's real callback alone (ThresholdStop,
    EarlyStopping on loss, on val_loss; patience 3): the run is the same as the measured one (same seed, data,
    determinism) until the callback stops it, which must happen at the epoch the history predicted for it
    (``predicted[event]``; stored per event). Where the history predicts no stop there is no run (it would
    only repeat the measured one, every epoch): ``agrees`` is None and the note says so."""
    import keras

    from signbench.data.split import course_validation, stratified_subset
    from signbench.train.callbacks import ThresholdStop, early_stopping
    from signbench.train.fit import fit

    make = {"threshold_stop": lambda: ThresholdStop(report=lambda line: None),
            "early_stop_loss": early_stopping, "early_stop_val_loss": lambda: early_stopping(monitor="val_loss")}
    train = data.train.subset(stratified_subset(data.train.labels, protocol.train_size, seed=derive(seed, "claims/subset")))
    val = data.test.subset(course_validation(data.test.labels, seed=derive(seed, "claims/val")))
    out = {}
    for event in CALLBACK_EVENTS:
        path = work / "course_models" / protocol.name / "confirm" / event / f"seed{seed}.json"
        if path.is_file():
            out[event] = json.loads(path.read_text())
            continue
        want = predicted[event]
        if want is None:  # no stop predicted: a run that never stops would only repeat the measured one
            out[event] = {"seed": seed, "event": event, "predicted": None, "stopped_at": None,
                          "stopped_early": False, "agrees": None}
            continue
        run = fit("cnn", train, seed=derive(seed, "claims/init"), epochs=protocol.epochs, validation=val,
                  callbacks=[make[event]()], options=OPTIONS)
        keras.backend.clear_session(free_memory=True)
        out[event] = {"seed": seed, "event": event, "predicted": want, "stopped_at": run.epochs_run,
                      "stopped_early": run.stopped_early, "agrees": run.epochs_run == want,
                      "metadata": run.metadata}
        atomic_write_json(path, out[event])
    return out


def _int8(model, train: LabeledImages, test: LabeledImages, seed: int) -> dict:
    """Test accuracy of the (best-checkpoint) Keras model and of its full-integer int8 conversion."""
    from signbench.deploy import Predictor, convert, representative_sample
    from signbench.train.fit import evaluate

    flat = convert(model, "int8", representative=representative_sample(train.images, 256,
                                                                       seed=derive(seed, "claims/calibration")))
    return {"test_accuracy": evaluate(model, test)[1],
            "int8_test_accuracy": Predictor(flat).accuracy(test.images, test.labels)}


def _transfer_runs(data: Data, protocol: Protocol, seed: int) -> dict[str, dict]:
    """Both transfer arms of one seed: the backbone pretrained on A-M (per seed), then transfer vs scratch."""
    import keras

    from signbench.data.split import holdout, random_subset
    from signbench.models.backbones import small_classifier
    from signbench.seeds import seed_everything
    from signbench.train.fit import evaluate, fit
    from signbench.train.transfer import (
        SOURCE_LETTERS,
        TARGET_LETTERS,
        few_shot,
        letters_subset,
        pretrain_backbone,
    )

    source = letters_subset(data.train, SOURCE_LETTERS)
    kept, held = holdout(source.labels, 0.1, seed=derive(seed, "claims/source_holdout"))
    pre = pretrain_backbone(source.subset(kept), seed=derive(seed, "claims/pretrain"), epochs=protocol.pretrain_epochs,
                            heldout=source.subset(held))
    target_val = letters_subset(data.test, TARGET_LETTERS)
    target_val = target_val.subset(random_subset(len(target_val), TRANSFER_VAL_ROWS, seed=derive(seed, "claims/tval")))
    few = few_shot(letters_subset(data.train, TARGET_LETTERS), protocol.per_class, seed=derive(seed, "claims/few"))
    if protocol.epochs < 2:
        raise ValueError("the transfer family needs at least 2 epochs (an early and a final validation)")
    early = max(1, protocol.epochs // 10)
    out = {}
    for arm in ("transfer", "scratch"):
        seed_everything(derive(seed, "claims/transfer_init"))
        if arm == "transfer":
            model = small_classifier(few.num_classes, pre.backbone, frozen=True)
        else:
            model = small_classifier(few.num_classes, input_shape=few.image_shape,
                                     seed=derive(seed, "claims/scratch_weights"))
        # "In few iterations": validation accuracy after the first tenth of the epochs, then training goes on
        # (the same model and optimizer state, the random state carried on: no reseeding).
        first = fit(model, few, seed=derive(seed, "claims/transfer_fit"), epochs=early, batch_size=16)
        early_val = evaluate(model, target_val)[1]
        run = fit(model, few, seed=None, epochs=protocol.epochs - early, batch_size=16, eval_train=True)
        val = evaluate(model, target_val)[1]
        out[arm] = {
            "arm": arm, "seed": seed, "protocol": protocol.name, "num_train": len(few), "num_val": len(target_val),
            "val_accuracy": val, "train_accuracy": run.train_eval_accuracy, "gap": run.train_eval_accuracy - val,
            "train_accuracy_history": run.history["accuracy"][-1],
            "gap_history": run.history["accuracy"][-1] - val,
            "val_accuracy_early": early_val, "early_epoch": early,
            "source_train_accuracy": pre.train_accuracy, "source_heldout_accuracy": pre.heldout_accuracy,
            "history": {k: first.history[k] + run.history[k] for k in run.history},
            "seconds": first.wall_time_s + run.wall_time_s, "metadata": run.metadata,
        }
        keras.backend.clear_session(free_memory=True)
    return out


def measure_family(family: str, protocol: Protocol, seeds: list[int], data: Data, work: Path, *,
                   resume: bool = True, progress: Callable[[str], None] = lambda line: None) -> dict[str, list[dict]]:
    """arm -> its per-seed results (in ``seeds`` order) for ``family`` at ``protocol``; runs already stored
    under ``work`` are read back when ``resume``."""
    import keras

    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    arms = list(ARMS[family])
    out: dict[str, list[dict]] = {a: [] for a in arms}
    for seed in seeds:
        paths = {a: _paths(work, family, protocol, a, seed) for a in arms}
        if resume and all(p.is_file() for p in paths.values()):
            for a in arms:
                out[a].append(json.loads(paths[a].read_text()))
            continue
        if family == "transfer":
            results = _transfer_runs(data, protocol, seed)
        else:
            results = {}
            for a in arms:
                if resume and paths[a].is_file():
                    results[a] = json.loads(paths[a].read_text())
                    continue
                results[a] = _course_run(a, family, data, protocol, seed, work)
                keras.backend.clear_session(free_memory=True)
                atomic_write_json(paths[a], results[a])
        for a in arms:
            atomic_write_json(paths[a], results[a])
            out[a].append(results[a])
        progress(f"    {family} {protocol.name} seed {seed}: " + ", ".join(
            f"{a} val {results[a]['val_accuracy']:.4f}" for a in arms))
    if family == "course_models" and seeds:
        cnn = out["cnn"][0]
        out["confirm"] = [confirm_callbacks(data, protocol, seeds[0], work, {k: cnn[k] for k in CALLBACK_EVENTS})]
    return out
