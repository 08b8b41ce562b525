"""signbench.train: seeded, repeatable fit; RunResult fields and JSON round trip; learning curves."""

import json

import numpy as np
import pytest

from signbench.data.types import LabeledImages
from signbench.plots import learning_curves
from signbench.testing.fixtures import band_images
from signbench.train import RunResult, as_arrays, fit

SHAPE = (8, 8, 1)
CLASSES = 3


def _data(n=96, seed=0):
    """Learnable synthetic images: each class lights up its own band of rows."""
    return LabeledImages(*band_images(n, seed, CLASSES, SHAPE), ["a", "b", "c"], source="synthetic")


@pytest.fixture(scope="module")
def data():
    return _data(96, 0), _data(48, 1)


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def test_same_seed_gives_identical_history_and_weights(data):
    train, val = data
    a = fit("regularized", train, seed=3, epochs=2, batch_size=16, validation=val)
    b = fit("regularized", train, seed=3, epochs=2, batch_size=16, validation=val)
    assert a.history == b.history
    for wa, wb in zip(_weights(a.model), _weights(b.model), strict=True):
        np.testing.assert_array_equal(wa, wb)
    c = fit("regularized", train, seed=4, epochs=2, batch_size=16, validation=val)
    assert not np.array_equal(_weights(a.model)[0], _weights(c.model)[0]), "seed had no effect"


def test_run_result_fields(data):
    train, val = data
    r = fit("baseline", train, seed=0, epochs=3, batch_size=16, validation=val, test=val)
    assert r.model_name == "baseline" and r.epochs == r.epochs_run == 3 and not r.stopped_early
    assert set(r.history) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert all(len(v) == 3 for v in r.history.values())
    assert r.train_accuracy == r.history["accuracy"][-1] and r.val_loss == r.history["val_loss"][-1]
    assert r.best_val_accuracy == max(r.history["val_accuracy"]) >= r.val_accuracy
    assert r.history["val_accuracy"][r.best_val_epoch - 1] == r.best_val_accuracy
    assert r.best_train_loss == min(r.history["loss"])
    assert r.gap == pytest.approx(r.train_accuracy - r.val_accuracy)
    # the test set is the validation set here, so evaluate must agree with the last val metrics
    assert r.test_accuracy == pytest.approx(r.val_accuracy, abs=1e-6)
    assert r.test_loss == pytest.approx(r.val_loss, rel=1e-5)
    assert r.wall_time_s > 0 and r.samples_per_s == pytest.approx(96 * 3 / r.wall_time_s)
    assert r.num_train == 96
    meta = r.metadata
    for key in ("seed", "git_commit", "tensorflow", "keras", "backend", "device", "threads", "date"):
        assert key in meta, key
    assert meta["seed"] == 0 and meta["backend"] == "tensorflow"
    assert r.train_accuracy > 0.9, "learnable synthetic data was not learned"


def test_run_result_json_round_trip(data, tmp_path):
    train, _ = data
    r = fit("baseline", train, seed=1, epochs=1, batch_size=32)
    assert r.val_accuracy is None and r.gap is None and r.test_accuracy is None
    text = r.to_json(tmp_path / "run.json")
    json.loads(text)
    for back in (RunResult.from_json(text), RunResult.from_json(tmp_path / "run.json")):
        assert back == r and back.to_dict() == r.to_dict() and back.model is None
    with pytest.raises(ValueError, match="unknown RunResult fields"):
        RunResult.from_dict({**r.to_dict(), "surprise": 1})


def test_labeled_images_and_arrays_train_identically(data):
    train, _ = data
    a = fit("baseline", train, seed=2, epochs=1, batch_size=32)
    b = fit("baseline", (train.images, train.labels), seed=2, epochs=1, batch_size=32)  # uint8 arrays
    c = fit("baseline", (train.as_float(), train.labels), seed=2, epochs=1, batch_size=32)
    assert a.history == b.history == c.history


