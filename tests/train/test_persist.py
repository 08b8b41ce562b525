"""signbench.train.persist: every course save/load format as a round trip; course paths; safe mode."""

import keras
import numpy as np
import pytest

from signbench.models import baseline
from signbench.train import persist
from signbench.train.persist import CoursePathError, UnsafeModelError

SHAPE, CLASSES = (8, 8, 1), 3


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((64, *SHAPE), dtype=np.float32)
    y = np.arange(64) % CLASSES
    model = baseline(CLASSES, SHAPE)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x, y


def _same(a, b, x, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a.predict(x, verbose=0)), np.asarray(b.predict(x, verbose=0)), atol=atol)


def test_architecture_only_round_trip(trained):
    model, x, _ = trained
    fresh = persist.architecture_from_json(persist.architecture_to_json(model))
    assert [type(layer).__name__ for layer in fresh.layers] == [type(layer).__name__ for layer in model.layers]
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.allclose(fresh.get_weights()[0], model.get_weights()[0]), "weights should be fresh"
    with pytest.raises(ValueError):
        persist.architecture_from_json("not json")


def test_weights_checkpoint_per_epoch_then_load_into_fresh_model(trained, tmp_path):
    model, x, y = trained
    clone = keras.models.clone_model(model)
    clone.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ckpt = keras.callbacks.ModelCheckpoint(str(tmp_path / "ck" / "ep{epoch:02d}.weights.h5"), save_weights_only=True)
    clone.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[ckpt])
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["ep01.weights.h5", "ep02.weights.h5", "ep03.weights.h5"]
    fresh = persist.load_weights(baseline(CLASSES, SHAPE), tmp_path / "ck" / "ep03.weights.h5")
    _same(fresh, clone, x)
    first = persist.load_weights(baseline(CLASSES, SHAPE), tmp_path / "ck" / "ep01.weights.h5")
    assert not np.allclose(first.predict(x, verbose=0), clone.predict(x, verbose=0))
    p = persist.save_weights(model, tmp_path / "w" / "model.weights.h5")
    _same(persist.load_weights(baseline(CLASSES, SHAPE), p), model, x)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_full_model_round_trip(trained, tmp_path, suffix):
    model, x, y = trained
    path = persist.save_model(model, tmp_path / f"mymodel{suffix}")
    loaded = persist.load_model(path)
    _same(loaded, model, x)
    ev = lambda m: m.evaluate(x, y, verbose=0, return_dict=True)  # noqa: E731
    assert ev(loaded)["loss"] == pytest.approx(ev(model)["loss"], rel=1e-6)
    if suffix == ".keras":
        assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_saved_model_export_reloads_as_layer(trained, tmp_path):
    model, x, _ = trained
    folder = persist.export_saved_model(model, tmp_path / "saved_model_complete" / "mymodel")
    layer = persist.load_saved_model_layer(folder)
    np.testing.assert_allclose(np.asarray(layer(x)), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="saved_model.pb"):
        persist.load_saved_model_layer(tmp_path)
    with pytest.raises(CoursePathError, match="folder"):
        persist.export_saved_model(model, tmp_path / "x.keras")


def test_course_extensionless_paths_fail_with_the_right_call(trained, tmp_path):
    model, _, _ = trained
    with pytest.raises(CoursePathError, match=r"model_checkpoints/checkpoint\.weights\.h5"):
        persist.save_weights(model, tmp_path / "model_checkpoints" / "checkpoint")
    with pytest.raises(CoursePathError) as info:
        persist.save_model(model, tmp_path / "saved_model_complete" / "mymodel")
    msg = str(info.value)
    assert "mymodel.keras" in msg and "model.export(" in msg and "TFSMLayer" in msg
    with pytest.raises(CoursePathError, match="weights file"):
        persist.save_model(model, tmp_path / "a.weights.h5")
    with pytest.raises(CoursePathError):
        persist.load_weights(model, tmp_path / "model_checkpoints" / "checkpoint")
    assert not (tmp_path / "model_checkpoints").exists() and not (tmp_path / "saved_model_complete").exists()
    with pytest.raises(ValueError, match="kind"):
        persist.require_suffix("x", "tree")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.keras"):
        persist.load_model(tmp_path / "gone.keras")
    with pytest.raises(FileNotFoundError, match="gone.weights.h5"):
        persist.load_weights(baseline(CLASSES, SHAPE), tmp_path / "gone.weights.h5")


def test_lambda_layer_refused_unless_opted_in(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Flatten(), keras.layers.Dense(CLASSES)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((4, *SHAPE), dtype=np.float32)
    model.train_on_batch(x, np.array([0, 1, 2, 0]))
    path = persist.save_model(model, tmp_path / "lambda.keras")
    with pytest.raises(UnsafeModelError, match="allow_lambda=True"):
        persist.load_model(path)
    _same(persist.load_model(path, allow_lambda=True), model, x)
