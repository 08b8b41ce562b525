"""signbench.train.callbacks: threshold stop, lifecycle logger, EarlyStopping, best-only checkpoint, TensorBoard."""

import math

import keras
import numpy as np
import pytest

from signbench.models import baseline
from signbench.train import fit
from signbench.train.callbacks import (
    LifecycleLogger,
    ThresholdStop,
    best_checkpoint,
    early_stopping,
    tensorboard,
)
from signbench.train.persist import CoursePathError, load_weights

SHAPE, CLASSES = (8, 8, 1), 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.arange(90) % CLASSES
    x = rng.integers(0, 60, size=(90, *SHAPE)).astype(np.uint8)
    for c in range(CLASSES):
        x[y == c, 2 * c : 2 * c + 3] += 150
    noisy_val = (x[:45].copy(), rng.integers(0, CLASSES, 45))  # random labels: val accuracy wanders
    return (x, y), noisy_val


def _model():
    return baseline(CLASSES, SHAPE)


def test_threshold_stop_on_logs():
    lines = []
    cb = ThresholdStop(0.95, report=lines.append)
    cb.set_model(_model())
    cb.on_train_begin()
    cb.on_epoch_end(0, {"accuracy": 0.95})  # not above
    assert not cb.model.stop_training and lines == []
    cb.on_epoch_end(1, {"accuracy": 0.9512})
    assert cb.model.stop_training and cb.stopped_epoch == 2
    assert lines == [cb.reason] and "0.9512 > 0.95" in cb.reason and "cancelling training" in cb.reason
    with pytest.raises(KeyError, match="'accuracy' is not in the epoch logs"):
        cb.on_epoch_end(2, {"loss": 1.0})


def test_threshold_stop_in_training_reports_why(data, caplog):
    train, _ = data
    cb = ThresholdStop()
    r = fit("baseline", train, seed=0, epochs=40, batch_size=16, callbacks=[cb])
    assert r.stopped_early and r.epochs_run == cb.stopped_epoch < 40
    assert r.history["accuracy"][-1] > 0.95 and all(a <= 0.95 for a in r.history["accuracy"][:-1])
    assert cb.reason in caplog.text  # reported to the signbench logger by default


def test_lifecycle_logger_sees_every_event(data):
    train, _ = data
    log = LifecycleLogger(report=False)
    fit("baseline", train, seed=0, epochs=2, batch_size=32, callbacks=[log])
    names = log.names()
    steps = math.ceil(90 / 32)
    assert names[0] == "train_begin" and names[-1] == "train_end"
    assert names.count("epoch_begin") == names.count("epoch_end") == 2
    assert names.count("batch_begin") == names.count("batch_end") == 2 * steps
    assert names[1:3] == ["epoch_begin", "batch_begin"]
    assert "loss" in log.events[names.index("epoch_end")][2]
    quiet = LifecycleLogger(report=False, batches=False)
    fit("baseline", train, seed=0, epochs=1, batch_size=32, callbacks=[quiet])
    assert quiet.names() == ["train_begin", "epoch_begin", "epoch_end", "train_end"]


def test_lifecycle_logger_reports(capsys):
    log = LifecycleLogger(report=print)
    log.on_epoch_end(0, {"loss": 0.5})
    assert capsys.readouterr().out.strip() == "epoch_end 0: loss=0.5000"


def test_early_stopping_is_the_courses_and_waits_patience_epochs():
    cb = early_stopping()
    assert isinstance(cb, keras.callbacks.EarlyStopping) and (cb.monitor, cb.patience) == ("loss", 3)
    cb.set_model(_model())
    cb.on_train_begin()
    losses = [1.0, 0.9, 0.95, 0.92, 0.91, 0.5]
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"loss": loss})
        if cb.model.stop_training:
            break
    assert epoch == 4, "should stop 3 epochs after the best loss (epoch 1)"


def test_best_checkpoint_refuses_course_path(tmp_path):
    with pytest.raises(CoursePathError, match=r"checkpoint\.weights\.h5"):
        best_checkpoint(tmp_path / "model_checkpoints" / "checkpoint")
    with pytest.raises(CoursePathError, match=r"\.keras"):
        best_checkpoint(tmp_path / "full", save_weights_only=False)


def test_best_checkpoint_keeps_the_best_val_accuracy(data, tmp_path):
    train, val = data
    path = tmp_path / "model_checkpoints" / "checkpoint.weights.h5"
    cb = best_checkpoint(path)
    assert (cb.monitor, cb.save_best_only, cb.save_weights_only) == ("val_accuracy", True, True)
    r = fit("baseline", train, seed=1, epochs=6, batch_size=16, validation=val, callbacks=[cb])
    reloaded = load_weights(_model(), path)
    acc = reloaded.evaluate(*(val[0].astype("float32") / 255, val[1]), verbose=0, return_dict=True)["accuracy"]
    assert acc == pytest.approx(r.best_val_accuracy, abs=1e-6)


def test_best_checkpoint_full_model(data, tmp_path):
    train, val = data
    path = tmp_path / "best.keras"
    fit("baseline", train, seed=1, epochs=2, batch_size=32, validation=val,
        callbacks=[best_checkpoint(path, save_weights_only=False)])
    assert keras.saving.load_model(path).count_params() == _model().count_params()


def test_tensorboard_scalars_read_back(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    train, val = data
    r = fit("baseline", train, seed=0, epochs=3, batch_size=32, validation=val,
            callbacks=[tensorboard(tmp_path / "logs")])
    for split, prefix in (("train", ""), ("validation", "val_")):
        ea = EventAccumulator(str(tmp_path / "logs" / split), size_guidance={"tensors": 0})
        ea.Reload()
        for metric in ("accuracy", "loss"):
            events = ea.Tensors(f"epoch_{metric}")
            assert [e.step for e in events] == [0, 1, 2]
            values = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
            np.testing.assert_allclose(values, r.history[prefix + metric], rtol=1e-6)