def test_model_instance_and_builder_kwargs(data):
    from signbench.models import baseline

    train, _ = data
    r = fit(baseline(CLASSES, SHAPE), train, seed=0, epochs=1, batch_size=32)
    assert r.model_name == "baseline"
    r = fit("regularized", train, seed=0, epochs=1, batch_size=32, dropout=0.5)
    assert r.model.layers[2].rate == 0.5
    with pytest.raises(TypeError, match="need a model name"):
        fit(baseline(CLASSES, SHAPE), train, seed=0, epochs=1, dropout=0.5)


def test_bad_inputs_are_refused(data):
    train, _ = data
    x = train.as_float()
    with pytest.raises(ValueError, match="96 images but 95 labels"):
        as_arrays((x, train.labels[:-1]))
    with pytest.raises(TypeError, match="LabeledImages or an"):
        as_arrays(x)
    with pytest.raises(ValueError, match="epochs"):
        fit("baseline", train, seed=0, epochs=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        fit("baseline", train, seed=1.5, epochs=1)


def test_as_arrays_scales_uint8_only():
    x8 = np.full((2, 2, 2, 1), 255, np.uint8)
    xf, _ = as_arrays((x8, [0, 1]))
    assert xf.dtype == np.float32 and xf.max() == 1.0
    raw = np.full((2, 2, 2, 1), 3.0, np.float32)
    assert as_arrays((raw, [0, 1]))[0].max() == 3.0  # floats pass through unscaled


def test_learning_curves_png(tmp_path):
    history = {"accuracy": [0.5, 0.8], "loss": [1.0, 0.5], "val_accuracy": [0.4, 0.6], "val_loss": [1.2, 0.9]}
    p = learning_curves(history, tmp_path / "sub" / "curves.png", title="t")
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    from PIL import Image

    with Image.open(p) as im:
        assert im.size == (1000, 400)
    with pytest.raises(KeyError, match="accuracy"):
        learning_curves({"loss": [1.0]}, tmp_path / "bad.png")


def test_learning_curves_from_run_result(data, tmp_path):
    train, _ = data
    r = fit("baseline", train, seed=0, epochs=2, batch_size=32)
    assert learning_curves(r, tmp_path / "r.png").stat().st_size > 5_000


def _write_sign_csv(path, per_class, seed):
    from signbench.testing.fixtures import write_sign_csv

    images = np.random.default_rng(seed).integers(0, 256, (24 * per_class, 28, 28), dtype=np.uint8)
    write_sign_csv(path, images, np.repeat(np.arange(24), per_class))


def test_course_command_writes_both_tables(tmp_path):
    import csv

    from signbench.cli import main

    _write_sign_csv(tmp_path / "sign_mnist_train.csv.gz", 4, 0)
    _write_sign_csv(tmp_path / "sign_mnist_test.csv.gz", 5, 1)
    out = tmp_path / "results"
    rc = main(["course", "--data-dir", str(tmp_path), "--epochs", "2", "--models", "baseline", "cnn",
               "--out", str(out), "--run-dir", str(tmp_path / "run")])
    assert rc == 0
    rows = list(csv.DictReader((out / "course_reproduction.csv").read_text().splitlines()))
    assert [r["model"] for r in rows] == ["baseline", "cnn"]
    for r in rows:
        assert r["num_train"] == "96" and r["num_val"] == "24" and r["num_test"] == "120"
        assert r["epochs_run"] == "2" and r["seed"] == "0" and r["git_commit"] and r["tensorflow"]
        assert 0 <= float(r["best_ckpt_test_accuracy"]) <= 1
    assert float(rows[0]["course_test"]) == 0.7616 and float(rows[1]["course_best_ckpt_test"]) == 0.8826
    md = (out / "course_reproduction.md").read_text()
    assert "| baseline |" in md and "(0.9999)" in md and "(0.8826)" in md
    assert (tmp_path / "run" / "cnn_best.weights.h5").is_file() and (tmp_path / "run" / "cnn_curves.png").is_file()
    assert RunResult.from_json(tmp_path / "run" / "baseline.json").epochs_run == 2
